// The queue worker (`windtunnel worker --queue redis://...`, one or more per machine): takes run
// jobs from the BullMQ queue (queue.ts) and trains each with the same child-process trainer as
// the local runner, in the run folder under the shared runs folder, reporting to a ResultSink
// (the store itself, or the Redis stream a collector reads).
//
// What makes a killed worker lose nothing:
//   - BullMQ holds a lock on each job while a worker runs it, renewed every lockDuration / 2;
//     the lock of a worker that died expires, and the stalled-job check of any other worker
//     puts the job back (lockDuration and stalledInterval bound how long that takes).
//   - The next worker finds the run's checkpoint in the shared folder and resumes from it.
//   - The trainer dies with its worker (dieWithParentPrefix), so no orphan keeps writing the
//     folder that another worker is now resuming; and a worker that loses a job's lock while
//     alive (a stall, a network split) kills that trainer itself.
//   - The run folder's lock (training/run-folder.ts) left by a killed trainer is recovered: at
//     once on the same machine (its pid is gone), from another machine once it has not been
//     refreshed for two minutes; until then the job waits (delayed) instead of using up attempts.
//   - Reports name the delivery that made them (worker#attempt), so the store accepts a run's
//     end only from the delivery that holds it, and a re-applied start counts once.
// Stopping (an AbortSignal; the CLI aborts on SIGINT/SIGTERM): no new jobs; each trainer gets
// one SIGINT, checkpoints and exits (SIGKILL after the grace time); the runs are recorded as
// interrupted and their jobs go back to the queue for any worker to resume.

import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { LockedError } from '../../base/lockfile.js';
import type { Redis } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { JsonlTail } from '../results/ingest.js';
import type { QueueTarget, ResultMessage, ResultSink, RunJob } from './queue.js';
import type { RunStatus } from '../results/store.js';
import { describeFailure, dieWithParentPrefix, metricsFile, prepareRunDir, startTrainer, trainerCommand, type RunMode, type TrainerCommand } from './trainer-process.js';

export interface QueueWorkerOptions {
  target: QueueTarget;
  /** The caller's connection (BullMQ opens its blocking connection from it); left open. */
  redis: Redis;
  sink: ResultSink;
  /** The shared runs folder as mounted on this machine; jobs name folders relative to it. */
  runsDir: string;
  /** Jobs at once. */
  concurrency: number;
  /** WINDTUNNEL_THREADS of each trainer. */
  threads: number;
  trainer?: TrainerCommand;
  /** After the SIGINT, how long a trainer may take to checkpoint before SIGKILL (default 60 s). */
  graceMs?: number;
  /** How often a running trainer's metrics file is read (default 1 s). */
  pollMs?: number;
  /** BullMQ's job lock (default 30 s): a dead worker's job is handed on this long after it died. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (default 30 s). */
  stalledIntervalMs?: number;
  /** How often a job may stall before BullMQ fails it (default 5). */
  maxStalledCount?: number;
  signal?: AbortSignal;
  onEvent?: (e: WorkerEvent) => void;
  /** Recorded as the runs' worker (with #<delivery>); default queue:<host>:<pid>. */
  name?: string;
}

export type WorkerEvent =
  | { type: 'ready'; worker: string; concurrency: number; threads: number; sink: ResultSink['mode'] }
  | { type: 'start'; job: RunJob; mode: RunMode; attempt: number; pid: number | null }
  | { type: 'skip'; job: RunJob; reason: string }
  | { type: 'end'; job: RunJob; status: RunStatus; error?: string; seconds: number }
  | { type: 'stopping'; running: number }
  | { type: 'warning'; message: string };

export interface WorkerSummary {
  done: string[];
  failed: string[];
  interrupted: string[];
  /** Delivered but already done: completed without training. */
  skipped: string[];
}

interface Active {
  child: ChildProcess;
  /** The lock was lost: another worker holds the job now, so this attempt reports nothing more. */
  lost: boolean;
}

/** How long a job whose run folder another process holds waits before it is tried again. */
const LOCKED_RETRY_MS = 30_000;

