// The recurrent mixers (linear, retnet, gla, mamba2) inside a model: generation in recurrent
// form (a state carried token by token) gives the logits of the parallel forward, the state does
// not grow with the tokens generated, the chunk size changes nothing, gradients match finite
// differences through each mixer's whole layer (float64, reference backend), hooks expose
// state / decay / gates, and muP, docIds and the exports refuse them with the reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../../src/engine/index.js';
import { noGrad, withBackend } from '../../../src/engine/index.js';
import { referenceBackend } from '../../../src/engine/reference.js';
import { ModelConfigError, type ModelConfigInput } from '../../../src/models/config.js';
import { mixerDef } from '../../../src/models/mixers/index.js';
import { exportHF } from '../../../src/models/hf.js';
import { generate } from '../../../src/models/sampling.js';
import { KVCache, Transformer } from '../../../src/models/transformer.js';
import { ids, maxAbsDiff, randomIds, tinyConfig } from '../helpers.js';

type Extra = Partial<ModelConfigInput>;
const kinds: [string, Extra][] = [
  ['linear elu', { layers: 'LL' }],
  ['linear performer', { layers: 'LL', mixerOptions: { linear: { featureMap: 'performer', nFeatures: 12 } } }],
  ['retnet', { layers: 'RR' }],
  ['gla', { layers: 'GG', mixerOptions: { gla: { gateRank: 4 } } }],
  ['mamba2', { layers: 'MM', mixerOptions: { mamba2: { headDim: 16, dState: 8 } } }],
  ['hybrid', { layers: 'MgAF', nLayer: 4 }],
];

for (const [kind, extra] of kinds) {
  for (const preset of ['gpt2', 'llama'] as const) {
    test(`${kind} (${preset}): recurrent generation = parallel forward; the state stays the same size`, () => {
      const m = new Transformer(tinyConfig(preset, extra), { seed: 21 });
      const x = randomIds(2, 14, 50, 3);
      const V = 50, T = 14;
      noGrad(() => {
        const full = m.forward(x).logits.f;
        const cache = new KVCache(m.config.nLayer);
        const rows = [Array.from(x.i.subarray(0, T)), Array.from(x.i.subarray(T))];
        const pre = m.forward(ids(rows.map((r) => r.slice(0, 4))), { kvCache: cache }).logits.f;
        assert.ok(maxAbsDiff(pre, Array.from({ length: 2 * 4 * V }, (_, i) => full[Math.floor(i / (4 * V)) * T * V + (i % (4 * V))])) < 1e-4, 'prefill');
        const sizes: number[] = [];
        for (let t = 4; t < T; t++) {
          const step = m.forward(ids(rows.map((r) => [r[t]])), { kvCache: cache }).logits.f;
          for (let b = 0; b < 2; b++) {
            const want = full.subarray((b * T + t) * V, (b * T + t + 1) * V);
            assert.ok(maxAbsDiff(step.subarray(b * V, (b + 1) * V), want) < 1e-4, `step ${t} row ${b}: ${maxAbsDiff(step.subarray(b * V, (b + 1) * V), want)}`);
          }
          sizes.push(cache.floats());
        }
        if (kind !== 'hybrid') {
          assert.ok(sizes.every((n) => n === sizes[0]), `constant state: ${sizes}`);
          const d = mixerDef(m.config.layers![0] === 'L' ? 'linear' : m.config.layers![0] === 'R' ? 'retnet' : m.config.layers![0] === 'G' ? 'gla' : 'mamba2');
          const opts = (m.config.mixerOptions as Record<string, unknown>)[d.name];
          assert.equal(sizes[0], 2 * 2 * d.stateFloats(m.config, opts, 0), 'B * nLayer * the mixer\'s stated size');
        } else {
          assert.ok(sizes[sizes.length - 1] - sizes[0] === (sizes.length - 1) * 2 * 2 * 32, 'only the attention block grows (k and v: 2 * B * C per token)');
        }
      });
    });
  }

  if (kind !== 'hybrid') test(`${kind}: the chunk size of the recurrence changes nothing; the gradient matches finite differences (float64)`, () => {
    const name = kind.split(' ')[0];
    const withChunk = (chunk: number): Extra => ({ ...extra, mixerOptions: { ...(extra.mixerOptions ?? {}), [name]: { ...((extra.mixerOptions as Record<string, object> | undefined)?.[name] ?? {}), chunk } } });
    const a = new Transformer(tinyConfig('llama', withChunk(1)), { seed: 4 });
    const b = new Transformer(tinyConfig('llama', withChunk(5)), { params: a.params });
    const x = randomIds(2, 12, 50, 9);
    noGrad(() => assert.ok(maxAbsDiff(a.forward(x).logits.f, b.forward(x).logits.f) < 1e-5));
    withBackend(referenceBackend, () => {
      const m = new Transformer(tinyConfig('gpt2', { ...withChunk(4), nLayer: 1, layers: undefined, mixer: name as never }), { seed: 5, dtype: 'float64' });
      const xs = randomIds(1, 7, 50, 2);
      const loss = () => m.forward(xs, { targets: xs }).loss!;
      m.zeroGrad();
      loss().backward();
      const prefix = `blocks.0.${mixerDef(name).module}.`;
      const probe = [...m.params].filter(([n]) => n.startsWith(prefix));
      assert.ok(probe.length >= 2);
      for (const [n, t] of probe) {
        for (const i of [0, Math.floor(t.size / 2), t.size - 1]) {
          const o = t.f[i], h = 1e-6;
          t.f[i] = o + h; const up = noGrad(() => loss().item());
          t.f[i] = o - h; const down = noGrad(() => loss().item());
          t.f[i] = o;
          const num = (up - down) / (2 * h);
          assert.ok(Math.abs(num - t.grad!.f[i]) <= 1e-7 + 1e-5 * Math.abs(num), `${n}[${i}]: analytic ${t.grad!.f[i]} vs numeric ${num}`);
        }
      }
    });
  });
}

