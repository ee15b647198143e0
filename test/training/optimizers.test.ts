import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor } from '../../src/engine/index.js';
import { AdamW, Sgd, makeNoDecay, resolveParams } from '../../src/training/optimizers.js';
import { Transformer } from '../../src/models/transformer.js';
import { modelConfig } from '../../src/models/config.js';

const GRADS = [[0.5, -0.1, 0.0], [0.2, 0.3, -0.01], [-0.4, 0.05, 0.02]];

function param(values: number[], name = 'h.0.mlp.c_fc.weight'): Map<string, Tensor> {
  return new Map([[name, tensor(values, [1, values.length], { requiresGrad: true })]]);
}

function setGrad(t: Tensor, g: number[]): void {
  t.grad = tensor(g, t.shape);
}

function assertClose(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('AdamW matches PyTorch AdamW (bias correction, eps outside the sqrt, decoupled decay)', () => {
  // Expected values: a float64 transcription of torch.optim.adamw._single_tensor_adamw
  // (param *= 1 - lr*wd; m.lerp_(g, 1-b1); v = b2 v + (1-b2) g^2;
  //  param -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)), lr 0.1, betas (0.9, 0.999), eps 1e-3, wd 0.1.
  // By hand, step 1, element 0: p = 0.99; m = 0.05; v = 2.5e-4; bc1 = 0.1; bc2 = 1e-3;
  //   denom = 0.5 + 1e-3; p = 0.99 - 1 * 0.05 / 0.501 = 0.8901996008.
  // Element 2 has g = 0 at step 1 (pure decay: 0.5 * 0.99) and small gradients later, where a large eps
  // inside the sqrt would give visibly different values.
  const expected = [
    [0.8901996007984032, -1.8809900990099009, 0.495],
    [0.7916754861881594, -1.9113792007342498, 0.5552458956797577],
    [0.7661762474943555, -1.9397223744673542, 0.5205234160724033],
  ];
  const params = param([1, -2, 0.5]);
  const p = params.get('h.0.mlp.c_fc.weight')!;
  const opt = new AdamW(params, { betas: [0.9, 0.999], eps: 1e-3, weightDecay: 0.1 });
  assert.equal(opt.params[0].weightDecay, 0.1);
  for (let s = 0; s < 3; s++) {
    setGrad(p, GRADS[s]);
    opt.step(0.1);
    assertClose(p.f, expected[s], 2e-7, `step ${s + 1}`);
  }
  assert.equal(opt.stepCount, 3);
  const st = opt.state();
  assertClose(st.tensors.get('m.h.0.mlp.c_fc.weight')!, [0.0185, 0.0239, 0.0011], 1e-8, 'm');
  assertClose(st.tensors.get('v.h.0.mlp.c_fc.weight')!, [0.00044946025, 0.00010239001, 4.999e-7], 1e-10, 'v');
});

test('SGD with momentum and Nesterov matches PyTorch SGD', () => {
  // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01): g' = g + wd p; buf = g' (first step)
  // then mu buf + g'; p -= lr * (nesterov ? g' + mu buf : buf). Step 1 by hand: g' = 0.5 + 0.01 = 0.51,
  // p = 1 - 0.051 = 0.949 (plain); Nesterov: p = 1 - 0.1 * (0.51 + 0.9 * 0.51) = 0.9031.
  const expected = {
    plain: [[0.949, -1.988, 0.4995], [0.882151, -2.005212, 0.4995505], [0.861104749, -2.023697588, 0.4970963995]],
    nesterov: [[0.9031, -1.9772, 0.49905], [0.82207411, -2.02072332, 0.499596805], [0.842401658191, -2.040334413692, 0.4948888405705]],
  };
  for (const nesterov of [false, true]) {
    const params = param([1, -2, 0.5]);
    const p = params.get('h.0.mlp.c_fc.weight')!;
    const opt = new Sgd(params, { momentum: 0.9, weightDecay: 0.01, nesterov });
    for (let s = 0; s < 3; s++) {
      setGrad(p, GRADS[s]);
      opt.step(0.1);
      assertClose(p.f, expected[nesterov ? 'nesterov' : 'plain'][s], 2e-7, `${nesterov ? 'nesterov' : 'plain'} step ${s + 1}`);
    }
  }
});

test('default no-decay rule: norms, biases and embeddings by name or shape; configurable', () => {
  const nd = makeNoDecay();
  const cases: [string, number[], boolean][] = [
    ['transformer.wte.weight', [10, 4], true],
    ['transformer.wpe.weight', [8, 4], true],
    ['model.embed_tokens.weight', [10, 4], true],
    ['transformer.h.0.ln_1.weight', [4], true],
    ['model.layers.0.input_layernorm.weight', [4], true],
    ['model.norm.weight', [4], true],
    ['transformer.h.0.attn.c_attn.bias', [12], true],
    ['transformer.h.0.attn.c_attn.weight', [4, 12], false],
    ['lm_head.weight', [10, 4], false],
    ['blocks.0.scale', [1], true], // any 1-d parameter
    ['knowledge.weight', [4, 4], false], // "ln_" or "norm" only as a whole path segment
  ];
  for (const [name, shape, expected] of cases) assert.equal(nd(name, shape), expected, name);
  const all = makeNoDecay({ patterns: [], minDecayDims: 0 });
  assert.equal(all('transformer.wte.weight', [10, 4]), false);
  const custom = makeNoDecay({ patterns: [/lm_head/] });
  assert.equal(custom('lm_head.weight', [10, 4]), true);
  assert.equal(custom('transformer.wte.weight', [10, 4]), false);
});

test('parameter groups: first match wins, lr multipliers compose, tied weights are updated once', () => {
  const wte = tensor([1, 1, 1, 1], [2, 2], { requiresGrad: true });
  const params = new Map<string, Tensor>([
    ['wte.weight', wte],
    ['h.0.mlp.weight', tensor([1, 1, 1, 1], [2, 2], { requiresGrad: true })],
    ['h.0.attn.weight', tensor([1, 1, 1, 1], [2, 2], { requiresGrad: true })],
    ['h.0.ln.weight', tensor([1, 1], [2], { requiresGrad: true })],
    ['lm_head.weight', wte], // tied
  ]);
  const resolved = resolveParams(params, {
    weightDecay: 0.1,
    groups: [{ name: 'mlp', match: /mlp/, lrScale: 0.5, weightDecay: 0.2 }, { name: 'hidden', match: 'h\\.', lrScale: 2 }],
    lrScale: (name) => (name.includes('attn') ? 3 : 1),
  });
  assert.deepEqual(resolved.map((p) => [p.name, p.group, p.lrScale, p.weightDecay]), [
    ['wte.weight', 'default', 1, 0],
    ['h.0.mlp.weight', 'mlp', 0.5, 0.2],
    ['h.0.attn.weight', 'hidden', 6, 0.1],
    ['h.0.ln.weight', 'hidden', 2, 0], // group without its own decay: the no-decay rule applies
  ]);
  // A group's lr multiplier reaches the update: plain SGD moves by lr * scale * g.
  const opt = new Sgd(params, { groups: [{ name: 'mlp', match: /mlp/, lrScale: 0.5 }] });
  for (const p of opt.params) setGrad(p.tensor, new Array(p.tensor.size).fill(1));
  opt.step(0.1);
  assertClose(params.get('h.0.mlp.weight')!.f, [0.95, 0.95, 0.95, 0.95], 1e-7, 'mlp');
  assertClose(wte.f, [0.9, 0.9, 0.9, 0.9], 1e-7, 'tied wte (once, not twice)');
});

test('gradScale inside the update equals pre-scaled gradients; params without gradients are skipped', () => {
  const a = param([1, -2, 0.5]), b = param([1, -2, 0.5]);
  const oa = new AdamW(a), ob = new AdamW(b);
  const pa = a.get('h.0.mlp.c_fc.weight')!, pb = b.get('h.0.mlp.c_fc.weight')!;
  for (const g of GRADS) {
    setGrad(pa, g);
    setGrad(pb, g.map((x) => x * 0.25));
    oa.step(0.01, { gradScale: 0.25 });
    ob.step(0.01);
  }
  assertClose(pa.f, Array.from(pb.f), 1e-7, 'scaled');
  oa.zeroGrad();
  assert.equal(pa.grad, null);
  const before = Array.from(pa.f);
  oa.step(0.01);
  assert.deepEqual(Array.from(pa.f), before);
});

test('optimizer state round-trips exactly: restored optimizer continues bit for bit', () => {
  for (const make of [(p: Map<string, Tensor>) => new AdamW(p, { weightDecay: 0.05 }), (p: Map<string, Tensor>) => new Sgd(p, { momentum: 0.9, nesterov: true })]) {
    const params = param([1, -2, 0.5]);
    const p = params.get('h.0.mlp.c_fc.weight')!;
    const opt = make(params);
    for (const g of GRADS) { setGrad(p, g); opt.step(0.03); }
    const saved = opt.state();
    const savedParam = p.f.slice();
    for (const g of GRADS) { setGrad(p, g); opt.step(0.02); }
    const straight = p.f.slice();

    const params2 = new Map([['h.0.mlp.c_fc.weight', tensor(savedParam, [1, 3], { requiresGrad: true })]]);
    const opt2 = make(params2);
    const copy = { ...saved, tensors: new Map([...saved.tensors].map(([k, v]) => [k, Float32Array.from(v)])) };
    opt2.setState(copy);
    assert.equal(opt2.stepCount, 3);
    const p2 = params2.get('h.0.mlp.c_fc.weight')!;
    for (const g of GRADS) { setGrad(p2, g); opt2.step(0.02); }
    assert.deepEqual(Array.from(p2.f), Array.from(straight), `${opt.kind}: resumed run differs`);
  }
});

test('setState rejects mismatched state with names', () => {
  const opt = new AdamW(param([1, 2]));
  const st = opt.state();
  assert.throws(() => new Sgd(param([1, 2])).setState(st), /state is for adamw/);
  st.tensors.delete('v.h.0.mlp.c_fc.weight');
  st.tensors.set('v.other', new Float32Array(2));
  assert.throws(() => opt.setState(st), /missing \[v\.h\.0\.mlp\.c_fc\.weight\], unexpected \[v\.other\]/);
  assert.throws(() => new AdamW(param([1, 2]), { betas: [0.9, 1] }), /beta2/);
  assert.throws(() => opt.step(NaN), /lr must be finite/);
});

test('default no-decay rule on the real Transformer: every matrix decays except the embedding tables', () => {
  for (const preset of ['gpt2', 'llama'] as const) {
    const m = new Transformer(modelConfig(preset, { vocabSize: 16, nCtx: 8, dModel: 8, nLayer: 1, nHead: 2 }));
    const opt = new AdamW(m.params, { weightDecay: 0.1 });
    for (const p of opt.params) {
      const expected = p.tensor.ndim >= 2 && !/^(wte|wpe)\./.test(p.name) ? 0.1 : 0;
      assert.equal(p.weightDecay, expected, `${preset}: ${p.name} [${p.tensor.shape.join(', ')}]`);
    }
  }
});
