// The results store: one SQLite file (better-sqlite3) holding sweeps, runs, metric time series
// and evaluations. Nothing to install or start. Several processes may write at once: WAL mode
// lets readers run beside one writer, a busy timeout makes writers queue instead of failing,
// and every multi-statement write is an IMMEDIATE transaction (a deferred one that reads then
// writes can fail with SQLITE_BUSY without waiting). Every write is idempotent: runs are keyed
// by their config hash, metrics by (run, key, step), so a re-delivered job that logs the same
// steps again changes nothing. Reads (filters, series, export) live in query.ts.
//
// Schema (user_version 3; opening an older file for writing adds the tables it lacks, which is the
// whole migration: 1 -> 2 added samples, 2 -> 3 task_evals; read-only opens of old files work and
// see those tables as empty):
//   sweeps     name PK, spec JSON (the parsed sweep, base inlined), tags JSON, file, created/updated
//   runs       id PK (config hash), name, config JSON, dir, status, error, attempts, worker, pid,
//              created/started/finished/updated_at (ISO), final JSON (last value of each metric),
//              params, non_embedding_params, tokens, flops (the estimate)
//   sweep_runs sweep, run, idx, name, point JSON: membership; a run whose config recurs in
//              another sweep is the same run, so its result is shared (PK sweep, run)
//   run_tags   run, tag (PK run, tag)
//   metrics    run, key, step, value: long format, WITHOUT ROWID, PK (run, key, step), so one
//              curve of one run is a single index range (500 runs x 1000 steps x 10 keys is 5M
//              rows, and a loss curve of any run still reads only its own rows)
//   evals      run, split, key, step, value: the same for held-out evaluations
//   samples    run, step, idx, prompt, text: text generated during training (PK run, step, idx)
//   task_evals run, step (the checkpoint's), task (NAME:SIZE), shots, metric, value, items, seed:
//              the evaluation harness's scores (PK run, step, task, shots, metric)

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type RunStatus = 'pending' | 'running' | 'done' | 'failed' | 'interrupted';
export const runStatuses: readonly RunStatus[] = ['pending', 'running', 'done', 'failed', 'interrupted'];

const schemaVersion = 3;

const schema = `
CREATE TABLE IF NOT EXISTS sweeps (
  name TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  file TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  config TEXT NOT NULL,
  dir TEXT,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed', 'interrupted')),
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  worker TEXT,
  pid INTEGER,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  updated_at TEXT NOT NULL,
  final TEXT,
  params INTEGER,
  non_embedding_params INTEGER,
  tokens REAL,
  flops REAL
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS sweep_runs (
  sweep TEXT NOT NULL REFERENCES sweeps (name) ON DELETE CASCADE,
  run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  point TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (sweep, run)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sweep_runs_run ON sweep_runs (run);
CREATE TABLE IF NOT EXISTS run_tags (
  run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (run, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_tags_tag ON run_tags (tag);
CREATE TABLE IF NOT EXISTS metrics (
  run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (run, key, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evals (
  run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  split TEXT NOT NULL,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (run, split, key, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS samples (
  run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  prompt TEXT NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (run, step, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_evals (
  run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  task TEXT NOT NULL,
  shots INTEGER NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  items INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  PRIMARY KEY (run, step, task, shots, metric)
) WITHOUT ROWID;
`;

/** A run to register: what a sweep expansion produces, plus where it lives and what it costs. */
export interface NewRun {
  id: string;
  name: string;
  config: unknown;
  index: number;
  point?: Record<string, unknown>;
  tags?: string[];
  dir?: string;
  params?: number | null;
  nonEmbeddingParams?: number | null;
  tokens?: number | null;
  flops?: number | null;
}

/** One step of training metrics. null values (NaN, Inf) are kept as SQL NULL. */
export interface MetricRow {
  step: number;
  values: Record<string, number | null>;
}

export interface EvalRow extends MetricRow {
  split: string;
}

