import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, layerNorm, linear, embedding, add, arange, mul, noGrad, zerosLike } from '../../src/engine/index.js';
import { Transformer } from '../../src/models/transformer.js';
import { maxAbsDiff, randomIds, tinyConfig } from './helpers.js';

test('hook points are named by module path and the cache holds each with its shape', () => {
  for (const layout of ['gpt2', 'llama'] as const) {
    const m = new Transformer(tinyConfig(layout, { nLayer: 2 }), { seed: 1 });
    const { cache, logits } = m.runWithCache(randomIds(3, 5, 50));
    assert.deepEqual(cache.names(), m.hookPoints());
    const F = m.config.dMlp;
    const want: Record<string, number[]> = {
      hook_embed: [3, 5, 32],
      'blocks.1.hook_resid_pre': [3, 5, 32],
      'blocks.1.ln1.hook_normalized': [3, 5, 32],
      'blocks.1.attn.hook_q': [3, 5, 4, 8], 'blocks.1.attn.hook_k': [3, 5, 4, 8], 'blocks.1.attn.hook_v': [3, 5, 4, 8],
      'blocks.1.attn.hook_pattern': [3, 4, 5, 5], 'blocks.1.attn.hook_attn_scores': [3, 4, 5, 5],
      'blocks.1.attn.hook_result': [3, 5, 4, 32],
      'blocks.1.ln1.hook_scale': [3, 5, 1], 'blocks.1.ln2.hook_scale': [3, 5, 1], 'ln_final.hook_scale': [3, 5, 1],
      'blocks.1.attn.hook_z': [3, 5, 4, 8],
      'blocks.1.hook_attn_out': [3, 5, 32], 'blocks.1.hook_resid_mid': [3, 5, 32], 'blocks.1.ln2.hook_normalized': [3, 5, 32],
      'blocks.1.mlp.hook_pre': [3, 5, F], 'blocks.1.mlp.hook_post': [3, 5, F],
      'blocks.1.hook_mlp_out': [3, 5, 32], 'blocks.1.hook_resid_post': [3, 5, 32],
      'ln_final.hook_normalized': [3, 5, 32],
      ...(layout === 'gpt2'
        ? { hook_pos_embed: [5, 32] }
        : { 'blocks.1.attn.hook_rot_q': [3, 5, 4, 8], 'blocks.1.attn.hook_rot_k': [3, 5, 4, 8], 'blocks.1.mlp.hook_pre_linear': [3, 5, F] }),
    };
    for (const [name, shape] of Object.entries(want)) assert.deepEqual(cache.get(name).shape, shape, `${layout} ${name}`);
    assert.equal(m.hookPoints().length, layout === 'gpt2' ? 4 + 2 * 18 : 3 + 2 * 21, 'top points plus two blocks of them');
    assert.deepEqual(cache.block(1, 'hook_resid_post'), cache.get('blocks.1.hook_resid_post'));
    // Caching (which runs attention unfused to get patterns) does not change the result.
    assert.ok(maxAbsDiff(logits.f, m.forward(randomIds(3, 5, 50)).logits.f) < 1e-5);
    assert.throws(() => cache.get('blocks.1.hook_resid'), /not in the cache/);
  }
});

test('a cache of selected names holds only those; unknown names are refused with suggestions', () => {
  const m = new Transformer(tinyConfig('llama'), { seed: 1 });
  const { cache } = m.runWithCache(randomIds(1, 4, 50), { names: ['blocks.0.hook_resid_post', 'blocks.1.attn.hook_z'] });
  assert.deepEqual(cache.names(), ['blocks.0.hook_resid_post', 'blocks.1.attn.hook_z']);
  const byFilter = m.runWithCache(randomIds(1, 4, 50), { names: (n) => n.endsWith('hook_resid_mid') }).cache;
  assert.deepEqual(byFilter.names(), ['blocks.0.hook_resid_mid', 'blocks.1.hook_resid_mid']);
  assert.throws(() => m.runWithCache(randomIds(1, 4, 50), { names: ['blocks.0.hook_resid_postt'] }), /unknown hook point "blocks\.0\.hook_resid_postt"/);
  assert.throws(() => m.forward(randomIds(1, 4, 50), { hooks: { 'blocks.9.hook_resid_post': () => {} } }), /did you mean "blocks\.0\.hook_resid_post"/);
  assert.throws(() => m.forward(randomIds(1, 4, 50), { hooks: { 'blocks.0.hook_pos_embed': () => {} } }), /unknown hook point/);
});

