// `study emergence-vs-loss`: is downstream performance a function of pretraining loss alone, with
// thresholds that survive continuous metrics? (Du et al. 2024, against Schaeffer et al. 2023.)
//
// Plan: models of 5+ sizes (non-embedding parameters about 30x apart or more), each trained on
// Brown mixed with evaluation-task items (the `evals` corpus as a component of `mix`), with a
// checkpoint and a validation loss every `every` steps, all kept. Measurement (in analyse, like
// cot-expressivity's): every checkpoint of every run is scored on every task with every metric
// (src/training/task-eval.ts) into the store's task_evals; the validation loss at that step is the
// run's own held-out loss (Brown and task documents, the mix's validation split).
//
// Claims, each with a verdict, on each task's headline metric (exact_match for target tasks, acc
// for choice tasks) unless said otherwise:
//   1 same loss, same ability: y = a + b*loss + c*loss^2 + beta*ln(N) fitted on every checkpoint;
//     the 95% interval of beta's effect across the sizes, beta*ln(Nmax/Nmin), from a bootstrap
//     over runs (checkpoints of one run are not independent). Holds when that interval lies
//     within +-margin (0.05 of the metric's scale); fails when it excludes 0 and passes the margin.
//   2 thresholds: a hinge y = c + s*max(0, tau - loss) against a straight line; tau's 95% interval
//     by the same bootstrap. A threshold is found when the hinge cuts the line's squared error by
//     a quarter or more, s > 0 beyond its interval, tau's interval lies inside the observed loss
//     range, and the plateau c is within 0.05 of chance. Then: is tau the same across sizes? Each
//     size's own hinge tau (where a size spans the threshold) must fall in the pooled interval
//     (widened by 0.05 nats, the resolution that matters at this scale).
//   3 metric ablation: for each task with a threshold, the hinge on each continuous metric
//     (target/correct log-probability, token accuracy or choice probability, Brier negated):
//     survives when it also passes the threshold test with tau's interval overlapping the
//     headline one; disappears when the line fits about as well (the hinge cuts < 10%).
// The study's verdict: supported when all three hold; not supported when claim 1 fails or no
// claim-2 threshold exists although performance rose clearly; otherwise inconclusive. The smoke
// budget only checks the plumbing: always INCONCLUSIVE (smoke).

