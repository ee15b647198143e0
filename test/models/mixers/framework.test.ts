// The mixer framework: config keys (mixer, layers, mixerOptions) and their validation, the
// parameter layout of hybrid stacks, attention's sparse options (window, blockSparse) against
// the unfused definition, generation caches (rolling window, attention sinks), and the
// exports that refuse what Hugging Face and llama.cpp cannot load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '../../../src/engine/index.js';
import { ModelConfigError, countParams, layerPlan, paramSpecs, parseModelConfig } from '../../../src/models/config.js';
import { blockSparseLayout, mixerDefs } from '../../../src/models/mixers/index.js';
import { exportHF } from '../../../src/models/hf.js';
import { exportGGUF } from '../../../src/models/gguf.js';
import { generate, streamingLoss } from '../../../src/models/sampling.js';
import { KVCache, Transformer } from '../../../src/models/transformer.js';
import { ids, maxAbsDiff, randomIds, tinyConfig } from '../helpers.js';

test('plain attention resolves to no mixer keys; explicit defaults are the same config', () => {
  for (const preset of ['gpt2', 'llama'] as const) {
    const plain = tinyConfig(preset);
    assert.ok(!('layers' in plain) && !('mixerOptions' in plain) && !('mixer' in plain));
    assert.deepEqual(tinyConfig(preset, { mixer: 'attention' }), plain);
    assert.deepEqual(tinyConfig(preset, { layers: 'AA' }), plain);
    assert.deepEqual(tinyConfig(preset, { layers: ['attention', { mixer: 'attention', mlp: true }] }), plain);
    assert.deepEqual(tinyConfig(preset, { mixerOptions: { attention: { window: null } } }), plain);
  }
});

test('layers: pattern and list forms resolve to one pattern; lower case drops the MLP, F is an MLP alone', () => {
  const c = tinyConfig('llama', { nLayer: 3, layers: ['attention', { mixer: 'attention', mlp: false }, 'mlp'] });
  assert.equal(c.layers, 'AaF');
  assert.deepEqual(layerPlan(c), [{ mixer: 'attention', mlp: true }, { mixer: 'attention', mlp: false }, { mixer: null, mlp: true }]);
  assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(c))), c, 'a resolved config parses to itself');
  const names = paramSpecs(c).map((s) => s.name).filter((n) => n.startsWith('blocks.'));
  assert.ok(names.includes('blocks.0.mlp.fc.weight') && names.includes('blocks.1.attn.qkv.weight'));
  assert.ok(!names.some((n) => n.startsWith('blocks.1.ln2') || n.startsWith('blocks.1.mlp')), 'block 1 has no MLP');
  assert.ok(!names.some((n) => n.startsWith('blocks.2.ln1') || n.startsWith('blocks.2.attn')), 'block 2 has no mixer');
  const m = new Transformer(c, { seed: 1 });
  assert.equal(countParams(c).total, m.numParams());
  const points = m.hookPoints();
  assert.ok(points.includes('blocks.1.attn.hook_z') && !points.includes('blocks.1.hook_resid_mid') && !points.includes('blocks.1.mlp.hook_post'));
  assert.ok(!points.includes('blocks.2.attn.hook_z') && points.includes('blocks.2.mlp.hook_post'));
  const { logits } = m.forward(randomIds(2, 8, 50));
  assert.deepEqual(logits.shape, [2, 8, 50]);
});

test('mixer configs: every bad field is named', () => {
  const bad: [object, RegExp][] = [
    [{ layers: 'AX' }, /layers: unknown letter "X"/],
    [{ layers: 'AAA' }, /layers: has 3 blocks but nLayer is 2/],
    [{ layers: ['attention', 'transformer'] }, /layers: unknown mixer "transformer"/],
    [{ layers: ['attention', { mixer: null, mlp: false }] }, /layers: a block needs a mixer or an MLP/],
    [{ mixer: 'attention', layers: 'AA' }, /mixer: give mixer \(every block\) or layers/],
    [{ mixer: 'softmax' }, /mixer: Invalid enum value/],
    [{ mixerOptions: { attention: { window: 0 } } }, /mixerOptions\.attention\.window/],
    [{ mixerOptions: { attention: { window: 4, blockSparse: {} } } }, /mixerOptions\.attention\.window: give window or blockSparse, not both/],
    [{ mixerOptions: { attention: { windw: 4 } } }, /mixerOptions\.attention.*windw/],
  ];
  for (const [extra, re] of bad) {
    assert.throws(() => tinyConfig('gpt2', extra as never), (e: unknown) => e instanceof ModelConfigError && re.test(e.message), JSON.stringify(extra));
  }
});

