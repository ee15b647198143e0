// The emergence-vs-loss study: the plan (5+ sizes 30x apart, every checkpoint kept and
// validated, tasks mixed into Brown), the fits and verdicts on synthetic points (a size-free
// threshold is found with its interval; a size effect at equal loss fails claim 1; a straight
// rise has no threshold), and the smoke budget end to end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRuns, runTaskEvals } from '../../src/lab/results/query.js';
import { Store } from '../../src/lab/results/store.js';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { emergenceVsLoss, fitHinge, judgeEmergence, leastSquares, nonEmbedding, type Point } from '../../src/studies/emergence-vs-loss.js';
import { resolveRunConfig } from '../../src/training/assemble.js';
import { Rng } from '../../src/base/random.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: 5+ sizes about 30x apart in N, checkpoints and validation at the same steps, all kept, tasks mixed in', () => {
  for (const budget of ['smoke', 'small', 'full'] as const) {
    const runs = expandStudy(emergenceVsLoss.plan(budget)).map((r) => ({ r, c: resolveRunConfig(r.config) }));
    const ns = runs.map(({ c }) => nonEmbedding(c.model));
    assert.ok(runs.length >= 5, budget);
    assert.ok(Math.max(...ns) / Math.min(...ns) >= 25, `${budget}: N spans only ${Math.max(...ns) / Math.min(...ns)}x`);
    for (const { c } of runs) {
      assert.equal(c.checkpointInterval, c.evalInterval);
      assert.equal(c.keepCheckpoints, 0);
      assert.ok(c.data.corpus.kind === 'mix' && c.data.corpus.components.some((x) => x.corpus.kind === 'evals'));
    }
  }
});

test('fits: least squares recovers a line; the hinge recovers its threshold', () => {
  const f = leastSquares([[1, 0], [1, 1], [1, 2]], [1, 3, 5])!;
  assert.ok(Math.abs(f.beta[0] - 1) < 1e-9 && Math.abs(f.beta[1] - 2) < 1e-9 && f.sse < 1e-12);
  const loss = Array.from({ length: 40 }, (_, i) => 2 + i * 0.05);
  const h = fitHinge(loss, loss.map((l) => Math.max(0, 3 - l)))!;
  assert.ok(Math.abs(h.tau - 3) < 0.06, `tau ${h.tau}`);
  assert.ok(h.sse < 0.25 * h.lineSse);
});

function synthetic(value: (loss: number, n: number) => number): Point[] {
  const rng = new Rng(0);
  const out: Point[] = [];
  const sizes = [1e3, 3e3, 1e4, 3e4, 1e5];
  sizes.forEach((n, k) => {
    for (let step = 1; step <= 12; step++) {
      const loss = 4.2 - step * (0.12 + 0.04 * k); // bigger models reach lower losses
      for (const [task, metric] of [['addition:2', 'exact_match'], ['addition:2', 'target_logprob'], ['addition:2', 'token_accuracy'], ['addition:2', 'brier']]) {
        const base = value(loss, n);
        const y = metric === 'exact_match' ? base : metric === 'brier' ? 1 - base : metric === 'target_logprob' ? -3 + 2 * base : base;
        out.push({ run: `n${n}`, n, step, loss, compute: 6 * n * step, task, metric, value: y + 0.005 * (rng.uniform() - 0.5) });
      }
    }
  });
  return out;
}

test('verdicts on synthetic points: a size-free threshold; a size effect; a straight rise', () => {
  const thr = judgeEmergence(synthetic((l) => Math.max(0, 0.8 * (3 - l))), ['addition:2'], 100);
  const d = thr.data as { verdicts: Record<string, string>; claim2: { found: boolean; tauCI: [number, number] }[] };
  assert.equal(d.verdicts.claim1, 'supported', thr.evidence.join('\n'));
  assert.equal(d.verdicts.claim2, 'supported', thr.evidence.join('\n'));
  assert.ok(d.claim2[0].tauCI[0] <= 3 && d.claim2[0].tauCI[1] >= 2.9, `tau interval ${d.claim2[0].tauCI}`);
  const size = judgeEmergence(synthetic((l, n) => Math.max(0, 0.8 * (3 - l)) + 0.1 * Math.log10(n)), ['addition:2'], 100);
  assert.equal((size.data as { verdicts: Record<string, string> }).verdicts.claim1, 'not supported', size.evidence.join('\n'));
  assert.equal(size.verdict, 'not supported');
  const line = judgeEmergence(synthetic((l) => Math.min(1, Math.max(0, 0.3 * (4.3 - l)))), ['addition:2'], 100);
  assert.equal((line.data as { claim2: { found: boolean }[] }).claim2[0].found, false, line.evidence.join('\n'));
  const smoke = judgeEmergence(synthetic((l) => Math.max(0, 0.8 * (3 - l))), ['addition:2'], 50, true);
  assert.equal(smoke.verdict, 'inconclusive');
  assert.match(smoke.reason, /^INCONCLUSIVE \(smoke\)/);
});

test('smoke end to end: five sizes trained with checkpoints, every checkpoint scored on every task, a report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-emergence-'));
  tempDirs.push(dir);
  const db = join(dir, 'windtunnel.db');
  const r = await runStudy(emergenceVsLoss, { budget: 'smoke', runsDir: dir, db });
  assert.deepEqual(r.unfinished, []);
  assert.equal(r.analysis!.verdict, 'inconclusive');
  assert.match(r.analysis!.reason, /INCONCLUSIVE \(smoke\)/);
  const store = Store.open(db, { readonly: true });
  try {
    const runs = queryRuns(store, { sweep: 'emergence-vs-loss-smoke' });
    assert.equal(runs.length, 5);
    for (const run of runs) {
      const evals = runTaskEvals(store, run.id);
      assert.deepEqual([...new Set(evals.map((e) => e.step))], [6, 12], run.name);
      assert.deepEqual([...new Set(evals.map((e) => e.task))].sort(), ['addition:2', 'icl-mapping:1']);
      assert.equal(evals.length, 2 * (6 + 6));
    }
  } finally { store.close(); }
  // the report's task-score table (every report shows the harness's scores of its runs)
  const md = readFileSync(r.report!.markdown, 'utf8');
  assert.match(md, /Task scores/);
  assert.match(md, /\| d8-l1 \| addition:2 \| 0 \| 12 \(2\) \|/);
  assert.ok(r.analysis!.figures.some((f) => f.id === 'loss-addition-2-exact-match') && r.analysis!.figures.some((f) => f.id === 'compute-icl-mapping-1-acc'));
});
