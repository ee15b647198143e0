// Running a study: plan -> train (in phases) -> analyse -> report. The training goes through the
// lab's own machinery, so a study resumes like any sweep, runs on local cores (runner.ts) or on
// Redis workers (queue.ts), and lands in the results store.
//
// Phases: a branch cannot start before its source has finished, so the runs are trained in
// rounds. Each round takes every run that is ready (no source, or a finished one), branches the
// new branches from their sources' checkpoints (branchWsd, which brings the tokenizer along), and hands
// the round to the runner or the queue, which skip done runs and resume interrupted ones. Rounds
// repeat until no run becomes ready. The sweep's membership is set to every planned run before
// and after, so the store and reports always see the whole plan (unstarted branches as pending).
//
// With --queue, branch folders are written under --runs-dir by this process and trained by the
// workers: the runs folder must be the one the workers share.

import { join, resolve } from 'node:path';
import { Collector, connectRedis, enqueueSweep, openQueue, waitForRuns, type QueueTarget, type WaitEvent } from '../lab/experiments/queue.js';
import { queryRuns, type RunRecord } from '../lab/results/query.js';
import { writeReport, type WrittenReport } from '../lab/presentation/report.js';
import { recordSweep, runSweep, type RunnerEvent } from '../lab/experiments/runner.js';
import { hasCheckpoint, type TrainerCommand } from '../lab/experiments/trainer-process.js';
import { Store } from '../lab/results/store.js';
import type { ExpandedRun, Sweep } from '../lab/experiments/sweep.js';
import { branchWsd } from '../training/branch.js';
import { ScheduleConfig } from '../training/schedules.js';
import { writeVerdictFile } from './verdict-file.js';
import { branchOf, expandStudy, planCost, smokeAnalysis, sweepName, verdictLabel, verdictMarkdown, type Analysis, type Budget, type PlanCost, type Study, type StudyRun } from './study.js';

export type StudyEvent =
  | { type: 'round'; round: number; runs: number; toTrain: number; branched: number }
  | { type: 'runner'; event: RunnerEvent }
  | { type: 'queue'; event: WaitEvent }
  | { type: 'log'; message: string };

export interface RunStudyOptions {
  budget: Budget;
  /** Run folders go under <runsDir>/<study>-<budget>/. */
  runsDir: string;
  /** The results store. */
  db: string;
  /** Report folder (default <runsDir>/reports/<study>-<budget>). */
  out?: string;
  /** Enqueue for `windtunnel worker`s instead of training here (and collect their results). */
  queue?: QueueTarget;
  parallel?: number;
  threads?: number;
  cores?: number;
  trainer?: TrainerCommand;
  retryFailed?: boolean;
  /** Skip training: analyse and report what the store holds. */
  analyseOnly?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: StudyEvent) => void;
  /** The time printed in the report (tests pin it). */
  now?: Date;
}

export interface StudyResult {
  sweep: string;
  cost: PlanCost;
  /** null when stopped before the end (nothing analysed). */
  analysis: Analysis | null;
  report: WrittenReport | null;
  verdictFile: string | null;
  stopped: boolean;
  /** Runs that are not done (failed, or never started because their source failed). */
  unfinished: { name: string; status: string; error: string | null }[];
}

