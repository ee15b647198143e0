// Edge attribution patching and path patching against PyTorch (fixtures/probes/torch-circuits.json,
// written by scripts/fixtures/make_circuit_fixtures.py with hooks and autograd on the reference
// modules) on the exported tiny models, imported through the Hugging Face importer. The reference
// has one norm input per layer for all its heads, so edges into heads are compared summed over
// the receiving layer's heads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importHF } from '../../src/models/hf.js';
import { edgeAttribution, pathPatching } from '../../src/probes/circuits.js';
import { logitDifference } from '../../src/probes/patching.js';
import { ids } from '../models/helpers.js';

const root = join(import.meta.dirname, '..', '..', 'fixtures');
const expected = JSON.parse(readFileSync(join(root, 'probes', 'torch-circuits.json'), 'utf8')) as Record<string, {
  clean: number[][]; corrupted: number[][]; answer: number[]; wrong: number[];
  metric_clean: number; metric_corrupted: number; eap: Record<string, number>; path_a0h1_logits: number;
}>;

for (const name of ['gpt2-tiny', 'llama-tiny']) {
  test(`${name}: EAP scores and a direct path match PyTorch`, () => {
    const ex = expected[name];
    const model = importHF(join(root, 'models', name), { dtype: 'float64' });
    const task = { clean: ids(ex.clean), corrupted: ids(ex.corrupted), metric: logitDifference({ correct: ex.answer, wrong: ex.wrong }) };
    const eap = edgeAttribution(model, task, { method: 'eap' });
    assert.ok(Math.abs(eap.metricClean - ex.metric_clean) < 1e-9 && Math.abs(eap.metricCorrupted - ex.metric_corrupted) < 1e-9);
    const mine = new Map<string, number>();
    for (const e of eap.edges) {
      const to = /^a(\d+)\.h\d+$/.exec(e.to);
      const key = `${e.from}->${to ? `heads${to[1]}` : e.to}`;
      mine.set(key, (mine.get(key) ?? 0) + e.score);
    }
    assert.deepEqual([...mine.keys()].sort(), Object.keys(ex.eap).sort(), 'the same edges, heads grouped by receiving layer');
    const scale = Math.max(...Object.values(ex.eap).map(Math.abs));
    for (const [k, want] of Object.entries(ex.eap)) assert.ok(Math.abs(mine.get(k)! - want) < 1e-8 * scale, `${k}: ${mine.get(k)} vs ${want}`);
    assert.ok(Object.values(ex.eap).filter((x) => Math.abs(x) > 1e-3).length > 10, 'the fixture is not trivial');
    const path = pathPatching(model, task, ['a0.h1'], ['logits']);
    assert.ok(Math.abs(path.effect - ex.path_a0h1_logits) < 1e-8, `path ${path.effect} vs ${ex.path_a0h1_logits}`);
  });
}
