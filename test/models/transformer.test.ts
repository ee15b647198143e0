import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, crossEntropy, noGrad, tensor, type Tensor } from '../../src/engine/index.js';
import type { HookSpec } from '../../src/models/hooks.js';
import { Transformer, initParams } from '../../src/models/transformer.js';
import { paramSpecs } from '../../src/models/config.js';
import { ids, maxAbsDiff, randomIds, tinyConfig } from './helpers.js';

const layouts = ['gpt2', 'llama'] as const;

test('parameter names follow one scheme, in forward order', () => {
  assert.deepEqual(paramSpecs(tinyConfig('gpt2', { nLayer: 1 })).map((s) => `${s.name} [${s.shape}]`), [
    'wte.weight [50,32]', 'wpe.weight [16,32]',
    'blocks.0.ln1.weight [32]', 'blocks.0.ln1.bias [32]',
    'blocks.0.attn.qkv.weight [96,32]', 'blocks.0.attn.qkv.bias [96]',
    'blocks.0.attn.proj.weight [32,32]', 'blocks.0.attn.proj.bias [32]',
    'blocks.0.ln2.weight [32]', 'blocks.0.ln2.bias [32]',
    'blocks.0.mlp.fc.weight [128,32]', 'blocks.0.mlp.fc.bias [128]',
    'blocks.0.mlp.proj.weight [32,128]', 'blocks.0.mlp.proj.bias [32]',
    'ln_final.weight [32]', 'ln_final.bias [32]',
  ]);
  assert.deepEqual(paramSpecs(tinyConfig('llama', { nLayer: 1 })).map((s) => `${s.name} [${s.shape}]`), [
    'wte.weight [50,32]', 'blocks.0.ln1.weight [32]', 'blocks.0.attn.qkv.weight [96,32]', 'blocks.0.attn.proj.weight [32,32]',
    'blocks.0.ln2.weight [32]', 'blocks.0.mlp.fc.weight [176,32]', 'blocks.0.mlp.proj.weight [32,88]',
    'ln_final.weight [32]', 'lm_head.weight [50,32]',
  ]);
});

test('init is deterministic for a seed, and follows initStd and the scaled residual rule', () => {
  const c = tinyConfig('gpt2', { nLayer: 4, dModel: 64, nHead: 4 });
  const a = initParams(c, 7), b = initParams(c, 7), d = initParams(c, 8);
  for (const [name, t] of a) assert.deepEqual(t.toArray(), b.get(name)!.toArray(), name);
  assert.notDeepEqual(a.get('wte.weight')!.toArray(), d.get('wte.weight')!.toArray());
  const std = (name: string) => { const x = a.get(name)!.toArray(); return Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length); };
  assert.ok(Math.abs(std('blocks.0.mlp.fc.weight') / 0.02 - 1) < 0.05);
  assert.ok(Math.abs(std('blocks.0.mlp.proj.weight') / (0.02 / Math.sqrt(8)) - 1) < 0.05, 'GPT-2 residual projections: initStd / sqrt(2 nLayer)');
  assert.ok(Math.abs(std('blocks.0.attn.proj.weight') / (0.02 / Math.sqrt(8)) - 1) < 0.1);
  assert.deepEqual(new Set(a.get('blocks.1.ln1.weight')!.toArray()), new Set([1]));
  assert.deepEqual(new Set(a.get('blocks.1.attn.qkv.bias')!.toArray()), new Set([0]));
  const plain = initParams({ ...c, scaledResidualInit: false }, 7);
  assert.ok(Math.abs(Math.sqrt(plain.get('blocks.0.mlp.proj.weight')!.toArray().reduce((s, v) => s + v * v, 0) / (64 * 256)) / 0.02 - 1) < 0.05);
});

