import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, tensor } from '../../src/engine/index.js';
import { configFromHF, exportHF, fromHF, importHF, toHF } from '../../src/models/hf.js';
import { readSafetensors } from '../../src/models/safetensors.js';
import { Transformer } from '../../src/models/transformer.js';
import { randomIds, tinyConfig } from './helpers.js';

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'wt-hf-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

const variants = [
  tinyConfig('gpt2'),
  tinyConfig('gpt2', { tiedEmbeddings: false, geluApproximate: 'none', dropout: 0.1, dMlp: 40 }),
  tinyConfig('llama'),
  tinyConfig('llama', { bias: true, tiedEmbeddings: true, ropeTheta: 500000, normEps: 1e-5, initStd: 0.01 }),
];

test('export -> import round-trips parameters, config and outputs exactly', () => {
  for (const c of variants) {
    withTmp((dir) => {
      const m = new Transformer(c, { seed: 21 });
      exportHF(m, dir);
      assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors']);
      const back = importHF(dir);
      assert.deepEqual(back.config, m.config);
      assert.deepEqual([...back.params.keys()], [...m.params.keys()]);
      for (const [name, p] of m.params) assert.deepEqual(back.params.get(name)!.toArray(), p.toArray(), name);
      const x = randomIds(2, 7, 50);
      assert.deepEqual(back.forward(x).logits.toArray(), m.forward(x).logits.toArray());
    });
  }
});

test('GPT-2 export uses HF names, Conv1D [in, out] layout and GPT-2 config keys', () => {
  withTmp((dir) => {
    const m = new Transformer(tinyConfig('gpt2'), { seed: 1 });
    exportHF(m, dir);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(cfg.model_type, 'gpt2');
    assert.deepEqual([cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_positions, cfg.vocab_size, cfg.n_inner], [32, 2, 4, 16, 50, 128]);
    assert.equal(cfg.activation_function, 'gelu_new');
    assert.equal(cfg.layer_norm_epsilon, 1e-5);
    assert.equal(cfg.tie_word_embeddings, true);
    const { tensors, metadata } = readSafetensors(join(dir, 'model.safetensors'));
    assert.equal(metadata.format, 'pt');
    assert.equal(tensors.size, 2 + 2 * 12 + 2);
    assert.ok(!tensors.has('lm_head.weight'));
    assert.deepEqual(tensors.get('h.1.attn.c_attn.weight')!.shape, [32, 96]);
    assert.deepEqual(tensors.get('h.1.mlp.c_proj.weight')!.shape, [128, 32]);
    assert.deepEqual(tensors.get('ln_f.bias')!.shape, [32]);
    // Conv1D weight [in, out] is our Linear weight [out, in] transposed.
    const ours = m.params.get('blocks.1.attn.qkv.weight')!.f, theirs = tensors.get('h.1.attn.c_attn.weight')!.f;
    assert.equal(theirs[5 * 96 + 70], ours[70 * 32 + 5]);
  });
});

