// The ln-nonlinearity study: the fits themselves (a linear stack is one linear map; LN-Nets are
// not), the verdict on synthetic fits (true, false and undecided claims), the plan (three norms
// with rank logging), and a smoke run end to end.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricSeries, queryRuns } from '../../src/lab/results/query.js';
import { Store } from '../../src/lab/results/store.js';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { fitRandomLabels, judgeLnNonlinearity, lnNonlinearity, type FitResult } from '../../src/studies/ln-nonlinearity.js';
import { resolveRunConfig } from '../../src/training/assemble.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('fits: a linear stack fits any labels on inDim points but not on many; an LN-Net with groups fits more', () => {
  const common = { inDim: 4, width: 8, steps: 300, lr: 2e-2, seed: 3 };
  // Four points in general position in R^4 are linearly separable under any labelling (with a bias-free
  // head the origin is the only constraint): the linear stack must reach 1.
  assert.equal(fitRandomLabels({ ...common, points: 4, depth: 2, groups: 1, norm: false }), 1);
  const linear = fitRandomLabels({ ...common, points: 48, depth: 3, groups: 1, norm: false });
  assert.ok(linear < 0.9, `48 random labels in R^4 are beyond a linear map: ${linear}`);
  const grouped = fitRandomLabels({ ...common, points: 48, depth: 3, groups: 2, norm: true, steps: 600 });
  assert.ok(grouped > linear + 0.1, `group LN-Net ${grouped} vs linear ${linear}`);
  assert.equal(fitRandomLabels({ ...common, points: 16, depth: 1, groups: 2, norm: true }), fitRandomLabels({ ...common, points: 16, depth: 1, groups: 2, norm: true }), 'seeded');
  assert.throws(() => fitRandomLabels({ ...common, points: 8, depth: 1, groups: 3, norm: true }), /groups/);
});

function synthetic(acc: (kind: 'ln' | 'linear', depth: number, groups: number) => number): FitResult[] {
  const out: FitResult[] = [];
  for (const seed of [0, 1]) for (const depth of [1, 2, 4]) {
    out.push({ kind: 'linear', depth, groups: 0, seed, accuracy: acc('linear', depth, 0) });
    for (const groups of [1, 2, 4]) out.push({ kind: 'ln', depth, groups, seed, accuracy: acc('ln', depth, groups) });
  }
  return out;
}

test('verdict: supported, not supported and inconclusive on synthetic fits', () => {
  const good = judgeLnNonlinearity(synthetic((k, d, g) => (k === 'linear' ? 0.62 : Math.min(1, 0.6 + 0.05 * d + 0.05 * g))));
  assert.equal(good.verdict, 'supported', good.reason);
  const noGroups = judgeLnNonlinearity(synthetic((k, d) => (k === 'linear' ? 0.62 : 0.6 + 0.08 * d)));
  assert.equal(noGroups.verdict, 'not supported', noGroups.reason);
  assert.match(noGroups.reason, /more groups/);
  const linearFits = judgeLnNonlinearity(synthetic((k, d, g) => (k === 'linear' ? 0.95 : Math.min(1, 0.7 + 0.05 * d + 0.05 * g))));
  assert.equal(linearFits.verdict, 'not supported', linearFits.reason);
  const small = judgeLnNonlinearity(synthetic((k, d, g) => (k === 'linear' ? 0.62 : 0.66 + 0.005 * d + 0.005 * g)));
  assert.equal(small.verdict, 'inconclusive', small.reason);
  assert.equal(judgeLnNonlinearity([]).verdict, 'inconclusive');
});

test('plan: one transformer per norm with rank logging; group LN gets its groups', () => {
  const runs = expandStudy(lnNonlinearity.plan('small'));
  assert.deepEqual(runs.map((r) => r.name).sort(), ['groupnorm-s0', 'layernorm-s0', 'rmsnorm-s0']);
  for (const r of runs) {
    const c = resolveRunConfig(r.config);
    assert.equal(c.model.norm, r.name.split('-')[0]);
    assert.equal(c.model.normGroups, c.model.norm === 'groupnorm' ? 8 : undefined);
    assert.equal(c.rank?.every, 50);
  }
});

test('smoke end to end: transformer runs log rank, the fits are stored once, the report has the verdict and both parts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-ln-'));
  tempDirs.push(dir);
  const db = join(dir, 'windtunnel.db');
  const r = await runStudy(lnNonlinearity, { budget: 'smoke', runsDir: dir, db });
  assert.deepEqual(r.unfinished, []);
  assert.ok(r.analysis);
  const store = Store.open(db, { readonly: true });
  try {
    const runs = queryRuns(store, { sweep: 'ln-nonlinearity-smoke' });
    assert.equal(runs.length, 3);
    const fits = metricSeries(store, { runs: runs.map((x) => x.id) }).filter((p) => p.key.startsWith('lnfit/'));
    assert.equal(fits.length, 2 * (1 + 2), 'two depths, a linear stack and two group counts, one seed');
    const rank = metricSeries(store, { runs: runs.map((x) => x.id) }).filter((p) => p.key === 'rank.eff.block1');
    assert.deepEqual(rank.map((p) => p.step).sort(), [10, 10, 10, 5, 5, 5].sort());
  } finally {
    store.close();
  }
  const md = readFileSync(join(r.report!.dir, 'report.md'), 'utf8');
  assert.match(md, /LN-Net, G=2/);
  assert.match(md, /groupnorm/);
});
