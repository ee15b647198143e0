import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, Tensor, crossEntropy, linear, embedding, tensor, zeros } from '../../src/engine/index.js';
import { accumulateGradients, clipGradients, clipScale, globalGradNorm, noiseScaleEstimates, scaleGradients } from '../../src/training/grads.js';
import { AdamW } from '../../src/training/optimizers.js';

function randn(rng: Rng, shape: number[], std = 1): Tensor {
  const t = zeros(shape, { requiresGrad: true });
  rng.fillNormal(t.f, std);
  return t;
}

test('global norm: float64 sum over every gradient, missing gradients count as zero', () => {
  const a = tensor([0, 0], [2], { requiresGrad: true }), b = tensor([0, 0, 0], [3], { requiresGrad: true });
  const c = tensor([0], [1], { requiresGrad: true });
  a.grad = tensor([3, 0], [2]);
  b.grad = tensor([0, 4, 12], [3]);
  const params = new Map([['a', a], ['b', b], ['c', c], ['tied', a]]);
  assert.equal(globalGradNorm(params), 13); // tied a counted once
  assert.equal(globalGradNorm([a, b]), 13);
});

test('clipping: PyTorch rule, reports the norm and whether it fired; as a gradScale it equals clipped grads', () => {
  assert.deepEqual(clipScale(0.5, 1), { norm: 0.5, scale: 1, clipped: false });
  const r = clipScale(4, 1);
  assert.equal(r.clipped, true);
  assert.equal(r.scale, 1 / (4 + 1e-6));
  assert.deepEqual(clipScale(4, null), { norm: 4, scale: 1, clipped: false });
  assert.deepEqual(clipScale(4, 0), { norm: 4, scale: 1, clipped: false });
  assert.equal(clipScale(NaN, 1).clipped, false);

  const rng = new Rng(1);
  const make = () => { const r2 = new Rng(5); const t = zeros([4, 4], { requiresGrad: true }); r2.fillNormal(t.f); return new Map([['h.w', t]]); };
  const fused = make(), manual = make();
  const g = zeros([4, 4]);
  rng.fillNormal(g.f, 3);
  fused.get('h.w')!.grad = tensor(g.f.slice(), [4, 4]);
  manual.get('h.w')!.grad = tensor(g.f.slice(), [4, 4]);
  const o1 = new AdamW(fused), o2 = new AdamW(manual);
  // Two steps, so the clipped scale also reaches Adam's second moment.
  for (let s = 0; s < 2; s++) {
    const c = clipGradients(fused, 1);
    assert.ok(c.clipped && c.norm > 1);
    o1.step(0.1, { gradScale: c.scale });
    const c2 = clipGradients(manual, 1);
    scaleGradients(manual, c2.scale);
    assert.ok(Math.abs(globalGradNorm(manual) - 1) < 1e-5);
    o2.step(0.1);
    manual.get('h.w')!.grad = tensor(g.f.slice(), [4, 4]);
  }
  const a = fused.get('h.w')!.f, b = manual.get('h.w')!.f;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `${i}: ${a[i]} vs ${b[i]}`);
});

test('gradient accumulation: two half-batches give the gradient of the full batch', () => {
  const V = 11, C = 6, B = 4, T = 5;
  const rng = new Rng(3);
  const wte = randn(rng, [V, C], 0.5), w = randn(rng, [V, C], 0.5), bias = randn(rng, [V], 0.1);
  const params = new Map([['wte.weight', wte], ['head.weight', w], ['head.bias', bias]]);
  const ids = Int32Array.from({ length: B * T }, () => rng.scaledInt(V));
  const tgt = Int32Array.from({ length: B * T }, () => rng.scaledInt(V));
  const lossOf = (rows: [number, number]): Tensor => {
    const n = (rows[1] - rows[0]) * T;
    const x = embedding(tensor(ids.slice(rows[0] * T, rows[1] * T), [n]), wte);
    return crossEntropy(linear(x, w, bias), tensor(tgt.slice(rows[0] * T, rows[1] * T), [n]));
  };
  const grads = () => [...params.values()].map((p) => Float64Array.from(p.grad!.f));

  for (const p of params.values()) p.grad = null;
  const full = accumulateGradients(1, () => lossOf([0, B]));
  const gFull = grads();
  const normFull = globalGradNorm(params);

  for (const p of params.values()) p.grad = null;
  const seen: number[] = [];
  const halves = accumulateGradients(2, (k) => lossOf(k === 0 ? [0, B / 2] : [B / 2, B]), (loss, k) => seen.push(k));
  const gHalf = grads();
  assert.deepEqual(seen, [0, 1]);
  assert.ok(Math.abs(full - halves) < 1e-6, `loss ${full} vs ${halves}`);
  assert.ok(Math.abs(normFull - globalGradNorm(params)) < 1e-6);
  gFull.forEach((g, k) => g.forEach((x, i) => assert.ok(Math.abs(x - gHalf[k][i]) < 1e-6, `param ${k}[${i}]: ${x} vs ${gHalf[k][i]}`)));
  assert.throws(() => accumulateGradients(0, () => lossOf([0, B])), /positive integer/);
});

test('noiseScaleEstimates: recovers |G|^2 and tr(Sigma) from E|G_B|^2 = |G|^2 + tr(Sigma)/B exactly', () => {
  // |G|^2 = 4, tr(Sigma) = 8: a batch of 2 has 8, a batch of 8 has 5
  const e = noiseScaleEstimates(2, 8, 8, 5);
  assert.ok(Math.abs(e.gradSq - 4) < 1e-12 && Math.abs(e.trace - 8) < 1e-12 && Math.abs(e.bSimple - 2) < 1e-12);
  assert.throws(() => noiseScaleEstimates(4, 1, 4, 1), /small < big/);
});

test('noiseScaleEstimates on sampled gradients: averaged over many draws, B_simple approaches tr(Sigma)/|G|^2', () => {
  // per-example gradients g_i = G + noise with per-coordinate variance s^2 in d dims: tr(Sigma) = d s^2
  const rng = new Rng(5), d = 20, s = 0.5, G = Array.from({ length: d }, (_, i) => (i % 3) * 0.1);
  const gSq = G.reduce((a, x) => a + x * x, 0), mean = (n: number) => {
    const g = new Float64Array(d);
    for (let k = 0; k < n; k++) for (let i = 0; i < d; i++) g[i] += (G[i] + s * rng.normal()) / n;
    return g.reduce((a, x) => a + x * x, 0);
  };
  let gs = 0, tr = 0;
  for (let k = 0; k < 4000; k++) { const e = noiseScaleEstimates(4, mean(4), 16, mean(16)); gs += e.gradSq; tr += e.trace; }
  const truth = (d * s * s) / gSq;
  assert.ok(Math.abs(tr / gs / truth - 1) < 0.1, `${tr / gs} vs ${truth}`);
});
