import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad, tensor } from '../../src/engine/index.js';
import { Transformer } from '../../src/models/transformer.js';
import {
  blockInfluence, deleteLayers, deletionCurve, deletionOrder, downstreamScore, type TokenBatch,
} from '../../src/probes/redundancy.js';
import { maxAbsDiff, randomIds, tinyConfig } from '../models/helpers.js';

function batches(seed: number, count = 2): TokenBatch[] {
  return Array.from({ length: count }, (_, k) => {
    const ids = randomIds(2, 9, 50, seed + k);
    const [B, T] = [2, 8];
    const inp = new Int32Array(B * T), tgt = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { inp[b * T + t] = ids.i[b * 9 + t]; tgt[b * T + t] = ids.i[b * 9 + t + 1]; }
    return { ids: tensor(inp, [B, T], { dtype: 'int32' }), targets: tensor(tgt, [B, T], { dtype: 'int32' }) };
  });
}

/** A 4-layer model whose block `idle` writes nothing (zero output projections): its output is its input. */
function modelWithIdleBlock(layout: 'gpt2' | 'llama', idle: number): Transformer {
  const m = new Transformer(tinyConfig(layout, { nLayer: 4 }), { seed: 6 });
  for (const [name, t] of m.params) if (new RegExp(`^blocks\\.${idle}\\.(attn|mlp)\\.proj\\.`).test(name)) t.f.fill(0);
  return m;
}

test('deleting blocks equals skipping them in the full model', () => {
  for (const layout of ['gpt2', 'llama'] as const) {
    const m = new Transformer(tinyConfig(layout, { nLayer: 4 }), { seed: 1 });
    const pruned = deleteLayers(m, [2, 1]);
    assert.equal(pruned.config.nLayer, 2);
    assert.deepEqual([...pruned.params.keys()], [...new Transformer(pruned.config).params.keys()], 'parameters in model order');
    const x = randomIds(2, 7, 50);
    // Skip blocks 1 and 2: their outputs replaced by their inputs.
    const inputs = new Map<number, Tensor>();
    const skipped = noGrad(() => m.forward(x, {
      hooks: [
        [(n) => /^blocks\.[12]\.hook_resid_pre$/.test(n), (a, n) => { inputs.set(Number(n.split('.')[1]), a); }],
        [(n) => /^blocks\.[12]\.hook_resid_post$/.test(n), (_a, n) => inputs.get(Number(n.split('.')[1]))!],
      ],
    }).logits);
    assert.ok(maxAbsDiff(noGrad(() => pruned.forward(x).logits).f, skipped.f) < 1e-5);
    assert.ok(maxAbsDiff(pruned.params.get('blocks.1.mlp.fc.weight')!.f, m.params.get('blocks.3.mlp.fc.weight')!.f) === 0);
    assert.notEqual(pruned.params.get('wte.weight'), m.params.get('wte.weight'), 'weights are copied, not shared');
  }
  const m = new Transformer(tinyConfig('gpt2', { nLayer: 3 }), { seed: 1 });
  assert.throws(() => deleteLayers(m, [0, 1, 2]), /leaves none/);
  assert.throws(() => deleteLayers(m, [3]), /outside 0\.\.2/);
});

test('Block Influence: 0 for a block that writes nothing, and that block is deleted first at no cost', () => {
  for (const layout of ['gpt2', 'llama'] as const) {
    const m = modelWithIdleBlock(layout, 2);
    const bi = blockInfluence(m, batches(3));
    assert.equal(bi.length, 4);
    assert.ok(Math.abs(bi[2]) < 1e-6, `idle block BI ${bi[2]}`);
    for (const l of [0, 1, 3]) assert.ok(bi[l] > 1e-4, `block ${l} BI ${bi[l]}`);
    // Against a direct computation for block 0.
    const x = batches(3)[0].ids;
    const { cache } = noGrad(() => m.runWithCache(x, { names: ['blocks.0.hook_resid_pre', 'blocks.0.hook_resid_post'] }));
    const a = cache.get('blocks.0.hook_resid_pre').f, b = cache.get('blocks.0.hook_resid_post').f;
    let cos = 0;
    for (let r = 0; r < x.size; r++) {
      const u = Array.from(a.subarray(r * 32, r * 32 + 32)), v = Array.from(b.subarray(r * 32, r * 32 + 32));
      cos += u.reduce((s, ui, i) => s + ui * v[i], 0) / Math.hypot(...u) / Math.hypot(...v);
    }
    assert.ok(Math.abs(blockInfluence(m, [{ ids: x }])[0] - (1 - cos / x.size)) < 1e-6);

    const cal = () => batches(3);
    assert.equal(deletionOrder(m, 'bi', { calibration: cal })[0], 2);
    // loss-increase: by the loss with each block deleted alone (an untrained model may even improve without one).
    const single = [0, 1, 2, 3].map((l) => downstreamScore(deleteLayers(m, [l]), cal()).value);
    assert.deepEqual(deletionOrder(m, 'loss-increase', { calibration: cal }), [0, 1, 2, 3].sort((a, b) => single[a] - single[b]));
    assert.ok(Math.abs(single[2] - downstreamScore(m, cal()).value) < 1e-5);
    assert.deepEqual(deletionOrder(m, 'last-first'), [3, 2, 1, 0]);
    const r1 = deletionOrder(m, 'random', { seed: 4 });
    assert.deepEqual(r1, deletionOrder(m, 'random', { seed: 4 }));
    assert.deepEqual([...r1].sort(), [0, 1, 2, 3]);
    const curve = deletionCurve(m, deletionOrder(m, 'bi', { calibration: cal }), [0, 1, 2], () => batches(10));
    assert.deepEqual(curve.map((p) => p.fraction), [0, 0.25, 0.5]);
    assert.equal(curve[0].score.value, downstreamScore(m, batches(10)).value);
    assert.ok(Math.abs(curve[1].score.value - curve[0].score.value) < 1e-5, 'deleting the idle block changes nothing');
    assert.ok(Math.abs(curve[2].score.value - curve[0].score.value) > 1e-4, 'deleting a working block does');
  }
});

test('downstreamScore and deletionOrder refuse input they cannot use', () => {
  const m = new Transformer(tinyConfig('gpt2'), { seed: 1 });
  assert.throws(() => downstreamScore(m, [{ ids: randomIds(1, 4, 50) }]), /need targets/);
  assert.throws(() => deletionOrder(m, 'bi'), /needs calibration/);
  assert.throws(() => blockInfluence(m, []), /no calibration tokens/);
});
