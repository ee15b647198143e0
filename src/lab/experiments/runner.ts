// The local runner: trains a sweep's runs as child processes, keeping every core busy, and
// records everything in the store. Resumable: run it again and done runs are skipped,
// interrupted ones resume from their last checkpoint, runs whose runner died are recovered.
// A failed run is recorded with its error and the sweep goes on. Stopping (an AbortSignal; the
// CLI aborts on Ctrl-C) sends each trainer one SIGINT so it can checkpoint, waits, and records
// the runs as interrupted. The runner shows nothing itself; it reports events to a callback.
//
// Each run is one training child process (trainer-process.ts; its contract is
// src/training/child-protocol.ts), with WINDTUNNEL_THREADS set to the run's share of the cores.

import type { ChildProcess } from 'node:child_process';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { storeLines, ingestFile } from '../results/ingest.js';
import { queryRuns, type RunRecord } from '../results/query.js';
import type { Store, RunStatus } from '../results/store.js';
import { runCost, type ExpandedRun, type Sweep } from './sweep.js';
import { describeFailure, metricsFile, prepareRunDir, startTrainer, trainerCommand, type RunMode, type TrainerCommand } from './trainer-process.js';

export interface Parallelism {
  parallel: number;
  threads: number;
  reason: string;
}

/**
 * How many runs side by side, and how many threads each. Small models gain little from more
 * threads (their matmuls are too small to split well), while independent runs scale almost
 * perfectly, so by default small models run one thread each on every core, and larger ones get
 * a few threads each. Fewer runs than slots share out the spare cores. The size thresholds
 * (params) are a first guess, to be tuned against `windtunnel bench`.
 */
export function planParallelism(o: { cores: number; runs: number; params?: number | null; parallel?: number; threads?: number }): Parallelism {
  const cores = Math.max(1, o.cores), runs = Math.max(1, o.runs);
  if (o.parallel !== undefined && o.threads !== undefined) return { parallel: Math.min(o.parallel, runs), threads: o.threads, reason: 'as given' };
  if (o.threads !== undefined) return { parallel: Math.min(runs, Math.max(1, Math.floor(cores / o.threads))), threads: o.threads, reason: `${o.threads} thread(s) per run as given` };
  if (o.parallel !== undefined) {
    const parallel = Math.min(o.parallel, runs);
    return { parallel, threads: Math.max(1, Math.floor(cores / parallel)), reason: `${o.parallel} runs side by side as given` };
  }
  const p = o.params ?? 0;
  const perRun = Math.min(cores, p < 2e6 ? 1 : p < 20e6 ? 2 : p < 100e6 ? 4 : 8);
  let parallel = Math.max(1, Math.floor(cores / perRun)), threads = perRun;
  const size = p >= 1e6 ? `${(p / 1e6).toFixed(1)}M` : `${(p / 1e3).toFixed(1)}K`;
  let reason = `largest model ${p ? `${size} params` : 'of unknown size'}: ${perRun} thread(s) per run`;
  if (runs < parallel) {
    parallel = runs;
    threads = Math.max(perRun, Math.floor(cores / runs));
    reason += `; ${runs} run(s) share ${cores} cores`;
  }
  return { parallel, threads, reason };
}

export type RunnerEvent =
  | { type: 'plan'; toRun: RunRecord[]; skipped: { done: number; failed: number; busy: number }; recovered: number; parallel: number; threads: number; reason: string }
  | { type: 'start'; run: RunRecord; mode: RunMode; attempt: number }
  | { type: 'progress'; run: RunRecord; step: number; totalSteps?: number }
  | { type: 'end'; run: RunRecord; status: RunStatus; error?: string; seconds: number }
  | { type: 'stopping'; running: number }
  | { type: 'warning'; message: string };

export interface RunnerOptions {
  store: Store;
  sweep: Sweep;
  runs: ExpandedRun[];
  /** Run folders go under <runsDir>/<sweep name>/. */
  runsDir: string;
  parallel?: number;
  threads?: number;
  /** Defaults to os.availableParallelism(). */
  cores?: number;
  trainer?: TrainerCommand;
  /** Run failed runs again (default: skip them; they keep their error). */
  retryFailed?: boolean;
  /** After the SIGINT, how long a trainer may take to checkpoint before SIGKILL (default 60 s). */
  graceMs?: number;
  /** How often running runs' metrics files are read into the store (default 1 s). */
  pollMs?: number;
  signal?: AbortSignal;
  onEvent?: (e: RunnerEvent) => void;
  /** Recorded as each run's worker; default local:<host>:<pid>. */
  worker?: string;
}

export interface RunnerSummary {
  done: string[];
  failed: string[];
  interrupted: string[];
  /** Not run now: already done, failed (without retryFailed), or running under another live runner. */
  skipped: string[];
  stopped: boolean;
}

/** Saves the sweep and its runs in the store (new runs pending, with folder and estimate); returns their records in sweep order. */
export function recordSweep(store: Store, sweep: Sweep, runs: ExpandedRun[], runsDir: string): RunRecord[] {
  store.saveSweep({ name: sweep.name, spec: { ...sweep, file: undefined }, tags: sweep.tags, file: sweep.file });
  store.addRuns(sweep.name, runs.map((r) => {
    const e = runCost(r.config);
    return {
      id: r.id, name: r.name, config: r.config, index: r.index, point: r.point, tags: sweep.tags,
      dir: resolve(runsDir, sweep.name, `${r.name}-${r.id}`),
      params: e.params, nonEmbeddingParams: e.nonEmbeddingParams, tokens: e.tokens, flops: e.flops,
    };
  }));
  return queryRuns(store, { sweep: sweep.name });
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as { code?: string }).code === 'EPERM'; }
}