test('initScheme fan-in (Tensor Programs V\'s SP): linear weights std 1/sqrt(fan-in), embeddings initStd; absent leaves the config as it was; under muP the base fan-in', () => {
  const c = tinyConfig('llama', { nLayer: 2, dModel: 64, nHead: 4 });
  assert.equal('initScheme' in c, false, 'absent unless set, so run ids stay put');
  const f = tinyConfig('llama', { nLayer: 2, dModel: 64, nHead: 4, initScheme: 'fan-in' });
  const p = initParams(f, 7);
  const std = (name: string) => { const x = p.get(name)!.toArray(); return Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length); };
  assert.ok(Math.abs(std('blocks.0.attn.qkv.weight') * Math.sqrt(64) - 1) < 0.05);
  assert.ok(Math.abs(std('blocks.0.mlp.proj.weight') * Math.sqrt(f.dMlp) - 1) < 0.05, 'fan-in of the down projection is dMlp');
  assert.ok(Math.abs(std('lm_head.weight') * Math.sqrt(64) - 1) < 0.05);
  assert.ok(Math.abs(std('wte.weight') / 0.02 - 1) < 0.05, 'embedding keeps initStd');
  // muP at 4x the base: the base's fan-in std, times muP's 1/sqrt(m) for a hidden matrix
  const m = tinyConfig('llama', { nLayer: 2, dModel: 128, nHead: 4, initScheme: 'fan-in', mup: { baseWidth: 32 } });
  const q = initParams(m, 7).get('blocks.0.attn.qkv.weight')!.toArray();
  assert.ok(Math.abs(Math.sqrt(q.reduce((s, v) => s + v * v, 0) / q.length) / (1 / Math.sqrt(32) / 2) - 1) < 0.05);
  assert.throws(() => tinyConfig('llama', { initScheme: 'xavier' as 'fan-in' }), /initScheme/);
});

