// The scaling-law study: its plan (sizes x token budgets on a compute ladder, each size one WSD
// trunk with branched decays), its verdict on synthetic stores drawn from a known law (the
// largest model on the law: supported; off it: not supported), and the smoke budget end to end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coarseGrid } from '../../src/lab/fit/index.js';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { analyseScaling, heldOutRatio, naiveBaseline, planSizes, scalingLaw } from '../../src/studies/scaling-law.js';
import { calibrateScalingLaw, wilson } from '../../src/studies/calibrate.js';
import { rng, syntheticStudy, type SyntheticRun } from './synthetic.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: 5+ sizes with 5+ token budgets each (small, full); one WSD trunk per size, the shorter budgets branched from it', () => {
  for (const budget of ['small', 'full'] as const) {
    const sizes = planSizes(scalingLaw.budgets[budget]);
    assert.ok(sizes.length >= 5);
    // The held-out model is an extrapolation: at least 4x the largest fitted one in N.
    const Ns = sizes.map((s) => s.N).sort((a, b) => a - b);
    assert.ok(Ns[Ns.length - 1] >= heldOutRatio * Ns[Ns.length - 2], `${budget}: ${Ns[Ns.length - 1]} vs ${Ns[Ns.length - 2]}`);
    assert.ok(sizes.every((s) => s.lengths.length >= 5));
    const runs = expandStudy(scalingLaw.plan(budget));
    for (const s of sizes) {
      const mine = runs.filter((r) => r.point.$size === s.index + 1);
      const trunk = mine.filter((r) => r.point.$trunk === true);
      assert.equal(trunk.length, 1);
      assert.equal(trunk[0].point.$length, Math.max(...s.lengths.map((l) => l.steps)));
      assert.ok(mine.filter((r) => r !== trunk[0]).every((r) => r.point.$from === trunk[0].name));
    }
    // The budgets sit on a compute ladder, so IsoFLOP levels hold several sizes.
    const perLevel = new Map<number, number>();
    for (const r of runs) perLevel.set(r.point.$compute as number, (perLevel.get(r.point.$compute as number) ?? 0) + 1);
    assert.ok([...perLevel.values()].filter((n) => n >= 3).length >= 3, `levels with 3+ sizes: ${[...perLevel.values()]}`);
  }
});

const law = { E: 1.5, A: 40, alpha: 0.35, B: 60, beta: 0.35 };

/** Final losses from a known law with multiplicative noise; the largest model optionally off the law. */
function world(o: { noise: number; largestOff?: number }) {
  const r = rng(3);
  return (run: SyntheticRun) => {
    const N = run.point.$N as number, c = run.config as { steps: number; batchSize: number; context: number };
    const D = c.steps * c.batchSize * c.context;
    const off = run.point.$size === planSizes(scalingLaw.budgets.small).length ? (o.largestOff ?? 0) : 0;
    return (law.E + law.A / N ** law.alpha + law.B / D ** law.beta) * (1 + off) * (1 + o.noise * (r() - 0.5) * 2);
  };
}

// The world has no seed effect beyond its 0.2% point noise (sd about 0.1%): the analysis is told so.
const cheap = { grid: coarseGrid, bootstrap: 60, seedNoise: 0.001 };

test('analysis: losses on a known law -> the refit predicts the largest model -> supported, exponents recovered', () => {
  const s = syntheticStudy(scalingLaw.plan('small'), world({ noise: 0.002 }));
  try {
    const a = analyseScaling(s.runs, cheap);
    assert.equal(a.verdict, 'supported', `${a.reason}\n${a.evidence.join('\n')}`);
    const d = a.data as { heldOut: { result: string }[]; fit: { approach3: { alpha: number; beta: number; ci: { alpha: [number, number] } } } };
    assert.equal(d.heldOut.length, scalingLaw.budgets.small.budgetsPerSize);
    assert.ok(Math.abs(d.fit.approach3.alpha - law.alpha) < 0.05 && Math.abs(d.fit.approach3.beta - law.beta) < 0.05);
    assert.ok(d.fit.approach3.ci.alpha[0] <= law.alpha + 0.02 && d.fit.approach3.ci.alpha[1] >= law.alpha - 0.02);
    for (const id of ['loss-vs-tokens', 'loss-surface', 'isoflop', 'isoflop-law', 'frontier', 'held-out', 'exponents']) assert.ok(a.figures.some((f) => f.id === id), id);
  } finally { s.dispose(); }
});

test('analysis: the largest model 8% off the law the others follow -> not supported, naming the misses', () => {
  const s = syntheticStudy(scalingLaw.plan('small'), world({ noise: 0.002, largestOff: 0.08 }));
  try {
    const a = analyseScaling(s.runs, cheap);
    assert.equal(a.verdict, 'not supported', a.reason);
    assert.match(a.reason, /misses the largest model .* by more than 2% at \d of 5 budgets/);
  } finally { s.dispose(); }
});

test('smoke end to end: 3 sizes x 3 budgets trained (6 of them branched), fitted, refitted, reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-scaling-'));
  tempDirs.push(dir);
  const r = await runStudy(scalingLaw, { budget: 'smoke', runsDir: dir, db: join(dir, 'windtunnel.db') });
  assert.deepEqual(r.unfinished, []);
  assert.equal(r.analysis!.verdict, 'inconclusive', 'a smoke run is plumbing, whatever its numbers');
  const md = readFileSync(r.report!.markdown, 'utf8');
  assert.match(md.split('\n')[0], /^# Study scaling-law \(smoke\): INCONCLUSIVE \(smoke\)/);
  assert.match(md, /\*\*Claim\.\*\* A scaling law/);
  assert.match(md, /\*\*Verdict: INCONCLUSIVE \(smoke\)\*\*/);
  assert.ok(existsSync(r.report!.html));
  const d = JSON.parse(readFileSync(r.verdictFile!, 'utf8'));
  assert.equal(d.verdict, 'inconclusive');
  assert.equal(d.label, 'INCONCLUSIVE (smoke)');
  assert.ok(['supported', 'not supported', 'inconclusive'].includes(d.data.smoke.analysisVerdict));
  assert.equal(d.data.points.length, 9);
  assert.equal(d.data.heldOut.length, 3);
});

test('naive baseline: exact when log loss is linear in ln N and ln D', () => {
  const L = (N: number, D: number) => Math.exp(2 - 0.1 * Math.log(N) - 0.05 * Math.log(D));
  const pts = [1e4, 2e4, 4e4].flatMap((N) => [1e6, 4e6].map((D) => ({ params: N, tokens: D, loss: L(N, D) })));
  assert.ok(Math.abs(naiveBaseline(pts, 3.2e5, 2e6) / L(3.2e5, 2e6) - 1) < 1e-12);
});

test('calibration: a held-out model 8% off the law is NOT SUPPORTED, one on it is never NOT SUPPORTED (3 simulated studies each)', () => {
  const rates = calibrateScalingLaw({ replicates: 3, seed: 4, settings: { grid: coarseGrid, bootstrap: 20, loso: false } });
  const byWorld = Object.fromEntries(rates.map((r) => [r.world, r]));
  assert.equal(byWorld.false.counts['not supported'], 3, JSON.stringify(byWorld.false.counts));
  assert.equal(byWorld.true.counts['not supported'], 0, JSON.stringify(byWorld.true.counts));
  assert.ok(rates.every((r) => r.counts.supported + r.counts['not supported'] + r.counts.inconclusive === 3));
  assert.deepEqual(wilson(0, 10).map((x) => +x.toFixed(4)), [0, 0.2775]);
});