import { existsSync } from 'node:fs';
import type { Figure } from '../lab/presentation/plots.js';
import { scatterChart, type ScatterRow } from '../lab/presentation/plots.js';
import type { ReportTable } from '../lab/presentation/report.js';
import { evalSeries, runTaskEvals } from '../lab/results/query.js';
import type { Store, TaskEvalRow } from '../lab/results/store.js';
import { Rng } from '../base/random.js';
import { parseEvalTaskRef } from '../data/evals/index.js';
import { evaluateRunCheckpoints, higherIsBetter } from '../training/task-eval.js';
import { listCheckpoints } from '../training/checkpoint.js';
import { fmt, v } from './stats.js';
import { planSweep, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';

export interface EmergenceBudget {
  /** Model shapes, smallest first. */
  sizes: { dModel: number; nLayer: number; nHead: number }[];
  steps: number;
  /** Checkpoint and validation interval. */
  every: number;
  batchSize: number;
  context: number;
  lr: number;
  evalBatches: number;
  /** Tasks mixed into training and evaluated (NAME:SIZE). */
  tasks: string[];
  /** Task items in the training mix per task, and the mix weight of tasks against Brown (1). */
  taskItems: number;
  taskWeight: number;
  /** Test items per task per checkpoint. */
  items: number;
  categories?: string[];
  bootstrap: number;
}

const budgets: Record<Budget, EmergenceBudget> = {
  smoke: {
    sizes: [8, 12, 16, 24, 32].map((d) => ({ dModel: d, nLayer: d >= 24 ? 2 : 1, nHead: 2 })), steps: 12, every: 6, batchSize: 4, context: 32, lr: 3e-3, evalBatches: 1,
    tasks: ['addition:2', 'icl-mapping:1'], taskItems: 200, taskWeight: 1, items: 12, categories: ['news'], bootstrap: 50,
  },
  small: {
    sizes: [16, 24, 32, 48, 64].map((d) => ({ dModel: d, nLayer: d >= 32 ? 2 : 1, nHead: 2 })).concat([{ dModel: 96, nLayer: 2, nHead: 4 }]),
    steps: 1500, every: 150, batchSize: 16, context: 64, lr: 3e-3, evalBatches: 8,
    tasks: ['addition:2', 'reverse:3', 'icl-mapping:3', 'brown-cloze:6'], taskItems: 4000, taskWeight: 1, items: 100, categories: ['news', 'editorial', 'reviews'], bootstrap: 300,
  },
  full: {
    sizes: [32, 48, 64, 96, 128, 192].map((d) => ({ dModel: d, nLayer: d >= 96 ? 4 : 2, nHead: 4 })),
    steps: 3000, every: 250, batchSize: 32, context: 128, lr: 2e-3, evalBatches: 16,
    tasks: ['addition:2', 'addition:3', 'reverse:4', 'icl-mapping:4', 'unscramble:4', 'brown-cloze:8', 'brown-pos:12'], taskItems: 20000, taskWeight: 1, items: 300, bootstrap: 500,
  },
};

/** Non-embedding parameters of a GPT-2 block stack: 12 d^2 per layer (what the size term uses). */
export const nonEmbedding = (s: { dModel: number; nLayer: number }): number => 12 * s.nLayer * s.dModel * s.dModel;

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const corpus = {
    kind: 'mix', components: [
      { corpus: b.categories ? { kind: 'brown', categories: b.categories } : { kind: 'brown' }, weight: 1 },
      { corpus: { kind: 'evals', tasks: b.tasks, train: b.taskItems }, weight: b.taskWeight },
    ],
  };
  const base = {
    model: { preset: 'gpt2' }, data: { corpus, tokenizer: { kind: 'byte' }, sampler: { kind: 'windows' } },
    lr: b.lr, schedule: { kind: 'cosine', warmupSteps: Math.max(2, Math.round(b.steps / 20)), minLrRatio: 0.1 },
    batchSize: b.batchSize, context: b.context, steps: b.steps, evalInterval: b.every, evalBatches: b.evalBatches,
    checkpointInterval: b.every, keepCheckpoints: 0, logInterval: 10, seed: 0,
  };
  const runs: PlannedRun[] = b.sizes.map((s) => ({
    run: `d${s.dModel}-l${s.nLayer}`,
    set: { 'model.dModel': s.dModel, 'model.nLayer': s.nLayer, 'model.nHead': s.nHead },
    vars: { n: nonEmbedding(s), budget, tasks: b.tasks.join(','), items: b.items, bootstrap: b.bootstrap, tokensPerStep: b.batchSize * b.context },
  }));
  return planSweep({ study: 'emergence-vs-loss', budget, base, runs });
}

// ---- measurement -----------------------------------------------------------------------------

/** Scores every checkpoint of a finished run on the study's tasks into task_evals (skips what is there). */
export function measureRun(store: Store, r: StudyRun, tasks: string[], items: number): boolean {
  const dir = r.record.dir;
  if (!dir || !existsSync(dir)) return false;
  const have = new Set(runTaskEvals(store, r.id).map((t) => `${t.step} ${t.task}`));
  const refs = tasks.map(parseEvalTaskRef);
  const steps = listCheckpoints(dir).filter((s) => s > 0 && tasks.some((t) => !have.has(`${s} ${t}`)));
  if (steps.length === 0) return true;
  const rows: TaskEvalRow[] = [];
  for (const c of evaluateRunCheckpoints(dir, refs, { steps, count: items, seed: 0, shots: 0 })) {
    for (const res of c.results) rows.push({ step: c.step, task: `${res.task}:${res.size}`, shots: 0, items: res.items, seed: 0, metrics: res.metrics });
  }
  store.logTaskEvals(r.id, rows);
  return true;
}

// ---- fits ------------------------------------------------------------------------------------

