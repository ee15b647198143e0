// The batch-lr study: its grid, the best-lr and critical-batch rules on synthetic stores (a world
// where lr* grows as sqrt(B): supported; where it falls: not supported), and the smoke budget end
// to end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runStudy } from '../../src/studies/run.js';
import { bestLr } from '../../src/studies/stats.js';
import { expandStudy } from '../../src/studies/study.js';
import { batchLr, centredMean, criticalBatch, fitCriticalBatch, minBootstrapSeeds } from '../../src/studies/batch-lr.js';
import { rng, syntheticStudy, type SyntheticRun } from './synthetic.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: every cell of batch sizes x learning rates x seeds, each run the same tokens', () => {
  const b = batchLr.budgets.small;
  const runs = expandStudy(batchLr.plan('small'));
  assert.equal(runs.length, b.batchSizes.length * b.lrs.length * b.seeds.length);
  for (const r of runs) {
    const c = r.config as { batchSize: number; context: number; steps: number; schedule: { warmupSteps: number } };
    assert.ok(Math.abs(c.batchSize * c.context * c.steps - b.tokens) <= c.batchSize * c.context / 2, r.name);
    assert.equal(c.schedule.warmupSteps, Math.round(0.1 * c.steps));
  }
});

test('plan: every batch size is scored on the same validation sequences, and every run logs the noise scale', () => {
  for (const budget of ['smoke', 'small', 'full'] as const) {
    const b = batchLr.budgets[budget];
    for (const r of expandStudy(batchLr.plan(budget))) {
      const c = r.config as { batchSize: number; evalBatches: number; steps: number; noiseScale: { every: number } };
      assert.equal(c.evalBatches * c.batchSize, b.evalSequences, r.name);
      assert.ok(c.noiseScale.every >= 1 && c.noiseScale.every <= Math.max(1, c.steps / 10), r.name);
    }
  }
  assert.ok(batchLr.budgets.full.seeds.length >= minBootstrapSeeds, 'the full budget has enough seeds for its 95% bootstrap');
});

test('fitCriticalBatch: S = S_min (1 + B_crit / B) is recovered exactly; centredMean has no lag on a line', () => {
  const pts = [4, 8, 16, 32, 64].map((batch) => ({ batch, steps: 130 * (1 + 32 / batch) }));
  const f = fitCriticalBatch(pts)!;
  assert.ok(Math.abs(f.sMin - 130) < 1e-9 && Math.abs(f.eMin - 130 * 32) < 1e-6 && Math.abs(f.bCrit - 32) < 1e-9);
  // (S/S_min - 1)(E/E_min - 1) = 1 at every point
  for (const p of pts) assert.ok(Math.abs((p.steps / f.sMin - 1) * (p.steps * p.batch / f.eMin - 1) - 1) < 1e-9);
  assert.equal(fitCriticalBatch([{ batch: 4, steps: 10 }]), null);
  const xs = [0, 1, 2, 3, 4, 5, 6];
  assert.deepEqual(centredMean(xs, xs.map((x) => 2 * x), 1).slice(1, -1), [2, 4, 6, 8, 10]);
});

test('bestLr: parabola vertex in log lr, clamped to the neighbours; an edge or a diverged neighbour is not bracketed', () => {
  const cells = [1e-3, 2e-3, 4e-3, 8e-3].map((lr) => ({ lr, loss: 2 + (Math.log2(lr) - Math.log2(3e-3)) ** 2 }));
  const b = bestLr(cells)!;
  assert.ok(b.bracketed && Math.abs(b.lr / 3e-3 - 1) < 1e-9);
  assert.equal(bestLr([{ lr: 1, loss: 1 }, { lr: 2, loss: 2 }, { lr: 4, loss: 3 }])!.bracketed, false);
  assert.equal(bestLr([{ lr: 1, loss: 3 }, { lr: 2, loss: 1 }, { lr: 4, loss: NaN }])!.bracketed, false);
  assert.equal(bestLr([{ lr: 1, loss: NaN }]), null);
});

test('criticalBatch: where the best loss crosses 1% above the lowest, log-interpolated; not reached when it never does', () => {
  const c = criticalBatch([{ batch: 4, loss: 2 }, { batch: 8, loss: 2.004 }, { batch: 16, loss: 2.01 }, { batch: 32, loss: 2.06 }])!;
  // limit 2.02 lies 1/5 of the way from 16 (2.01) to 32 (2.06) in loss: 16 * 2^(1/5)
  assert.ok(c.reached && Math.abs(c.batch - 16 * 2 ** 0.2) < 1e-9);
  assert.deepEqual(criticalBatch([{ batch: 4, loss: 2 }, { batch: 8, loss: 2.01 }]), { batch: 8, reached: false });
});

/**
 * Final loss as a parabola in log2 lr around lr*(B) = lr0 (B/4)^k, on top of a batch-size curve,
 * with seed noise; with `curves`, a training curve every 10 steps on which the steps to reach a
 * loss follow McCandlish et al.'s trade-off with B_crit = 32: L(s) = 2 + c (1 + 32/B) / s.
 */
function world(k: number, noise = 0.002, curves = false) {
  const r = rng(5);
  return (run: SyntheticRun) => {
    const B = run.point.$batch as number, lr = run.point.$lr as number;
    const best = (k >= 0 ? 1e-3 : 8e-3) * (B / 4) ** k;
    const base = 2.5 + (B > 16 ? 0.1 * Math.log2(B / 16) : 0);
    const loss = base + 0.02 * (Math.log2(lr) - Math.log2(best)) ** 2 + noise * (r() - 0.5) * 2;
    if (!curves) return loss;
    const steps = (run.config as { steps: number }).steps;
    const curve = Array.from({ length: Math.floor(steps / 10) }, (_, i) => ({ step: 10 * (i + 1), loss: 2 + 50 * (1 + 32 / B) / (10 * (i + 1)) }));
    return { loss, curve };
  };
}

