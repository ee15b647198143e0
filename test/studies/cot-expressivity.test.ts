// The cot-expressivity study: the plan gives direct and chain-of-thought runs the same model,
// context, batch and steps (so the same parameters and training tokens); the verdict rule on
// synthetic accuracies; and the smoke budget end to end (real training, accuracy measured into
// the store).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricSeries, queryRuns } from '../../src/lab/results/query.js';
import { Store } from '../../src/lab/results/store.js';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { cotExpressivity, exactKey, judgeCot, wilson, type CotPoint } from '../../src/studies/cot-expressivity.js';
import { resolveRunConfig } from '../../src/training/assemble.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: every (task, size, depth) has a direct and a cot run with the same model, context, batch and steps', () => {
  const runs = expandStudy(cotExpressivity.plan('small'));
  const b = cotExpressivity.budgets.small;
  assert.equal(runs.length, b.tasks.reduce((s, t) => s + t.sizes.length, 0) * b.depths.length * 2);
  const byCell = new Map<string, typeof runs>();
  for (const r of runs) {
    const key = `${r.point.$task}|${r.point.$size}|${r.point.$depth}`;
    byCell.set(key, [...(byCell.get(key) ?? []), r]);
  }
  for (const [key, pair] of byCell) {
    assert.deepEqual(pair.map((r) => r.point.$format).sort(), ['cot', 'direct'], key);
    const [a, c] = pair.map((r) => resolveRunConfig(r.config));
    assert.deepEqual(a.model, c.model, key);
    for (const k of ['context', 'batchSize', 'steps', 'lr', 'seed'] as const) assert.equal(a[k], c[k], `${key}: ${k}`);
    assert.equal(a.model.nLayer, pair[0].point.$depth);
    assert.ok(a.data.corpus.kind === 'task' && c.data.corpus.kind === 'task' && a.data.corpus.sizes[0] === c.data.corpus.sizes[0]);
  }
});

function points(acc: (format: 'direct' | 'cot', size: number) => number, items = 200): CotPoint[] {
  const out: CotPoint[] = [];
  for (const size of [2, 4, 6]) for (const format of ['direct', 'cot'] as const) {
    out.push({ task: 'arithmetic', size, depth: 3, format, exact: acc(format, size), tokenAcc: acc(format, size), items });
  }
  return out;
}

test('judgeCot: cot high everywhere and direct falling -> supported; cot failing -> not supported; overlap -> inconclusive', () => {
  const a = judgeCot(points((f, n) => (f === 'cot' ? 0.97 : 1 - n / 8)), 3);
  assert.equal(a.verdict, 'supported', a.reason);
  const b = judgeCot(points((f, n) => (f === 'cot' ? (n === 6 ? 0.6 : 0.97) : 1 - n / 8)), 3);
  assert.equal(b.verdict, 'not supported');
  assert.match(b.reason, /below 90% at n = 6/);
  const c = judgeCot(points((f) => (f === 'cot' ? 0.97 : 0.95)), 3);
  assert.equal(c.verdict, 'not supported');
  assert.match(c.reason, /answering directly still reaches 90%/);
  const e = judgeCot(points((f) => (f === 'cot' ? 0.1 : 0.1)), 3);
  assert.equal(e.verdict, 'inconclusive', e.reason);
  assert.match(e.reason, /not learned even at the smallest size/);
  const d = judgeCot(points((f, n) => (f === 'cot' ? 0.97 : 0.8 - n / 100), 30), 3);
  assert.equal(d.verdict, 'inconclusive', d.reason);
  assert.deepEqual(wilson(0, 0), [0, 1]);
  const [lo, hi] = wilson(0.5, 100);
  assert.ok(Math.abs(lo - 0.4038) < 1e-3 && Math.abs(hi - 0.5962) < 1e-3, `${lo} ${hi}`);
});

test('smoke end to end: trains direct and cot runs, measures their accuracy into the store, reports phase diagrams', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-cot-'));
  tempDirs.push(dir);
  const db = join(dir, 'windtunnel.db');
  const r = await runStudy(cotExpressivity, { budget: 'smoke', runsDir: dir, db });
  assert.deepEqual(r.unfinished, []);
  assert.ok(r.analysis);
  const store = Store.open(db, { readonly: true });
  try {
    const runs = queryRuns(store, { sweep: 'cot-expressivity-smoke' });
    assert.equal(runs.length, 4);
    const exact = metricSeries(store, { runs: runs.map((x) => x.id), keys: [exactKey] });
    assert.equal(exact.length, 4);
    for (const p of exact) assert.ok(p.value !== null && p.value >= 0 && p.value <= 1);
  } finally {
    store.close();
  }
  const md = readFileSync(join(r.report!.dir, 'report.md'), 'utf8');
  assert.match(md, /phase-lis-cot|accuracy over depth and size/);
});
