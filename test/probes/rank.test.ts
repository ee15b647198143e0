import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/engine/index.js';
import { Transformer } from '../../src/models/transformer.js';
import {
  activationSpectra, effectiveRank, isotropyDistance, singularValues, stableRank, symmetricEigenvalues, weightSpectra,
} from '../../src/probes/rank.js';
import { randomIds, tinyConfig } from '../models/helpers.js';

/** A random orthogonal n x n matrix (Gram-Schmidt on Gaussian columns). */
function orthogonal(n: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const v = Array.from({ length: n }, () => rng.normal());
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[i] * q[i * n + k];
      for (let i = 0; i < n; i++) v[i] -= dot * q[i * n + k];
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) q[i * n + j] = v[i] / norm;
  }
  return q;
}

test('Jacobi eigenvalues and singular values recover a matrix built from known ones', () => {
  const rng = new Rng(3), n = 7;
  const want = [9, 5, 4, 2.5, 1, 0.5, 0.01];
  const q = orthogonal(n, rng);
  const a = new Float64Array(n * n); // Q diag(want) Q^T
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += q[i * n + k] * want[k] * q[j * n + k];
  symmetricEigenvalues(a, n).forEach((e, i) => assert.ok(Math.abs(e - want[i]) < 1e-9, `${e} vs ${want[i]}`));
  // A = U diag(s) V^T with a 10 x 7 U (first 7 columns of an orthogonal 10 x 10): singular values s.
  const u = orthogonal(10, rng), v = orthogonal(n, rng);
  const m = new Float64Array(10 * n);
  for (let i = 0; i < 10; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) m[i * n + j] += u[i * 10 + k] * want[k] * v[j * n + k];
  for (const [data, r, c] of [[m, 10, n], [transpose(m, 10, n), n, 10]] as const) {
    singularValues(data, r, c).forEach((s, i) => assert.ok(Math.abs(s - want[i]) < 1e-6, `${r}x${c}: ${s} vs ${want[i]}`));
  }
});

function transpose(a: Float64Array, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}

test('effective and stable rank: d for equal singular values, 1 for rank one', () => {
  assert.ok(Math.abs(effectiveRank([2, 2, 2, 2]) - 4) < 1e-12);
  assert.ok(Math.abs(stableRank([2, 2, 2, 2]) - 4) < 1e-12);
  const rankOne = singularValues(Float64Array.from({ length: 6 * 4 }, (_, k) => (Math.floor(k / 4) + 1) * ((k % 4) - 1.5)), 6, 4);
  assert.ok(rankOne[1] < 1e-6 * rankOne[0]);
  assert.ok(Math.abs(effectiveRank(rankOne) - 1) < 1e-5 && Math.abs(stableRank(rankOne) - 1) < 1e-9);
  // In between: singular values 1, 1/2 -> p = 2/3, 1/3.
  assert.ok(Math.abs(effectiveRank([1, 0.5]) - Math.exp(-(2 / 3) * Math.log(2 / 3) - (1 / 3) * Math.log(1 / 3))) < 1e-12);
  assert.ok(Math.abs(stableRank([1, 0.5]) - 1.25) < 1e-12);
});

test('isotropy distance: near 0 for white noise, sqrt(d - 1) for one direction', () => {
  const rng = new Rng(1), d = 8, rows = 20000;
  const white = Float64Array.from({ length: rows * d }, () => rng.normal());
  assert.ok(isotropyDistance(white, rows, d) < 0.05);
  const line = Float64Array.from({ length: rows * d }, (_, k) => (Math.floor(k / d) % 7) * (k % d === 3 ? 1 : 0));
  assert.ok(Math.abs(isotropyDistance(line, rows, d) - Math.sqrt(d - 1)) < 1e-9);
  // Anisotropic by a known amount: variances 4, 1, 1, 1 -> S d / tr S = diag(16/7, 4/7, 4/7, 4/7).
  const aniso = Float64Array.from({ length: rows * 4 }, (_, k) => rng.normal() * (k % 4 === 0 ? 2 : 1));
  const want = Math.sqrt(((16 / 7 - 1) ** 2 + 3 * (4 / 7 - 1) ** 2) / 4);
  assert.ok(Math.abs(isotropyDistance(aniso, rows, 4) - want) < 0.03, `${isotropyDistance(aniso, rows, 4)} vs ${want}`);
});

test('spectra of a model: one entry per 2-D weight and per residual point, in range', () => {
  const m = new Transformer(tinyConfig('llama'), { seed: 2 });
  const w = weightSpectra(m, { keep: 4 });
  assert.deepEqual(w.map((s) => s.name), [...m.params].filter(([, t]) => t.ndim === 2).map(([n]) => n));
  for (const s of w) {
    assert.equal(s.spectrum[0], 1);
    assert.ok(s.effectiveRank >= 1 && s.effectiveRank <= Math.min(...s.shape) + 1e-9 && s.stableRank >= 1);
  }
  const a = activationSpectra(m, randomIds(4, 16, 50));
  assert.deepEqual(a.map((s) => s.name), ['blocks.0.hook_resid_pre', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']);
  for (const s of a) assert.ok(s.shape[0] === 64 && s.shape[1] === 32 && s.isotropyDistance! > 0);
});