/** Takes and trains jobs until stopped; resolves once every running job is checkpointed and handed back. */
export async function runWorker(o: QueueWorkerOptions): Promise<WorkerSummary> {
  const emit = o.onEvent ?? (() => {});
  const worker = o.name ?? `queue:${hostname()}:${process.pid}`;
  const trainer = o.trainer ?? trainerCommand();
  const pollMs = o.pollMs ?? 1000, graceMs = o.graceMs ?? 60_000;
  const prefix = dieWithParentPrefix();
  if (prefix.length === 0) emit({ type: 'warning', message: 'setpriv (util-linux) not found: a trainer will outlive this worker if the worker is killed' });
  const summary: WorkerSummary = { done: [], failed: [], interrupted: [], skipped: [] };
  const active = new Map<string, Active>();
  let stopping = false;

  const processor = async (job: Job<RunJob>, token?: string): Promise<{ status: RunStatus; error?: string; skipped?: boolean }> => {
    const j = job.data;
    const requeue = async (): Promise<never> => {
      await job.moveToWait(token);
      throw new WaitingError();
    };
    if (stopping) return requeue();
    let isDone: boolean;
    try { isDone = await o.sink.isDone(j.id); } catch (e) { throw new UnrecoverableError((e as Error).message); }
    if (isDone) {
      summary.skipped.push(j.id);
      emit({ type: 'skip', job: j, reason: 'already done' });
      return { status: 'done', skipped: true };
    }
    if (stopping) return requeue();
    // A folder this worker cannot prepare is this worker's problem, not the run's: throwing
    // lets BullMQ retry the job (perhaps on another worker).
    const dir = resolve(o.runsDir, j.dir);
    let mode: RunMode;
    try {
      mode = prepareRunDir(dir, j.config);
    } catch (e) {
      if (!(e instanceof LockedError)) throw e;
      // Another process writes the folder (a `resume` by hand, or a trainer on a machine that
      // died, whose lock goes stale): try again later rather than spend the job's attempts.
      emit({ type: 'warning', message: `${e.message}; run ${j.id} waits ${LOCKED_RETRY_MS / 1000} s` });
      await job.moveToDelayed(Date.now() + LOCKED_RETRY_MS, token);
      throw new DelayedError();
    }
    const holder = `${worker}#${job.attemptsStarted}`;
    const inv = trainer(mode, dir);
    const t0 = Date.now();

    // Reports go out one at a time, in order; after a failed send the rest are dropped and the
    // job fails (to be retried), since a gap would break their order.
    let chain = Promise.resolve(), sendError: Error | null = null;
    const send = (m: ResultMessage): void => {
      chain = chain.then(() => (sendError ? undefined : o.sink.send(m))).catch((e: Error) => { sendError ??= e; });
    };
    let lastProgress = 0;
    const { child, exited } = startTrainer({
      invocation: prefix.length ? { command: prefix[0], args: [...prefix.slice(1), inv.command, ...inv.args] } : inv,
      dir, threads: o.threads, pollMs,
      onLines: (lines) => { if (lines.length) send({ t: 'lines', run: j.id, worker: holder, lines }); },
      onProgress: (step, totalSteps) => {
        if (Date.now() - lastProgress < 1000 && step !== totalSteps) return;
        lastProgress = Date.now();
        job.updateProgress({ step, totalSteps }).catch(() => {});
      },
      onWarning: (message) => emit({ type: 'warning', message }),
    });
    const entry: Active = { child, lost: false };
    active.set(j.id, entry);
    send({ t: 'start', run: j.id, worker: holder, mode, attempt: job.attemptsStarted, pid: child.pid ?? null });
    emit({ type: 'start', job: j, mode, attempt: job.attemptsStarted, pid: child.pid ?? null });
    const out = await exited;
    active.delete(j.id);
    if (entry.lost) throw new Error(`lost the lock on run ${j.id}; another worker holds it now`);

    // The whole file once more (see startTrainer); upserts make the repeats harmless.
    const tail = new JsonlTail(metricsFile(dir));
    const lines = [...tail.read(), tail.rest()].filter((l) => l.trim());
    if (lines.length) send({ t: 'lines', run: j.id, worker: holder, lines });
    let status: 'done' | 'failed' | 'interrupted', error: string | undefined;
    if (out.code === 0) status = 'done';
    else if (stopping && !out.spawnError) { status = 'interrupted'; error = `its worker ${worker} stopped${out.signal ? ` (${out.signal})` : ''}; back on the queue`; }
    else { status = 'failed'; error = describeFailure(inv.command, out); }
    send({ t: 'end', run: j.id, worker: holder, status, error });
    await chain;
    if (sendError) throw sendError;
    (status === 'done' ? summary.done : status === 'failed' ? summary.failed : summary.interrupted).push(j.id);
    emit({ type: 'end', job: j, status, error, seconds: (Date.now() - t0) / 1000 });
    if (status === 'interrupted') return requeue();
    // A failed run is a finished job: the store holds its error, and `sweep --retry-failed` re-enqueues it.
    return { status, error };
  };

  const bull = new Worker<RunJob>(o.target.name, processor, {
    connection: o.redis, name: worker, concurrency: o.concurrency,
    lockDuration: o.lockDurationMs ?? 30_000, stalledInterval: o.stalledIntervalMs ?? 30_000, maxStalledCount: o.maxStalledCount ?? 5,
    autorun: false,
  });
  bull.on('error', (e) => emit({ type: 'warning', message: `queue: ${e.message}` }));
  bull.on('lockRenewalFailed', (ids: string[]) => {
    for (const id of ids) {
      const a = active.get(id);
      if (!a || a.lost) continue;
      a.lost = true;
      a.child.kill('SIGKILL');
      emit({ type: 'warning', message: `lost the lock on run ${id} (this worker stalled or lost Redis); killed its trainer, another worker will resume it` });
    }
  });

  let stopped!: () => void;
  const whenStopped = new Promise<void>((res) => { stopped = res; });
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emit({ type: 'stopping', running: active.size });
    for (const a of active.values()) {
      a.child.kill('SIGINT');
      setTimeout(() => { if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL'); }, graceMs).unref();
    }
    stopped();
  };
  const killAll = (): void => { for (const a of active.values()) a.child.kill('SIGKILL'); };
  process.once('exit', killAll);
  o.signal?.addEventListener('abort', stop);
  if (o.signal?.aborted) stop();
  try {
    await bull.waitUntilReady();
    emit({ type: 'ready', worker, concurrency: o.concurrency, threads: o.threads, sink: o.sink.mode });
    void bull.run().catch((e: Error) => emit({ type: 'warning', message: `queue: ${e.message}` }));
    await whenStopped;
    // Waits for the running jobs: each trainer checkpoints, is recorded, and goes back to the queue.
    await bull.close();
  } finally {
    o.signal?.removeEventListener('abort', stop);
    process.removeListener('exit', killAll);
  }
  return summary;
}
