// Config files and --set overrides (typed parsing, paths), and the run config format they feed:
// presets, derived vocabSize/nCtx, the data section, errors naming their paths. Pure and fast.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { applyOverrides, configName, parseSetValue } from '../../src/base/config-file.js';
import { UsageError } from '../../src/base/errors.js';
import { resolveRunConfig } from '../../src/training/assemble.js';
import { TrainConfigError, totalSteps } from '../../src/training/config.js';
import { countParams } from '../../src/models/config.js';

const base = {
  model: { preset: 'gpt2', dModel: 32, nLayer: 2, nHead: 2 },
  data: { corpus: { kind: 'brown' } },
  lr: 1e-3, batchSize: 2, context: 16, steps: 3,
};

function fields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TrainConfigError, String(e));
    return e.issues.map((i) => i.field);
  }
  assert.fail('expected a TrainConfigError');
}

test('--set values parse as JSON when they can, else as text', () => {
  assert.equal(parseSetValue('3e-4'), 3e-4);
  assert.equal(parseSetValue('12'), 12);
  assert.equal(parseSetValue('true'), true);
  assert.equal(parseSetValue('null'), null);
  assert.deepEqual(parseSetValue('[0.9,0.95]'), [0.9, 0.95]);
  assert.deepEqual(parseSetValue('{"kind":"byte"}'), { kind: 'byte' });
  assert.equal(parseSetValue('gpt2'), 'gpt2');
  assert.equal(parseSetValue('"42"'), '42');
  assert.equal(parseSetValue('a=b'), 'a=b');
});

test('--set edits nested paths, creating objects, without touching the input', () => {
  const c = { model: { dModel: 8 }, betas: [0.9, 0.95], lr: 1 };
  const out = applyOverrides(c, ['model.dModel=16', 'lr=2e-3', 'data.corpus.kind=brown', 'betas.1=0.99', 'schedule={"kind":"constant"}']);
  assert.deepEqual(out, { model: { dModel: 16 }, betas: [0.9, 0.99], lr: 2e-3, data: { corpus: { kind: 'brown' } }, schedule: { kind: 'constant' } });
  assert.equal(c.model.dModel, 8);
  assert.throws(() => applyOverrides(c, ['lr.x=1']), (e: Error) => e instanceof UsageError && /lr is 1, not an object/.test(e.message));
  assert.throws(() => applyOverrides(c, ['novalue']), UsageError);
  assert.throws(() => applyOverrides(c, ['a..b=1']), UsageError);
  assert.equal(configName('configs/brown-gpt.json'), 'brown-gpt');
});

test('a preset expands, vocabSize comes from the tokenizer and nCtx from context; the result resolves to itself', () => {
  const r = resolveRunConfig(base);
  assert.equal(r.model.positions, 'learned');
  assert.equal(r.model.tiedEmbeddings, true);
  assert.equal(r.model.vocabSize, 257);
  assert.equal(r.model.nCtx, 16);
  assert.equal(r.data.tokenizer.kind, 'byte');
  assert.equal(r.data.sampler.kind, 'windows');
  assert.deepEqual(resolveRunConfig(JSON.parse(JSON.stringify(r))), r);

  const l = resolveRunConfig({ ...base, model: { ...base.model, preset: 'llama', nCtx: 64 }, data: { corpus: { kind: 'brown' }, tokenizer: { kind: 'bpe', vocabSize: 1000 } } });
  assert.equal(l.model.norm, 'rmsnorm');
  assert.equal(l.model.mlp, 'swiglu');
  assert.equal(l.model.vocabSize, 1000);
  assert.equal(l.model.nCtx, 64);
  // An override beats the preset.
  assert.equal(resolveRunConfig({ ...base, model: { ...base.model, bias: false } }).model.bias, false);
});

test('every bad field is reported by its path', () => {
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, model: { ...base.model, nLayers: 3 } })), ['model.nLayers']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, model: { ...base.model, preset: 'bert' } })), ['model.preset']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, data: { corpus: { kind: 'web' } } })), ['data.corpus.kind']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, data: { corpus: { kind: 'text' } } })), ['data.corpus.path']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, data: { ...base.data, tokenizer: { kind: 'bpe', vocabSize: 100 } } })), ['data.tokenizer.vocabSize']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, data: { ...base.data, shuffle: true } })), ['data.shuffle']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, model: { ...base.model, vocabSize: 100 } })), ['model.vocabSize']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, context: 32, model: { ...base.model, nCtx: 16 } })), ['context']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, data: undefined })), ['data']);
  assert.deepEqual(fields(() => resolveRunConfig({ ...base, lr: 'fast', warmup: 3 })).sort(), ['lr', 'warmup']);
  assert.deepEqual(fields(() => resolveRunConfig([])), ['(config)']);
});

test('the example configs resolve, and the Brown twins are the same size', () => {
  const dir = new URL('../../configs/', import.meta.url).pathname;
  const resolved = Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => [f, resolveRunConfig(JSON.parse(readFileSync(join(dir, f), 'utf8')))]));
  assert.ok(resolved['tiny-smoke.json'] && resolved['brown-gpt.json'] && resolved['brown-llama.json']);
  const gpt = resolved['brown-gpt.json'], llama = resolved['brown-llama.json'];
  assert.equal(gpt.model.positions, 'learned');
  assert.deepEqual([llama.model.positions, llama.model.norm, llama.model.mlp, llama.model.tiedEmbeddings, llama.model.bias], ['rotary', 'rmsnorm', 'swiglu', false, false]);
  // Same widths; SwiGLU's 2/3 hidden size keeps the blocks the same size (the untied head is extra).
  const ratio = countParams(llama.model).blocks / countParams(gpt.model).blocks;
  assert.ok(ratio > 0.95 && ratio < 1.05, `transformer block parameters: llama / gpt = ${ratio}`);
  assert.equal(totalSteps(llama), totalSteps(gpt));
});