/** One task's scores at one checkpoint (the evaluation harness). */
export interface TaskEvalRow {
  step: number;
  /** NAME:SIZE. */
  task: string;
  shots: number;
  items: number;
  seed: number;
  metrics: Record<string, number | null>;
}

/** The text samples of one step, in prompt order. */
export interface SampleRow {
  step: number;
  samples: { prompt: string; text: string }[];
}

export interface OpenOptions {
  readonly?: boolean;
  /** How long a writer waits for the lock before failing (default 60 s). */
  busyTimeoutMs?: number;
}

const now = (): string => new Date().toISOString();

export class Store {
  private constructor(readonly db: Database.Database, readonly path: string) {}

  /** Opens (creating when needed, unless readonly) the store at `path`. */
  static open(path: string, opts: OpenOptions = {}): Store {
    if (!opts.readonly && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 60_000 });
    db.pragma('foreign_keys = ON');
    if (!opts.readonly) {
      // Switching to WAL needs a moment alone with the file; the busy timeout does not cover
      // it in every case, so retry briefly when another process is opening it at the same time.
      retryBusy(() => db.pragma('journal_mode = WAL'));
      db.pragma('synchronous = NORMAL');
      if ((db.pragma('user_version', { simple: true }) as number) < schemaVersion) {
        db.transaction(() => {
          db.exec(schema);
          db.pragma(`user_version = ${schemaVersion}`);
        }).immediate();
      }
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > schemaVersion) throw new Error(`${path} has store schema ${version}; this windtunnel knows up to ${schemaVersion} (upgrade windtunnel)`);
    return new Store(db, path);
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in an IMMEDIATE transaction (takes the write lock up front, waiting for it). */
  write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Creates or updates a sweep's record. */
  saveSweep(s: { name: string; spec: unknown; tags?: string[]; file?: string }): void {
    const t = now();
    this.db.prepare(`INSERT INTO sweeps (name, spec, tags, file, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, tags = excluded.tags, file = excluded.file, updated_at = excluded.updated_at`)
      .run(s.name, JSON.stringify(s.spec), JSON.stringify(s.tags ?? []), s.file ?? null, t, t);
  }

  /**
   * Registers a sweep's runs: new runs are pending, existing ones (same id) keep their status,
   * data and name, gaining a missing dir or estimate. The sweep's membership becomes exactly
   * `runs` (runs dropped from an edited sweep stay in the store, outside the sweep).
   */
  addRuns(sweep: string, runs: NewRun[]): { added: number; existing: number } {
    const insert = this.db.prepare(`INSERT INTO runs (id, name, config, dir, params, non_embedding_params, tokens, flops, created_at, updated_at)
      VALUES (@id, @name, @config, @dir, @params, @nonEmb, @tokens, @flops, @t, @t)
      ON CONFLICT (id) DO UPDATE SET
        dir = coalesce(runs.dir, excluded.dir), params = coalesce(runs.params, excluded.params),
        non_embedding_params = coalesce(runs.non_embedding_params, excluded.non_embedding_params),
        tokens = coalesce(runs.tokens, excluded.tokens), flops = coalesce(runs.flops, excluded.flops)`);
    const exists = this.db.prepare('SELECT 1 FROM runs WHERE id = ?').pluck();
    const member = this.db.prepare(`INSERT INTO sweep_runs (sweep, run, idx, name, point) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (sweep, run) DO UPDATE SET idx = excluded.idx, name = excluded.name, point = excluded.point`);
    const tag = this.db.prepare('INSERT OR IGNORE INTO run_tags (run, tag) VALUES (?, ?)');
    const prune = this.db.prepare('DELETE FROM sweep_runs WHERE sweep = ? AND run NOT IN (SELECT value FROM json_each(?))');
    return this.write(() => {
      let added = 0;
      const t = now();
      for (const r of runs) {
        if (!exists.get(r.id)) added++;
        insert.run({
          id: r.id, name: r.name, config: JSON.stringify(r.config), dir: r.dir ?? null, params: r.params ?? null,
          nonEmb: r.nonEmbeddingParams ?? null, tokens: r.tokens ?? null, flops: r.flops ?? null, t,
        });
        member.run(sweep, r.id, r.index, r.name, JSON.stringify(r.point ?? {}));
        for (const tg of r.tags ?? []) tag.run(r.id, tg);
      }
      prune.run(sweep, JSON.stringify(runs.map((r) => r.id)));
      return { added, existing: runs.length - added };
    });
  }