/** Least squares: coefficients and residual sum of squares (null when X'X is singular). */
export function leastSquares(X: number[][], y: number[]): { beta: number[]; sse: number } | null {
  const p = X[0]?.length ?? 0;
  const A = Array.from({ length: p }, (_, i) => Array.from({ length: p + 1 }, (_, j) => X.reduce((s, row, k) => s + row[i] * (j < p ? row[j] : y[k]), 0)));
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    if (Math.abs(A[piv][c]) < 1e-12) return null;
    [A[c], A[piv]] = [A[piv], A[c]];
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let j = c; j <= p; j++) A[r][j] -= f * A[c][j];
    }
  }
  const beta = A.map((row, i) => row[p] / row[i]);
  const sse = X.reduce((s, row, k) => s + (y[k] - row.reduce((t, x, j) => t + x * beta[j], 0)) ** 2, 0);
  return { beta, sse };
}

export interface HingeFit { tau: number; c: number; s: number; sse: number; lineSse: number }

/** y = c + s*max(0, tau - loss), tau on a grid over the observed losses; and the straight line's error. */
export function fitHinge(loss: number[], y: number[]): HingeFit | null {
  if (loss.length < 4) return null;
  const line = leastSquares(loss.map((l) => [1, l]), y);
  const sorted = [...new Set(loss)].sort((a, b) => a - b);
  if (!line || sorted.length < 4) return null;
  let best: HingeFit | null = null;
  const lo = sorted[1], hi = sorted[sorted.length - 1];
  for (let g = 0; g <= 60; g++) {
    const tau = lo + ((hi - lo) * g) / 60;
    const f = leastSquares(loss.map((l) => [1, Math.max(0, tau - l)]), y);
    if (f && (!best || f.sse < best.sse)) best = { tau, c: f.beta[0], s: f.beta[1], sse: f.sse, lineSse: line.sse };
  }
  return best;
}

export interface Point { run: string; n: number; step: number; loss: number; compute: number; task: string; metric: string; value: number }

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q, lo = Math.floor(i), hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}

/** A bootstrap over runs (clusters): resample runs with replacement, refit, 2.5% and 97.5% quantiles. */
function clusterBootstrap(points: Point[], reps: number, seed: number, stat: (ps: Point[]) => number | null): [number, number] | null {
  const runs = [...new Set(points.map((p) => p.run))];
  const rng = new Rng(seed);
  const vals: number[] = [];
  for (let r = 0; r < reps; r++) {
    const pick: Point[] = [];
    for (let i = 0; i < runs.length; i++) {
      const run = runs[rng.int(runs.length)];
      pick.push(...points.filter((p) => p.run === run).map((p) => ({ ...p, run: `${run}#${i}` })));
    }
    const x = stat(pick);
    if (x !== null && Number.isFinite(x)) vals.push(x);
  }
  return vals.length >= Math.max(10, reps / 2) ? [quantile(vals, 0.025), quantile(vals, 0.975)] : null;
}

const margin = 0.05;
/** Per-size thresholds count as the same when within this many nats of the pooled interval (the fit grids tau in steps of 1/60 of the loss range). */
const sameTolerance = 0.05;
const orient = (metric: string, y: number) => (higherIsBetter(metric) ? y : -y);

export interface ThresholdResult { found: boolean; fit: HingeFit | null; tauCI: [number, number] | null; sCI: [number, number] | null; reduction: number; reason: string }

export function findThreshold(ps: Point[], chance: number | null, reps: number): ThresholdResult {
  const y = ps.map((p) => orient(p.metric, p.value)), loss = ps.map((p) => p.loss);
  const fit = fitHinge(loss, y);
  if (!fit) return { found: false, fit: null, tauCI: null, sCI: null, reduction: 0, reason: 'too few distinct losses to fit' };
  const reduction = fit.lineSse > 0 ? 1 - fit.sse / fit.lineSse : 0;
  const tauCI = clusterBootstrap(ps, reps, 1, (q) => fitHinge(q.map((p) => p.loss), q.map((p) => orient(p.metric, p.value)))?.tau ?? null);
  const sCI = clusterBootstrap(ps, reps, 2, (q) => fitHinge(q.map((p) => p.loss), q.map((p) => orient(p.metric, p.value)))?.s ?? null);
  const lmin = Math.min(...loss), lmax = Math.max(...loss);
  const inside = tauCI !== null && tauCI[0] > lmin && tauCI[1] < lmax;
  const plateauAtChance = chance === null || Math.abs(fit.c - orient(ps[0].metric, chance)) <= margin;
  const rising = sCI !== null && sCI[0] > 0;
  const found = reduction >= 0.25 && rising && inside && plateauAtChance;
  const reason = found ? 'threshold' : [
    reduction < 0.25 ? `the hinge cuts the line's error by only ${fmt(100 * reduction, 2)}%` : null,
    !rising ? 'no rise below the threshold beyond noise' : null,
    !inside ? "tau's interval reaches the edge of the observed losses" : null,
    !plateauAtChance ? `the plateau ${fmt(fit.c, 3)} is not at chance` : null,
  ].filter(Boolean).join('; ');
  return { found, fit, tauCI, sCI, reduction, reason };
}

