// The mup-transfer study: its plan, the verdict rule on synthetic stores (muP's lr stays put and
// wider is better while SP's drifts: supported; muP drifting too: not supported), and the smoke
// budget end to end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { mupTransfer } from '../../src/studies/mup-transfer.js';
import { rng, syntheticStudy, type SyntheticRun } from './synthetic.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: 7+ log-spaced lrs at 4+ widths spanning 8x or more in every arm; clipping off, untied head, muP with zero readout and query, TP5 SP with fan-in init', () => {
  for (const budget of ['small', 'full'] as const) {
    const b = mupTransfer.budgets[budget];
    assert.ok(b.lrs.length >= 7 && b.widths.length >= 4 && b.widths[b.widths.length - 1] / b.widths[0] >= 8);
    const ratios = b.lrs.slice(1).map((x, i) => x / b.lrs[i]);
    assert.ok(ratios.every((q) => Math.abs(q - ratios[0]) < 1e-9), 'log-spaced');
    const runs = expandStudy(mupTransfer.plan(budget));
    assert.equal(runs.length, b.arms.length * b.widths.length * b.lrs.length * b.seeds.length);
    for (const r of runs) {
      const c = r.config as { clip: number; model: { tiedEmbeddings: boolean; initScheme?: string; mup?: { baseWidth: number; readoutZeroInit: boolean; queryZeroInit: boolean } } };
      assert.equal(c.clip, 0);
      assert.equal(c.model.tiedEmbeddings, false);
      if (r.point.$param === 'mup') assert.deepEqual([c.model.mup!.baseWidth, c.model.mup!.readoutZeroInit, c.model.mup!.queryZeroInit], [b.widths[0], true, true]);
      else assert.equal(c.model.mup, undefined);
      assert.equal(c.model.initScheme, r.point.$param === 'sp-tp5' ? 'fan-in' : undefined);
    }
  }
  assert.deepEqual(mupTransfer.budgets.full.arms, ['sp', 'sp-tp5', 'mup']);
  assert.ok(mupTransfer.budgets.full.seeds.length >= 5, 'the full budget bootstraps seeds');
});

/** Loss: a width curve plus a parabola in log2 lr around lr*(param, width), with seed noise. */
function world(o: { mupDrift: number; spDrift: number; noise?: number }) {
  const r = rng(13);
  return (run: SyntheticRun) => {
    const w = run.point.$width as number, lr = run.point.$lr as number, param = run.point.$param as string;
    const best = 8e-3 * (w / 32) ** (param === 'mup' ? o.mupDrift : o.spDrift);
    return 2 + 0.6 * (32 / w) ** 0.3 + 0.03 * (Math.log2(lr) - Math.log2(best)) ** 2 + (o.noise ?? 0.002) * (r() - 0.5) * 2;
  };
}

test('analysis: muP\'s best lr stays put and wider wins everywhere, SP\'s drifts as 1/width -> supported', async () => {
  const s = syntheticStudy(mupTransfer.plan('small'), world({ mupDrift: 0, spDrift: -1 }));
  try {
    const a = await mupTransfer.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'supported', `${a.reason}\n${a.evidence.join('\n')}`);
    const d = a.data as { drift: { mup: { slope: number }; sp: { slope: number } } };
    assert.ok(Math.abs(d.drift.mup.slope) < 0.1 && Math.abs(d.drift.sp.slope + 1) < 0.15);
  } finally { s.dispose(); }
});

test('analysis: muP drifting like SP -> not supported; a diverged wider muP model breaks "wider is better"', async () => {
  const s = syntheticStudy(mupTransfer.plan('small'), world({ mupDrift: -1, spDrift: -1 }));
  try {
    const a = await mupTransfer.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'not supported');
    assert.match(a.reason, /muP's best lr stays put/);
  } finally { s.dispose(); }
  const t = syntheticStudy(mupTransfer.plan('small'), (r) => (r.point.$param === 'mup' && r.point.$width === 256 && r.point.$lr === 3.2e-2 ? null : world({ mupDrift: 0, spDrift: -1 })(r)));
  try {
    const a = await mupTransfer.analyse(t.store, t.runs);
    assert.equal(a.verdict, 'not supported');
    assert.match(a.reason, /wider is better .*width 256 diverged/);
  } finally { t.dispose(); }
});

