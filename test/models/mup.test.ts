// muP (models/mup.ts): config validation, m = 1 equals the standard model bit for bit, the
// multiplier tables for AdamW and SGD at 4x the base width, init stds, the forward multipliers,
// and export folding (a muP model exported to HF and imported back as a standard model gives
// the same logits).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, crossEntropy, linear, noGrad } from '../../src/engine/index.js';
import { ModelConfigError, modelConfig, parseModelConfig, type ModelConfig, type ModelConfigInput } from '../../src/models/config.js';
import { Transformer } from '../../src/models/transformer.js';
import { exportHF, importHF } from '../../src/models/hf.js';
import { readSafetensors } from '../../src/models/safetensors.js';
import {
  foldMup, mupAttentionScale, mupBaseConfig, mupBaseShapes, mupLrScale, mupOptimizerOptions, mupOutputMultiplier, mupTable, mupWidths,
} from '../../src/models/mup.js';
import { AdamW, Sgd, createOptimizer } from '../../src/training/optimizers.js';
import { randomIds, relErr } from './helpers.js';

const sizes = { vocabSize: 50, nCtx: 16, nLayer: 2 };

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'wt-mup-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

// ---- config -----------------------------------------------------------------------------

test('mup config: resolves every base dimension, parses to itself, and is absent (not null) without muP', () => {
  const g = modelConfig('gpt2', { ...sizes, dModel: 128, nHead: 4, mup: { baseWidth: 32 } });
  assert.deepEqual(g.mup, { baseWidth: 32, baseHeadDim: 8, baseDMlp: 128, outputMult: 1, readoutZeroInit: false, queryZeroInit: false });
  assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(g))), g);
  // SwiGLU: the mlpRatio rule at the base width; an explicit dMlp scales with dModel.
  assert.equal(modelConfig('llama', { ...sizes, dModel: 128, nHead: 4, mup: { baseWidth: 32 } }).mup!.baseDMlp, 88);
  assert.equal(modelConfig('llama', { ...sizes, dModel: 128, nHead: 4, dMlp: 256, mup: { baseWidth: 32 } }).mup!.baseDMlp, 64);
  // Standard parametrization: no mup key at all, so stored configs and run ids are unchanged.
  const plain = modelConfig('gpt2', { ...sizes, dModel: 32, nHead: 4 });
  assert.ok(!('mup' in plain));
  assert.deepEqual(modelConfig('gpt2', { ...sizes, dModel: 32, nHead: 4, mup: null }), plain);
});

