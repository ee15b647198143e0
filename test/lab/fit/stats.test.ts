import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitLine, percentile, percentileInterval, predictLine, solve, studentTQuantile, symmetricEigenvalues } from '../../../src/lab/fit/stats.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('Student t quantiles match the tables', () => {
  close(studentTQuantile(0.975, 1), 12.7062, 1e-3, 'df 1');
  close(studentTQuantile(0.975, 2), 4.3027, 1e-4, 'df 2');
  close(studentTQuantile(0.975, 10), 2.2281, 1e-4, 'df 10');
  close(studentTQuantile(0.975, 30), 2.0423, 1e-4, 'df 30');
  close(studentTQuantile(0.975, 1e6), 1.95996, 1e-4, 'df large');
  close(studentTQuantile(0.025, 10), -2.2281, 1e-4, 'lower tail');
});

test('percentiles interpolate between order statistics (type 7)', () => {
  assert.equal(percentile([3, 1, 2, 4], 0.5), 2.5);
  assert.equal(percentile([1, 2, 3, 4, 5], 0.25), 2);
  const [lo, hi] = percentileInterval(Array.from({ length: 101 }, (_, i) => i));
  close(lo, 2.5, 1e-12, 'lo');
  close(hi, 97.5, 1e-12, 'hi');
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

test('line fit: exact on a line; standard error and interval as textbook OLS', () => {
  const x = [1, 2, 3, 4, 5];
  const f = fitLine(x, x.map((v) => 3 + 2 * v));
  close(f.slope, 2, 1e-12, 'slope');
  close(f.intercept, 3, 1e-12, 'intercept');
  close(f.r2, 1, 1e-12, 'r2');
  // y = 1, 3, 2, 5, 4: slope 0.8, sse = 3.6 -> sigma^2 = 1.2, se = sqrt(1.2 / 10)
  const g = fitLine(x, [1, 3, 2, 5, 4]);
  close(g.slope, 0.8, 1e-12, 'slope');
  close(g.slopeSe, Math.sqrt(0.12), 1e-12, 'se');
  close(g.slopeCi[1] - g.slope, 3.1824 * Math.sqrt(0.12), 1e-3, 'interval half-width (t 3 df)');
  close(predictLine(g, 3).value, 3, 1e-12, 'prediction at the mean');
  assert.throws(() => fitLine([1, 1], [2, 3]), /all x values are equal/);
});

test('small linear algebra: solve and symmetric eigenvalues', () => {
  const x = solve([[2, 1, 0], [1, 3, 1], [0, 1, 4]], [3, 5, 5])!;
  [1, 1, 1].forEach((v, i) => close(x[i], v, 1e-12, `x${i}`));
  assert.equal(solve([[1, 2], [2, 4]], [1, 2]), null);
  const ev = symmetricEigenvalues([[2, 1, 0], [1, 2, 0], [0, 0, 5]]);
  [1, 3, 5].forEach((v, i) => close(ev[i], v, 1e-12, `lambda${i}`));
});