test('hooks may read or replace activations; zeroing every branch leaves the embedding path', () => {
  const m = new Transformer(tinyConfig('gpt2'), { seed: 2 });
  const x = randomIds(2, 6, 50);
  const base = m.forward(x).logits;
  const seen: string[] = [];
  const same = m.forward(x, { hooks: [[(n) => n.endsWith('hook_z'), (a, name) => { seen.push(`${name} ${a.shape}`); }]] }).logits;
  assert.deepEqual(seen, ['blocks.0.attn.hook_z 2,6,4,8', 'blocks.1.attn.hook_z 2,6,4,8']);
  assert.deepEqual(same.toArray(), base.toArray());
  const zeroed = m.forward(x, { hooks: { 'blocks.1.hook_mlp_out': (a) => zerosLike(a) } }).logits;
  assert.ok(maxAbsDiff(zeroed.f, base.f) > 1e-3, 'zeroing an activation changes the output');
  // With every attention and MLP output zeroed, logits = ln_final(wte[x] + wpe[pos]) @ wte^T.
  const zero = (a: Tensor) => zerosLike(a);
  const skeleton = m.forward(x, { hooks: [[(n) => /hook_(attn|mlp)_out$/.test(n), zero]] }).logits;
  const expected = noGrad(() => {
    const p = m.params;
    const h = add(embedding(x, p.get('wte.weight')!), embedding(arange(6), p.get('wpe.weight')!));
    return linear(layerNorm(h, p.get('ln_final.weight')!, p.get('ln_final.bias')!, 1e-5), p.get('wte.weight')!);
  });
  assert.ok(maxAbsDiff(skeleton.f, expected.f) < 1e-5);
  assert.throws(() => m.forward(x, { hooks: { hook_embed: () => embedding(arange(2), m.params.get('wte.weight')!) } }),
    /hook at hook_embed returned shape \[2, 32\], expected \[2, 6, 32\]/);
});

test('activation gradients: retained through the cache, and matching finite differences', () => {
  const m = new Transformer(tinyConfig('llama', { vocabSize: 20 }), { seed: 3, dtype: 'float64' });
  const x = randomIds(2, 5, 20), targets = randomIds(2, 5, 20, 9);
  const name = 'blocks.0.hook_resid_mid';
  const { loss, cache } = m.runWithCache(x, { targets, names: [name, 'blocks.1.attn.hook_v'], retainGrad: true });
  loss!.backward();
  const g = cache.get(name).grad!;
  assert.deepEqual(g.shape, [2, 5, 32]);
  assert.deepEqual(cache.get('blocks.1.attn.hook_v').grad!.shape, [2, 5, 4, 8]);
  // Nudge one element of the activation through a hook and watch the loss.
  const bump = (i: number, h: number) => noGrad(() => m.forward(x, {
    targets, hooks: { [name]: (a) => { const d = new Float64Array(a.size); d[i] = h; return add(a, new Tensor(d, a.shape)); } },
  }).loss!.item());
  for (const i of [0, 37, 250, 319]) {
    const numeric = (bump(i, 1e-5) - bump(i, -1e-5)) / 2e-5;
    assert.ok(Math.abs(numeric - g.f[i]) < 1e-7 + 1e-5 * Math.abs(numeric), `d loss / d ${name}[${i}]: ${g.f[i]} vs ${numeric}`);
  }
});

test('a gradient hook registered from a forward hook can edit the backward pass', () => {
  const m = new Transformer(tinyConfig('gpt2'), { seed: 4 });
  const x = randomIds(1, 5, 50);
  const { loss } = m.forward(x, {
    targets: randomIds(1, 5, 50, 3),
    hooks: { 'blocks.1.hook_resid_pre': (a) => { a.registerGradHook((g) => mul(g, 0)); } },
  });
  loss!.backward();
  const norm = (n: string) => m.params.get(n)!.grad!.toArray().reduce((s, v) => s + Math.abs(v), 0);
  assert.equal(norm('blocks.0.mlp.fc.weight'), 0, 'block 0 is cut off from the loss');
  assert.ok(norm('blocks.1.mlp.fc.weight') > 0);
});

