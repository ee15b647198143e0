// Attention patterns per head and the demonstration-head finder, against direct computations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../../src/engine/index.js';
import { Transformer } from '../../src/models/transformer.js';
import { blockHookNames } from '../../src/models/hooks.js';
import { attentionPatterns, demonstrationHeads, type DemonstrationPrompt } from '../../src/probes/attention.js';
import { attentionPatternSpec, circuitGraphSpec } from '../../src/lab/presentation/probe-figures.js';
import { renderSvg } from '../../src/lab/presentation/plots.js';
import { ids, randomIds, tinyConfig } from '../models/helpers.js';

const model = new Transformer(tinyConfig('gpt2', { nLayer: 2 }), { seed: 3, dtype: 'float64' });

test('attentionPatterns returns hook_pattern of the chosen row, per head', () => {
  const x = randomIds(2, 6, 50, 9);
  const pats = attentionPatterns(model, x, { row: 1, layers: [1] });
  assert.equal(pats.length, 4);
  const ref = noGrad(() => model.runWithCache(x, { names: [blockHookNames(1).pattern] }).cache.get(blockHookNames(1).pattern));
  for (const p of pats) for (let i = 0; i < 36; i++) assert.equal(p.pattern[i], ref.f[((1 * 4 + p.head) * 6) * 6 + i]);
  assert.throws(() => attentionPatterns(model, x, { row: 2 }), /row 2/);
});

test('demonstrationHeads: mass on demonstration tokens from the last position, and its least-squares slope', () => {
  const rows = [[5, 6, 7, 1], [5, 6, 7, 8, 9, 10, 1], [5, 6, 7, 8, 9, 10, 11, 12, 13, 1]];
  const prompts: DemonstrationPrompt[][] = rows.map((r) => [{ ids: r, demonstration: r.map((_, i) => i < r.length - 1) }]);
  const heads = demonstrationHeads(model, prompts);
  assert.equal(heads.length, 8);
  for (const h of heads) {
    h.massByCount.forEach((m, k) => {
      const p = attentionPatterns(model, ids([rows[k]]), { layers: [h.layer] })[h.head];
      const T = rows[k].length;
      const want = p.pattern.slice((T - 1) * T, T * T - 1).reduce((a, b) => a + b, 0); // everything but the query token itself
      assert.ok(Math.abs(m - want) < 1e-12);
    });
    const [a, b, c] = h.massByCount;
    assert.ok(Math.abs(h.slope - (c - a) / 2) < 1e-12, 'least squares over k = 1, 2, 3 is (m3 - m1) / 2');
    void b;
  }
  for (let i = 1; i < heads.length; i++) assert.ok(heads[i - 1].slope >= heads[i].slope, 'sorted by slope');
  assert.throws(() => demonstrationHeads(model, [prompts[0]]), /at least two/);
});

test('figures: attention heatmaps and a circuit graph render to SVG', async () => {
  const svg = await renderSvg(attentionPatternSpec(attentionPatterns(model, randomIds(1, 5, 50)), { tokens: ['a', 'b', 'c', 'd', 'e'] }));
  assert.match(svg, /L1 H3/);
  const g = await renderSvg(circuitGraphSpec(model.config, [{ from: 'a0.h1', to: 'logits', score: -0.5 }, { from: 'input', to: 'm1', score: 0.2 }]));
  assert.match(g, /a0\.h1/);
  assert.match(g, /logits/);
  assert.throws(() => circuitGraphSpec(model.config, [{ from: 'a7.h1', to: 'logits', score: 1 }]), /not in a 2-layer/);
});
