// One trainer child process for one run folder: what the local runner (runner.ts) and the queue
// worker (worker.ts) share. It prepares the folder (train from scratch, or resume from the last
// checkpoint), spawns the trainer, follows its metrics file and its JSON progress lines, and
// resolves with how it ended. What to do with the metrics and the outcome is the caller's:
// the runner writes them into the store, the worker into the store or through Redis.
// The child-process contract itself is described at the top of runner.ts.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonlTail } from '../results/ingest.js';
import type { RunMode, TrainerInvocation } from './runner.js';
import { latestStep } from '../../training/checkpoint.js';
import { METRICS_FILE } from '../../training/metrics.js';

export const metricsFile = (dir: string): string => join(dir, METRICS_FILE);
export const configFile = (dir: string): string => join(dir, 'run-config.json');

/**
 * True when the trainer left a checkpoint to resume from. A `latest` that names no checkpoint
 * also counts: resuming reports the damage, while restarting would silently discard the run.
 */
export function hasCheckpoint(dir: string): boolean {
  try { return latestStep(dir) !== null; } catch { return true; }
}

/**
 * Makes the run folder ready for a trainer: resume when it holds a checkpoint, otherwise start
 * from scratch (dropping a metrics file an earlier attempt left behind; the caller drops the
 * stored metrics too). Writes run-config.json each time. Throws when the folder is unusable.
 */
export function prepareRunDir(dir: string, config: unknown): RunMode {
  mkdirSync(dir, { recursive: true });
  const mode: RunMode = hasCheckpoint(dir) ? 'resume' : 'train';
  if (mode === 'train') rmSync(metricsFile(dir), { force: true });
  writeFileSync(configFile(dir), JSON.stringify(config, null, 2) + '\n');
  return mode;
}

export interface TrainerOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  spawnError: Error | null;
  /** The last 16 KiB of stderr. */
  stderr: string;
}

export interface TrainerChild {
  child: ChildProcess;
  /** Resolves once the trainer has exited and its pipes are closed. */
  exited: Promise<TrainerOutcome>;
}

export interface StartTrainerOptions {
  invocation: TrainerInvocation;
  dir: string;
  threads: number;
  /** How often the metrics file is read (ms). */
  pollMs: number;
  /** New complete lines of metrics.jsonl, every pollMs while the trainer runs. */
  onLines: (lines: string[]) => void;
  onProgress?: (step: number, totalSteps?: number) => void;
  onWarning?: (message: string) => void;
}

/**
 * Spawns the trainer. The child is detached (its own process group), so a terminal's Ctrl-C
 * reaches it only through our process, once (a second SIGINT often means "quit now" to a
 * trainer). The metrics tail is live only: after `exited`, callers read the whole file once
 * more (ingestFile), which also catches lines a tail can miss when a resuming trainer rewrites
 * the file under it.
 */
export function startTrainer(o: StartTrainerOptions): TrainerChild {
  const warn = o.onWarning ?? (() => {});
  const child = spawn(o.invocation.command, o.invocation.args, {
    env: { ...process.env, WINDTUNNEL_THREADS: String(o.threads) },
    stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  const file = metricsFile(o.dir);
  const tail = new JsonlTail(file);
  const poll = setInterval(() => {
    try { o.onLines(tail.read()); } catch (e) { warn(`reading ${file}: ${(e as Error).message}`); }
  }, o.pollMs);
  let stderr = '', stdoutRest = '', spawnError: Error | null = null;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-16_384); });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (stdoutRest + d).split('\n');
    stdoutRest = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const p = JSON.parse(line) as { step?: unknown; totalSteps?: unknown };
        if (typeof p.step === 'number') o.onProgress?.(p.step, typeof p.totalSteps === 'number' ? p.totalSteps : undefined);
      } catch { /* not a progress line */ }
    }
  });
  child.on('error', (e) => { spawnError = e; });
  const exited = new Promise<TrainerOutcome>((done) => {
    child.on('close', (code, signal) => {
      clearInterval(poll);
      done({ code, signal, spawnError, stderr });
    });
  });
  return { child, exited };
}

/** The error text for a trainer that did not finish: how it ended, then its stderr tail. */
export function describeFailure(command: string, out: TrainerOutcome): string {
  const how = out.spawnError ? `could not start ${command}: ${out.spawnError.message}` : out.signal ? `killed by ${out.signal}` : `exit code ${out.code}`;
  return `${how}${out.stderr.trim() ? `\n${tailLines(out.stderr, 40)}` : ''}`;
}

function tailLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * A prefix that makes the kernel kill the trainer when the process that spawned it dies, even by
 * SIGKILL (Linux prctl PR_SET_PDEATHSIG, through util-linux `setpriv`). Without it a trainer
 * outlives a killed worker and keeps writing the run folder that another worker is resuming.
 * Empty where setpriv is missing (the caller warns).
 */
export function dieWithParentPrefix(): string[] {
  if (process.platform !== 'linux') return [];
  for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) if (existsSync(p)) return [p, '--pdeathsig', 'KILL', '--'];
  return [];
}
