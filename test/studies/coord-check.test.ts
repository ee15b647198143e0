// The coord-check study: the verdict rule on synthetic measurements, and the smoke budget end to
// end (real training, activations measured from the checkpoints and stored as metrics).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricSeries, queryRuns } from '../../src/lab/results/query.js';
import { Store } from '../../src/lab/results/store.js';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { coordCheck, judgeCoords, stepSlopes, type CoordPoint } from '../../src/studies/coord-check.js';
import { rng } from './synthetic.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: SP and muP (base width = the narrowest) at every width and seed, checkpointing each measured step, no clipping', () => {
  const runs = expandStudy(coordCheck.plan('small'));
  const b = coordCheck.budgets.small;
  assert.equal(runs.length, 2 * b.widths.length * b.seeds.length);
  for (const r of runs) {
    const m = (r.config as { model: { mup?: { baseWidth: number } } }).model;
    assert.equal(m.mup?.baseWidth, r.point.$param === 'mup' ? b.widths[0] : undefined);
    assert.deepEqual([(r.config as { clip: number }).clip, (r.config as { checkpointInterval: number }).checkpointInterval], [0, b.every]);
  }
  assert.ok(b.widths[b.widths.length - 1] / b.widths[0] >= 8);
});

/** Synthetic measurements at steps 1..last: RMS(Δx) ∝ width^slope(param, hook, step), with seed noise. */
function points(slope: (param: 'sp' | 'mup', hook: string, step: number) => number, o: { last?: number; seeds?: number[] } = {}): CoordPoint[] {
  const r = rng(9), out: CoordPoint[] = [];
  for (const param of ['sp', 'mup'] as const) for (const width of [32, 64, 128, 256]) for (const seed of o.seeds ?? [0, 1, 2]) {
    for (const hook of ['hook_embed', 'blocks.0.hook_attn_out', 'blocks.0.hook_resid_post', 'logits']) {
      out.push({ param, width, seed, step: 0, hook, rms: 1, drms: 0 });
      for (let step = 1; step <= (o.last ?? 10); step++) {
        const drms = 0.1 * (width / 32) ** slope(param, hook, step) * (1 + 0.05 * (r() - 0.5));
        out.push({ param, width, seed, step, hook, rms: 1, drms });
      }
    }
  }
  return out;
}

test('plan: the full budget has at least as many seeds as the small one', () => {
  assert.ok(coordCheck.budgets.full.seeds.length >= coordCheck.budgets.small.seeds.length);
  assert.ok(coordCheck.budgets.small.seeds.length >= 3);
});

test('stepSlopes: one least-squares slope per seed, their mean and a t-interval over seeds, per step', () => {
  const pts: CoordPoint[] = [];
  // seed 0: slope 1 exactly; seed 1: slope 0 exactly -> mean 0.5, interval wide (two seeds)
  for (const [seed, k] of [[0, 1], [1, 0]] as const) for (const width of [32, 64, 128]) pts.push({ param: 'sp', width, seed, step: 3, hook: 'logits', rms: 1, drms: (width / 32) ** k });
  const [s] = stepSlopes(pts, 0.95);
  assert.equal(s.step, 3);
  assert.equal(s.seeds, 2);
  assert.ok(Math.abs(s.slope - 0.5) < 1e-12);
  // t(0.975, 1) = 12.706, sd = 0.7071, n = 2: half width 12.706 * 0.7071 / sqrt(2) = 6.353
  assert.ok(Math.abs((s.ci![1] - s.ci![0]) / 2 - 6.353) < 1e-2, `${s.ci}`);
});

test('judgeCoords: muP flat and SP growing -> supported; a muP layer growing -> not supported; SP flat too -> inconclusive', () => {
  const grows = (param: 'sp' | 'mup', hook: string, _step?: number): number => (param === 'sp' && hook !== 'hook_embed' ? 1 : 0);
  const a = judgeCoords(points(grows));
  assert.equal(a.verdict, 'supported', a.reason);
  const b = judgeCoords(points((param, hook) => (hook === 'logits' ? 0.8 : grows(param, hook))));
  assert.equal(b.verdict, 'not supported');
  assert.match(b.reason, /: logits 0\.[78]\d* \[/);
  const c = judgeCoords(points(() => 0));
  assert.equal(c.verdict, 'inconclusive');
  assert.match(c.reason, /too gentle/);
  // one seed: no interval over seeds, so nothing is decided, however clean the picture
  assert.equal(judgeCoords(points(grows, { seeds: [0] })).verdict, 'inconclusive');
});

test('judgeCoords: every measured step counts; a muP layer that grows only at an early step breaks the claim at that step', () => {
  const early = (param: 'sp' | 'mup', hook: string, step: number): number => (param === 'sp' && hook !== 'hook_embed' ? 1 : param === 'mup' && hook === 'logits' && step === 2 ? 0.9 : 0);
  const a = judgeCoords(points(early));
  assert.equal(a.verdict, 'not supported', a.reason);
  assert.match(a.reason, /logits 0\.9\d* \[[^\]]+\] at step 2/);
  // the same world judged at the last step alone would have passed
  assert.equal(judgeCoords(points(early).filter((p) => p.step === 0 || p.step === 10)).verdict, 'supported');
});

test('smoke end to end: trains SP and muP, measures activations from the checkpoints into the store; SP\'s update grows with width, muP\'s less', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-coord-'));
  tempDirs.push(dir);
  const db = join(dir, 'windtunnel.db');
  const r = await runStudy(coordCheck, { budget: 'smoke', runsDir: dir, db });
  assert.deepEqual(r.unfinished, []);
  const a = r.analysis!;
  assert.equal(a.verdict, 'inconclusive', 'one seed and two widths give no interval');
  const slopes = (a.data as { slopes: { param: string; hook: string; slope: number }[] }).slopes;
  const at = (param: string, hook: string): number => slopes.find((s) => s.param === param && s.hook === hook)!.slope;
  assert.ok(at('sp', 'logits') > at('mup', 'logits') + 0.3, `SP ${at('sp', 'logits')} vs muP ${at('mup', 'logits')}`);
  const store = Store.open(db, { readonly: true });
  try {
    const run = queryRuns(store, { sweep: 'coord-check-smoke' })[0];
    const pts = metricSeries(store, { runs: [run.id], keys: ['act_drms/logits'] });
    assert.deepEqual(pts.map((p) => p.step), [0, 1, 2, 3]);
    assert.equal(pts[0].value, 0);
  } finally { store.close(); }
});
