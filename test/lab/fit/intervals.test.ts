// The honest-interval pieces of the fit wing, each against a known answer: the FLOP conventions
// (one owner, the lab's cost model among its users), the allocation under any convention
// (equal to the closed form for 6N), Holm's procedure, the prediction interval's coverage of a
// known-noise process, the cluster bootstraps' structure, and fitScaling choosing clusters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/base/random.js';
import {
  computeOptimal, computeOptimalBy, fitScaling, flopsPerToken, holm, logData, predictLoss, predictionInterval, replicator, resampler,
  residualSd, trainingFlops, coarseGrid, type ScalingPoint,
} from '../../../src/lab/fit/index.js';
import { runCost } from '../../../src/lab/experiments/sweep.js';
import { studyBase } from '../../../src/studies/study.js';
import { smallLaw } from './synthetic.js';

test('FLOP conventions: 6N non-embedding, 6N total, 6N_matmul + 12LTd; the lab cost model is the attention convention', () => {
  const shape = { params: 1000, totalParams: 1500, matmulParams: 1200, attentionFlopsPerToken: 300 };
  assert.equal(flopsPerToken(shape, 'non-embedding'), 6000);
  assert.equal(flopsPerToken(shape, 'total'), 9000);
  assert.equal(flopsPerToken(shape, 'attention'), 6 * 1200 + 300);
  assert.equal(trainingFlops(shape, 10, 'total'), 90000);
  assert.throws(() => flopsPerToken({ params: 1000 }, 'total'), /total_params/);
  assert.throws(() => flopsPerToken({ params: 1000 }, 'attention'), /attention_flops_per_token/);
  const cost = runCost({ ...studyBase({ dModel: 32, nLayer: 2, nHead: 4, batchSize: 4, context: 16, lr: 1e-3, evalBatches: 1 }), steps: 10 });
  const s = cost.shape!;
  assert.equal(s.attentionFlopsPerToken, 12 * 2 * 16 * 32);
  assert.equal(s.matmulParams, s.params + 257 * 32, 'the tied head (257-token vocabulary) counts as a matmul');
  assert.equal(cost.flops, trainingFlops(s, cost.tokens!, 'attention'));
  assert.ok(s.totalParams > s.params);
});

test('computeOptimalBy with f(N) = 6N is the closed form; with a costlier f it picks a smaller N', () => {
  for (const C of [1e12, 1e15, 1e18]) {
    const exact = computeOptimal(smallLaw, C), num = computeOptimalBy(smallLaw, C, (N) => 6 * N, 1e6);
    assert.ok(Math.abs(num.N / exact.N - 1) < 1e-6 && Math.abs(num.D / exact.D - 1) < 1e-6, `${C}: ${num.N} vs ${exact.N}`);
    const dearer = computeOptimalBy(smallLaw, C, (N) => 6 * N + 1e5, 1e6);
    assert.ok(dearer.loss >= exact.loss);
  }
});

test('holm: the step-down stops at the first p above alpha / (k - j)', () => {
  assert.deepEqual(holm([0.01, 0.04, 0.03, 0.005], 0.05), [true, false, false, true]);
  assert.deepEqual(holm([0.01, 0.012, 0.013], 0.05), [true, true, true]);
  assert.deepEqual(holm([0.02, 0.02], 0.025), [false, false]);
  assert.deepEqual(holm([], 0.05), []);
});

test('prediction interval: covers 95% of new observations of a known-noise process; the mean interval alone does not', () => {
  const sd = 0.01, rng = new Rng(7);
  // Refits scattered a little around the truth (the parameter uncertainty), like a bootstrap's.
  const samples = Array.from({ length: 200 }, () => ({ ...smallLaw, E: smallLaw.E * (1 + 0.001 * rng.normal()) }));
  const N = 3e6, D = 5e7, truth = predictLoss(smallLaw, N, D);
  const pi = predictionInterval(samples, N, D, sd, { seed: 1 }).interval;
  const mean = predictionInterval(samples, N, D, 0, { seed: 1 }).interval;
  let inPi = 0, inMean = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const y = truth * Math.exp(sd * rng.normal());
    if (y >= pi[0] && y <= pi[1]) inPi++;
    if (y >= mean[0] && y <= mean[1]) inMean++;
  }
  assert.ok(Math.abs(inPi / n - 0.95) < 0.015, `coverage ${inPi / n}`);
  assert.ok(inMean / n < 0.5, `the mean's interval covers only ${inMean / n}`);
  assert.ok(Math.abs(residualSd(Float64Array.from([0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1]), 5) - Math.sqrt(0.07 / 2)) < 1e-12);
});