for (const layout of layouts) {
  test(`${layout}: forward shapes, loss = mean cross-entropy with ignoreIndex -1, lossWeights, lastLogitsOnly`, () => {
    const m = new Transformer(tinyConfig(layout), { seed: 3 });
    const x = randomIds(2, 5, 50);
    const targets = ids([[1, 2, -1, 4, 5], [6, 7, 8, 9, -1]]);
    const { logits, loss } = m.forward(x, { targets });
    assert.deepEqual(logits.shape, [2, 5, 50]);
    const manual = noGrad(() => crossEntropy(logits, targets, { ignoreIndex: -1 }).item());
    assert.ok(Math.abs(loss!.item() - manual) < 1e-6);
    assert.ok(loss!.item() > 3 && loss!.item() < 5, 'about ln(50) at init');
    const w = tensor([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [2, 5]);
    const weighted = m.forward(x, { targets, lossWeights: w }).loss!.item();
    const firstRow = m.forward(ids([x.toArray().slice(0, 5)]), { targets: ids([[1, 2, -1, 4, 5]]) }).loss!.item();
    assert.ok(Math.abs(weighted - firstRow) < 1e-5, 'zero weight drops the second sequence');
    const last = m.forward(x, { lastLogitsOnly: true }).logits;
    assert.deepEqual(last.shape, [2, 1, 50]);
    assert.ok(maxAbsDiff(last.toArray(), [...logits.toArray().slice(4 * 50, 5 * 50), ...logits.toArray().slice(9 * 50, 10 * 50)]) < 1e-6);
  });

  test(`${layout}: docIds keep attention inside documents`, () => {
    const m = new Transformer(tinyConfig(layout), { seed: 4 });
    const a = [3, 4, 5, 6, 7, 8], b = [9, 9, 1, 6, 7, 8];
    const docs = ids([[0, 0, 0, 1, 1, 1]]);
    const la = m.forward(ids([a]), { docIds: docs }).logits.toArray();
    const lb = m.forward(ids([b]), { docIds: docs }).logits.toArray();
    assert.ok(maxAbsDiff(la.slice(150), lb.slice(150)) < 1e-6, 'the second document ignores the first');
    assert.ok(maxAbsDiff(la.slice(0, 150), lb.slice(0, 150)) > 1e-3);
    if (layout === 'llama') {
      // Rotary positions are relative, so a packed document reads as if it stood alone.
      const alone = m.forward(ids([a.slice(3)])).logits.toArray();
      assert.ok(maxAbsDiff(la.slice(150), alone) < 1e-5);
    }
  });

  test(`${layout}: gradients match finite differences (float64)`, () => {
    const c = tinyConfig(layout, { vocabSize: 11, dModel: 8, nHead: 2, nLayer: 2, nCtx: 8 });
    const m = new Transformer(c, { seed: 5, dtype: 'float64' });
    for (const p of m.parameters()) for (let i = 0; i < p.size; i++) p.f[i] += 0.05 * Math.sin(3 * i + p.size); // leave the init's symmetries
    const x = ids([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]), targets = ids([[2, 3, 4, 5, 6], [7, 8, 9, 10, 0]]);
    const lossOf = () => noGrad(() => m.forward(x, { targets }).loss!.item());
    m.forward(x, { targets }).loss!.backward();
    const rng = new Rng(1);
    for (const [name, p] of m.params) {
      for (let n = 0; n < 3; n++) {
        const i = rng.scaledInt(p.size), orig = p.f[i], h = 1e-5;
        p.f[i] = orig + h; const up = lossOf();
        p.f[i] = orig - h; const down = lossOf();
        p.f[i] = orig;
        const numeric = (up - down) / (2 * h), analytic = p.grad!.f[i];
        assert.ok(Math.abs(numeric - analytic) <= 1e-7 + 1e-5 * Math.abs(numeric), `${name}[${i}]: analytic ${analytic} vs numeric ${numeric}`);
      }
    }
  });
}

test('dropout: only in training, reproducible from the rng, off at p = 0', () => {
  const m = new Transformer(tinyConfig('gpt2', { dropout: 0.2 }), { seed: 1 });
  const x = randomIds(2, 6, 50);
  const evalA = m.forward(x).logits.toArray(), evalB = m.forward(x, { training: false }).logits.toArray();
  assert.deepEqual(evalA, evalB);
  const t1 = m.forward(x, { training: true, rng: new Rng(9) }).logits.toArray();
  const t2 = m.forward(x, { training: true, rng: new Rng(9) }).logits.toArray();
  const t3 = m.forward(x, { training: true }).logits.toArray();
  assert.deepEqual(t1, t2);
  assert.ok(maxAbsDiff(t1, evalA) > 1e-3);
  assert.ok(maxAbsDiff(t3, t1) > 1e-3);
  const noDrop = new Transformer(tinyConfig('gpt2'), { seed: 1 });
  assert.deepEqual(noDrop.forward(x, { training: true }).logits.toArray(), evalA);
});

test('given parameters are checked by name and shape; loadParams copies in place', () => {
  const c = tinyConfig('llama');
  const params = initParams(c, 1);
  const m = new Transformer(c, { params });
  assert.equal(m.params.get('wte.weight'), params.get('wte.weight'));
  const bad = new Map(params);
  bad.delete('lm_head.weight');
  bad.set('blocks.0.attn.qkv.weight', tensor(new Float32Array(10), [10]));
  bad.set('extra.weight', tensor([1]));
  assert.throws(() => new Transformer(c, { params: bad }),
    /blocks\.0\.attn\.qkv\.weight is \[10\], expected \[96, 32\]; missing lm_head\.weight \[50, 32\]; unexpected extra\.weight/);
  const other = initParams(c, 2);
  const ref = m.params.get('wte.weight');
  m.loadParams(other);
  assert.equal(m.params.get('wte.weight'), ref);
  assert.deepEqual(ref!.toArray(), other.get('wte.weight')!.toArray());
});

test('forward refuses bad inputs with the reason', () => {
  const m = new Transformer(tinyConfig('gpt2'));
  assert.throws(() => m.forward(tensor([1, 2], [1, 2])), /ids must be int32 \[B, T\], got float32/);
  assert.throws(() => m.forward(randomIds(1, 17, 50)), /positions 0\.\.16 exceed the context length nCtx = 16/);
  assert.throws(() => m.forward(randomIds(1, 4, 50), { targets: randomIds(1, 3, 50) }), /targets must be \[1, 4\] like ids/);
  assert.throws(() => m.forward(ids([[50]])), /id 50 .* outside the table's 50 rows/);
});

test('attention reads q, k, v in place from the qkv projection: the same loss and gradients as the split path', () => {
  // A hook on hook_q (returning its input) makes the block split q, k and v into tensors of their own.
  const cfg = tinyConfig('gpt2');
  const T = Math.min(16, cfg.nCtx);
  const x = randomIds(2, T, cfg.vocabSize), tgt = randomIds(2, T, cfg.vocabSize, 5);
  const run = (split: boolean) => {
    const m = new Transformer(cfg, { seed: 3 });
    const hooks = split ? [[(n: string) => n.endsWith('hook_q'), (a: Tensor) => a]] as HookSpec : undefined;
    const { loss } = m.forward(x, { targets: tgt, hooks });
    loss!.backward();
    return { loss: loss!.item(), grads: [...m.params.values()].map((p) => Float32Array.from(p.grad!.f)) };
  };
  const a = run(false), b = run(true);
  assert.equal(a.loss, b.loss);
  a.grads.forEach((g, i) => assert.deepEqual(g, b.grads[i], `gradient ${i}`));
});