test('LLaMA export splits qkv and gate/up into HF projections', () => {
  const m = new Transformer(tinyConfig('llama'), { seed: 2 });
  const { config, tensors } = toHF(m.config, m.params);
  assert.equal(config.model_type, 'llama');
  assert.equal(config.intermediate_size, 88);
  assert.equal(config.num_key_value_heads, 4);
  assert.equal(config.rms_norm_eps, 1e-6);
  assert.equal(config.tie_word_embeddings, false);
  const qkv = m.params.get('blocks.0.attn.qkv.weight')!.toArray(), fc = m.params.get('blocks.0.mlp.fc.weight')!.toArray();
  assert.deepEqual(tensors.get('model.layers.0.self_attn.q_proj.weight')!.toArray(), qkv.slice(0, 32 * 32));
  assert.deepEqual(tensors.get('model.layers.0.self_attn.v_proj.weight')!.toArray(), qkv.slice(64 * 32));
  assert.deepEqual(tensors.get('model.layers.0.mlp.up_proj.weight')!.toArray(), fc.slice(88 * 32));
  assert.deepEqual(tensors.get('model.layers.0.mlp.down_proj.weight')!.shape, [32, 88]);
  assert.deepEqual([...tensors.keys()].filter((k) => !k.startsWith('model.layers.')), ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight']);
});

test('export refuses a config outside the family, naming each mismatch', () => {
  const llama = new Transformer(tinyConfig('llama'));
  assert.throws(() => toHF(llama.config, llama.params, 'gpt2'),
    /cannot save this model in the Hugging Face gpt2 format: positions is "rotary" \(gpt2 needs "learned"\); norm is "rmsnorm" \(gpt2 needs "layernorm"\); mlp is "swiglu" \(gpt2 needs "gelu"\); bias is false \(gpt2 needs true\)/);
  const noBias = new Transformer(tinyConfig('gpt2', { bias: false }));
  assert.throws(() => toHF(noBias.config, noBias.params), /gpt2 format: bias is false \(gpt2 needs true\)$/);
  const mixed = new Transformer(tinyConfig('llama', { mlp: 'gelu' }));
  assert.throws(() => toHF(mixed.config, mixed.params), /llama format: mlp is "gelu" \(llama needs "swiglu"\)/);
});

test('import refuses HF configs we cannot represent, naming the field', () => {
  const llama = { model_type: 'llama', vocab_size: 50, hidden_size: 32, intermediate_size: 88, num_hidden_layers: 1, num_attention_heads: 4, max_position_embeddings: 16 };
  assert.equal(configFromHF(llama).config.nHead, 4);
  const refusals: [object, RegExp][] = [
    [{ ...llama, num_key_value_heads: 2 }, /num_key_value_heads = 2: grouped-query attention is not supported/],
    [{ ...llama, rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling = .*only plain rotary/],
    [{ ...llama, hidden_act: 'gelu' }, /hidden_act = "gelu"/],
    [{ ...llama, attention_bias: true }, /mlp_bias = false: one bias switch/],
    [{ ...llama, head_dim: 16 }, /head_dim = 16: must equal hidden_size \/ num_attention_heads = 8/],
    [{ model_type: 'gpt2', vocab_size: 50, n_positions: 16, n_embd: 32, n_layer: 1, n_head: 4, scale_attn_by_inverse_layer_idx: true }, /scale_attn_by_inverse_layer_idx = true/],
    [{ model_type: 'gpt2', vocab_size: 50, n_positions: 16, n_embd: 32, n_layer: 1, n_head: 4, activation_function: 'relu' }, /activation_function = "relu"/],
    [{ model_type: 'mistral' }, /model_type = "mistral": supported: "gpt2", "llama"/],
    [{ ...llama, hidden_size: '32' }, /"hidden_size" should be a number/],
    [{ ...llama, hidden_size: 30 }, /nHead: dModel 30 is not divisible by nHead 4/],
  ];
  for (const [cfg, re] of refusals) assert.throws(() => configFromHF(cfg as Record<string, unknown>), re);
});

test('import checks tensors against config.json; accepts the transformer. prefix and mask buffers', () => {
  const m = new Transformer(tinyConfig('gpt2', { nLayer: 1 }), { seed: 3 });
  const { config, tensors } = toHF(m.config, m.params);
  const prefixed = new Map([...tensors].map(([k, v]) => [`transformer.${k}`, v] as [string, Tensor]));
  prefixed.set('transformer.h.0.attn.bias', tensor(new Float32Array(16 * 16), [1, 1, 16, 16]));
  prefixed.set('lm_head.weight', tensors.get('wte.weight')!); // tied: ignored
  const back = fromHF(config, prefixed);
  assert.deepEqual(back.params.get('blocks.0.attn.qkv.weight')!.toArray(), m.params.get('blocks.0.attn.qkv.weight')!.toArray());
  const broken = new Map(tensors);
  broken.delete('h.0.ln_2.bias');
  broken.set('h.0.attn.c_proj.weight', tensor(new Float32Array(32 * 31), [32, 31]));
  broken.set('h.0.attn.rotary', tensor([1]));
  assert.throws(() => fromHF(config, broken),
    /gpt2 checkpoint does not match its config\.json: h\.0\.attn\.c_proj\.weight is \[32, 31\], expected \[32, 32\]; missing h\.0\.ln_2\.bias \[32\]; unexpected tensors h\.0\.attn\.rotary/);
  // Tensors are converted to the requested float dtype.
  const wide = fromHF(config, tensors, 'float64');
  assert.equal(wide.params.get('wte.weight')!.dtype, 'float64');
  assert.deepEqual(wide.params.get('wte.weight')!.toArray(), m.params.get('wte.weight')!.toArray());
});
