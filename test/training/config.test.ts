import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrainConfigError, parseTrainConfig, totalSteps } from '../../src/training/config.js';
import { createOptimizer } from '../../src/training/optimizers.js';
import { tensor } from '../../src/engine/index.js';

const model = { vocabSize: 256, nCtx: 64, dModel: 32, nLayer: 2, nHead: 4, mlp: 'gelu', norm: 'layernorm', positions: 'learned', tiedEmbeddings: true, bias: true };
const base = { model, lr: 1e-3, batchSize: 8, context: 32, steps: 100 };

function issues(input: unknown): string[] {
  try { parseTrainConfig(input); } catch (e) {
    assert.ok(e instanceof TrainConfigError, String(e));
    return e.issues.map((i) => `${i.field}: ${i.message}`);
  }
  assert.fail('expected the config to be rejected');
}

test('defaults are filled and the total steps follow steps or the token budget', () => {
  const c = parseTrainConfig(base);
  assert.equal(c.optimizer, 'adamw');
  assert.deepEqual(c.betas, [0.9, 0.95]);
  assert.equal(c.gradAccum, 1);
  assert.equal(c.clip, 1);
  assert.deepEqual(c.schedule, { kind: 'cosine', warmupSteps: 0, minLrRatio: 0.1 });
  assert.equal(c.model.dropout, 0); // the model layer's defaults apply too
  assert.equal(totalSteps(c), 100);
  const t = parseTrainConfig({ ...base, steps: undefined, tokens: 10_000, gradAccum: 2 });
  assert.equal(totalSteps(t), Math.ceil(10_000 / (8 * 32 * 2)));
});

test('unknown keys and bad values are named by field path', () => {
  assert.deepEqual(issues({ ...base, lrr: 1 }), ['lrr: unknown key']);
  assert.deepEqual(issues({ ...base, schedule: { kind: 'wsd', decaySteps: 10, shape: 'linear' } }), ['schedule.shape: unknown key']);
  assert.deepEqual(issues({ ...base, model: { ...model, nLayers: 3 } }), ['model.nLayers: unknown key']);
  assert.ok(issues({ ...base, model: { ...model, nHead: 5 } }).some((m) => m.startsWith('model.nHead: dModel 32 is not divisible')));
  assert.ok(issues({ ...base, schedule: { kind: 'wsd' } }).some((m) => m.startsWith('schedule.decaySteps: give exactly one')));
  assert.ok(issues({ ...base, tokens: 5 }).some((m) => m.startsWith('steps: give exactly one of steps or tokens')));
  assert.ok(issues({ ...base, context: 128 }).some((m) => m.startsWith('context: context 128 exceeds model.nCtx 64')));
  assert.ok(issues({ ...base, betas: [0.9, 1] }).some((m) => m.startsWith('betas.1:')));
  assert.ok(issues({ ...base, batchSize: 0 }).some((m) => m.startsWith('batchSize:')));
  assert.ok(issues({ ...base, schedule: { kind: 'constant', warmupSteps: 500 } }).some((m) => m.startsWith('schedule.warmupSteps: warm-up of 500 steps exceeds')));
  assert.ok(issues({ ...base, noDecay: { patterns: ['x'], extra: 1 } }).some((m) => m === 'noDecay.extra: unknown key'));
});

test('createOptimizer builds what the config names', () => {
  const params = new Map([['h.0.w', tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true })], ['h.0.ln.weight', tensor([1, 1], [2], { requiresGrad: true })]]);
  const c = parseTrainConfig({ ...base, weightDecay: 0.2 });
  const a = createOptimizer(params, c);
  assert.equal(a.kind, 'adamw');
  assert.deepEqual(a.params.map((p) => p.weightDecay), [0.2, 0]);
  const s = createOptimizer(params, parseTrainConfig({ ...base, optimizer: 'sgd', nesterov: true, noDecay: { minDecayDims: 0, patterns: [] } }));
  assert.equal(s.kind, 'sgd');
  assert.deepEqual(s.params.map((p) => p.weightDecay), [0.1, 0.1]);
});

test('the samples section: defaults (greedy, start of a document), bad values named by field', () => {
  const c = parseTrainConfig({ ...base, samples: { every: 10 } });
  assert.deepEqual(c.samples, { every: 10, prompts: [''], maxTokens: 64, temperature: 0 });
  assert.equal(parseTrainConfig(base).samples, undefined);
  assert.ok(issues({ ...base, samples: { every: 0 } }).some((m) => m.startsWith('samples.every:')));
  assert.ok(issues({ ...base, samples: {} }).some((m) => m.startsWith('samples.every:')));
  assert.ok(issues({ ...base, samples: { every: 5, prompts: [] } }).some((m) => m.startsWith('samples.prompts:')));
  assert.ok(issues({ ...base, samples: { every: 5, prompts: [3] } }).some((m) => m.startsWith('samples.prompts.0:')));
  assert.ok(issues({ ...base, samples: { every: 5, temperature: -1 } }).some((m) => m.startsWith('samples.temperature:')));
  assert.ok(issues({ ...base, samples: { every: 5, maxTokens: 1.5 } }).some((m) => m.startsWith('samples.maxTokens:')));
  assert.ok(issues({ ...base, samples: { every: 5, topK: 3 } }).some((m) => m.startsWith('samples.topK: topK filters a sampled distribution')));
  assert.ok(issues({ ...base, samples: { every: 5, temperature: 1, topP: 1.5 } }).some((m) => m.startsWith('samples.topP:')));
  assert.ok(issues({ ...base, samples: { every: 5, topk: 3 } }).some((m) => m === 'samples.topk: unknown key'));
  assert.deepEqual(parseTrainConfig({ ...base, samples: { every: 5, temperature: 0.8, topK: 3, topP: 0.9, atStart: true } }).samples,
    { every: 5, prompts: [''], maxTokens: 64, temperature: 0.8, topK: 3, topP: 0.9, atStart: true });
  assert.deepEqual(issues({ ...base, samples: { every: 5, temperature: Infinity } }), ['samples.temperature: must be a finite number, got Infinity']);
});

test('noiseScale: absent by default (run ids stay put); with one micro-batch the batch must split into equal halves', () => {
  assert.equal('noiseScale' in parseTrainConfig(base), false);
  assert.deepEqual(parseTrainConfig({ ...base, noiseScale: { every: 10 } }).noiseScale, { every: 10 });
  assert.throws(() => parseTrainConfig({ ...base, batchSize: 7, noiseScale: { every: 10 } }), (e: unknown) => e instanceof TrainConfigError && /noiseScale/.test(JSON.stringify((e as TrainConfigError).issues)) && /even/.test(JSON.stringify((e as TrainConfigError).issues)));
  assert.equal(parseTrainConfig({ ...base, batchSize: 7, gradAccum: 2, noiseScale: { every: 10 } }).noiseScale!.every, 10);
});