test('hooks: the recurrent mixers expose q/k/v, decay, gates and the state; replacing the decay changes the output', () => {
  const m = new Transformer(tinyConfig('llama', { layers: 'GM', mixerOptions: { mamba2: { headDim: 16 } } }), { seed: 2 });
  const points = m.hookPoints();
  for (const p of ['blocks.0.gla.hook_decay', 'blocks.0.gla.hook_gate', 'blocks.0.gla.hook_state', 'blocks.0.hook_mixer_out',
    'blocks.1.mamba2.hook_decay', 'blocks.1.mamba2.hook_dt', 'blocks.1.mamba2.hook_state', 'blocks.1.mamba2.hook_gate', 'blocks.1.mamba2.hook_x']) {
    assert.ok(points.includes(p), p);
  }
  assert.ok(!points.includes('blocks.0.attn.hook_z') && !points.includes('blocks.0.hook_attn_out'));
  const x = randomIds(2, 6, 50, 1);
  noGrad(() => {
    const { cache } = m.runWithCache(x);
    assert.deepEqual(cache.get('blocks.0.gla.hook_decay').shape, [2, 6, 4, 8]);
    assert.deepEqual(cache.get('blocks.0.gla.hook_state').shape, [2, 4, 8, 8]);
    assert.deepEqual(cache.get('blocks.1.mamba2.hook_state').shape, [2, 4, 16, 16]);
    assert.ok(Array.from(cache.get('blocks.1.mamba2.hook_decay').f).every((g) => g < 0), 'Mamba-2 log-decays are negative');
    const base = m.forward(x).logits.f;
    const noDecay = m.forward(x, { hooks: { 'blocks.0.gla.hook_decay': (g) => E.zeros(g.shape) } }).logits.f;
    assert.ok(maxAbsDiff(base, noDecay) > 1e-4);
  });
});

test('recurrent mixers: muP, packed documents and the Hugging Face export are refused with the reason', () => {
  assert.throws(() => tinyConfig('gpt2', { layers: 'AR', mup: { baseWidth: 16 } }),
    (e: unknown) => e instanceof ModelConfigError && /mup: muP is defined here for attention only; mixer "retnet"/.test(e.message));
  assert.ok(tinyConfig('gpt2', { mixerOptions: { attention: { window: 4 } }, mup: { baseWidth: 16 } }).mup, 'sparse attention keeps muP');
  const m = new Transformer(tinyConfig('gpt2', { layers: 'AG' }), { seed: 1 });
  const x = randomIds(1, 6, 50, 1);
  assert.throws(() => m.forward(x, { docIds: E.tensor(new Int32Array(6), [1, 6], { dtype: 'int32' }) }), /gla: packed documents \(docIds\) are not supported/);
  const dir = mkdtempSync(join(tmpdir(), 'wt-mixers-'));
  try {
    assert.throws(() => exportHF(m, join(dir, 'hf')), /cannot save this model in the Hugging Face gpt2 format: mixer "gla" in layers "AG" \(gpt2 has softmax attention only\)/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a pure recurrent model generates past nCtx with sinks (its state is all it keeps)', () => {
  const m = new Transformer(tinyConfig('llama', { layers: 'RG' }), { seed: 6 });
  const out = generate(m, [[1, 2, 3]], { maxNewTokens: 40, temperature: 1, seed: 1, sinks: { keep: 2, window: 8 } });
  assert.deepEqual(out.shape, [1, 43]);
});
