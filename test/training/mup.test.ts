// muP in training: checkpoints carry the base shapes, a resumed muP run reproduces the straight
// run bit for bit (AdamW and SGD multipliers included), and a resume into another
// parametrization is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/engine/index.js';
import { MemoryTokens, RandomWindowSampler } from '../../src/data/index.js';
import { modelConfig, type ModelConfigInput } from '../../src/models/config.js';
import { Transformer } from '../../src/models/transformer.js';
import { mupBaseShapes, mupOptimizerOptions } from '../../src/models/mup.js';
import { createOptimizer } from '../../src/training/optimizers.js';
import { Trainer, type TrainerEvent } from '../../src/training/trainer.js';
import { loadCheckpoint } from '../../src/training/checkpoint.js';

const V = 13, B = 2, T = 6;
const rng = new Rng(321);
const docs = Array.from({ length: 6 }, (_, d) => Int32Array.from({ length: 40 + d * 3 }, (_, i) => (i * (d + 3) + rng.scaledInt(3)) % V));
const source = new MemoryTokens(docs);

const modelInput = (mup: ModelConfigInput['mup']) =>
  modelConfig('gpt2', { vocabSize: V, nCtx: T, dModel: 16, nLayer: 2, nHead: 2, dropout: 0.1, tiedEmbeddings: false, mup });
const mup2x = { baseWidth: 8, baseHeadDim: 4 };

function setup(dir: string, o: { optimizer: 'adamw' | 'sgd'; mup?: ModelConfigInput['mup']; seed?: number; resume?: boolean; stopAt?: number }) {
  const config = modelInput(o.mup === undefined ? mup2x : o.mup);
  const model = new Transformer(config, { seed: o.seed ?? 1 });
  const optimizer = createOptimizer(model.params, {
    optimizer: o.optimizer, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, momentum: 0.9, nesterov: false,
  }, mupOptimizerOptions(config, o.optimizer));
  const losses: number[] = [];
  const trainer: Trainer = new Trainer({
    runDir: dir, model, optimizer,
    train: new RandomWindowSampler(source, { B, T, seed: 3 }),
    schedule: o.resume ? undefined : { config: { kind: 'cosine', warmupSteps: 1, minLrRatio: 0.1 }, lr: o.optimizer === 'adamw' ? 0.01 : 0.1, totalSteps: 8 },
    resume: o.resume ?? false, checkpointInterval: 2, clip: 1,
    config: { model: config },
    onEvent: (e: TrainerEvent) => {
      if (e.type !== 'step') return;
      losses.push(e.loss);
      if (e.step === o.stopAt) trainer.requestStop();
    },
  });
  return { model, trainer, losses };
}

function withDirs(n: number, fn: (...dirs: string[]) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'wt-mup-train-'));
    try { await fn(...Array.from({ length: n }, (_, i) => join(root, `run${i}`))); } finally { rmSync(root, { recursive: true, force: true }); }
  };
}

for (const optimizer of ['adamw', 'sgd'] as const) test(`muP exact resume (${optimizer}, 2x base width): base shapes in every checkpoint, bitwise-identical losses`, withDirs(2, async (dirA, dirB) => {
  const a = setup(dirA, { optimizer });
  assert.equal((await a.trainer.run()).status, 'completed');

  const b1 = setup(dirB, { optimizer, stopAt: 3 });
  assert.equal((await b1.trainer.run()).step, 3);
  const ck = loadCheckpoint(dirB);
  assert.deepEqual(ck.state.baseShapes, mupBaseShapes(b1.model.config));
  assert.deepEqual(ck.state.baseShapes!['blocks.0.attn.qkv.weight'], [24, 8]);
  assert.deepEqual((ck.state.config as { model: { mup: unknown } }).model.mup, b1.model.config.mup);

  // A fresh process with another init seed: the checkpoint restores everything.
  const b2 = setup(dirB, { optimizer, seed: 42, resume: true });
  assert.equal((await b2.trainer.run()).status, 'completed');
  assert.deepEqual([...b1.losses, ...b2.losses], a.losses);
  for (const [name, t] of a.model.params) assert.deepEqual(b2.model.params.get(name)!.f, t.f, name);
  assert.deepEqual(loadCheckpoint(dirB).state.baseShapes, ck.state.baseShapes);
}));

test('resume refuses another parametrization: other base shapes, muP into standard, standard into muP', withDirs(2, async (mu, sp) => {
  await setup(mu, { optimizer: 'adamw', stopAt: 2 }).trainer.run();
  await assert.rejects(setup(mu, { optimizer: 'adamw', mup: { baseWidth: 4, baseHeadDim: 2 }, resume: true }).trainer.run(),
    /muP base shapes differ from .*ckpt-2: wte\.weight base \[13, 8\] in the checkpoint, \[13, 4\] in the model; .* and 25 more; resume with the run.s own mup section/);
  await assert.rejects(setup(mu, { optimizer: 'adamw', mup: null, resume: true }).trainer.run(), /was trained with muP but the model has no mup section/);
  await setup(sp, { optimizer: 'adamw', mup: null, stopAt: 2 }).trainer.run();
  assert.equal(loadCheckpoint(sp).state.baseShapes, undefined, 'standard runs store no base shapes');
  await assert.rejects(setup(sp, { optimizer: 'adamw', resume: true }).trainer.run(), /was trained without muP \(no base shapes\) but the model uses muP/);
}));
