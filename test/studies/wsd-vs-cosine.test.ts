// The wsd-vs-cosine study: its plan (one trunk per seed, decays branched from it), its verdict
// rule on synthetic stores (supported, not supported, inconclusive), and the smoke budget end to
// end through the CLI with real (tiny) training.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/lab/results/store.js';
import { queryRuns } from '../../src/lab/results/query.js';
import { expandStudy, planCost, trainedSteps } from '../../src/studies/study.js';
import { wsdVsCosine } from '../../src/studies/wsd-vs-cosine.js';
import { rng, syntheticStudy, type SyntheticRun } from './synthetic.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

const vars = (r: SyntheticRun) => ({ role: r.point.$role, L: r.point.$length as number, seed: r.point.$seed as number, main: r.point.$main === true });

test('plan (smoke): per length and peak lr a cosine run; per peak lr one WSD trunk whose stable-phase checkpoint is branched into a 10% decay', () => {
  const runs = expandStudy(wsdVsCosine.plan('smoke'));
  assert.deepEqual(runs.map((r) => r.name), ['cos-L20-s0', 'cos-L40-s0', 'wsd-L40-d10-1-sqrt-s0', 'wsd-L20-d10-1-sqrt-s0',
    'cos-L20-lr0.006-s0', 'cos-L40-lr0.006-s0', 'wsd-L40-d10-1-sqrt-lr0.006-s0', 'wsd-L20-d10-1-sqrt-lr0.006-s0']);
  assert.deepEqual(runs.map((r) => (r.config as { lr: number }).lr), [3e-3, 3e-3, 3e-3, 3e-3, 6e-3, 6e-3, 6e-3, 6e-3]);
  assert.equal(runs[7].point.$from, 'wsd-L40-d10-1-sqrt-lr0.006-s0');
  const trunk = runs[2], branch = runs[3];
  assert.deepEqual([branch.point.$from, branch.point.$at], ['wsd-L40-d10-1-sqrt-s0', 18]);
  assert.deepEqual((branch.config as { schedule: unknown }).schedule, { kind: 'wsd', warmupSteps: 2, decayShape: '1-sqrt', decaySteps: 2, minLrRatio: 0 });
  const t = trunk.config as { checkpointInterval: number; keepCheckpoints: number; schedule: { decaySteps: number } };
  assert.equal(18 % t.checkpointInterval, 0);
  assert.equal(t.keepCheckpoints, 0);
  assert.equal(t.schedule.decaySteps, 4);
  // A branch trains only its decay.
  assert.equal(trainedSteps(branch.config, branch.point), 2);
  assert.equal(planCost(wsdVsCosine.plan('smoke')).steps, 2 * (20 + 40 + 40 + 2));
});

test('plan (small, full): seeds, the decay-length and shape sweep at the longest length, all branched from one trunk per seed', () => {
  for (const budget of ['small', 'full'] as const) {
    const runs = expandStudy(wsdVsCosine.plan(budget));
    const b = wsdVsCosine.budgets[budget];
    const Lmax = b.lengths[b.lengths.length - 1];
    assert.ok(b.seeds.length >= 3, 'seeds give the spread the verdict needs');
    for (const seed of b.seeds) {
      const mine = runs.filter((r) => r.point.$seed === seed && r.point.$role === 'wsd' && r.point.$ref === true);
      const trunks = mine.filter((r) => r.point.$from === undefined);
      assert.equal(trunks.length, 1, 'one trained-from-scratch WSD run per seed');
      assert.ok(mine.filter((r) => r !== trunks[0]).every((r) => r.point.$from === trunks[0].name));
      const atMax = mine.filter((r) => r.point.$length === Lmax);
      assert.deepEqual(new Set(atMax.map((r) => `${r.point.$fraction}`)), new Set(['0.025', '0.05', '0.1', '0.2']));
      assert.deepEqual(new Set(atMax.filter((r) => r.point.$fraction === 0.1).map((r) => r.point.$shape)), new Set(['linear', 'cosine', 'exponential', 'half-life', '1-sqrt']));
      const hl = atMax.find((r) => r.point.$shape === 'half-life')!.config as { schedule: { halfLife: number; decaySteps: number } };
      assert.equal(hl.schedule.halfLife, 0.2 * hl.schedule.decaySteps);
      // every other peak lr: a cosine family and a WSD trunk with its main decays only
      for (const lr of b.lrs.filter((x) => x !== b.lr)) {
        const other = runs.filter((r) => r.point.$seed === seed && r.point.$lr === lr);
        assert.equal(other.length, 2 * b.lengths.length);
      }
      // The trunk is the shortest decay at the longest length, so every other branch point is in its stable phase.
      assert.equal(trunks[0].point.$fraction, 0.025);
    }
    const c = planCost(wsdVsCosine.plan(budget));
    const cosSteps = b.lengths.reduce((a, L) => a + L, 0) * b.seeds.length * b.lrs.length;
    assert.ok(c.steps < cosSteps * 1.8, `the WSD family plus its sweep costs less than the cosine runs again (${c.steps} vs ${cosSteps})`);
  }
  // small stays within its half hour on two cores by the cost model
  assert.ok(planCost(wsdVsCosine.plan('small')).minutes < 30);
});