test('cluster bootstraps: a resampled cluster keeps its points together; a wild replicate scales each cluster\'s residuals by one Webb weight', () => {
  const groups = ['a', 'a', 'a', 'b', 'b', 'c'];
  const draw = resampler(6, 3, groups);
  for (let k = 0; k < 20; k++) {
    const w = draw();
    assert.equal(w[0], w[1]); assert.equal(w[1], w[2]); assert.equal(w[3], w[4]);
    assert.equal(w.reduce((s, x) => s + x, 0) , (w[0] * 3 + w[3] * 2 + w[5]));
  }
  const pts = [1e5, 2e5, 4e5].flatMap((N, i) => [1e6, 3e6].map((D, j) => ({ params: N, tokens: D, loss: predictLoss(smallLaw, N, D) * (1 + 0.01 * (i - j + 0.5)) })));
  const data = logData(pts);
  const wild = replicator(data, smallLaw, { seed: 5, groups: pts.map((p) => String(p.params)), method: 'wild' });
  const webb = [Math.sqrt(0.5), 1, Math.sqrt(1.5)];
  for (let k = 0; k < 20; k++) {
    const { logL } = wild();
    const ratio = pts.map((p, i) => {
      const fitted = Math.log(predictLoss(smallLaw, p.params, p.tokens));
      return (logL![i] - fitted) / (data.logL[i] - fitted);
    });
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(ratio[2 * c] - ratio[2 * c + 1]) < 1e-9, 'one weight per cluster');
      assert.ok(webb.some((v) => Math.abs(Math.abs(ratio[2 * c]) - v) < 1e-9));
    }
  }
});

test('fitScaling: a table with runs is bootstrapped by runs (wild under 10 clusters) for all three approaches; the convention is named', () => {
  const rng = new Rng(2), pts: ScalingPoint[] = [];
  for (const N of [1e5, 2e5, 4e5, 8e5, 1.6e6, 3.2e6]) {
    const seed = 0.004 * rng.normal();
    for (const D of [1e6, 2e6, 4e6, 8e6, 1.6e7]) pts.push({ params: N, tokens: D, loss: predictLoss(smallLaw, N, D) * Math.exp(seed + 0.002 * rng.normal()), run: `r${N}`, flops: 6 * N * D });
  }
  const f = fitScaling(pts, { grid: coarseGrid, bootstrap: 30, seed: 1 });
  assert.equal(f.approach3.bootstrap.by, 'runs');
  assert.equal(f.approach3.bootstrap.method, 'wild');
  assert.equal(f.approach3.bootstrap.clusters, 6);
  assert.equal(f.approach3.bootstrap.completed + f.approach3.bootstrap.failed, 30);
  assert.equal(f.compute.convention, 'non-embedding');
  assert.match(f.approach1.ciMethod!, /wild cluster bootstrap by runs \(6 clusters, 30 replicates\)/);
  assert.match(f.approach2.ciMethod!, /wild cluster bootstrap/);
  assert.ok(f.approach3.noise.logSd > 0);
  const total = fitScaling(pts.map((p) => ({ ...p, totalParams: 1.5 * p.params })), { grid: coarseGrid, bootstrap: 0, flops: 'total' });
  assert.equal(total.compute.convention, 'total');
  assert.match(total.approach1.ciMethod!, /not valid/);
  assert.ok(Math.abs(total.input.range.compute[1] / f.input.range.compute[1] - 1.5) < 1e-9);
  assert.throws(() => fitScaling(pts, { grid: coarseGrid, bootstrap: 0, flops: 'attention' }), /attention_flops_per_token/);
});