// ---- analysis --------------------------------------------------------------------------------

const headline = (kind: 'target' | 'choices') => (kind === 'target' ? 'exact_match' : 'acc');
const continuous = (kind: 'target' | 'choices') => (kind === 'target' ? ['target_logprob', 'token_accuracy', 'brier'] : ['correct_logprob', 'choice_prob', 'brier']);

function analyse(store: Store, runs: StudyRun[]): Analysis {
  const done = runs.filter((r) => r.record.status === 'done');
  const tasks = (v<string>(runs[0], 'tasks') ?? '').split(',').filter(Boolean);
  const items = v<number>(runs[0], 'items') ?? 100;
  for (const r of done) measureRun(store, r, tasks, items);
  const points: Point[] = [];
  for (const r of done) {
    const losses = new Map(evalSeries(store, { runs: [r.id] }).filter((e) => e.key === 'loss' && e.value !== null).map((e) => [e.step, e.value!]));
    const n = v<number>(r, 'n')!, perStep = v<number>(r, 'tokensPerStep')!;
    for (const t of runTaskEvals(store, r.id)) {
      const loss = losses.get(t.step);
      if (loss === undefined || t.value === null || !tasks.includes(t.task)) continue;
      points.push({ run: r.name, n, step: t.step, loss, compute: 6 * n * perStep * t.step, task: t.task, metric: t.metric, value: t.value });
    }
  }
  const analysis = judgeEmergence(points, tasks, v<number>(runs[0], 'bootstrap') ?? 300, v<string>(runs[0], 'budget') === 'smoke');
  const missing = runs.filter((r) => r.record.status !== 'done');
  if (missing.length) analysis.caveats.push(`${missing.length} run(s) did not finish; they are left out.`);
  return analysis;
}

