import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelConfigError, countParams, defaultDMlp, modelConfig, paramSpecs, parseModelConfig, presets } from '../../src/models/config.js';
import { Transformer } from '../../src/models/transformer.js';
import { tinyConfig } from './helpers.js';

const gpt2Small = { vocabSize: 50257, nCtx: 1024, dModel: 768, nLayer: 12, nHead: 12 };

test('presets fill the layout, overrides win, defaults and derived sizes are resolved', () => {
  const g = modelConfig('gpt2', gpt2Small);
  assert.equal(g.positions, 'learned');
  assert.equal(g.norm, 'layernorm');
  assert.equal(g.mlp, 'gelu');
  assert.equal(g.tiedEmbeddings, true);
  assert.equal(g.bias, true);
  assert.equal(g.dHead, 64);
  assert.equal(g.dMlp, 3072);
  assert.equal(g.initStd, 0.02);
  assert.equal(g.dropout, 0);
  const l = modelConfig('llama', { ...gpt2Small, bias: true, dropout: 0.1 });
  assert.equal(l.positions, 'rotary');
  assert.equal(l.bias, true);
  assert.equal(l.dropout, 0.1);
  assert.equal(l.dMlp, 2048, 'swiglu: 8/3 * 768 = 2048');
  // A resolved config parses again to itself (it is what runs store).
  assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(l))), l);
  assert.ok(Object.keys(presets).includes('llama'));
});

test('SwiGLU hidden size: 2/3 of mlpRatio * dModel, rounded up to a multiple of 8', () => {
  assert.equal(defaultDMlp('swiglu', 4, 32), 88); // 85.33 -> 88
  assert.equal(defaultDMlp('swiglu', 4, 4096), 10928); // LLaMA-7B rounds to 256 instead: 11008
  assert.equal(defaultDMlp('gelu', 4, 32), 128);
  assert.equal(tinyConfig('llama', { dMlp: 100 }).dMlp, 100);
});

test('validation errors name the bad field', () => {
  const bad: [object, RegExp][] = [
    [{ nHead: 5 }, /nHead: dModel 768 is not divisible by nHead 5/],
    [{ nHead: 'twelve' }, /nHead: Expected number, received string/],
    [{ vocabSize: -3 }, /vocabSize: Number must be greater than 0/],
    [{ mlp: 'relu' }, /mlp: Invalid enum value/],
    [{ dropout: 1 }, /dropout: Number must be less than 1/],
    [{ nLayers: 3 }, /nLayers: unknown key \(known: vocabSize, nCtx/],
    [{ dHead: 32 }, /dHead: dHead 32 disagrees with dModel \/ nHead = 64/],
  ];
  for (const [override, re] of bad) {
    assert.throws(() => modelConfig('gpt2', { ...gpt2Small, ...override } as never), (e: unknown) => {
      assert.ok(e instanceof ModelConfigError);
      assert.match(e.message, re);
      return true;
    });
  }
  assert.throws(() => modelConfig('llama', { ...gpt2Small, dModel: 36, nHead: 4 }), /positions: rotary positions need an even head size, dHead is 9/);
  assert.throws(() => parseModelConfig({}), /vocabSize: Required.*nCtx: Required/);
  assert.throws(() => modelConfig('gpt3' as never, gpt2Small), /unknown model preset "gpt3"/);
});

test('parameter counts: GPT-2 small and LLaMA-7B by hand', () => {
  // GPT-2 small: 124,439,808 parameters (the HF checkpoint, tied head); the famous "85M" excludes wte and wpe.
  const g = countParams(modelConfig('gpt2', gpt2Small));
  assert.equal(g.total, 124_439_808);
  assert.equal(g.embedding, 50257 * 768 + 1024 * 768);
  assert.equal(g.nonEmbedding, 85_056_000);
  assert.equal(g.lmHead, 0);
  // Per block: 2 LayerNorms 4*768, qkv 768*2304 + 2304, proj 768*768 + 768, fc 768*3072 + 3072, proj 3072*768 + 768.
  assert.equal(g.blocks, 12 * (4 * 768 + 768 * 2304 + 2304 + 768 * 768 + 768 + 768 * 3072 + 3072 + 3072 * 768 + 768));
  // LLaMA-7B: 6,738,415,616 with its dMlp 11008 and an untied head, which counts as non-embedding.
  const l = countParams(modelConfig('llama', { vocabSize: 32000, nCtx: 2048, dModel: 4096, nLayer: 32, nHead: 32, dMlp: 11008 }));
  assert.equal(l.total, 6_738_415_616);
  assert.equal(l.embedding, 32000 * 4096);
  assert.equal(l.lmHead, 32000 * 4096);
  assert.equal(l.nonEmbedding, 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096) + 4096 + 32000 * 4096);
});

test('counts agree with the parameters a model actually has, for every layout switch', () => {
  const variants = [
    tinyConfig('gpt2'), tinyConfig('llama'), tinyConfig('gpt2', { bias: false, tiedEmbeddings: false }),
    tinyConfig('llama', { bias: true, tiedEmbeddings: true, norm: 'layernorm', positions: 'learned', mlp: 'gelu' }),
  ];
  for (const c of variants) {
    const counts = countParams(c);
    const specTotal = paramSpecs(c).reduce((n, s) => n + s.shape.reduce((p, d) => p * d, 1), 0);
    assert.equal(counts.total, specTotal);
    assert.equal(new Transformer(c).numParams(), counts.total);
  }
});