  /**
   * Registers (or updates the config, dir and estimate of) one run outside any sweep, e.g. one
   * trained with `windtunnel train`; its status is left as it is.
   */
  addRun(r: NewRun): void {
    const t = now();
    this.db.prepare(`INSERT INTO runs (id, name, config, dir, params, non_embedding_params, tokens, flops, created_at, updated_at)
      VALUES (@id, @name, @config, @dir, @params, @nonEmb, @tokens, @flops, @t, @t)
      ON CONFLICT (id) DO UPDATE SET config = excluded.config, dir = excluded.dir, params = excluded.params,
        non_embedding_params = excluded.non_embedding_params, tokens = excluded.tokens, flops = excluded.flops, updated_at = excluded.updated_at`)
      .run({
        id: r.id, name: r.name, config: JSON.stringify(r.config), dir: r.dir ?? null, params: r.params ?? null,
        nonEmb: r.nonEmbeddingParams ?? null, tokens: r.tokens ?? null, flops: r.flops ?? null, t,
      });
  }

  /**
   * Atomically moves a run to 'running' for `worker` if its status is one of `from`; returns
   * whether this caller got it (two workers racing for one run: exactly one wins).
   */
  claim(id: string, worker: string, from: RunStatus[] = ['pending', 'interrupted']): boolean {
    const t = now();
    const r = this.db.prepare(`UPDATE runs SET status = 'running', worker = ?, pid = NULL, attempts = attempts + 1, error = NULL,
      started_at = ?, finished_at = NULL, updated_at = ? WHERE id = ? AND status IN (SELECT value FROM json_each(?))`)
      .run(worker, t, t, id, JSON.stringify(from));
    return r.changes === 1;
  }

  /** Records the process id of a run's trainer (to tell a live run from an orphaned one). */
  setPid(id: string, pid: number | null): void {
    this.db.prepare('UPDATE runs SET pid = ?, updated_at = ? WHERE id = ?').run(pid, now(), id);
  }

  /** Marks a run done with its final metrics (computed from the stored series when not given). */
  finish(id: string, final?: Record<string, number | null>): void {
    const f = final ?? this.finalMetrics(id);
    const t = now();
    this.db.prepare(`UPDATE runs SET status = 'done', error = NULL, pid = NULL, final = ?, finished_at = ?, updated_at = ? WHERE id = ?`)
      .run(JSON.stringify(f), t, t, id);
  }

  /** Marks a run failed with its error (the trainer's stderr tail); final metrics so far are kept. */
  fail(id: string, error: string): void {
    const t = now();
    this.db.prepare(`UPDATE runs SET status = 'failed', error = ?, pid = NULL, final = ?, finished_at = ?, updated_at = ? WHERE id = ?`)
      .run(error, JSON.stringify(this.finalMetrics(id)), t, t, id);
  }

  /** Marks a run interrupted (stopped before the end; resumable from its last checkpoint). */
  interrupt(id: string, reason?: string): void {
    this.db.prepare(`UPDATE runs SET status = 'interrupted', error = ?, pid = NULL, final = ?, updated_at = ? WHERE id = ?`)
      .run(reason ?? null, JSON.stringify(this.finalMetrics(id)), now(), id);
  }

  /** Sets a run back to pending (for example to train it again from scratch). */
  reset(id: string): void {
    this.db.prepare(`UPDATE runs SET status = 'pending', error = NULL, pid = NULL, worker = NULL, started_at = NULL, finished_at = NULL, final = NULL, updated_at = ? WHERE id = ?`)
      .run(now(), id);
  }