test('hook_pattern: rows are causal distributions, and the unfused path gives the fused gradients', () => {
  for (const layout of ['gpt2', 'llama'] as const) {
    const x = randomIds(2, 6, 50), targets = randomIds(2, 6, 50, 5);
    const docIds = randomIds(2, 6, 2, 11);
    const fused = new Transformer(tinyConfig(layout), { seed: 6 });
    const unfused = new Transformer(tinyConfig(layout), { seed: 6 });
    const a = fused.forward(x, { targets, docIds });
    let pattern: Tensor | null = null;
    const b = unfused.forward(x, { targets, docIds, hooks: { 'blocks.1.attn.hook_pattern': (p) => { pattern = p; } } });
    assert.ok(maxAbsDiff(a.logits.f, b.logits.f) < 1e-5);
    a.loss!.backward();
    b.loss!.backward();
    for (const [name, p] of fused.params) assert.ok(maxAbsDiff(p.grad!.f, unfused.params.get(name)!.grad!.f) < 1e-5, `${layout} ${name}`);
    const P = pattern! as Tensor; // [B, H, T, T]
    for (let r = 0; r < 2 * 4 * 6; r++) {
      const i = r % 6, row = P.toArray().slice(r * 6, r * 6 + 6);
      assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5);
      for (let j = i + 1; j < 6; j++) assert.equal(row[j], 0);
    }
  }
});

test('hook_scale, hook_attn_scores and hook_result agree with the activations they decompose', () => {
  for (const layout of ['gpt2', 'llama'] as const) {
    const m = new Transformer(tinyConfig(layout), { seed: 4 });
    const x = randomIds(2, 6, 50, 3);
    const { cache } = m.runWithCache(x);
    const C = 32, H = 4, T = 6;
    // The norm's divisor: sqrt(var + eps) of the block input (LayerNorm), sqrt(mean square + eps) (RMSNorm).
    const resid = cache.get('blocks.1.hook_resid_pre').f, scale = cache.get('blocks.1.ln1.hook_scale').f;
    for (let r = 0; r < 2 * T; r++) {
      const row = Array.from(resid.subarray(r * C, (r + 1) * C));
      const mu = layout === 'gpt2' ? row.reduce((a, b) => a + b, 0) / C : 0;
      const want = Math.sqrt(row.reduce((a, b) => a + (b - mu) ** 2, 0) / C + m.config.normEps);
      assert.ok(Math.abs(scale[r] - want) < 1e-5 * want, `${layout} scale row ${r}: ${scale[r]} vs ${want}`);
    }
    // Per-head results sum (with attn.proj's bias) to hook_attn_out.
    const result = cache.get('blocks.0.attn.hook_result').f, attnOut = cache.get('blocks.0.hook_attn_out').f;
    const bias = m.params.get('blocks.0.attn.proj.bias')?.f;
    let err = 0;
    for (let r = 0; r < 2 * T; r++) for (let c = 0; c < C; c++) {
      let acc = bias ? bias[c] : 0;
      for (let h = 0; h < H; h++) acc += result[(r * H + h) * C + c];
      err = Math.max(err, Math.abs(acc - attnOut[r * C + c]));
    }
    assert.ok(err < 1e-5, `${layout}: heads sum to attn_out within ${err}`);
    // Softmax of the scores is the pattern; masked (future) scores are -Infinity.
    const scores = cache.get('blocks.1.attn.hook_attn_scores').f, pattern = cache.get('blocks.1.attn.hook_pattern').f;
    for (let row = 0; row < 2 * H * T; row++) {
      const i = row % T, s = scores.subarray(row * T, row * T + T);
      assert.equal(s[T - 1] === -Infinity, i < T - 1);
      const mx = Math.max(...Array.from(s.subarray(0, i + 1)));
      const z = Array.from(s.subarray(0, i + 1)).reduce((a, v) => a + Math.exp(v - mx), 0);
      for (let j = 0; j <= i; j++) assert.ok(Math.abs(Math.exp(s[j] - mx) / z - pattern[row * T + j]) < 1e-5);
    }
    // Replacing a scale changes the output (the hook is live), and doubling it halves the normalised part.
    const base = m.forward(x).logits;
    const doubled = m.forward(x, { hooks: { 'ln_final.hook_scale': (s) => mul(s, 2) } }).logits;
    assert.ok(maxAbsDiff(doubled.f, base.f) > 1e-3);
  }
});
