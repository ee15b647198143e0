import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, noGrad } from '../../src/engine/index.js';
import { generate, sampleToken, samplingDistribution } from '../../src/models/sampling.js';
import { KVCache, Transformer } from '../../src/models/transformer.js';
import { ids, maxAbsDiff, randomIds, tinyConfig } from './helpers.js';

const close = (a: ArrayLike<number>, b: number[], tol = 1e-12) => assert.ok(maxAbsDiff(a, b) < tol, `${Array.from(a)} vs ${b}`);

for (const layout of ['gpt2', 'llama'] as const) {
  test(`${layout}: KV-cached decoding gives the logits of a full forward`, () => {
    const m = new Transformer(tinyConfig(layout), { seed: 11 });
    const x = randomIds(2, 12, 50);
    const V = 50, T = 12;
    noGrad(() => {
      const full = m.forward(x).logits.toArray(); // [2, 12, V]
      const at = (b: number, t: number) => full.slice((b * T + t) * V, (b * T + t + 1) * V);
      const cache = new KVCache(m.config.nLayer);
      const rows = [x.toArray().slice(0, T), x.toArray().slice(T)];
      const prefill = m.forward(ids(rows.map((r) => r.slice(0, 5))), { kvCache: cache }).logits.toArray(); // [2, 5, V]
      for (let b = 0; b < 2; b++) for (let t = 0; t < 5; t++) {
        assert.ok(maxAbsDiff(prefill.slice((b * 5 + t) * V, (b * 5 + t + 1) * V), at(b, t)) < 1e-5);
      }
      for (let t = 5; t < T; t++) {
        const step = m.forward(ids(rows.map((r) => [r[t]])), { kvCache: cache }).logits.toArray(); // [2, 1, V]
        for (let b = 0; b < 2; b++) assert.ok(maxAbsDiff(step.slice(b * V, (b + 1) * V), at(b, t)) < 1e-5, `${layout} step ${t} row ${b}`);
      }
      assert.equal(cache.length, T);
      assert.deepEqual((cache.state[1] as unknown as { k: { shape: number[] } }).k.shape, [2, T, 4, 8]);
    });
  });

  test(`${layout}: generate is deterministic for a seed and the same with or without the cache, past nCtx too`, () => {
    const m = new Transformer(tinyConfig(layout), { seed: 12 });
    const prompt = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]];
    const o = { maxNewTokens: 20, temperature: 1.5, topK: 20, seed: 42 };
    const a = generate(m, prompt, o);
    assert.deepEqual(a.shape, [2, 25]);
    assert.deepEqual(a.toArray().slice(0, 5), prompt[0]);
    assert.deepEqual(generate(m, prompt, o).toArray(), a.toArray());
    assert.deepEqual(generate(m, prompt, { ...o, useKVCache: false }).toArray(), a.toArray());
    assert.notDeepEqual(generate(m, prompt, { ...o, seed: 43 }).toArray(), a.toArray());
  });
}

test('greedy decoding follows the argmax, and stopToken ends generation', () => {
  const m = new Transformer(tinyConfig('llama'), { seed: 13 });
  const out = generate(m, [3, 1, 4], { maxNewTokens: 4, temperature: 0 });
  const seq = [3, 1, 4];
  for (let i = 0; i < 4; i++) {
    const logits = noGrad(() => m.forward(ids([seq]), { lastLogitsOnly: true }).logits.toArray());
    seq.push(logits.indexOf(Math.max(...logits)));
  }
  assert.deepEqual(out.toArray(), seq);
  const stopped = generate(m, [3, 1, 4], { maxNewTokens: 10, temperature: 0, stopToken: seq[4] });
  assert.deepEqual(stopped.toArray(), seq.slice(0, 5));
});

test('temperature, top-k and top-p give the right distribution on a toy vocabulary', () => {
  const p = [0.5, 0.2, 0.15, 0.1, 0.05];
  const logits = p.map(Math.log);
  close(samplingDistribution(logits), p);
  close(samplingDistribution(logits, { topK: 2 }), [0.5 / 0.7, 0.2 / 0.7, 0, 0, 0]);
  close(samplingDistribution(logits, { topK: 5 }), p);
  // top-p keeps the most likely tokens until their mass reaches p (the crossing token included).
  close(samplingDistribution(logits, { topP: 0.6 }), [0.5 / 0.7, 0.2 / 0.7, 0, 0, 0]);
  close(samplingDistribution(logits, { topP: 0.8 }), [0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0, 0]);
  close(samplingDistribution(logits, { topP: 0.3 }), [1, 0, 0, 0, 0]);
  close(samplingDistribution(logits, { topP: 1 }), p);
  // top-k first, then top-p on what is left (renormalised): 0.5/0.85 = 0.588 < 0.6, so the second is kept.
  close(samplingDistribution(logits, { topK: 3, topP: 0.6 }), [0.5 / 0.7, 0.2 / 0.7, 0, 0, 0]);
  // temperature 2 takes the square root of the probabilities before renormalising.
  const sq = p.map(Math.sqrt), z = sq.reduce((s, v) => s + v, 0);
  close(samplingDistribution(logits, { temperature: 2 }), sq.map((v) => v / z));
  close(samplingDistribution(logits, { temperature: 0 }), [1, 0, 0, 0, 0]);
  close(samplingDistribution([1, 3, 3, 0], { topK: 1 }), [0, 0.5, 0.5, 0], 1e-12); // ties at the k-th value are kept
  for (const bad of [{ temperature: -1 }, { topK: 0 }, { topK: 1.5 }, { topP: 0 }, { topP: 1.2 }]) {
    assert.throws(() => samplingDistribution(logits, bad), /sampling: /);
  }
});

test('sampled frequencies follow the filtered distribution and never leave it', () => {
  const logits = [0.5, 0.2, 0.15, 0.1, 0.05].map(Math.log);
  const rng = new Rng(5);
  const counts = [0, 0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleToken(logits, { topP: 0.8 }, rng)]++;
  const want = [0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0, 0];
  for (let j = 0; j < 5; j++) assert.ok(Math.abs(counts[j] / n - want[j]) < 0.015, `token ${j}: ${counts[j] / n} vs ${want[j]}`);
  assert.equal(counts[3] + counts[4], 0);
});