test('mup config: errors name the field and say how to fix it', () => {
  const bad: [Partial<ModelConfigInput>, RegExp][] = [
    [{ dModel: 128, nHead: 4, mup: { baseWidth: 30 } }, /mup\.baseHeadDim: baseWidth 30 is not divisible by nHead 4; give baseHeadDim/],
    [{ dModel: 128, nHead: 4, mup: { baseWidth: 32, baseHeadDim: 12 } }, /mup\.baseHeadDim: baseWidth 32 is not divisible by baseHeadDim 12/],
    [{ dModel: 128, nHead: 4, dMlp: 512, mup: { baseWidth: 32, baseDMlp: 512 } }, /mup\.baseDMlp: muP needs dMlp to scale with dModel/],
    [{ dModel: 128, nHead: 4, mup: { baseWidth: 32, readoutZeroInit: true } }, /mup\.readoutZeroInit: needs an untied head/],
    [{ dModel: 128, nHead: 4, mup: { baseWidth: 32, width: 3 } as never }, /mup\.width: unknown key \(known: baseWidth, baseHeadDim, baseDMlp, outputMult/],
    [{ dModel: 128, nHead: 4, mup: { baseWidth: 0 } }, /mup\.baseWidth: Number must be greater than 0/],
  ];
  for (const [o, re] of bad) {
    assert.throws(() => modelConfig('gpt2', { ...sizes, ...o }), (e: unknown) => {
      assert.ok(e instanceof ModelConfigError, String(e));
      assert.match(e.message, re);
      return true;
    });
  }
  assert.throws(() => mupWidths(modelConfig('gpt2', { ...sizes, dModel: 32, nHead: 4 })), /no mup section/);
});

// ---- m = 1 --------------------------------------------------------------------------------

test('at the base width muP is the standard model bit for bit: init, forward, multipliers, AdamW and SGD steps', () => {
  for (const preset of ['gpt2', 'llama'] as const) {
    const sp = modelConfig(preset, { ...sizes, dModel: 32, nHead: 4 });
    const mu = modelConfig(preset, { ...sizes, dModel: 32, nHead: 4, mup: { baseWidth: 32 } });
    for (const r of mupTable(mu)) {
      assert.equal(r.kind, 'fixed', r.name);
      assert.deepEqual([r.initScale, r.lr.adamw, r.lr.sgd, r.weightDecay.adamw, r.weightDecay.sgd], [1, 1, 1, 1, 1], r.name);
    }
    assert.equal(mupAttentionScale(mu), 1 / Math.sqrt(8));
    assert.equal(mupOutputMultiplier(mu), 1);
    for (const kind of ['adamw', 'sgd'] as const) {
      const a = new Transformer(sp, { seed: 7 }), b = new Transformer(mu, { seed: 7 });
      for (const [name, t] of a.params) assert.deepEqual(b.params.get(name)!.f, t.f, name);
      const x = randomIds(2, 12, 50), y = randomIds(2, 12, 50, 9);
      const oa = createOptimizer(a.params, { optimizer: kind, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, momentum: 0.9, nesterov: false });
      const ob = createOptimizer(b.params, { optimizer: kind, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, momentum: 0.9, nesterov: false }, mupOptimizerOptions(mu, kind));
      for (let step = 0; step < 3; step++) {
        const la = a.forward(x, { targets: y }), lb = b.forward(x, { targets: y });
        assert.deepEqual(lb.logits.f, la.logits.f, `${preset} ${kind} step ${step} logits`);
        la.loss!.backward(); lb.loss!.backward();
        oa.step(0.01); ob.step(0.01);
        oa.zeroGrad(); ob.zeroGrad();
      }
    }
  }
});

// ---- the tables at 4x ---------------------------------------------------------------------

/** 4x the base width, head size and MLP width (mF = m = 4). */
const wide = (preset: 'gpt2' | 'llama', extra: Partial<ModelConfigInput> = {}): ModelConfig =>
  modelConfig(preset, { ...sizes, dModel: 128, nHead: 4, dMlp: preset === 'gpt2' ? 512 : 352, mup: { baseWidth: 32, baseHeadDim: 8 }, ...extra });

test('multiplier table at 4x the base width (GPT-2 layout, tied head): init, AdamW lr, SGD lr, weight decay', () => {
  const c = wide('gpt2');
  assert.deepEqual(mupWidths(c), { m: 4, mF: 4, mHead: 4 });
  //                                     class     init   AdamW  SGD
  const expected: Record<string, [string, number, number, number]> = {
    'wte.weight': ['vector', 1, 1, 4],
    'wpe.weight': ['vector', 1, 1, 4],
    'ln1.weight': ['vector', 1, 1, 4],
    'ln1.bias': ['vector', 1, 1, 4],
    'attn.qkv.weight': ['matrix', 0.5, 0.25, 1],
    'attn.qkv.bias': ['vector', 1, 1, 4],
    'attn.proj.weight': ['matrix', 0.5, 0.25, 1],
    'attn.proj.bias': ['vector', 1, 1, 4],
    'mlp.fc.weight': ['matrix', 0.5, 0.25, 1],
    'mlp.fc.bias': ['vector', 1, 1, 4],
    'mlp.proj.weight': ['matrix', 0.5, 0.25, 1],
    'mlp.proj.bias': ['vector', 1, 1, 4],
  };
  const table = mupTable(c);
  assert.equal(table.length, 2 + 2 * 12 + 2);
  for (const r of table) {
    const key = r.name.replace(/^blocks\.\d+\./, '').replace(/^ln_final/, 'ln1').replace(/^ln2/, 'ln1');
    const [kind, init, adamw, sgd] = expected[key];
    assert.deepEqual([r.kind, r.initScale, r.lr.adamw, r.lr.sgd], [kind, init, adamw, sgd], r.name);
    assert.deepEqual([r.weightDecay.adamw, r.weightDecay.sgd], [1 / adamw, 1 / sgd], r.name);
  }
  assert.deepEqual(mupBaseShapes(c)['blocks.0.mlp.fc.weight'], [128, 32]);
  assert.deepEqual(mupBaseConfig(c).dModel, 32);
  assert.ok(Math.abs(mupAttentionScale(c) - Math.sqrt(8) / 32) < 1e-16, 'sqrt(baseHeadDim) / dHead: 1/d_head, anchored at the base');
  assert.equal(mupOutputMultiplier(c), 0.25);
});

test('multiplier table at 4x (LLaMA layout, untied head, MLP growing at another rate): SGD fan-out / fan-in ratios', () => {
  const c = wide('llama', { dMlp: 704, mup: { baseWidth: 32, baseHeadDim: 8, baseDMlp: 88 } }); // m = 4, mF = 8
  const r = new Map(mupTable(c).map((x) => [x.name, x]));
  const row = (n: string) => { const x = r.get(n)!; return [x.kind, x.initScale, x.lr.adamw, x.lr.sgd]; };
  assert.deepEqual(row('wte.weight'), ['vector', 1, 1, 4]);
  assert.deepEqual(row('lm_head.weight'), ['vector', 1, 1, 4]);
  assert.deepEqual(row('blocks.0.ln1.weight'), ['vector', 1, 1, 4]);
  assert.deepEqual(row('blocks.0.attn.qkv.weight'), ['matrix', 0.5, 0.25, 1]);
  assert.deepEqual(row('blocks.0.attn.proj.weight'), ['matrix', 0.5, 0.25, 1]);
  assert.deepEqual(row('blocks.0.mlp.fc.weight'), ['matrix', 0.5, 0.25, 2]); // fan-in 4x, fan-out 8x: SGD lr * 8/4
  assert.deepEqual(row('blocks.0.mlp.proj.weight'), ['matrix', 1 / Math.sqrt(8), 0.125, 0.5]); // fan-in 8x
  assert.deepEqual(row('ln_final.weight'), ['vector', 1, 1, 4]);
});

test('the optimizer takes the multipliers through lrScale and weightDecayScale; foreign parameters are refused', () => {
  const c = wide('llama');
  const m = new Transformer(c, { seed: 1 });
  const table = new Map(mupTable(c).map((x) => [x.name, x]));
  for (const [Opt, kind] of [[AdamW, 'adamw'], [Sgd, 'sgd']] as const) {
    const opt = new Opt(m.params, { weightDecay: 0.1, ...mupOptimizerOptions(c, kind) });
    for (const p of opt.params) {
      const r = table.get(p.name)!;
      assert.equal(p.lrScale, r.lr[kind], p.name);
      // The no-decay rule still decides who decays; muP rescales the rest.
      const decays = p.tensor.shape.length === 2 && !/^(wte|wpe)\./.test(p.name);
      assert.equal(p.weightDecay, decays ? 0.1 * r.weightDecay[kind] : 0, p.name);
    }
  }
  const lr = mupLrScale(c, 'adamw');
  assert.throws(() => lr('blocks.9.attn.qkv.weight', m.params.get('blocks.0.attn.qkv.weight')!), /parameter blocks\.9\.attn\.qkv\.weight, which this model config does not have/);
  assert.throws(() => lr('wte.weight', new Tensor(new Float32Array(4), [2, 2])), /wte\.weight is \[2, 2\] but the config says \[50, 128\]/);
  assert.deepEqual(mupOptimizerOptions(modelConfig('gpt2', { ...sizes, dModel: 32, nHead: 4 }), 'adamw'), {});
});

// ---- init ----------------------------------------------------------------------------------

function std(t: Tensor): number {
  let s = 0;
  for (const v of t.f) s += v * v;
  return Math.sqrt(s / t.size);
}

test('init std per parameter at 4x: hidden matrices initStd / sqrt(fan-in mult), vector-like unchanged; zero-init options', () => {
  const c = wide('gpt2', { tiedEmbeddings: false });
  const m = new Transformer(c, { seed: 5 });
  const sigma = c.initStd, res = c.initStd / Math.sqrt(2 * c.nLayer);
  const want: Record<string, number> = {
    'wte.weight': sigma, 'wpe.weight': sigma, 'lm_head.weight': sigma,
    'blocks.0.attn.qkv.weight': sigma / 2, 'blocks.1.mlp.fc.weight': sigma / 2,
    'blocks.0.attn.proj.weight': res / 2, 'blocks.1.mlp.proj.weight': res / 2,
  };
  for (const [name, s] of Object.entries(want)) {
    const got = std(m.params.get(name)!);
    assert.ok(Math.abs(got / s - 1) < 0.05, `${name}: std ${got}, want ${s}`);
  }
  assert.ok(m.params.get('blocks.0.ln1.weight')!.f.every((v) => v === 1));
  assert.ok(m.params.get('blocks.0.attn.qkv.bias')!.f.every((v) => v === 0));
  // Same draws as the standard model of this width, only scaled: widths compare draw for draw.
  const sp = new Transformer({ ...c, mup: undefined }, { seed: 5 });
  const a = sp.params.get('blocks.0.attn.qkv.weight')!.f, b = m.params.get('blocks.0.attn.qkv.weight')!.f;
  assert.ok(a.every((v, i) => b[i] === Math.fround(v * 0.5)));

  const z = new Transformer(wide('gpt2', { tiedEmbeddings: false, mup: { baseWidth: 32, baseHeadDim: 8, readoutZeroInit: true, queryZeroInit: true } }), { seed: 5 });
  assert.ok(z.params.get('lm_head.weight')!.f.every((v) => v === 0));
  const qkv = z.params.get('blocks.1.attn.qkv.weight')!.f;
  assert.ok(qkv.subarray(0, 128 * 128).every((v) => v === 0), 'query rows are zero');
  assert.ok(std(new Tensor(qkv.slice(128 * 128), [256, 128])) > sigma / 4, 'key and value rows are not');
});

// ---- forward -------------------------------------------------------------------------------

test('forward: logits are the head applied to outputMult / m times the final norm output; unfused attention agrees', () => {
  const c = wide('llama', { mup: { baseWidth: 32, baseHeadDim: 8, outputMult: 3 } });
  const m = new Transformer(c, { seed: 2 });
  const x = randomIds(2, 10, 50);
  noGrad(() => {
    const { logits, cache } = m.runWithCache(x, { names: ['ln_final.hook_normalized', 'blocks.0.attn.hook_pattern'] });
    const h = cache.get('ln_final.hook_normalized');
    const manual = linear(h, m.params.get('lm_head.weight')!);
    const f = new Float32Array(manual.f.length).map((_, i) => manual.f[i] * 0.75);
    assert.ok(relErr(logits.f, f) < 1e-5);
    // The pattern path (unfused) uses muP's scale too: same logits as the fused kernel.
    assert.ok(relErr(logits.f, m.forward(x).logits.f) < 1e-5);
  });
});

// ---- export --------------------------------------------------------------------------------

const exportVariants: [string, ModelConfig][] = [
  ['gpt2 tied 4x', wide('gpt2')],
  ['gpt2 untied 4x, outputMult 2.5', wide('gpt2', { tiedEmbeddings: false, mup: { baseWidth: 32, baseHeadDim: 8, outputMult: 2.5 } })],
  ['llama untied 4x', wide('llama')],
  ['llama tied, biases, 3x, fixed head size', modelConfig('llama', { ...sizes, dModel: 96, nHead: 12, bias: true, tiedEmbeddings: true, dMlp: 264, mup: { baseWidth: 32, baseHeadDim: 8, baseDMlp: 88 } })],
];

test('export folds muP into the weights: imported back as a standard model it gives the same logits and loss', () => {
  for (const [label, c] of exportVariants) {
    withTmp((dir) => {
      const m = new Transformer(c, { seed: 11 });
      // Train a little so every parameter (biases, gains) has moved off its init.
      const opt = new AdamW(m.params, { weightDecay: 0.1, ...mupOptimizerOptions(c, 'adamw') });
      const x = randomIds(2, 12, 50), y = randomIds(2, 12, 50, 4);
      for (let i = 0; i < 3; i++) { m.forward(x, { targets: y }).loss!.backward(); opt.step(0.02); opt.zeroGrad(); }
      const before = new Map([...m.params].map(([n, t]) => [n, t.f.slice()]));
      exportHF(m, dir);
      for (const [n, t] of m.params) assert.deepEqual(t.f, before.get(n), `${label}: export left ${n} alone`);
      const back = importHF(dir);
      assert.ok(!('mup' in back.config), `${label}: imported as a standard model`);
      assert.equal(back.config.tiedEmbeddings, c.tiedEmbeddings);
      const { metadata } = readSafetensors(join(dir, 'model.safetensors'));
      assert.deepEqual(JSON.parse(metadata.windtunnel_mup_folded), c.mup);
      noGrad(() => {
        const ours = m.forward(x, { targets: y }), theirs = back.forward(x, { targets: y });
        const err = relErr(theirs.logits.f, ours.logits.f);
        assert.ok(err < 1e-5, `${label}: logits rel err ${err}`);
        assert.ok(Math.abs(theirs.loss!.item() - ours.loss!.item()) < 1e-5, label);
        assert.ok(Math.abs(crossEntropy(theirs.logits, y).item() - ours.loss!.item()) < 1e-5, label);
      });
    });
  }
});

test('foldMup: without muP it changes nothing; with muP it shares untouched tensors and never edits the model', () => {
  const plain = modelConfig('gpt2', { ...sizes, dModel: 32, nHead: 4 });
  const p = new Transformer(plain, { seed: 1 });
  const f0 = foldMup(plain, p.params);
  assert.deepEqual(f0.config, plain);
  for (const [n, t] of p.params) assert.equal(f0.params.get(n), t);
  const c = wide('llama');
  const m = new Transformer(c, { seed: 1 });
  const f = foldMup(c, m.params);
  assert.equal(f.params.get('blocks.0.mlp.fc.weight'), m.params.get('blocks.0.mlp.fc.weight'));
  const q = f.params.get('blocks.0.attn.qkv.weight')!.f, q0 = m.params.get('blocks.0.attn.qkv.weight')!.f;
  assert.equal(q[5], q0[5] * 0.5); // query rows times sqrt(baseHeadDim / dHead) = 1/2
  assert.equal(q[128 * 128 + 5], q0[128 * 128 + 5]); // key rows untouched
  assert.equal(f.params.get('lm_head.weight')!.f[3], m.params.get('lm_head.weight')!.f[3] * 0.25);
});