/** Runs a sweep to the end (or until stopped); resolves with what happened to each run. */
export async function runSweep(o: RunnerOptions): Promise<RunnerSummary> {
  const { store } = o;
  const emit = o.onEvent ?? (() => {});
  const worker = o.worker ?? `local:${hostname()}:${process.pid}`;
  const trainer = o.trainer ?? trainerCommand();
  const pollMs = o.pollMs ?? 1000, graceMs = o.graceMs ?? 60_000;
  const summary: RunnerSummary = { done: [], failed: [], interrupted: [], skipped: [], stopped: false };

  let records = recordSweep(store, o.sweep, o.runs, o.runsDir);
  // A run left 'running' by a runner on this machine that has since died is interrupted.
  let recovered = 0;
  for (const r of records.filter((x) => x.status === 'running')) {
    const m = /^local:(.*):(\d+)$/.exec(r.worker ?? '');
    if (!m || m[1] !== hostname() || isAlive(Number(m[2]))) continue;
    if (r.pid !== null && isAlive(r.pid)) {
      emit({ type: 'warning', message: `run ${r.name} (${r.id}) is still being trained by pid ${r.pid}, whose runner died; stop it or let it finish` });
      continue;
    }
    store.interrupt(r.id, 'its runner stopped without recording the end');
    recovered++;
  }
  if (recovered) records = queryRuns(store, { sweep: o.sweep.name });

  const runnable: RunStatus[] = o.retryFailed ? ['pending', 'interrupted', 'failed'] : ['pending', 'interrupted'];
  const toRun = records.filter((r) => runnable.includes(r.status));
  const skipped = { done: 0, failed: 0, busy: 0 };
  for (const r of records) {
    if (runnable.includes(r.status)) continue;
    summary.skipped.push(r.id);
    if (r.status === 'done') skipped.done++; else if (r.status === 'failed') skipped.failed++; else skipped.busy++;
  }
  const largest = Math.max(0, ...toRun.map((r) => r.params ?? 0));
  const plan = planParallelism({ cores: o.cores ?? availableParallelism(), runs: toRun.length, params: largest || null, parallel: o.parallel, threads: o.threads });
  emit({ type: 'plan', toRun, skipped, recovered, ...plan });

  const active = new Map<string, ChildProcess>();
  let stopping = o.signal?.aborted ?? false;
  const killAll = (): void => { for (const c of active.values()) c.kill('SIGKILL'); };
  process.once('exit', killAll);
  const onAbort = (): void => {
    if (stopping) return;
    stopping = true;
    summary.stopped = true;
    emit({ type: 'stopping', running: active.size });
    for (const c of active.values()) {
      c.kill('SIGINT');
      setTimeout(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); }, graceMs).unref();
    }
  };
  o.signal?.addEventListener('abort', onAbort);
  if (stopping) summary.stopped = true;

  const runOne = (r: RunRecord): Promise<void> => new Promise((done) => {
    const dir = r.dir ?? resolve(o.runsDir, o.sweep.name, `${r.name}-${r.id}`);
    if (!store.claim(r.id, worker, runnable)) {
      summary.skipped.push(r.id);
      return done();
    }
    const t0 = Date.now();
    let mode: RunMode;
    try {
      mode = prepareRunDir(dir, r.config);
      // Starting from scratch: what an earlier attempt logged no longer describes this run.
      if (mode === 'train') store.clearMetrics(r.id);
    } catch (e) {
      const error = `could not prepare ${dir}: ${(e as Error).message}`;
      store.fail(r.id, error);
      summary.failed.push(r.id);
      emit({ type: 'end', run: r, status: 'failed', error, seconds: 0 });
      return done();
    }
    const inv = trainer(mode, dir);
    const attempt = r.attempts + 1;
    emit({ type: 'start', run: r, mode, attempt });
    const warn = (message: string): void => emit({ type: 'warning', message });
    const { child, exited } = startTrainer({
      invocation: inv, dir, threads: plan.threads, pollMs,
      onLines: (lines) => storeLines(store, r.id, lines),
      onProgress: (step, totalSteps) => emit({ type: 'progress', run: r, step, totalSteps }),
      onWarning: warn,
    });
    active.set(r.id, child);
    if (child.pid !== undefined) store.setPid(r.id, child.pid);
    void exited.then((out) => {
      active.delete(r.id);
      try { ingestFile(store, r.id, metricsFile(dir)); } catch (e) { warn(`reading ${metricsFile(dir)}: ${(e as Error).message}`); }
      let status: RunStatus, error: string | undefined;
      if (out.code === 0) {
        status = 'done';
        store.finish(r.id);
      } else if (stopping && !out.spawnError) {
        status = 'interrupted';
        store.interrupt(r.id, `stopped by the user${out.signal ? ` (${out.signal})` : ''}`);
      } else {
        status = 'failed';
        error = describeFailure(inv.command, out);
        store.fail(r.id, error);
      }
      (status === 'done' ? summary.done : status === 'failed' ? summary.failed : summary.interrupted).push(r.id);
      emit({ type: 'end', run: r, status, error, seconds: (Date.now() - t0) / 1000 });
      done();
    });
  });

  // A fixed pool of `parallel` lanes, each taking the next run until none are left or we stop.
  const queue = [...toRun];
  const lane = async (): Promise<void> => {
    while (!stopping && queue.length) await runOne(queue.shift()!);
  };
  try {
    await Promise.all(Array.from({ length: plan.parallel }, lane));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    process.removeListener('exit', killAll);
  }
  return summary;
}