/** Synthetic final losses: a length curve, a per-seed offset shared by both schedules, small independent noise. */
function world(o: { wsdShift: (L: number) => number; pairNoise: number; seedNoise?: number }) {
  const noise = rng(7);
  return (r: SyntheticRun) => {
    const { role, L, seed } = vars(r);
    const base = 2 + 10 / Math.sqrt(L) + (o.seedNoise ?? 0.03) * Math.sin(seed * 2.1);
    const own = o.pairNoise * (noise() - 0.5) * 2;
    return role === 'cosine' ? base + own : base + o.wsdShift(L) + own + (r.point.$main === true ? 0 : 0.01);
  };
}

test('analysis: WSD clearly below cosine at every length, family cheaper -> supported', async () => {
  const s = syntheticStudy(wsdVsCosine.plan('small'), world({ wsdShift: () => -0.05, pairNoise: 0.002 }));
  try {
    const a = await wsdVsCosine.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'supported', a.reason);
    const data = a.data as { lengths: { result: string; diff: { ci: [number, number] } }[]; cost: { wsd: { runs: number; steps: number }; cosine: { runs: number } } };
    assert.deepEqual(data.lengths.map((l) => l.result), ['holds', 'holds', 'holds', 'holds']);
    assert.ok(data.lengths.every((l) => l.diff.ci[1] < 0));
    // stable phase to 720 once, then decays of 20 + 40 + 60 + 80 steps: 920 steps = 1.15 runs of 800
    assert.equal(data.cost.wsd.steps, 920);
    assert.equal(data.cost.wsd.runs, 1.15);
    assert.equal(data.cost.cosine.runs, 2.5);
    assert.match(a.evidence[0], /200 steps .*WSD - cosine -0\.0\d+ \[-0\.0\d+, -0\.0\d+\].*below/);
    assert.match(a.evidence.join('\n'), /Arithmetic, not evidence .*\(1 - f\) Lmax \+ f sum\(L\) = 920 steps against sum\(L\) = 2000/);
    const shapes = a.tables.flatMap((t) => t.rows.map((row) => row[1]));
    assert.ok(shapes.includes('half-life (MiniCPM, 0.5^((s-S)/T), T = 20% of the decay)') && shapes.includes('exponential (geometric to 1% of the peak)'), 'each exponential form is labelled');
    assert.ok(a.figures.some((f) => f.id === 'end-loss') && a.figures.some((f) => f.id === 'decay-shape'));
  } finally { s.dispose(); }
});

test('analysis: tuned against tuned: WSD worse than cosine at the shared lr but better at its own best lr -> supported, naming each lr', async () => {
  // cosine is best at 3e-3, WSD at 6e-3; at 3e-3 WSD is 0.05 worse, at its own best 0.02 better
  const s = syntheticStudy(wsdVsCosine.plan('small'), (r) => {
    const { role, L, seed } = vars(r);
    const lr = r.point.$lr as number;
    const best = role === 'cosine' ? 3e-3 : 6e-3;
    const shift = role === 'cosine' ? 0 : -0.02;
    return 2 + 10 / Math.sqrt(L) + 0.03 * Math.sin(seed * 2.1) + shift + 0.07 * Math.log2(lr / best) ** 2 + (r.point.$main === true || role === 'cosine' ? 0 : 0.01);
  });
  try {
    const a = await wsdVsCosine.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'supported', a.reason);
    const d = a.data as { lengths: { cosineLr: number; wsdLr: number; diff: { mean: number } }[] };
    assert.ok(d.lengths.every((l) => l.cosineLr === 3e-3 && l.wsdLr === 6e-3 && Math.abs(l.diff.mean + 0.02) < 1e-9));
    assert.match(a.evidence[0], /best peak lr \(WSD 0\.006, cosine 0\.003\)/);
    assert.ok(a.caveats.some((c) => /end of the grid \(WSD at 0\.006\)/.test(c)), 'the WSD optimum is at the top of the grid');
  } finally { s.dispose(); }
});

