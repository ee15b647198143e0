// Sweeps on many machines: a job queue in Redis through BullMQ, one job per run, and the way
// results come back. The worker that takes the jobs lives in worker.ts.
//
// Delivery and idempotency:
//   - One job per run, job id = run id: adding a run that is already queued or running changes
//     nothing. Runs that are done in the store are never enqueued (failed ones only on request).
//   - A job is delivered at least once: a worker that dies stops renewing its lock, BullMQ's
//     stalled-job check (run by the other workers) puts the job back, and the next worker
//     resumes the run from its last checkpoint in the shared runs folder.
//   - Every result write is idempotent: metrics are upserts keyed by (run, key, step), a run is
//     claimed and ended only by the worker that holds it, and a run that is done is not trained
//     again (the worker checks before it starts).
//
// Where results go, two modes:
//   - collector (the default): a worker writes nothing but the run folder. It sends what it
//     learns (start, metrics lines, end) as entries of a Redis stream; the collector
//     (`windtunnel sweep FILE --queue URL --wait`, or `windtunnel collect`) applies them to the
//     store and acknowledges them only after they are committed, so a collector that dies
//     re-applies what it had not acknowledged, which the upserts make harmless. Use one
//     collector per queue. With this mode the store never leaves the machine that owns it.
//   - direct (`windtunnel worker --db PATH`): each worker writes the SQLite store itself. Right
//     for workers on one machine; across machines only when PATH is on a filesystem whose locks
//     SQLite can trust, which network filesystems often are not (WAL mode needs shared memory
//     between the processes, so it does not work across machines at all).
//   When a run is done the worker also sets a marker in Redis (atomically with the end entry),
//   which is how a collector-mode worker knows not to train a done run again.
//
// Redis keys: BullMQ's under bull:<queue>:*, ours under windtunnel:<queue>:results (the stream)
// and windtunnel:<queue>:done (a hash run id -> worker).
//
// What must be shared: the runs folder (checkpoints, metrics.jsonl) by every worker, e.g. over
// NFS; each worker names its own mount with --runs-dir. The store is the record of what is
// done: if Redis loses its data, enqueue the sweep again and only unfinished runs are queued.

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { storeLines } from '../results/ingest.js';
import type { RunRecord } from '../results/query.js';
import { recordSweep } from './runner.js';
import type { RunMode } from './trainer-process.js';
import type { RunStatus, Store } from '../results/store.js';
import type { ExpandedRun, Sweep } from './sweep.js';

export const DEFAULT_QUEUE_NAME = 'windtunnel';

export interface QueueTarget {
  /** redis://[user:password@]host:port[/db] or rediss://... */
  url: string;
  /** The BullMQ queue name (several sweeps may share one queue). */
  name: string;
}

export function queueTarget(url: string, name: string = DEFAULT_QUEUE_NAME): QueueTarget {
  let u: URL;
  try { u = new URL(url); } catch { throw new Error(`--queue takes a Redis URL like redis://HOST:PORT, got "${url}"`); }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--queue takes a Redis URL like redis://HOST:PORT, got "${url}"`);
  if (!/^[\w.-]+$/.test(name)) throw new Error(`a queue name is letters, digits, ".", "_" and "-", got "${name}"`);
  return { url, name };
}

/**
 * Opens a Redis connection and waits until it answers (BullMQ needs maxRetriesPerRequest null:
 * commands wait through reconnects instead of failing). Fails with a message naming the URL.
 */