/** The verdicts from measured points alone (the tests feed it synthetic ones). */
export function judgeEmergence(points: Point[], tasks: string[], reps: number, smoke = false): Analysis {
  const kindOf = (task: string) => parseEvalTaskRef(task).task.kind;
  const chanceOf = (task: string, metric: string): number | null => {
    const t = parseEvalTaskRef(task).task;
    if (t.kind === 'target') return metric === 'exact_match' ? 0 : null;
    return metric === 'acc' ? 1 / (t.name === 'brown-pos' ? 8 : 4) : null;
  };
  const sizes = [...new Set(points.map((p) => p.n))].sort((a, b) => a - b);
  const evidence: string[] = [], tableRows: string[][] = [];
  // claim 1
  const c1: { task: string; effect: number; ci: [number, number] | null; holds: boolean; fails: boolean }[] = [];
  for (const task of tasks) {
    const ps = points.filter((p) => p.task === task && p.metric === headline(kindOf(task)));
    if (ps.length < 6 || sizes.length < 2) continue;
    const span = Math.log(sizes[sizes.length - 1] / sizes[0]);
    const fitBeta = (q: Point[]) => leastSquares(q.map((p) => [1, p.loss, p.loss * p.loss, Math.log(p.n)]), q.map((p) => p.value))?.beta[3] ?? null;
    const b = fitBeta(ps);
    const ci = clusterBootstrap(ps, reps, 3, fitBeta);
    const effect = (b ?? 0) * span;
    const eci: [number, number] | null = ci && [Math.min(ci[0] * span, ci[1] * span), Math.max(ci[0] * span, ci[1] * span)];
    const holds = eci !== null && eci[0] >= -margin && eci[1] <= margin;
    const fails = eci !== null && (eci[0] > margin || eci[1] < -margin);
    c1.push({ task, effect, ci: eci, holds, fails });
    evidence.push(`Claim 1, ${task} (${headline(kindOf(task))}): size effect across ${fmt(sizes[sizes.length - 1] / sizes[0], 3)}x in N at equal loss ${fmt(effect, 3)}, 95% interval ${eci ? `[${fmt(eci[0], 3)}, ${fmt(eci[1], 3)}]` : 'none (the bootstrap fits failed)'} (margin +-${margin}).`);
  }
  const v1: Verdict = c1.length === 0 ? 'inconclusive' : c1.some((c) => c.fails) ? 'not supported' : c1.every((c) => c.holds) ? 'supported' : 'inconclusive';
  // claims 2 and 3
  const c2: { task: string; t: ThresholdResult; perSize: string }[] = [];
  const c3: { task: string; metric: string; survives: boolean; disappears: boolean }[] = [];
  for (const task of tasks) {
    const metric = headline(kindOf(task));
    const ps = points.filter((p) => p.task === task && p.metric === metric);
    const t = findThreshold(ps, chanceOf(task, metric), reps);
    let perSize = '';
    if (t.found && t.tauCI) {
      const own = sizes.map((n) => ({ n, f: findThreshold(ps.filter((p) => p.n === n), chanceOf(task, metric), 0) })).filter((x) => x.f.fit && x.f.reduction >= 0.25);
      // the same threshold: each size's own tau within the pooled interval, widened by sameTolerance nats
      perSize = own.map((x) => `N=${x.n}: tau ${fmt(x.f.fit!.tau, 3)}${x.f.fit!.tau >= t.tauCI![0] - sameTolerance && x.f.fit!.tau <= t.tauCI![1] + sameTolerance ? '' : ' (outside)'}`).join(', ');
      for (const m of continuous(kindOf(task))) {
        const q = points.filter((p) => p.task === task && p.metric === m);
        const r = findThreshold(q, null, reps);
        const overlap = r.tauCI !== null && r.tauCI[0] <= t.tauCI[1] && r.tauCI[1] >= t.tauCI[0];
        c3.push({ task, metric: m, survives: r.found && overlap, disappears: r.fit !== null && r.reduction < 0.1 });
        tableRows.push([task, m, r.fit ? fmt(r.fit.tau, 3) : '-', r.tauCI ? `[${fmt(r.tauCI[0], 3)}, ${fmt(r.tauCI[1], 3)}]` : '-', `${fmt(100 * r.reduction, 2)}%`, r.found && overlap ? 'survives' : r.fit !== null && r.reduction < 0.1 ? 'disappears' : 'undetermined']);
      }
    }
    c2.push({ task, t, perSize });
    tableRows.push([task, metric, t.fit ? fmt(t.fit.tau, 3) : '-', t.tauCI ? `[${fmt(t.tauCI[0], 3)}, ${fmt(t.tauCI[1], 3)}]` : '-', `${fmt(100 * t.reduction, 2)}%`, t.found ? 'threshold' : 'none']);
    evidence.push(`Claim 2, ${task} (${metric}): ${t.found ? `threshold at loss ${fmt(t.fit!.tau, 3)}, 95% interval [${fmt(t.tauCI![0], 3)}, ${fmt(t.tauCI![1], 3)}]; per size ${perSize || 'no size spans it alone'}` : `no threshold (${t.reason})`}.`);
  }
  const maxHeadline = (task: string) => Math.max(-Infinity, ...points.filter((p) => p.task === task && p.metric === headline(kindOf(task))).map((p) => p.value - (chanceOf(task, headline(kindOf(task))) ?? 0)));
  const rose = tasks.filter((t) => maxHeadline(t) > 0.2);
  const found = c2.filter((c) => c.t.found);
  const sameAcross = found.every((c) => !c.perSize.includes('outside'));
  const v2: Verdict = found.length > 0 && sameAcross ? 'supported' : found.length === 0 && rose.length > 0 && c2.filter((c) => rose.includes(c.task)).every((c) => c.t.fit && c.t.reduction < 0.1) ? 'not supported' : 'inconclusive';
  const v3: Verdict = c3.length === 0 ? 'inconclusive' : c3.filter((c) => c.survives).length > c3.length / 2 ? 'supported' : c3.filter((c) => c.disappears).length > c3.length / 2 ? 'not supported' : 'inconclusive';
  for (const c of c3) evidence.push(`Claim 3, ${c.task}, ${c.metric}: the threshold ${c.survives ? 'survives' : c.disappears ? 'disappears' : 'is undetermined'}.`);
  let verdict: Verdict = v1 === 'supported' && v2 === 'supported' && v3 === 'supported' ? 'supported' : v1 === 'not supported' || v2 === 'not supported' ? 'not supported' : 'inconclusive';
  let reason = `Claim 1 (same loss, same ability): ${v1}. Claim 2 (thresholds): ${v2}${found.length ? ` (${found.map((c) => c.task).join(', ')})` : ''}. Claim 3 (threshold survives continuous metrics): ${v3}.`;
  if (smoke) { verdict = 'inconclusive'; reason = `INCONCLUSIVE (smoke): the smoke budget checks the plumbing only. ${reason}`; }
  return {
    verdict, reason, evidence: [
      `${new Set(points.map((p) => p.run)).size} runs, ${sizes.length} sizes (N from ${sizes[0] ?? '-'} to ${sizes[sizes.length - 1] ?? '-'} non-embedding parameters), ${new Set(points.map((p) => `${p.run} ${p.step}`)).size} checkpoints, ${tasks.length} tasks; loss is each checkpoint's validation loss; intervals from a bootstrap over runs.`,
      ...evidence,
    ],
    caveats: [
      'Each checkpoint of a run is scored on the same test items: the points of one run are correlated, which the bootstrap over runs accounts for only roughly with few runs.',
      'Losses are on the mixed validation split (Brown and task documents), not on a fixed reference corpus.',
      'Tiny models and short runs: abilities that need lower losses than these models reach cannot show a threshold here.',
    ],
    figures: figures(points, tasks, kindOf),
    tables: [{ title: 'Thresholds by task and metric', caption: 'Hinge fits of performance against loss (Brier negated); the reduction is of squared error against a straight line.', header: ['task', 'metric', 'tau', '95% interval', 'reduction', 'result'], rows: tableRows } satisfies ReportTable],
    data: { verdicts: { claim1: v1, claim2: v2, claim3: v3 }, claim1: c1, claim2: c2.map((c) => ({ task: c.task, found: c.t.found, fit: c.t.fit, tauCI: c.t.tauCI, reason: c.t.reason, perSize: c.perSize })), claim3: c3, points },
  };
}

