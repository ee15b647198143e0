// The run folder: the one place that knows what a run folder holds, reads and writes it, locks
// it, and branches it. Everything else (the CLI, the lab's runner and workers, the studies)
// goes through here.
//
//   <run>/config.json       the resolved run config (checkpoints carry it too; a branch rewrites it)
//   <run>/run-config.json   the config a sweep asked for, before the trainer resolved it
//   <run>/tokenizer.json    the run's tokenizer
//   <run>/metrics.jsonl     the metrics log (metrics.ts)
//   <run>/ckpt-<step>/      checkpoints, and <run>/latest naming the newest (checkpoint.ts)
//   <run>/lock              present while a process writes the folder (base/lockfile.ts)
//
// One writer at a time: a process that trains, resumes, prepares or branches a run folder holds
// its lock, so a second `resume`, or a `resume` beside the sweep or worker that owns the run,
// stops with an error naming the holder instead of mixing weights from one with metrics from
// the other. A lock left by a killed process is recovered.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../data/tokenizer.js';
import { acquireLock, readLockHolder, type Lock, type LockHolder } from '../base/lockfile.js';
import { writeFileDurable } from '../base/durable.js';
import { latestStep } from './checkpoint.js';
import { METRICS_FILE } from './metrics.js';

export const RUN_CONFIG_FILE = 'config.json';
export const REQUESTED_CONFIG_FILE = 'run-config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const LOCK_FILE = 'lock';

export class RunFolder {
  constructor(readonly dir: string) {}

  get configPath(): string { return join(this.dir, RUN_CONFIG_FILE); }
  get requestedConfigPath(): string { return join(this.dir, REQUESTED_CONFIG_FILE); }
  get tokenizerPath(): string { return join(this.dir, TOKENIZER_FILE); }
  get metricsPath(): string { return join(this.dir, METRICS_FILE); }
  get lockPath(): string { return join(this.dir, LOCK_FILE); }

  exists(): boolean { return existsSync(this.dir); }

  /** Step of the checkpoint `latest` names, or null when the run has none yet. */
  latestStep(): number | null { return latestStep(this.dir); }

  /**
   * True when there is a checkpoint to resume from. A `latest` that names no checkpoint also
   * counts: resuming reports the damage, while restarting would silently discard the run.
   */
  hasCheckpoint(): boolean {
    try { return latestStep(this.dir) !== null; } catch { return true; }
  }

  /**
   * Takes the folder's lock, creating the folder unless `mustExist`; throws LockedError naming
   * the holder.
   */
  lock(command?: string, o: { mustExist?: boolean } = {}): Lock {
    if (o.mustExist && !existsSync(this.dir)) throw new Error(`run folder ${this.dir} does not exist`);
    mkdirSync(this.dir, { recursive: true });
    return acquireLock(this.lockPath, `run folder ${this.dir}`, command);
  }

  /** Who holds the lock now, if anyone (the holder may be gone: acquiring checks that). */
  lockHolder(): LockHolder | null { return existsSync(this.lockPath) ? readLockHolder(this.lockPath) : null; }

  /** Writes the metrics log whole (a branch starts with its source's history). */
  writeMetricsLines(lines: readonly unknown[]): void {
    writeFileDurable(this.metricsPath, lines.map((l) => JSON.stringify(l) + '\n').join(''));
  }

  /** The raw config.json (unresolved), or null when there is none. */
  readConfigFile(): unknown {
    if (!existsSync(this.configPath)) return null;
    return JSON.parse(readFileSync(this.configPath, 'utf8'));
  }

  /** True when the folder is missing or holds nothing but (possibly) its lock. */
  isEmpty(): boolean {
    return !existsSync(this.dir) || readdirSync(this.dir).every((n) => n === LOCK_FILE);
  }

  /** Removes everything in the folder but the lock (the caller holds it). */
  clear(): void {
    for (const n of readdirSync(this.dir)) if (n !== LOCK_FILE) rmSync(join(this.dir, n), { recursive: true, force: true });
  }

  writeConfig(config: unknown): void {
    writeFileDurable(this.configPath, JSON.stringify(config, null, 2) + '\n');
  }

  readTokenizer(): Tokenizer {
    if (!existsSync(this.tokenizerPath)) throw new Error(`${this.tokenizerPath} is missing; the run's tokenizer is needed to read its tokens`);
    return loadTokenizer(readFileSync(this.tokenizerPath, 'utf8'));
  }

  /** Copies another run's tokenizer file byte for byte. */
  copyTokenizerFrom(other: RunFolder): void {
    writeFileDurable(this.tokenizerPath, readFileSync(other.tokenizerPath));
  }

  writeTokenizer(tokenizer: Tokenizer): void {
    writeFileDurable(this.tokenizerPath, JSON.stringify(tokenizer.toJSON()) + '\n');
  }

  /**
   * Makes the folder ready for a trainer the lab spawns: 'resume' when it holds a checkpoint,
   * otherwise 'train' from scratch (dropping a metrics file an earlier attempt left behind).
   * Writes run-config.json each time. Done under the lock, so a folder another process is
   * writing is refused rather than changed under it.
   */
  prepareForTrainer(config: unknown): 'train' | 'resume' {
    const lock = this.lock('preparing the run for a trainer');
    try {
      const mode = this.hasCheckpoint() ? 'resume' : 'train';
      if (mode === 'train') rmSync(this.metricsPath, { force: true });
      writeFileDurable(this.requestedConfigPath, JSON.stringify(config, null, 2) + '\n');
      return mode;
    } finally {
      lock.release();
    }
  }
}
