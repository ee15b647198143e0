// Recording a run that was trained outside a sweep (`windtunnel train`, `windtunnel resume`) in
// the results store, so `runs list` and `ui` show every run a user trains. Which store: --db,
// else the nearest windtunnel.db in the folders above the run folder, else a new one beside it
// (runs/<name> -> runs/windtunnel.db, the store `runs list` reads by default). A run is keyed by
// its folder: an existing record with that dir is reused (a sweep's run resumed by hand keeps
// its record), otherwise the id is a hash of the folder's absolute path.
// Recording never stops training: a store that cannot be written is a warning.
// Trainers that the lab spawns are recorded by the lab; it sets WINDTUNNEL_RECORD=0 for them.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { JsonlTail, ingestFile, storeLines } from './ingest.js';
import { Store, type TaskEvalRow } from './store.js';

export const STORE_FILE = 'windtunnel.db';

/** The store a run folder's run belongs in (see the header). */
export function storeForRunDir(runDir: string): string {
  const start = dirname(resolve(runDir));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, STORE_FILE))) return join(dir, STORE_FILE);
    if (dirname(dir) === dir) break;
  }
  return join(start, STORE_FILE);
}

/** False in a trainer the lab spawned (it records the run itself). */
export const recordingWanted = (): boolean => process.env.WINDTUNNEL_RECORD !== '0';

export interface RunEstimateFields {
  params: number | null;
  nonEmbeddingParams: number | null;
  tokens: number | null;
  flops: number | null;
}

export class RunRecorder {
  private tail: JsonlTail;
  private lastIngest = 0;

  private constructor(private readonly store: Store, readonly id: string, private readonly metricsPath: string, private readonly warn: (m: string) => void) {
    this.tail = new JsonlTail(metricsPath);
  }

  /**
   * Registers the run as running (a fresh run's old metrics are dropped). Returns null, after a
   * warning, when the store cannot be opened or written.
   */
  static start(o: {
    runDir: string; db?: string; config: unknown; estimate: RunEstimateFields; fresh: boolean; metricsPath: string; warn: (m: string) => void;
  }): RunRecorder | null {
    const path = o.db ?? storeForRunDir(o.runDir);
    let store: Store | null = null;
    try {
      store = Store.open(path);
      const dir = resolve(o.runDir);
      const known = store.db.prepare('SELECT id FROM runs WHERE dir = ? ORDER BY rowid LIMIT 1').pluck().get(dir) as string | undefined;
      const id = known ?? createHash('sha256').update(dir).digest('hex').slice(0, 12);
      store.addRun({ id, name: basename(dir), config: o.config, index: 0, dir, ...o.estimate });
      store.claim(id, `train:${hostname()}:${process.pid}`, ['pending', 'running', 'done', 'failed', 'interrupted']);
      store.setPid(id, process.pid);
      if (o.fresh) store.clearMetrics(id);
      const r = new RunRecorder(store, id, o.metricsPath, o.warn);
      if (!o.fresh) r.ingest(true);
      return r;
    } catch (e) {
      o.warn(`could not record the run in the results store ${path}: ${(e as Error).message}`);
      store?.close();
      return null;
    }
  }

  /** Reads the new lines of the metrics file into the store (at most every few seconds unless forced). */
  ingest(force = false): void {
    if (!force && Date.now() - this.lastIngest < 5000) return;
    this.lastIngest = Date.now();
    this.attempt(() => storeLines(this.store, this.id, this.tail.read()));
  }

  /** Records how the run ended, with everything it logged, and closes the store. */
  end(status: 'done' | 'failed' | 'interrupted', error?: string): void {
    this.attempt(() => {
      ingestFile(this.store, this.id, this.metricsPath);
      if (status === 'done') this.store.finish(this.id);
      else if (status === 'failed') this.store.fail(this.id, error ?? 'failed');
      else this.store.interrupt(this.id, error);
    });
    this.store.close();
  }

  private attempt(fn: () => void): void {
    try { fn(); } catch (e) { this.warn(`recording the run in ${this.store.path}: ${(e as Error).message}`); }
  }
}

/**
 * Writes a run folder's task scores into its store (--db, else storeForRunDir), registering the
 * run (keyed by its folder, as RunRecorder keys it) when the store does not know it yet.
 * Returns the store's path and the run's id.
 */
export function recordTaskEvals(o: { runDir: string; db?: string; config: unknown; rows: TaskEvalRow[] }): { path: string; id: string } {
  const path = o.db ?? storeForRunDir(o.runDir);
  const store = Store.open(path);
  try {
    const dir = resolve(o.runDir);
    const known = store.db.prepare('SELECT id FROM runs WHERE dir = ? ORDER BY rowid LIMIT 1').pluck().get(dir) as string | undefined;
    const id = known ?? createHash('sha256').update(dir).digest('hex').slice(0, 12);
    if (!known) store.addRun({ id, name: basename(dir), config: o.config, index: 0, dir });
    store.logTaskEvals(id, o.rows);
    return { path, id };
  } finally {
    store.close();
  }
}
