// Block Influence and patching effects against PyTorch (fixtures/probes/torch-probes.json, written
// by scripts/fixtures/make_probe_fixtures.py with forward hooks on the reference modules) on the
// exported tiny models of fixtures/models/, imported here through the Hugging Face importer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importHF } from '../../src/models/hf.js';
import { blockInfluence } from '../../src/probes/redundancy.js';
import { activationPatching, logitDifference } from '../../src/probes/patching.js';
import { ids } from '../models/helpers.js';

const root = join(import.meta.dirname, '..', '..', 'fixtures');
const expected = JSON.parse(readFileSync(join(root, 'probes', 'torch-probes.json'), 'utf8')) as Record<string, {
  calibration_ids: number[][]; block_influence: number[];
  clean: number[][]; corrupted: number[][]; answer: number[]; wrong: number[];
  metric_clean: number; metric_corrupted: number; resid_pre: number[][]; head: number[][];
}>;

for (const name of ['gpt2-tiny', 'llama-tiny']) {
  test(`${name}: Block Influence and patching effects match PyTorch`, () => {
    const ex = expected[name];
    const model = importHF(join(root, 'models', name), { dtype: 'float64' });
    const bi = blockInfluence(model, [{ ids: ids(ex.calibration_ids) }]);
    bi.forEach((v, l) => assert.ok(Math.abs(v - ex.block_influence[l]) < 1e-9, `BI ${l}: ${v} vs ${ex.block_influence[l]}`));
    const task = { clean: ids(ex.clean), corrupted: ids(ex.corrupted), metric: logitDifference({ correct: ex.answer, wrong: ex.wrong }) };
    for (const site of ['resid_pre', 'head'] as const) {
      const r = activationPatching(model, task, site);
      assert.ok(Math.abs(r.metricClean - ex.metric_clean) < 1e-9 && Math.abs(r.metricCorrupted - ex.metric_corrupted) < 1e-9);
      const want = ex[site];
      r.effects.forEach((row, l) => row.forEach((e, u) => assert.ok(Math.abs(e - want[l][u]) < 1e-8, `${site} layer ${l} unit ${u}: ${e} vs ${want[l][u]}`)));
      // The fixture is not trivial: some effects lie strictly between 0 and 1.
      assert.ok(want.flat().some((e) => e > 0.05 && e < 0.95), `${site}: ${want.flat()}`);
    }
  });
}