  /** Upserts metric rows keyed by (run, key, step): logging a step twice keeps one row, the latest value. */
  logMetrics(run: string, rows: MetricRow[]): void {
    if (rows.length === 0) return;
    const up = this.db.prepare(`INSERT INTO metrics (run, key, step, value) VALUES (?, ?, ?, ?)
      ON CONFLICT (run, key, step) DO UPDATE SET value = excluded.value`);
    this.write(() => {
      for (const r of rows) for (const [k, v] of Object.entries(r.values)) up.run(run, k, r.step, v);
    });
  }

  /** Upserts evaluation rows keyed by (run, split, key, step). */
  logEvals(run: string, rows: EvalRow[]): void {
    if (rows.length === 0) return;
    const up = this.db.prepare(`INSERT INTO evals (run, split, key, step, value) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (run, split, key, step) DO UPDATE SET value = excluded.value`);
    this.write(() => {
      for (const r of rows) for (const [k, v] of Object.entries(r.values)) up.run(run, r.split, k, r.step, v);
    });
  }

  /** Upserts a step's samples keyed by (run, step, position): a step logged again replaces its samples. */
  logSamples(run: string, rows: SampleRow[]): void {
    if (rows.length === 0) return;
    const del = this.db.prepare('DELETE FROM samples WHERE run = ? AND step = ?');
    const ins = this.db.prepare('INSERT INTO samples (run, step, idx, prompt, text) VALUES (?, ?, ?, ?, ?)');
    this.write(() => {
      for (const r of rows) {
        del.run(run, r.step);
        r.samples.forEach((s, i) => ins.run(run, r.step, i, s.prompt, s.text));
      }
    });
  }

  /** Upserts task scores keyed by (run, step, task, shots, metric): evaluating again replaces them. */
  logTaskEvals(run: string, rows: TaskEvalRow[]): void {
    if (rows.length === 0) return;
    const up = this.db.prepare(`INSERT INTO task_evals (run, step, task, shots, metric, value, items, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (run, step, task, shots, metric) DO UPDATE SET value = excluded.value, items = excluded.items, seed = excluded.seed`);
    this.write(() => {
      for (const r of rows) for (const [m, v] of Object.entries(r.metrics)) up.run(run, r.step, r.task, r.shots, m, v === null || !Number.isFinite(v) ? null : v, r.items, r.seed);
    });
  }

  /** Drops a run's metrics, evals and samples (before it trains again from scratch). */
  clearMetrics(run: string): void {
    this.write(() => {
      this.db.prepare('DELETE FROM task_evals WHERE run = ?').run(run);
      this.db.prepare('DELETE FROM metrics WHERE run = ?').run(run);
      this.db.prepare('DELETE FROM evals WHERE run = ?').run(run);
      this.db.prepare('DELETE FROM samples WHERE run = ?').run(run);
    });
  }

  /**
   * The last value of each metric ("loss"), of each eval as "<split>_<key>" ("val_loss"), and
   * "step", the last step logged.
   */
  finalMetrics(run: string): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    const last = this.db.prepare(`SELECT m.key, m.value, m.step FROM metrics m
      WHERE m.run = ? AND m.step = (SELECT max(step) FROM metrics WHERE run = m.run AND key = m.key) ORDER BY m.key`).all(run) as { key: string; value: number | null; step: number }[];
    let step = -1;
    for (const r of last) { out[r.key] = r.value; step = Math.max(step, r.step); }
    const evals = this.db.prepare(`SELECT e.split, e.key, e.value FROM evals e
      WHERE e.run = ? AND e.step = (SELECT max(step) FROM evals WHERE run = e.run AND split = e.split AND key = e.key) ORDER BY e.split, e.key`).all(run) as { split: string; key: string; value: number | null }[];
    for (const e of evals) out[e.key.startsWith(`${e.split}_`) ? e.key : `${e.split}_${e.key}`] = e.value;
    if (step >= 0) out.step = step;
    return out;
  }
}

function retryBusy<T>(fn: () => T, deadlineMs = 30_000): T {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > until) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 + Math.random() * 30);
    }
  }
}
