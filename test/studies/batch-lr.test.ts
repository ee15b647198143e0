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
import { batchLr, criticalBatch } from '../../src/studies/batch-lr.js';
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

/** Loss as a parabola in log2 lr around lr*(B) = lr0 (B/4)^k, on top of a batch-size curve, with seed noise. */
function world(k: number, noise = 0.002) {
  const r = rng(5);
  return (run: SyntheticRun) => {
    const B = run.point.$batch as number, lr = run.point.$lr as number;
    const best = (k >= 0 ? 1e-3 : 8e-3) * (B / 4) ** k;
    const base = 2.5 + (B > 16 ? 0.1 * Math.log2(B / 16) : 0);
    return base + 0.02 * (Math.log2(lr) - Math.log2(best)) ** 2 + noise * (r() - 0.5) * 2;
  };
}

test('analysis: lr* ∝ sqrt(B) -> supported, k near 0.5 with the square-root rule inside; critical batch between 16 and 32', async () => {
  const s = syntheticStudy(batchLr.plan('small'), world(0.5));
  try {
    const a = await batchLr.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'supported', a.reason);
    const d = a.data as { powerLaw: { k: number; ci: [number, number] }; critical: { batch: number; reached: boolean; ci: [number, number] } };
    assert.ok(Math.abs(d.powerLaw.k - 0.5) < 0.1, `k ${d.powerLaw.k}`);
    assert.ok(d.powerLaw.ci[0] < 0.5 && d.powerLaw.ci[1] > 0.5);
    assert.ok(d.critical.reached && d.critical.batch > 16 && d.critical.batch < 32, `critical ${d.critical.batch}`);
    assert.match(a.evidence.join('\n'), /square-root rule \(k = 0\.5\) is inside/);
  } finally { s.dispose(); }
});

test('analysis: lr* falling with B -> not supported; diverged cells count as missing', async () => {
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
});
