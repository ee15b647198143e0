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

test('plan: 7+ log-spaced lrs at 4+ widths spanning 8x or more, SP and muP (small, full)', () => {
  for (const budget of ['small', 'full'] as const) {
    const b = mupTransfer.budgets[budget];
    assert.ok(b.lrs.length >= 7 && b.widths.length >= 4 && b.widths[b.widths.length - 1] / b.widths[0] >= 8);
    const ratios = b.lrs.slice(1).map((x, i) => x / b.lrs[i]);
    assert.ok(ratios.every((q) => Math.abs(q - ratios[0]) < 1e-9), 'log-spaced');
    const runs = expandStudy(mupTransfer.plan(budget));
    assert.equal(runs.length, 2 * b.widths.length * b.lrs.length * b.seeds.length);
  }
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

test('smoke end to end: both parametrizations train over the grid; the report states claim and verdict', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-mup-'));
  tempDirs.push(dir);
  const r = await runStudy(mupTransfer, { budget: 'smoke', runsDir: dir, db: join(dir, 'windtunnel.db') });
  assert.deepEqual(r.unfinished, []);
  const md = readFileSync(r.report!.markdown, 'utf8');
  assert.match(md, /^# Study mup-transfer \(smoke\): /);
  assert.match(md, /\*\*Claim\.\*\* Under muP the best learning rate stays put/);
  assert.equal(r.analysis!.verdict, 'inconclusive', 'one seed and two widths decide nothing');
  // At the base width muP is SP, bit for bit.
  const widths = (r.analysis!.data as { widths: { param: string; width: number; cells: { loss: number }[] }[] }).widths;
  const base = (p: string) => widths.find((w) => w.param === p && w.width === 16)!.cells.map((c) => c.loss);
  assert.deepEqual(base('mup'), base('sp'));
});