export async function connectRedis(url: string, timeoutMs = 10_000): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  let lastError: Error | null = null;
  redis.on('error', (e: Error) => { lastError = e; });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => { timer = setTimeout(() => reject(lastError ?? new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs); }),
    ]);
  } catch (e) {
    redis.disconnect();
    const why = (lastError as Error | null)?.message || (e as Error).message || String(e);
    throw new Error(`cannot reach Redis at ${url}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

/** What a job carries: everything a worker needs, so workers need no store to train. */
export interface RunJob {
  id: string;
  name: string;
  sweep: string;
  /** The run folder relative to the runs folder; each worker resolves it against its own --runs-dir (the shared folder may be mounted at different paths). */
  dir: string;
  config: unknown;
}

export const runJobDir = (sweep: string, r: { id: string; name: string }): string => `${sweep}/${r.name}-${r.id}`;

/** Job options: removed from Redis once completed (the store keeps the result); a processor error (not a failed run) is retried. */
const jobOptions = (id: string) => ({ jobId: id, removeOnComplete: true, removeOnFail: false, attempts: 3, backoff: { type: 'fixed', delay: 10_000 } });

const resultsKey = (t: QueueTarget): string => `windtunnel:${t.name}:results`;
const doneKey = (t: QueueTarget): string => `windtunnel:${t.name}:done`;

/** What workers report, in order, for each attempt at a run. */
export type ResultMessage =
  | { t: 'start'; run: string; worker: string; mode: RunMode; attempt: number; pid: number | null }
  | { t: 'lines'; run: string; worker: string; lines: string[] }
  | { t: 'end'; run: string; worker: string; status: Exclude<RunStatus, 'pending' | 'running'>; error?: string };

export type ResultEvent =
  | { type: 'start'; id: string; name: string; worker: string; mode: RunMode; attempt: number }
  | { type: 'end'; id: string; name: string; worker: string; status: RunStatus; error?: string }
  | { type: 'warning'; message: string };

/**
 * Applies one worker report to the store. Idempotent: a start the store already shows (a
 * re-applied entry) changes nothing; lines are upserts; a report from a worker that no longer
 * holds the run (it lost its lock, and the run was handed on) is ignored.
 */
export function applyResult(store: Store, m: ResultMessage): ResultEvent | null {
  const rec = store.db.prepare('SELECT name, status, worker FROM runs WHERE id = ?').get(m.run) as { name: string; status: RunStatus; worker: string | null } | undefined;
  if (!rec) return { type: 'warning', message: `a result for run ${m.run}, which is not in the store ${store.path} (was its sweep enqueued from another store?)` };
  if (m.t === 'start') {
    if (rec.status === 'running' && rec.worker === m.worker) return null;
    if (!store.claim(m.run, m.worker, ['pending', 'interrupted', 'failed', 'running'])) {
      return { type: 'warning', message: `${m.worker} started run ${rec.name} (${m.run}), which is already done; its results are ignored` };
    }
    store.setPid(m.run, m.pid);
    // Starting from scratch: what an earlier attempt logged no longer describes this run.
    if (m.mode === 'train') store.clearMetrics(m.run);
    return { type: 'start', id: m.run, name: rec.name, worker: m.worker, mode: m.mode, attempt: m.attempt };
  }
  if (rec.worker !== m.worker) return { type: 'warning', message: `ignoring a stale report from ${m.worker} on run ${rec.name} (${m.run}), now held by ${rec.worker ?? 'nobody'}` };
  if (m.t === 'lines') {
    storeLines(store, m.run, m.lines);
    return null;
  }
  if (m.status === 'done') store.finish(m.run);
  else if (m.status === 'failed') store.fail(m.run, m.error ?? 'failed');
  else store.interrupt(m.run, m.error);
  return { type: 'end', id: m.run, name: rec.name, worker: m.worker, status: m.status, error: m.error };
}

/** Where a worker's reports go: straight into a store, or into the Redis stream for a collector. */
export interface ResultSink {
  readonly mode: 'direct' | 'collector';
  /** Whether the run is done already (then the worker completes the job without training). */
  isDone(run: string): Promise<boolean>;
  send(m: ResultMessage): Promise<void>;
}

export class DirectSink implements ResultSink {
  readonly mode = 'direct';
  constructor(private readonly store: Store, private readonly onEvent: (e: ResultEvent) => void = () => {}) {}

  async isDone(run: string): Promise<boolean> {
    const r = this.store.db.prepare('SELECT status FROM runs WHERE id = ?').pluck().get(run) as RunStatus | undefined;
    if (r === undefined) throw new Error(`run ${run} is not in the store ${this.store.path} (enqueue with the same store, or run the worker without --db and collect the results)`);
    return r === 'done';
  }

  async send(m: ResultMessage): Promise<void> {
    const e = applyResult(this.store, m);
    if (e) this.onEvent(e);
  }
}

/** The most metrics lines in one stream entry (a final pass over a long run is sent in pieces). */
const linesPerEntry = 2000;

export class RedisSink implements ResultSink {
  readonly mode = 'collector';
  constructor(private readonly redis: Redis, private readonly target: QueueTarget) {}

  async isDone(run: string): Promise<boolean> {
    return (await this.redis.hexists(doneKey(this.target), run)) === 1;
  }

  async send(m: ResultMessage): Promise<void> {
    if (m.t === 'lines') {
      for (let i = 0; i < m.lines.length; i += linesPerEntry) {
        await this.redis.xadd(resultsKey(this.target), '*', 'm', JSON.stringify({ ...m, lines: m.lines.slice(i, i + linesPerEntry) }));
      }
      return;
    }
    if (m.t === 'end' && m.status === 'done') {
      // The marker and the entry together, so whoever sees the marker can also collect the entry.
      await this.redis.multi().xadd(resultsKey(this.target), '*', 'm', JSON.stringify(m)).hset(doneKey(this.target), m.run, m.worker).exec();
      return;
    }
    await this.redis.xadd(resultsKey(this.target), '*', 'm', JSON.stringify(m));
  }
}

const group = 'collector';

/**
 * Reads worker reports from the stream into the store. An entry is acknowledged (and deleted)
 * only after the transaction that applied it has committed; a collector that restarts first
 * re-reads the entries it had read but not acknowledged.
 */
export class Collector {
  private ready = false;

  constructor(private readonly redis: Redis, private readonly target: QueueTarget, private readonly store: Store, private readonly onEvent: (e: ResultEvent) => void = () => {}) {}

  /** Applies every report waiting in the stream; returns how many entries it applied. */
  async drain(): Promise<number> {
    const key = resultsKey(this.target);
    if (!this.ready) {
      try { await this.redis.xgroup('CREATE', key, group, '0', 'MKSTREAM'); } catch (e) { if (!/BUSYGROUP/.test((e as Error).message)) throw e; }
      this.ready = true;
    }
    let total = 0;
    for (const from of ['0', '>']) {
      for (;;) {
        const res = await this.redis.xreadgroup('GROUP', group, 'collector', 'COUNT', 500, 'STREAMS', key, from) as [string, [string, string[]][]][] | null;
        const entries = res?.[0]?.[1] ?? [];
        if (entries.length === 0) break;
        const events: ResultEvent[] = [];
        this.store.write(() => {
          for (const [id, fields] of entries) {
            const raw = fields[fields.indexOf('m') + 1];
            let m: ResultMessage;
            try { m = JSON.parse(raw) as ResultMessage; } catch { events.push({ type: 'warning', message: `unreadable result entry ${id} skipped` }); continue; }
            const e = applyResult(this.store, m);
            if (e) events.push(e);
          }
        });
        const ids = entries.map(([id]) => id);
        await this.redis.multi().xack(key, group, ...ids).xdel(key, ...ids).exec();
        total += entries.length;
        for (const e of events) this.onEvent(e);
      }
    }
    return total;
  }
}

export interface EnqueueResult {
  /** The sweep's runs, as registered in the store. */
  records: RunRecord[];
  added: string[];
  alreadyQueued: string[];
  skippedDone: string[];
  skippedFailed: string[];
  /** Running under a local runner (`windtunnel sweep` without --queue): not handed to workers. */
  skippedLocal: string[];
}

const liveStates = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Registers the sweep in the store and puts each of its runs that still needs training on the
 * queue (done runs are skipped, failed ones unless retryFailed). Safe to repeat: a run whose
 * job is waiting or active is left as it is. Collect pending results before calling it, so the
 * store's statuses are current.
 */
export async function enqueueSweep(o: {
  store: Store; sweep: Sweep; runs: ExpandedRun[]; runsDir: string;
  queue: Queue; redis: Redis; target: QueueTarget; collector?: Collector; retryFailed?: boolean;
}): Promise<EnqueueResult> {
  const records = recordSweep(o.store, o.sweep, o.runs, o.runsDir);
  const out: EnqueueResult = { records, added: [], alreadyQueued: [], skippedDone: [], skippedFailed: [], skippedLocal: [] };
  const statusOf = (id: string): RunStatus | undefined => o.store.db.prepare('SELECT status FROM runs WHERE id = ?').pluck().get(id) as RunStatus | undefined;
  for (const r of records) {
    if (r.status === 'done') { out.skippedDone.push(r.id); continue; }
    if (r.status === 'failed' && !o.retryFailed) { out.skippedFailed.push(r.id); continue; }
    if (r.status === 'running' && r.worker?.startsWith('local:')) { out.skippedLocal.push(r.id); continue; }
    const state = await o.queue.getJobState(r.id);
    if (liveStates.has(state)) { out.alreadyQueued.push(r.id); continue; }
    if (await o.redis.hexists(doneKey(o.target), r.id)) {
      // A worker finished it and its report is on the way: collect it and look again.
      await o.collector?.drain();
      if (statusOf(r.id) === 'done') { out.skippedDone.push(r.id); continue; }
      // Done by Redis's account but not in this store (a reset run, or reports that went to
      // another store): train it again.
      await o.redis.hdel(doneKey(o.target), r.id);
    }
    if (state === 'completed' || state === 'failed') await (await o.queue.getJob(r.id))?.remove();
    const data: RunJob = { id: r.id, name: r.name, sweep: o.sweep.name, dir: runJobDir(o.sweep.name, r), config: r.config };
    await o.queue.add('run', data, jobOptions(r.id));
    out.added.push(r.id);
  }
  return out;
}

export type WaitEvent =
  | ResultEvent
  | { type: 'progress'; total: number; done: number; failed: number; running: number; lost: number; fraction: number; active: { id: string; step: number; totalSteps?: number }[] }
  | { type: 'lost'; id: string; reason: string };

export interface WaitSummary {
  done: string[];
  failed: string[];
  lost: { id: string; reason: string }[];
  stopped: boolean;
}

/**
 * Waits until each of the runs is done or failed in the store (collecting reports when a
 * collector is given), or has left the queue without a result ("lost": its job failed in
 * BullMQ, for example after stalling too often, or finished while reporting to another store).
 */
export async function waitForRuns(o: {
  store: Store; queue: Queue; ids: string[]; collector?: Collector;
  pollMs?: number; signal?: AbortSignal; onEvent?: (e: WaitEvent) => void;
}): Promise<WaitSummary> {
  const emit = o.onEvent ?? (() => {});
  const pollMs = o.pollMs ?? 1000;
  const lost = new Map<string, string>();
  const status = o.store.db.prepare('SELECT status FROM runs WHERE id = ?').pluck();
  const finished = (s: unknown): boolean => s === 'done' || s === 'failed';
  let last = '';
  for (;;) {
    const open = o.ids.filter((id) => !lost.has(id) && !finished(status.get(id)));
    // Job states first, then the reports: a job that completed has sent its last report
    // before completing, so the drain below collects it.
    const states = await Promise.all(open.map((id) => o.queue.getJobState(id)));
    await o.collector?.drain();
    for (const [i, id] of open.entries()) {
      if (finished(status.get(id))) continue;
      if (states[i] === 'failed') {
        const reason = (await o.queue.getJob(id))?.failedReason ?? 'its job failed';
        lost.set(id, reason);
        emit({ type: 'lost', id, reason });
      } else if (states[i] === 'completed' || states[i] === 'unknown') {
        const reason = 'its job left the queue, but no result reached this store (did its worker write to another --db?)';
        lost.set(id, reason);
        emit({ type: 'lost', id, reason });
      }
    }
    const statuses = o.ids.map((id) => status.get(id));
    const active = (await o.queue.getActive()).filter((j) => o.ids.includes(j.id!)).map((j) => {
      const p = j.progress as { step?: number; totalSteps?: number } | number;
      return { id: j.id!, step: typeof p === 'object' ? p.step ?? 0 : 0, totalSteps: typeof p === 'object' ? p.totalSteps : undefined };
    });
    const done = statuses.filter((s) => s === 'done').length, failed = statuses.filter((s) => s === 'failed').length;
    const fraction = (done + failed + active.reduce((a, j) => a + (j.totalSteps ? Math.min(1, j.step / j.totalSteps) : 0), 0)) / Math.max(1, o.ids.length);
    const progress = { type: 'progress' as const, total: o.ids.length, done, failed, running: active.length, lost: lost.size, fraction, active };
    const key = JSON.stringify(progress);
    if (key !== last) { emit(progress); last = key; }
    if (done + failed + lost.size >= o.ids.length) {
      return { done: o.ids.filter((id) => status.get(id) === 'done'), failed: o.ids.filter((id) => status.get(id) === 'failed'), lost: [...lost].map(([id, reason]) => ({ id, reason })), stopped: false };
    }
    if (o.signal?.aborted) return { done: [], failed: [], lost: [...lost].map(([id, reason]) => ({ id, reason })), stopped: true };
    await sleep(pollMs, o.signal);
  }
}

/** Resolves after ms, or as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res) => {
    const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); res(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A BullMQ queue handle on its own connection. */
export function openQueue(redis: Redis, target: QueueTarget): Queue {
  return new Queue(target.name, { connection: redis });
}