test('analysis: lr* ∝ sqrt(B) -> supported, k near 0.5 with the square-root rule inside; loss-based batch between 16 and 32; McCandlish B_crit recovered from the curves', async () => {
  const s = syntheticStudy(batchLr.plan('small'), world(0.5, 0.002, true));
  try {
    const a = await batchLr.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'supported', a.reason);
    const d = a.data as { powerLaw: { k: number; ci: [number, number] }; lossBased: { batch: number; reached: boolean }; critical: { bCrit: number }; batches: { bestLrCi: unknown }[] };
    assert.ok(Math.abs(d.powerLaw.k - 0.5) < 0.1, `k ${d.powerLaw.k}`);
    assert.ok(d.powerLaw.ci[0] < 0.5 && d.powerLaw.ci[1] > 0.5);
    assert.ok(d.lossBased.reached && d.lossBased.batch > 16 && d.lossBased.batch < 32, `loss-based ${d.lossBased.batch}`);
    assert.ok(Math.abs(d.critical.bCrit / 32 - 1) < 0.15, `B_crit ${d.critical.bCrit}`);
    assert.match(a.evidence.join('\n'), /square-root rule \(k = 0\.5\) is inside/);
    assert.match(a.evidence.join('\n'), /B_crit = E_min \/ S_min = /);
    // two seeds: no "95%" bootstrap interval on any best lr
    assert.ok(d.batches.every((b) => b.bestLrCi === null));
    assert.ok(a.caveats.some((c) => /fewer than 5, so no seed-bootstrap intervals/.test(c)));
  } finally { s.dispose(); }
});

test('analysis: a cell with one diverged seed counts as diverged (not the survivors\' mean); five seeds give bootstrap intervals', async () => {
  const s = syntheticStudy(batchLr.plan('small'), (r) => (r.point.$batch === 16 && r.point.$lr === 1.6e-2 && r.point.$seed === 1 ? null : world(0.5)(r)));
  try {
    const a = await batchLr.analyse(s.store, s.runs);
    const cells = (a.data as { batches: { batch: number; cells: { lr: number; loss: number }[] }[] }).batches.find((b) => b.batch === 16)!.cells;
    assert.ok(Number.isNaN(cells.find((c) => c.lr === 1.6e-2)!.loss));
    assert.ok(Number.isFinite(cells.find((c) => c.lr === 8e-3)!.loss));
  } finally { s.dispose(); }
  const t = syntheticStudy(batchLr.plan('full'), world(0.5, 0.01));
  try {
    const a = await batchLr.analyse(t.store, t.runs);
    const bs = (a.data as { batches: { bracketed: boolean; bestLrCi: [number, number] | null }[] }).batches;
    assert.ok(bs.filter((b) => b.bracketed).every((b) => b.bestLrCi !== null && b.bestLrCi[0] < b.bestLrCi[1]));
  } finally { t.dispose(); }
});

test('analysis: lr* falling with B -> not supported; diverged cells are reported', async () => {
  const s = syntheticStudy(batchLr.plan('small'), (r) => ((r.point.$lr as number) >= 1.6e-2 && r.point.$batch === 64 ? null : world(-0.5)(r)));
  try {
    const a = await batchLr.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'not supported', a.reason);
    assert.ok(a.caveats.some((c) => /failed or diverged/.test(c)));
  } finally { s.dispose(); }
});

test('smoke end to end: the grid trains and the report states claim and verdict', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-batch-'));
  tempDirs.push(dir);
  const r = await runStudy(batchLr, { budget: 'smoke', runsDir: dir, db: join(dir, 'windtunnel.db') });
  assert.deepEqual(r.unfinished, []);
  const md = readFileSync(r.report!.markdown, 'utf8');
  assert.match(md, /^# Study batch-lr \(smoke\): INCONCLUSIVE \(smoke\)/);
  assert.match(md, /\*\*Claim\.\*\* At a fixed token budget/);
  assert.match(md, /\*\*Verdict: INCONCLUSIVE \(smoke\)\*\*/);
  // the figures are also SVG files beside report.md, which shows them
  const figs = r.analysis!.figures;
  assert.ok(figs.length > 0);
  assert.deepEqual(r.report!.svgs.map((p) => basename(p)), figs.map((f) => `${f.id}.svg`));
  for (const f of figs) {
    assert.ok(md.includes(`![${f.title}](figures/${f.id}.svg)`), `report.md shows ${f.id}`);
    assert.match(readFileSync(join(r.report!.dir, 'figures', `${f.id}.svg`), 'utf8'), /^<\?xml[^]*<svg /);
  }
  assert.equal(r.analysis!.verdict, 'inconclusive', 'two batch sizes cannot give an interval on k');
  // the noise scale was logged by the trainer and summarised per batch size
  const gns = (r.analysis!.data as { critical: { tradeOffs: { bSimple: number }[] } | null }).critical;
  assert.match(md, /Gradient noise scale B_simple = tr\(Sigma\)\/\|G\|\^2/);
  assert.ok(gns === null || gns.tradeOffs.some((t) => Number.isFinite(t.bSimple)), JSON.stringify(gns));
});