test('analysis: WSD above cosine beyond noise at one length -> not supported, naming it', async () => {
  const s = syntheticStudy(wsdVsCosine.plan('small'), world({ wsdShift: (L) => (L === 400 ? 0.08 : -0.02), pairNoise: 0.002 }));
  try {
    const a = await wsdVsCosine.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'not supported');
    assert.match(a.reason, /At 400 steps WSD ends above cosine by \+0\.0\d+/);
    assert.match(a.evidence[1], /ABOVE/);
  } finally { s.dispose(); }
});

test('analysis: differences within the seed noise -> inconclusive; one seed -> inconclusive', async () => {
  const s = syntheticStudy(wsdVsCosine.plan('small'), world({ wsdShift: () => 0.005, pairNoise: 0.05 }));
  try {
    const a = await wsdVsCosine.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'inconclusive');
    assert.match(a.reason, /straddles the margin/);
  } finally { s.dispose(); }
  const one = syntheticStudy(wsdVsCosine.plan('smoke'), world({ wsdShift: () => -0.3, pairNoise: 0 }));
  try {
    const a = await wsdVsCosine.analyse(one.store, one.runs);
    assert.equal(a.verdict, 'inconclusive');
    assert.match(a.reason, /One seed/);
  } finally { one.dispose(); }
});

test('analysis: a failed trunk leaves its lengths without data -> inconclusive, the failure noted', async () => {
  const s = syntheticStudy(wsdVsCosine.plan('small'), (r) => (r.name === 'wsd-L800-d2.5-1-sqrt-s1' ? null : world({ wsdShift: () => -0.05, pairNoise: 0.002 })(r)));
  try {
    const a = await wsdVsCosine.analyse(s.store, s.runs);
    // 2 seeds still pair at every length, so the lengths hold; the seed's cost cannot be counted but the others' can.
    assert.notEqual(a.verdict, 'not supported');
    assert.ok(a.caveats.some((c) => /did not finish/.test(c) && /wsd-L800-d2\.5-1-sqrt-s1: failed/.test(c)));
  } finally { s.dispose(); }
});

test('smoke end to end through the CLI: trains, branches, writes the report (claim and verdict first); a second run trains nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-wsd-'));
  tempDirs.push(dir);
  const cli = (): ReturnType<typeof spawnSync> => spawnSync(process.execPath, ['bin/windtunnel.js', 'study', 'wsd-vs-cosine', '--budget', 'smoke', '--runs-dir', dir],
    { encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  const r = cli();
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(String(r.stderr), /round 2: 2 of 8 ready runs to train \(2 branched/);
  const md = readFileSync(join(dir, 'reports', 'wsd-vs-cosine-smoke', 'report.md'), 'utf8');
  const head = md.split('\n').slice(0, 16).join('\n');
  assert.match(head, /^# Study wsd-vs-cosine \(smoke\): INCONCLUSIVE \(smoke\)/);
  assert.match(head, /\*\*Claim\.\*\* Each WSD decay/);
  assert.match(head, /\*\*Verdict: INCONCLUSIVE \(smoke\)\*\*/);
  assert.ok(existsSync(join(dir, 'reports', 'wsd-vs-cosine-smoke', 'report.html')));
  const verdict = JSON.parse(readFileSync(join(dir, 'reports', 'wsd-vs-cosine-smoke', 'verdict.json'), 'utf8'));
  assert.equal(verdict.runs.done, 8);
  assert.equal(verdict.verdict, 'inconclusive', 'one seed cannot decide');
  // The branch really was branched: it resumed from the trunk's checkpoint and trained 2 steps.
  const store = Store.open(join(dir, 'windtunnel.db'), { readonly: true });
  try {
    const runs = queryRuns(store, { sweep: 'wsd-vs-cosine-smoke' });
    assert.deepEqual(runs.map((x) => x.status), Array(8).fill('done'));
    const branch = runs.find((x) => x.name === 'wsd-L20-d10-1-sqrt-s0')!;
    const state = JSON.parse(readFileSync(join(branch.dir!, 'ckpt-18', 'state.json'), 'utf8'));
    assert.equal(state.branchedFrom.step, 18);
    assert.ok(existsSync(join(branch.dir!, 'ckpt-20')));
    assert.equal(verdict.data.cost.wsd.steps, 36 + 2 + 4);
  } finally { store.close(); }
  const again = cli();
  assert.equal(again.status, 0, String(again.stderr));
  assert.doesNotMatch(String(again.stderr), /start /);
});
