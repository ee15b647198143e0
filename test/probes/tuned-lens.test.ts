// The tuned lens against the logit lens on a small trained model (the induction model).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.js';
import { AdamW } from '../../src/training/optimizers.js';
import { repeatedRandomTokens } from '../../src/probes/heads.js';
import { logitLens } from '../../src/probes/lens.js';
import { compareLenses, trainTunedLens, tunedLensWeights } from '../../src/probes/tuned-lens.js';
import { inductionSizes, trainInductionModel } from './induction-model.js';

const { model } = trainInductionModel({ steps: 300, seed: 1 });
const V = inductionSizes.vocabSize, n = 8;
const calibration = [0, 1, 2, 3].map((k) => ({ ids: repeatedRandomTokens(V, n, 8, 200 + k) }));
const optimizer = (p: ReadonlyMap<string, import('../../src/engine/index.js').Tensor>) => new AdamW(p, { weightDecay: 0 });

test('an untrained tuned lens is the logit lens; the last layer is the model for both', () => {
  const lens = trainTunedLens(model, calibration, { optimizer, steps: 0 });
  const ids = repeatedRandomTokens(V, n, 4, 5);
  const cmp = compareLenses(model, lens, ids);
  const plain = logitLens(model, ids);
  assert.deepEqual(cmp.map((c) => c.layer), ['embed', 'blocks.0', 'blocks.1']);
  cmp.forEach((c, i) => {
    assert.ok(Math.abs(c.klTunedLens - c.klLogitLens) < 1e-9, `${c.layer}: zero translators change nothing`);
    assert.ok(Math.abs(c.klLogitLens - plain[i].klToFinal) < 1e-6, `${c.layer}: the comparison's logit lens is logitLens (${c.klLogitLens} vs ${plain[i].klToFinal})`);
  });
  assert.ok(cmp[2].klTunedLens < 1e-9);
});

test('a trained tuned lens is closer to the final distribution than the logit lens on held-out tokens; its seed is its own', () => {
  const lens = trainTunedLens(model, calibration, { optimizer, steps: 150, lr: 3e-3, seed: 4 });
  assert.ok(lens.trainLoss.at(-1)! < lens.trainLoss[0], `training lowers the KL: ${lens.trainLoss[0]} -> ${lens.trainLoss.at(-1)}`);
  const ids = repeatedRandomTokens(V, n, 8, 999);
  const [B, T] = ids.shape;
  const targets = new Int32Array(B * T).fill(-1);
  for (let b = 0; b < B; b++) for (let i = 0; i < T - 1; i++) targets[b * T + i] = ids.i[b * T + i + 1];
  const cmp = compareLenses(model, lens, ids, { targets: tensor(targets, [B, T], { dtype: 'int32' }) });
  for (const c of cmp.slice(0, 2)) {
    assert.ok(c.klTunedLens < 0.9 * c.klLogitLens, `${c.layer}: tuned ${c.klTunedLens} vs logit ${c.klLogitLens}`);
    assert.ok(c.lossTunedLens! < c.lossLogitLens!, `${c.layer}: loss tuned ${c.lossTunedLens} vs logit ${c.lossLogitLens}`);
  }
  const again = trainTunedLens(model, calibration, { optimizer, steps: 150, lr: 3e-3, seed: 4 });
  assert.deepEqual(tunedLensWeights(again), tunedLensWeights(lens), 'same seed, same translators');
  const other = trainTunedLens(model, calibration, { optimizer, steps: 150, lr: 3e-3, seed: 5 });
  assert.notDeepEqual(tunedLensWeights(other), tunedLensWeights(lens), 'the seed picks the calibration positions');
});