test('the mixer letters are unique and none is F', () => {
  const letters = mixerDefs.map((d) => d.letter);
  assert.equal(new Set(letters).size, letters.length);
  assert.ok(!letters.includes('F') && letters.every((l) => l === l.toUpperCase() && l.length === 1));
});

test('blockSparse layout: causal, local blocks and every stride-th block', () => {
  const lay = blockSparseLayout({ blockSize: 4, localBlocks: 2, stride: 3 }, 7);
  const row = (qb: number) => Array.from(lay.subarray(qb * 7, qb * 7 + 7));
  assert.deepEqual(row(0), [1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(1), [1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(4), [0, 0, 1, 1, 1, 0, 0], 'local 3,4 and summary block 2');
  assert.deepEqual(row(6), [0, 0, 1, 0, 0, 1, 1], 'summary blocks 2 and 5, local 5,6');
});

const sparse = {
  window: { mixerOptions: { attention: { window: 5 } } },
  blockSparse: { mixerOptions: { attention: { blockSparse: { blockSize: 4, localBlocks: 1, stride: 2 } } } },
};

for (const [kind, extra] of Object.entries(sparse)) {
  for (const preset of ['gpt2', 'llama'] as const) {
    test(`${preset} ${kind} attention: the fused kernel equals the unfused definition; cached decoding equals the full forward`, () => {
      const m = new Transformer(tinyConfig(preset, extra), { seed: 3 });
      const dense = new Transformer(tinyConfig(preset), { params: m.params });
      const x = randomIds(2, 16, 50, 5);
      noGrad(() => {
        const fused = m.forward(x).logits;
        const unfused = m.forward(x, { hooks: { 'blocks.0.attn.hook_pattern': () => {}, 'blocks.1.attn.hook_pattern': () => {} } }).logits;
        assert.ok(maxAbsDiff(fused.f, unfused.f) < 1e-5);
        assert.ok(maxAbsDiff(fused.f, dense.forward(x).logits.f) > 1e-3, 'the sparse pattern changes the result');
        const cache = new KVCache(2);
        const rows = [x.toArray().slice(0, 16), x.toArray().slice(16)];
        const V = 50;
        m.forward(ids(rows.map((r) => r.slice(0, 6))), { kvCache: cache });
        for (let t = 6; t < 16; t++) {
          const step = m.forward(ids(rows.map((r) => [r[t]])), { kvCache: cache }).logits.f;
          for (let b = 0; b < 2; b++) {
            assert.ok(maxAbsDiff(step.subarray(b * V, (b + 1) * V), fused.f.subarray((b * 16 + t) * V, (b * 16 + t + 1) * V)) < 1e-4, `step ${t}`);
          }
          // A sliding window's cache rolls: window - 1 = 4 keys and values per layer, B = 2, C = 32.
          if (kind === 'window') assert.equal(cache.floats(), 2 * 2 * 2 * 4 * 32);
        }
      });
    });
  }
}

test('window attention: a token more than window - 1 positions back changes nothing (rotary)', () => {
  const m = new Transformer(tinyConfig('llama', { nLayer: 1, ...sparse.window }), { seed: 4 });
  const a = randomIds(1, 16, 50, 7), b = randomIds(1, 16, 50, 7);
  b.data[0] = (a.data[0] + 1) % 50;
  noGrad(() => {
    const la = m.forward(a).logits.f, lb = m.forward(b).logits.f;
    assert.ok(maxAbsDiff(la.subarray(0, 50), lb.subarray(0, 50)) > 1e-4, 'position 0 sees itself');
    assert.ok(maxAbsDiff(la.subarray(5 * 50), lb.subarray(5 * 50)) === 0, 'positions >= 5 cannot see position 0 through one layer');
  });
});

test('attention sinks: generation runs far past nCtx with a bounded cache; within nCtx it equals the plain cache', () => {
  for (const preset of ['gpt2', 'llama'] as const) {
    const m = new Transformer(tinyConfig(preset), { seed: 8 }); // nCtx 16
    const prompt = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]];
    const sinks = { keep: 2, window: 14 };
    const short = { maxNewTokens: 10, temperature: 0 };
    assert.deepEqual(generate(m, prompt, { ...short, sinks }).toArray(), generate(m, prompt, short).toArray(), `${preset}: within nCtx`);
    const long = generate(m, prompt, { maxNewTokens: 60, temperature: 1, seed: 3, sinks });
    assert.deepEqual(long.shape, [2, 65]);
    const cache = new KVCache(2, { sinks });
    noGrad(() => {
      const row = long.toArray().slice(0, 65);
      for (let t = 0; t < 65; t++) {
        m.forward(ids([[row[t]]]), { kvCache: cache });
        assert.ok(cache.floats() <= 2 * 2 * 16 * 32, `cache bounded at token ${t}: ${cache.floats()}`);
      }
      assert.equal(cache.length, 65);
      assert.equal(cache.held, 16);
    });
    assert.throws(() => m.forward(ids([[1]]), { kvCache: new KVCache(2, { sinks: { keep: 4, window: 13 } }) }), /attention sinks need keep \+ window <= nCtx/);
  }
});

