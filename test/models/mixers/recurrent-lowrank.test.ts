// The mamba, rwkv (+ rwkvChannel) and lowrank mixers inside a model: recurrent generation
// (one token at a time through the cache, and a prompt fed in pieces) gives the parallel
// forward's logits; mamba's and rwkv's state stays the same size however many tokens are
// generated, lowrank's grows by rank rows per block; hooks see the internals (state, gates,
// decay) and an ablation through them changes the output; gradients reach every parameter;
// hybrids train a step; bad options and packed documents are refused with named errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../../../src/engine/index.js';
import { ModelConfigError } from '../../../src/models/config.js';
import type { HookPair } from '../../../src/models/hooks.js';
import { exportHF } from '../../../src/models/hf.js';
import { generate } from '../../../src/models/sampling.js';
import { KVCache, Transformer } from '../../../src/models/transformer.js';
import { ids, maxAbsDiff, randomIds, tinyConfig } from '../helpers.js';

const V = 50;
const kinds = {
  mamba: { mixer: 'mamba', mixerOptions: { mamba: { dState: 8 } } },
  rwkv: { layers: 'wk', mixerOptions: { rwkv: { mixRank: 4, decayRank: 8 } } },
  'rwkv+mlp': { mixer: 'rwkv', mixerOptions: { rwkv: { mixRank: 4, decayRank: 8 } } },
  lowrank: { mixer: 'lowrank', mixerOptions: { lowrank: { blockSize: 4, rank: 2 } } },
  hybrid: { nLayer: 4, layers: 'SAPw', mixerOptions: { mamba: { dState: 4 }, lowrank: { blockSize: 3, rank: 1 }, rwkv: { mixRank: 2, decayRank: 2 } } },
} as const;

for (const [name, extra] of Object.entries(kinds)) {
  for (const preset of ['gpt2', 'llama'] as const) {
    test(`${preset} ${name}: cached generation, token by token and in pieces, equals the parallel forward`, () => {
      const m = new Transformer(tinyConfig(preset, extra as never), { seed: 11 });
      const x = randomIds(2, 16, V, 5);
      const rows = [x.toArray().slice(0, 16), x.toArray().slice(16)];
      noGrad(() => {
        const full = m.forward(x).logits.f;
        for (const pieces of [[7, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 3, 5, 7], [16]]) {
          const cache = new KVCache(m.config.nLayer);
          let t = 0;
          for (const n of pieces) {
            const out = m.forward(ids(rows.map((r) => r.slice(t, t + n))), { kvCache: cache }).logits.f;
            for (let b = 0; b < 2; b++) for (let i = 0; i < n; i++) {
              const got = out.subarray((b * n + i) * V, (b * n + i + 1) * V);
              const want = full.subarray((b * 16 + t + i) * V, (b * 16 + t + i + 1) * V);
              assert.ok(maxAbsDiff(got, want) < 2e-4, `pieces ${pieces}: batch ${b} position ${t + i} differs by ${maxAbsDiff(got, want)}`);
            }
            t += n;
          }
        }
      });
    });
  }
}

test('mamba and rwkv: the generation state is the same size after every token; lowrank keeps rank rows per block', () => {
  for (const [name, extra] of Object.entries(kinds)) {
    const m = new Transformer(tinyConfig('llama', { ...(extra as object), nCtx: 64 } as never), { seed: 2 });
    const cache = new KVCache(m.config.nLayer);
    const sizes: number[] = [];
    noGrad(() => {
      for (let t = 0; t < 40; t++) {
        m.forward(ids([[t % V], [(t * 7) % V]]), { kvCache: cache });
        sizes.push(cache.floats());
      }
    });
    if (name === 'mamba' || name.startsWith('rwkv')) {
      assert.ok(sizes.every((s) => s === sizes[0]), `${name}: state sizes ${[...new Set(sizes)]}`);
      // mamba: E (K - 1) conv inputs + E N scan state per layer and row; rwkv: C shift + H D^2 wkv (+ C for the channel mix)
      const want = name === 'mamba' ? 2 * 2 * (64 * 3 + 64 * 8) : name === 'rwkv' ? 2 * (32 + 4 * 8 * 8 + 32) : 2 * 2 * (32 + 4 * 8 * 8);
      assert.equal(sizes[0], want, name);
    }
    if (name === 'lowrank') {
      // after t tokens: 2 layers x B 2 x (k + v) x C 32 x (floor(t / 4) * 2 summaries + t % 4 raw rows)
      sizes.forEach((s, i) => assert.equal(s, 2 * 2 * 2 * 32 * (Math.floor((i + 1) / 4) * 2 + ((i + 1) % 4)), `lowrank after ${i + 1} tokens`));
    }
  }
});

test('generate with mamba and rwkv runs past nCtx by cropping like attention, and greedy decoding matches the uncached path', () => {
  for (const extra of [kinds.mamba, kinds.rwkv, kinds.lowrank]) {
    const m = new Transformer(tinyConfig('llama', extra as never), { seed: 5 });
    const prompt = [[1, 2, 3], [4, 5, 6]];
    const cached = generate(m, prompt, { maxNewTokens: 10, temperature: 0 }).toArray();
    const uncached = generate(m, prompt, { maxNewTokens: 10, temperature: 0, useKVCache: false }).toArray();
    assert.deepEqual(cached, uncached);
  }
});

