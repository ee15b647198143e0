// The layer-redundancy study: the plan, the verdict rule on synthetic measurements, and the smoke
// budget end to end (real training; Block Influence and deletion curves measured into the store).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../../src/engine/index.js';
import { metricSeries, queryRuns } from '../../src/lab/results/query.js';
import { Store } from '../../src/lab/results/store.js';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { judgeRedundancy, layerRedundancy, retained, unigramLoss, type RedundancyResult } from '../../src/studies/layer-redundancy.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: one run per depth and seed, validation windows for calibration and evaluation', () => {
  const b = layerRedundancy.budgets.small;
  const runs = expandStudy(layerRedundancy.plan('small'));
  assert.equal(runs.length, b.depths.length * b.seeds.length);
  for (const r of runs) {
    assert.equal((r.config as { model: { nLayer: number } }).model.nLayer, r.point.$depth);
    assert.equal((r.config as { evalBatches: number }).evalBatches, b.calibrationBatches + b.evalBatches);
  }
});

/** A model whose loss rises by `step(order, k)` per deleted block from a full loss of 2 (unigram 3). */
function result(depth: number, seed: number, rise: (order: string, k: number) => number): RedundancyResult {
  const K = depth / 2;
  const curve = (o: string) => Array.from({ length: K + 1 }, (_, k) => 2 + rise(o, k));
  return {
    depth, seed, bi: Array.from({ length: depth }, (_, l) => 0.1 + l / 100), unigramLoss: 3,
    loss: { bi: curve('bi'), 'last-first': curve('last-first'), random: curve('random'), 'loss-increase': curve('loss-increase') },
  };
}

test('judgeRedundancy: small BI losses that beat the others -> supported; large losses -> not supported; a model worse than unigram -> inconclusive', () => {
  const good = (o: string, k: number) => (o === 'bi' ? 0.02 : 0.2) * k;
  const a = judgeRedundancy([result(8, 0, good), result(8, 1, good), result(12, 0, good)]);
  assert.equal(a.verdict, 'supported', a.reason);
  assert.ok(Math.abs(retained(result(8, 0, good), 'bi', 2) - 0.96) < 1e-12);
  const bad = (o: string, k: number) => (o === 'bi' ? 0.3 : 0.2) * k;
  const b = judgeRedundancy([result(8, 0, bad), result(12, 0, bad)]);
  assert.equal(b.verdict, 'not supported', b.reason);
  const mixed = judgeRedundancy([result(8, 0, good), result(12, 0, bad)]);
  assert.equal(mixed.verdict, 'inconclusive', mixed.reason);
  const worse = result(8, 0, good);
  worse.unigramLoss = 1.5;
  const c = judgeRedundancy([worse]);
  assert.equal(c.verdict, 'inconclusive');
  assert.match(c.reason, /do not beat a unigram model/);
});

test('unigramLoss: add-one smoothed frequencies of the calibration targets', () => {
  const b = (t: number[]) => ({ ids: tensor(Int32Array.from(t), [1, t.length], { dtype: 'int32' }), targets: tensor(Int32Array.from(t), [1, t.length], { dtype: 'int32' }) });
  // Calibration 0,0,1 over V=3: counts 3,2,1 of 6. Evaluation 0,2: -(ln 3/6 + ln 1/6) / 2.
  assert.ok(Math.abs(unigramLoss([b([0, 0, 1])], [b([0, 2])], 3) - -(Math.log(0.5) + Math.log(1 / 6)) / 2) < 1e-12);
});

test('smoke end to end: trains, measures Block Influence and deletion curves into the store, reports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-redundancy-'));
  tempDirs.push(dir);
  const db = join(dir, 'windtunnel.db');
  const r = await runStudy(layerRedundancy, { budget: 'smoke', runsDir: dir, db });
  assert.deepEqual(r.unfinished, []);
  const results = (r.analysis!.data as { results: RedundancyResult[] }).results;
  assert.equal(results.length, 1);
  assert.equal(results[0].bi.length, 4);
  assert.deepEqual(Object.values(results[0].loss).map((c) => c.length), [3, 3, 3, 3], 'k = 0, 1, 2 for every order');
  assert.ok(new Set(Object.values(results[0].loss).map((c) => c[0])).size === 1, 'every order starts from the full model');
  const store = Store.open(db, { readonly: true });
  try {
    const run = queryRuns(store, { sweep: 'layer-redundancy-smoke' })[0];
    assert.equal(metricSeries(store, { runs: [run.id], keys: ['redundancy/bi/0', 'redundancy/unigram_loss'] }).length, 2);
  } finally { store.close(); }
});