export async function runStudy(study: Study, o: RunStudyOptions): Promise<StudyResult> {
  let sweep = study.plan(o.budget);
  let runs = expandStudy(sweep);
  const emit = o.onEvent ?? (() => {});
  const store = Store.open(o.db);
  try {
    recordSweep(store, sweep, runs, o.runsDir);
    let stopped = false;
    const train = () => (o.queue ? trainOnQueue(store, sweep, runs, o, emit) : trainLocally(store, sweep, runs, o, emit));
    if (!o.analyseOnly) stopped = await train();
    // Adaptive plans: the study may add runs after seeing the results (a grid extended past an
    // optimum at its edge); repeat until it adds none. Analysing only, the added runs are those
    // trained before (the rest stay pending, and the analysis leaves pending runs out).
    for (let extension = 1; study.extend && !stopped && extension <= maxExtensions; extension++) {
      const next = study.plan(o.budget, studyRuns(queryRuns(store, { sweep: sweep.name }), runs));
      const more = expandStudy(next);
      const known = new Set(runs.map((r) => r.id));
      const added = more.filter((r) => !known.has(r.id));
      if (!added.length) break;
      emit({ type: 'log', message: `extension ${extension}: the plan adds ${added.length} run(s) (${added.slice(0, 4).map((r) => r.name).join(', ')}${added.length > 4 ? ', ...' : ''})` });
      sweep = next;
      runs = more;
      recordSweep(store, sweep, runs, o.runsDir);
      if (!o.analyseOnly) stopped = await train();
    }
    recordSweep(store, sweep, runs, o.runsDir);
    const records = queryRuns(store, { sweep: sweep.name });
    const unfinished = records.filter((r) => r.status !== 'done').map((r) => ({ name: r.name, status: r.status, error: r.error }));
    const cost = planCost(sweep);
    if (stopped) return { sweep: sweep.name, cost, analysis: null, report: null, verdictFile: null, stopped, unfinished };
    const analysed = await study.analyse(store, studyRuns(records, runs));
    const analysis = o.budget === 'smoke' ? smokeAnalysis(analysed) : analysed;
    const out = resolve(o.out ?? join(o.runsDir, 'reports', sweep.name));
    const report = await writeStudyReport(store, study, o.budget, analysis, out, o.now);
    const verdictFile = join(out, 'verdict.json');
    writeVerdictFile(verdictFile, {
      study, budget: o.budget, sweep: sweep.name, analysis, runs: { planned: runs.length, done: records.length - unfinished.length },
      cost, runSeconds: trainingSeconds(records), figureFiles: report.svgs, now: o.now,
    });
    return { sweep: sweep.name, cost, analysis, report, verdictFile, stopped, unfinished };
  } finally {
    store.close();
  }
}

/** Wall-clock seconds the finished runs took, start to finish (a resumed run counts from its first start). */
function trainingSeconds(records: RunRecord[]): number {
  let s = 0;
  for (const r of records) {
    if (r.status !== 'done' || !r.startedAt || !r.finishedAt) continue;
    const d = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000;
    if (Number.isFinite(d) && d > 0) s += d;
  }
  return s;
}
/** How many times an adaptive study may extend its plan in one run (each extension is one more round of training). */
export const maxExtensions = 4;

/** The store's records of a study's runs, with the plan's names and points. */
export function studyRuns(records: RunRecord[], planned: ExpandedRun[]): StudyRun[] {
  const byId = new Map(planned.map((r) => [r.id, r]));
  return records.flatMap((rec) => {
    const p = byId.get(rec.id);
    return p ? [{ id: rec.id, name: p.name, point: p.point, record: rec }] : [];
  });
}

/** Writes report.html / report.md through the lab's report API, the verdict block on top. */
export function writeStudyReport(store: Store, study: Study, budget: Budget, a: Analysis, out: string, now?: Date): Promise<WrittenReport> {
  return writeReport(store, sweepName(study, budget), out, {
    title: `Study ${study.name} (${budget}): ${budget === 'smoke' ? verdictLabel(a.verdict, budget) : a.verdict}`,
    verdict: { title: 'Verdict', markdown: verdictMarkdown(study, budget, a) },
    // svg: the figures also go beside report.md, so the Markdown report shows them
    figures: a.figures, standardFigures: false, tables: a.tables, svg: true, now,
  });
}

// ---- rounds ----------------------------------------------------------------------------------

interface Round {
  /** Runs whose sources (if any) are done: what this round hands to the runner or the queue. */
  ready: ExpandedRun[];
  /** Of those, how many still need training. */
  toTrain: number;
  branched: number;
}