test('hooks: state, gates and decay of mamba and rwkv are visible, and ablating a gate changes the logits', () => {
  const cases: [object, string[], string][] = [
    [kinds.mamba, ['blocks.0.mamba.hook_state', 'blocks.0.mamba.hook_gate', 'blocks.0.mamba.hook_decay', 'blocks.0.mamba.hook_dt', 'blocks.1.mamba.hook_B'], 'blocks.1.mamba.hook_gate'],
    [kinds.rwkv, ['blocks.0.rwkv.hook_state', 'blocks.0.rwkv.hook_gate', 'blocks.0.rwkv.hook_decay', 'blocks.1.rwkv_ffn.hook_gate'], 'blocks.0.rwkv.hook_gate'],
    [kinds.lowrank, ['blocks.0.attn_lowrank.hook_k_compressed', 'blocks.1.attn_lowrank.hook_z'], 'blocks.1.attn_lowrank.hook_z'],
  ];
  for (const [extra, names, ablate] of cases) {
    const m = new Transformer(tinyConfig('llama', extra as never), { seed: 6 });
    const points = m.hookPoints();
    for (const n of names) assert.ok(points.includes(n), `${n} is a hook point`);
    const x = randomIds(1, 12, V, 1);
    const seen = new Map<string, number[]>();
    noGrad(() => {
      const base = m.forward(x, { hooks: names.map((n): HookPair => [n, (t) => { seen.set(n, [...t.shape]); }]) }).logits.f;
      for (const n of names) assert.ok(seen.has(n), `${n} ran`);
      const zeroed = m.forward(x, { hooks: { [ablate]: (t: { f: Float32Array | Float64Array }) => { t.f.fill(0); } } }).logits.f;
      assert.ok(maxAbsDiff(base, zeroed) > 1e-4, `ablating ${ablate} changes the logits`);
    });
    if (extra === kinds.mamba) {
      assert.deepEqual(seen.get('blocks.0.mamba.hook_state'), [1, 64, 8]);
      assert.deepEqual(seen.get('blocks.0.mamba.hook_decay'), [1, 12, 64, 8]);
    }
    if (extra === kinds.rwkv) assert.deepEqual(seen.get('blocks.0.rwkv.hook_state'), [1, 4, 8, 8]);
  }
});

test('every parameter of every new mixer gets a gradient, and a hybrid trains a step', () => {
  for (const extra of Object.values(kinds)) {
    const m = new Transformer(tinyConfig('llama', extra as never), { seed: 7 });
    const x = randomIds(2, 16, V, 2), y = randomIds(2, 16, V, 3);
    const { loss } = m.forward(x, { targets: y });
    loss!.backward();
    for (const [name, p] of Object.entries(m.params)) {
      // RWKV's LoRA down-projections start at zero, so tanh(x w1) = 0 and their up-projections get no gradient at the first step.
      if (/time_maa_w2|time_decay_w2/.test(name)) continue;
      assert.ok(p.grad && p.grad.f.some((g: number) => g !== 0), `${name} gets a gradient`);
    }
  }
});

test('bad mixer options and packed documents are refused, naming the field', () => {
  const bad: [object, RegExp][] = [
    [{ mixer: 'mamba', mixerOptions: { mamba: { dState: 0 } } }, /mixerOptions\.mamba\.dState/],
    [{ mixer: 'mamba', mixerOptions: { mamba: { dtMin: 0.5, dtMax: 0.1 } } }, /mixerOptions\.mamba\.dtMin: must not exceed dtMax/],
    [{ mixer: 'lowrank', mixerOptions: { lowrank: { blockSize: 4, rank: 5 } } }, /mixerOptions\.lowrank\.rank: must not exceed blockSize/],
    [{ mixer: 'rwkv', mixerOptions: { rwkv: { decay: 1 } } }, /mixerOptions\.rwkv.*decay/],
    [{ layers: 'SX' }, /layers: unknown letter "X"/],
  ];
  for (const [extra, re] of bad) {
    assert.throws(() => tinyConfig('gpt2', extra as never), (e: unknown) => e instanceof ModelConfigError && re.test(e.message), JSON.stringify(extra));
  }
  for (const extra of [kinds.mamba, kinds.rwkv, kinds.lowrank]) {
    const m = new Transformer(tinyConfig('gpt2', extra as never), { seed: 1 });
    const docIds = ids([[0, 0, 1, 1]]);
    assert.throws(() => m.forward(ids([[1, 2, 3, 4]]), { docIds }), /does not support packed documents/);
    assert.throws(() => exportHF(m, '/nonexistent/never-written'), /cannot save this model in the Hugging Face/);
  }
  const low = new Transformer(tinyConfig('llama', kinds.lowrank as never), { seed: 1 });
  assert.throws(() => generate(low, [[1, 2]], { maxNewTokens: 3, sinks: { keep: 2, window: 8 } }), /attention sinks .* do not apply/);
  // Recurrent mixers ignore the sink policy (their state is already bounded) and generate past nCtx.
  const mamba = new Transformer(tinyConfig('llama', kinds.mamba as never), { seed: 1 });
  assert.deepEqual(generate(mamba, [[1, 2]], { maxNewTokens: 30, temperature: 0, sinks: { keep: 2, window: 8 } }).shape, [1, 32]);
});