test('streamingLoss: without sinks it is the forward loss; with sinks it scores text longer than nCtx', () => {
  const m = new Transformer(tinyConfig('llama'), { seed: 9 });
  const text = Array.from(randomIds(1, 12, 50, 3).i);
  noGrad(() => {
    const x = ids([text.slice(0, -1)]), y = ids([text.slice(1)]);
    const ref = m.forward(x, { targets: y }).loss!.item();
    assert.ok(Math.abs(streamingLoss(m, text).mean - ref) < 1e-5);
    assert.ok(Math.abs(streamingLoss(m, text, { chunk: 5 }).mean - ref) < 1e-5, 'chunked feeding');
  });
  const long = Array.from(randomIds(1, 80, 50, 4).i);
  const r = streamingLoss(m, long, { sinks: { keep: 4, window: 12 } });
  assert.equal(r.nll.length, 79);
  assert.ok(Number.isFinite(r.mean) && r.mean > 0);
  assert.throws(() => streamingLoss(m, long), /exceed the context length/);
});

test('Hugging Face and GGUF exports refuse sparse attention and blocks without an MLP, naming why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-mixers-'));
  try {
    const tok = { tokens: Array.from({ length: 50 }, (_, i) => `t${i}`), tokenTypes: new Array(50).fill(1), merges: [] };
    const cases: [object, RegExp][] = [
      [sparse.window, /attention options .*"window":5.* has dense causal attention only/],
      [{ nLayer: 2, layers: 'Aa' }, /blocks without a mixer or an MLP/],
    ];
    for (const [extra, re] of cases) {
      const m = new Transformer(tinyConfig('gpt2', extra), { seed: 1 });
      assert.throws(() => exportHF(m, join(dir, 'hf')), (e: Error) => /cannot save this model in the Hugging Face gpt2 format/.test(e.message) && re.test(e.message));
      assert.throws(() => exportGGUF(m, tok, join(dir, 'm.gguf')), re);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('attention sinks place rotary positions inside the cache: one layer\'s logits = a fresh forward over the kept tokens', () => {
  const m = new Transformer(tinyConfig('llama', { nLayer: 1 }), { seed: 10 }); // nCtx 16
  const sinks = { keep: 3, window: 9 };
  const text = Array.from(randomIds(1, 40, 50, 6).i);
  const cache = new KVCache(1, { sinks });
  noGrad(() => {
    for (let t = 0; t < text.length; t++) {
      const got = m.forward(ids([[text[t]]]), { kvCache: cache }).logits.f;
      // What the cache holds after this call: the first `keep` tokens and the most recent ones, keep + window in all.
      const kept = t + 1 <= sinks.keep + sinks.window ? text.slice(0, t + 1) : [...text.slice(0, sinks.keep), ...text.slice(t + 1 - sinks.window, t + 1)];
      const want = m.forward(ids([kept])).logits.f.subarray((kept.length - 1) * 50);
      assert.ok(maxAbsDiff(got, want) < 1e-5, `token ${t}: ${maxAbsDiff(got, want)}`);
    }
  });
});