/** The next round: ready runs, with the branches among them branched (when not yet). */
function nextRound(store: Store, sweep: Sweep, runs: ExpandedRun[], retryFailed: boolean): Round {
  const recs = new Map(queryRuns(store, { sweep: sweep.name }).map((r) => [r.id, r]));
  const byName = new Map(runs.map((r) => [r.name, r]));
  const ready: ExpandedRun[] = [];
  let toTrain = 0, branched = 0;
  for (const r of runs) {
    const rec = recs.get(r.id)!;
    const b = branchOf(r.point);
    const src = b ? recs.get(byName.get(b.from)!.id)! : null;
    if (src && src.status !== 'done') continue;
    ready.push(r);
    const trainable = rec.status === 'pending' || rec.status === 'interrupted' || (retryFailed && rec.status === 'failed');
    if (!trainable) continue;
    toTrain++;
    if (src && prepareBranch(r, rec, src, b!.at)) branched++;
  }
  return { ready, toTrain, branched };
}

/**
 * Makes a branch's run folder: a copy of the source's checkpoint at `at` with the branch's decay
 * (branchWsd), and the source's tokenizer. A folder that already holds a checkpoint is left alone
 * (the branch has started, and resumes); one without is left over from a branch that never got
 * going, and is made afresh. Returns whether it branched now.
 */
function prepareBranch(run: ExpandedRun, rec: RunRecord, src: RunRecord, at: number): boolean {
  if (!rec.dir || !src.dir) throw new Error(`branch ${run.name}: the store has no folder for it or its source`);
  if (hasCheckpoint(rec.dir)) return false;
  const s = ScheduleConfig.parse((run.config as { schedule?: unknown }).schedule);
  if (s.kind !== 'wsd') throw new Error(`branch ${run.name}: not a WSD schedule`);
  branchWsd({ from: src.dir, step: at, to: rec.dir, decaySteps: s.decaySteps, decayShape: s.decayShape, minLrRatio: s.minLrRatio, halfLife: s.halfLife, replaceUnstarted: true });
  return true;
}

async function trainLocally(store: Store, sweep: Sweep, runs: ExpandedRun[], o: RunStudyOptions, emit: (e: StudyEvent) => void): Promise<boolean> {
  let last = -1;
  for (let round = 1; ; round++) {
    const r = nextRound(store, sweep, runs, o.retryFailed ?? false);
    const done = countDone(store, sweep);
    if (r.toTrain === 0 || done === last) return false;
    last = done;
    emit({ type: 'round', round, runs: r.ready.length, toTrain: r.toTrain, branched: r.branched });
    const s = await runSweep({
      store, sweep, runs: r.ready, runsDir: o.runsDir, parallel: o.parallel, threads: o.threads, cores: o.cores,
      trainer: o.trainer, retryFailed: o.retryFailed, signal: o.signal, onEvent: (event) => emit({ type: 'runner', event }),
    });
    recordSweep(store, sweep, runs, o.runsDir);
    if (s.stopped) return true;
  }
}

async function trainOnQueue(store: Store, sweep: Sweep, runs: ExpandedRun[], o: RunStudyOptions, emit: (e: StudyEvent) => void): Promise<boolean> {
  const target = o.queue!;
  const redis = await connectRedis(target.url);
  const queue = openQueue(redis, target);
  const collector = new Collector(redis, target, store, (e) => emit({ type: 'queue', event: e }));
  try {
    let last = -1;
    for (let round = 1; ; round++) {
      await collector.drain();
      const r = nextRound(store, sweep, runs, o.retryFailed ?? false);
      const done = countDone(store, sweep);
      if (r.toTrain === 0 || done === last) return false;
      last = done;
      emit({ type: 'round', round, runs: r.ready.length, toTrain: r.toTrain, branched: r.branched });
      const res = await enqueueSweep({ store, sweep, runs: r.ready, runsDir: o.runsDir, queue, redis, target, collector, retryFailed: o.retryFailed });
      emit({ type: 'log', message: `queued ${res.added.length} runs on "${target.name}" at ${target.url} (${res.alreadyQueued.length} already queued, ${res.skippedDone.length} done); waiting for workers` });
      const w = await waitForRuns({ store, queue, ids: [...res.added, ...res.alreadyQueued], collector, signal: o.signal, onEvent: (event) => emit({ type: 'queue', event }) });
      recordSweep(store, sweep, runs, o.runsDir);
      if (w.stopped) return true;
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

function countDone(store: Store, sweep: Sweep): number {
  return queryRuns(store, { sweep: sweep.name, status: ['done'] }).length;
}
