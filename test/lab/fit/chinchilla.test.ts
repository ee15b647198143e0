// Approach 3 on synthetic tables drawn from known laws: the fit recovers every parameter
// within its bootstrap interval, the intervals are informative, and bad designs are flagged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coarseGrid, computeOptimal, fitParametric, gridStarts, logData, predictLoss, type LawParams } from '../../../src/lab/fit/chinchilla.js';
import { fitScaling } from '../../../src/lab/fit/scaling.js';
import { chinchillaLaw, gridTable, smallLaw, trueA } from './synthetic.js';

const keys = ['E', 'A', 'B', 'alpha', 'beta'] as const;

// Seeded tables: 8 sizes over 1.5 decades x 8 token counts over 2 decades, 1% log-normal noise.
// (Over 30 seeds per law the 95% intervals covered each true parameter 28-30 times.)
const cases: { name: string; law: LawParams; N0: number; D0: number; C: number }[] = [
  { name: 'Chinchilla\'s law at 1e7..3e8 params', law: chinchillaLaw, N0: 1e7, D0: 1e8, C: 1e20 },
  { name: 'a small-model law at 1e5..3e6 params', law: smallLaw, N0: 1e5, D0: 1e6, C: 1e14 },
];

for (const c of cases) {
  test(`approach 3 recovers ${c.name} within its bootstrap intervals`, () => {
    const pts = gridTable(c.law, { N0: c.N0, D0: c.D0, seed: 1 });
    const fit = fitScaling(pts, { grid: coarseGrid, bootstrap: 200, seed: 1, computes: [c.C] }).approach3;
    assert.ok(fit.ci, 'intervals');
    for (const k of keys) {
      const [lo, hi] = fit.ci[k];
      assert.ok(lo <= c.law[k] && c.law[k] <= hi, `${k}: true ${c.law[k]} outside [${lo}, ${hi}] (fit ${fit[k]})`);
      assert.ok(lo <= fit[k] && fit[k] <= hi, `${k}: the point estimate lies inside its own interval`);
    }
    // Informative intervals: exponents to within +-0.125, E to within a factor 2, A and B within 20x.
    for (const k of ['alpha', 'beta'] as const) assert.ok(fit.ci[k][1] - fit.ci[k][0] < 0.25, `${k} interval ${fit.ci[k]}`);
    assert.ok(fit.ci.E[1] / fit.ci.E[0] < 2, `E interval ${fit.ci.E}`);
    for (const k of ['A', 'B'] as const) assert.ok(fit.ci[k][1] / fit.ci[k][0] < 20, `${k} interval ${fit.ci[k]}`);

    // The derived quantities carry intervals that hold the truth too.
    const [aLo, aHi] = fit.exponents.ci!.a;
    assert.ok(aLo <= trueA(c.law) && trueA(c.law) <= aHi, `a: ${trueA(c.law)} outside [${aLo}, ${aHi}]`);
    const truth = computeOptimal(c.law, c.C), al = fit.allocation[0];
    for (const k of ['N', 'D', 'tokensPerParam', 'loss'] as const) {
      assert.ok(al.ci![k][0] <= truth[k] && truth[k] <= al.ci![k][1], `allocation ${k}: true ${truth[k]} outside ${al.ci![k]}`);
    }
    assert.equal(fit.residuals.length, pts.length);
    assert.ok(fit.rmsLogResidual > 0.007 && fit.rmsLogResidual < 0.013, `rms log residual ${fit.rmsLogResidual} for 1% noise`);
    assert.equal(fit.bootstrap.completed, 200);
  });
}

test('without noise the fit is exact, from the coarse grid as from a good start', () => {
  const pts = gridTable(chinchillaLaw, { N0: 1e7, D0: 1e8, seed: 1, noise: 0 });
  const f = fitParametric(logData(pts), { starts: gridStarts(coarseGrid) });
  for (const k of keys) assert.ok(Math.abs(f.best.params[k] / chinchillaLaw[k] - 1) < 1e-4, `${k} ${f.best.params[k]}`);
  assert.ok(f.best.objective < 1e-12);
  assert.ok(f.atBest > 10, 'many starts reach the optimum');
});

test('the compute-optimal allocation: N* D* = C / 6, and N* minimises the loss along its IsoFLOP curve', () => {
  for (const C of [1e18, 5.76e23]) {
    const o = computeOptimal(chinchillaLaw, C);
    assert.ok(Math.abs((o.N * o.D) / (C / 6) - 1) < 1e-12);
    assert.equal(o.tokensPerParam, o.D / o.N);
    assert.ok(Math.abs(o.loss - predictLoss(chinchillaLaw, o.N, o.D)) < 1e-12);
    for (const r of [0.98, 1.02, 0.5, 2]) assert.ok(predictLoss(chinchillaLaw, o.N * r, C / (6 * o.N * r)) > o.loss, `ratio ${r}`);
  }
  assert.ok(Number.isNaN(computeOptimal({ ...chinchillaLaw, beta: -0.1 }, 1e20).N));
});

test('the bootstrap is deterministic for a seed, and a different seed gives different intervals', () => {
  const pts = gridTable(smallLaw, { N0: 1e5, D0: 1e6, seed: 7, nN: 5, nD: 6 });
  const run = (seed: number) => fitScaling(pts, { grid: coarseGrid, bootstrap: 30, seed }).approach3;
  const a = run(3), b = run(3), c = run(4);
  assert.deepEqual(a.ci, b.ci);
  assert.deepEqual(a.allocation, b.allocation);
  assert.notDeepEqual(a.ci, c.ci);
  assert.equal(a.E, c.E, 'the point estimate does not depend on the bootstrap seed');
});

test('bad designs are reported as warnings, not hidden', () => {
  // Tokens proportional to parameters: N and D move together, alpha and beta are not separable.
  const collinear = Array.from({ length: 12 }, (_, i) => {
    const N = 1e6 * 10 ** (i / 6);
    return { params: N, tokens: 20 * N, loss: predictLoss(smallLaw, N, 20 * N) * (1 + 0.003 * Math.sin(i)) };
  });
  const w1 = fitScaling(collinear, { grid: coarseGrid, bootstrap: 20 }).approach3.warnings.join('\n');
  assert.match(w1, /almost collinear/);
  assert.match(w1, /only 12 points/);

  // One token count: beta and B cannot be told from E.
  const oneD = Array.from({ length: 10 }, (_, i) => {
    const N = 1e5 * 10 ** (i / 6);
    return { params: N, tokens: 1e7, loss: predictLoss(smallLaw, N, 1e7) * (1 + 0.003 * Math.cos(i)) };
  });
  const f2 = fitScaling(oneD, { grid: coarseGrid, bootstrap: 20 });
  assert.match(f2.approach3.warnings.join('\n'), /only 1 distinct token count/);
  assert.ok(f2.approach3.conditionNumber > 1e8 || f2.approach3.conditionNumber === Infinity, `condition number ${f2.approach3.conditionNumber}`);
  assert.match(f2.approach3.warnings.join('\n'), /ill-conditioned/);

  // Few noisy points: intervals spanning orders of magnitude are called out.
  const noisy = gridTable(smallLaw, { N0: 1e5, D0: 1e6, seed: 3, noise: 0.05, nN: 3, nD: 4 });
  const w3 = fitScaling(noisy, { grid: coarseGrid, bootstrap: 50 }).warnings.join('\n');
  assert.match(w3, /95% interval on (E|A|B) spans/);
});