function figures(points: Point[], tasks: string[], kindOf: (t: string) => 'target' | 'choices'): Figure[] {
  const figs: Figure[] = [];
  for (const task of tasks) {
    for (const metric of [headline(kindOf(task)), ...continuous(kindOf(task))]) {
      const ps = points.filter((p) => p.task === task && p.metric === metric).sort((a, b) => a.n - b.n || a.step - b.step);
      if (ps.length === 0) continue;
      const rows = (x: (p: Point) => number): ScatterRow[] => ps.map((p) => ({ run: p.run, series: `N=${p.n}`, x: x(p), y: p.value, label: `${p.run} step ${p.step}` }));
      const slug = (x: string) => x.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
      figs.push({ id: `loss-${slug(task)}-${slug(metric)}`, title: `${task}: ${metric} against validation loss`, caption: 'One colour per model size; each point a checkpoint.', spec: scatterChart(rows((p) => p.loss), { xTitle: 'validation loss (nats/token)', yTitle: metric, colorTitle: 'size', connect: true }) });
      figs.push({ id: `compute-${slug(task)}-${slug(metric)}`, title: `${task}: ${metric} against training compute`, caption: 'Compute 6 N D (non-embedding N).', spec: scatterChart(rows((p) => p.compute), { xTitle: 'compute (FLOPs)', yTitle: metric, colorTitle: 'size', logX: true, connect: true }) });
    }
  }
  return figs;
}

const claim = 'Downstream performance is a function of pretraining loss whatever the model size (same loss, same ability); some tasks stay at chance above a loss threshold and rise below it, at the same threshold for every size; and the threshold survives continuous metrics.';

export const emergenceVsLoss: Study<EmergenceBudget> = {
  name: 'emergence-vs-loss',
  title: 'Emergent abilities from the loss perspective',
  claim,
  budgets,
  plan,
  analyse,
};
