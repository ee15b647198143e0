import { test } from 'node:test';
import assert from 'node:assert/strict';
import { huber, huberGrad } from '../../../src/lab/fit/huber.js';
import { huberObjective, logData, predictLoss, toTheta } from '../../../src/lab/fit/chinchilla.js';
import { chinchillaLaw, gridTable } from './synthetic.js';

test('Huber loss: quadratic inside delta, linear outside, continuous with its derivative at the seam', () => {
  const d = 1e-3;
  assert.equal(huber(5e-4, d), 0.5 * 25e-8);
  assert.equal(huber(-3e-3, d), d * (3e-3 - d / 2));
  assert.ok(Math.abs(huber(d * (1 + 1e-9), d) - huber(d, d)) <= 1.01e-15); // slope d at the seam: d * d * 1e-9
  assert.equal(huberGrad(0.5, d), d);
  assert.equal(huberGrad(-0.5, d), -d);
  assert.equal(huberGrad(2e-4, d), 2e-4);
  for (const r of [-2e-3, -5e-4, 0, 3e-4, 7e-3]) {
    const h = 1e-9;
    assert.ok(Math.abs((huber(r + h, d) - huber(r - h, d)) / (2 * h) - huberGrad(r, d)) < 1e-9, `r = ${r}`);
  }
});

test('the fit objective\'s analytic gradient matches central finite differences (both Huber regimes, with weights)', () => {
  const pts = gridTable(chinchillaLaw, { N0: 1e7, D0: 1e8, seed: 4, nN: 5, nD: 5 });
  const data = logData(pts);
  const weight = Float64Array.from(pts, (_, i) => (i * 7) % 3);
  const thetas = [toTheta(chinchillaLaw), [5, 7, 0.2, 0.4, 0.3], [0, 0, -1, 0, 0], [12, 3, 1, 1.5, 0.1]];
  for (const delta of [1e-3, 10]) {
    for (const w of [undefined, weight]) {
      const f = huberObjective({ ...data, weight: w }, delta);
      for (const theta of thetas) {
        const g = new Float64Array(5), dummy = new Float64Array(5);
        const f0 = f(Float64Array.from(theta), g);
        assert.ok(Number.isFinite(f0));
        for (let k = 0; k < 5; k++) {
          const h = 1e-6;
          const up = Float64Array.from(theta), dn = Float64Array.from(theta);
          up[k] += h; dn[k] -= h;
          const fd = (f(up, dummy) - f(dn, dummy)) / (2 * h);
          assert.ok(Math.abs(fd - g[k]) <= 1e-6 * Math.max(1e-3, Math.abs(g[k])), `delta ${delta} theta ${theta} k ${k}: analytic ${g[k]} vs fd ${fd}`);
        }
      }
    }
  }
});

test('the log-sum-exp form equals log of E + A/N^alpha + B/D^beta, and stays finite where the plain form overflows', () => {
  const pts = [{ params: 3e7, tokens: 2e9, loss: 2.5 }];
  const f = huberObjective(logData(pts), 10); // quadratic regime: f = r^2 / 2
  const r = Math.log(predictLoss(chinchillaLaw, 3e7, 2e9)) - Math.log(2.5);
  assert.ok(Math.abs(f(Float64Array.from(toTheta(chinchillaLaw)), new Float64Array(5)) - 0.5 * r * r) < 1e-14);
  const g = new Float64Array(5);
  assert.ok(Number.isFinite(f(Float64Array.of(800, 900, 0, 0, 0), g)) && g.every(Number.isFinite)); // exp(900) overflows
});