test('adaptive grid: an optimum at the edge extends that arm-width\'s grid one step at a time, up to maxExtend; the plan is a function of the results', () => {
  // SP's optimum at width 256 lies at 0.1, above the grid's top (3.2e-2)
  const edge = (r: SyntheticRun) => {
    const w = r.point.$width as number, lr = r.point.$lr as number, p = r.point.$param as string;
    const best = p === 'sp' && w === 256 ? 0.1 : 4e-3;
    return 2.5 + 0.03 * (Math.log2(lr) - Math.log2(best)) ** 2;
  };
  const s = syntheticStudy(mupTransfer.plan('small'), edge);
  try {
    const next = expandStudy(mupTransfer.plan('small', s.runs));
    const added = next.filter((r) => !s.runs.some((x) => x.name === r.name)).map((r) => r.name).sort();
    assert.deepEqual(added, ['sp-w256-lr0.064-s0', 'sp-w256-lr0.064-s1']);
  } finally { s.dispose(); }
  // with every extension trained (0.064, 0.128, then 0.256), the optimum is bracketed and the plan stops growing
  const grown = (() => {
    let plan = mupTransfer.plan('small');
    for (let i = 0; i < 5; i++) {
      const t = syntheticStudy(plan, edge);
      try { plan = mupTransfer.plan('small', t.runs); } finally { t.dispose(); }
    }
    return expandStudy(plan);
  })();
  const lrs = [...new Set(grown.filter((r) => r.point.$param === 'sp' && r.point.$width === 256).map((r) => r.point.$lr as number))].sort((a, b) => a - b);
  assert.deepEqual(lrs.slice(-3), [0.064, 0.128, 0.256], 'extended until the optimum (0.1, nearest grid lr 0.128) is bracketed');
  assert.equal(new Set(grown.filter((r) => r.point.$param === 'mup').map((r) => r.point.$lr)).size, mupTransfer.budgets.small.lrs.length, 'other grids unchanged');
});

test('analysis: an optimum still at the edge is kept as evidence (muP cannot "stay"); regret is 0 where the lr transfers and large where it drifts', async () => {
  const s = syntheticStudy(mupTransfer.plan('small'), (r) => {
    const w = r.point.$width as number, lr = r.point.$lr as number, p = r.point.$param as string;
    const best = p === 'mup' ? (w === 256 ? 0.5 : 8e-3) : 8e-3 * (w / 32) ** -1;
    return 2 + 0.6 * (32 / w) ** 0.3 + 0.03 * (Math.log2(lr) - Math.log2(best)) ** 2 + 0.001 * ((r.point.$seed as number) - 0.5);
  });
  try {
    const a = await mupTransfer.analyse(s.store, s.runs);
    const d = a.data as { drift: { mup: { edges: number[]; result: string } }; regrets: { param: string; width: number; regret: number }[] };
    assert.deepEqual(d.drift.mup.edges, [256]);
    assert.notEqual(d.drift.mup.result, 'stays');
    const regret = (p: string, w: number) => d.regrets.find((g) => g.param === p && g.width === w)!.regret;
    assert.ok(Math.abs(regret('mup', 64)) < 1e-3, `muP regret at 64: ${regret('mup', 64)}`);
    assert.ok(regret('sp', 256) > 0.1, `SP regret at 256: ${regret('sp', 256)}`);
    assert.match(a.evidence.join('\n'), /transfer regret/);
    assert.match(a.evidence.join('\n'), /parametric bootstrap/);
  } finally { s.dispose(); }
});

test('smoke end to end: every arm trains over the grid; the report names each arm\'s parametrization and states claim and verdict', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-mup-'));
  tempDirs.push(dir);
  const r = await runStudy(mupTransfer, { budget: 'smoke', runsDir: dir, db: join(dir, 'windtunnel.db') });
  assert.deepEqual(r.unfinished, []);
  const md = readFileSync(r.report!.markdown, 'utf8');
  assert.match(md, /^# Study mup-transfer \(smoke\): /);
  assert.match(md, /\*\*Claim\.\*\* Under muP the best learning rate stays put/);
  assert.match(md, /SP \(constant std 0\.02\).*SP \(TP5: variance 1\/fan-in\).*muP \(zero readout and query\)/);
  assert.equal(r.analysis!.verdict, 'inconclusive', 'one seed and two widths decide nothing');
  const widths = (r.analysis!.data as { widths: { param: string; width: number; cells: { loss: number }[] }[] }).widths;
  const at = (p: string) => widths.find((w) => w.param === p && w.width === 16)!.cells.map((c) => c.loss);
  // the three arms are different models at the base width (init differs), all finite
  assert.ok(['sp', 'sp-tp5', 'mup'].every((p) => at(p).some(Number.isFinite)));
  assert.notDeepEqual(at('sp'), at('sp-tp5'));
});
