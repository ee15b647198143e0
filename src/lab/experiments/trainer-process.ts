// One trainer child process for one run folder: what the local runner (runner.ts) and the queue
// worker (worker.ts) share. It prepares the folder (train from scratch, or resume from the last
// checkpoint; run-folder.ts), spawns the training child (training/child.ts, whose contract is
// training/child-protocol.ts), follows its metrics file and its progress messages, and resolves
// with how it ended. What to do with the metrics and the outcome is the caller's: the runner
// writes them into the store, the worker into the store or through Redis.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { JsonlTail } from '../results/ingest.js';
import { RunFolder } from '../../training/run-folder.js';
import { childArgs, childCommand, parseChildMessage, type ChildMessage, type ChildMode } from '../../training/child-protocol.js';

export type RunMode = ChildMode;

export interface TrainerInvocation {
  command: string;
  args: string[];
}

/** Spells the child command for a run. */
export type TrainerCommand = (mode: RunMode, dir: string) => TrainerInvocation;

/** The training child (training/child.ts); `prefix` stands in for its command (tests use a fake trainer). */
export function trainerCommand(prefix: string[] = childCommand()): TrainerCommand {
  const [command, ...pre] = prefix;
  return (mode, dir) => ({ command, args: [...pre, ...childArgs(mode, dir)] });
}

export const metricsFile = (dir: string): string => new RunFolder(dir).metricsPath;

/** True when the trainer left a checkpoint to resume from (RunFolder.hasCheckpoint). */
export function hasCheckpoint(dir: string): boolean {
  return new RunFolder(dir).hasCheckpoint();
}

/**
 * Makes the run folder ready for a trainer (RunFolder.prepareForTrainer, under the folder's
 * lock): resume when it holds a checkpoint, otherwise start from scratch (the caller drops the
 * stored metrics too). Throws when the folder is unusable or another process holds it.
 */
export function prepareRunDir(dir: string, config: unknown): RunMode {
  return new RunFolder(dir).prepareForTrainer(config);
}

export interface TrainerOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  spawnError: Error | null;
  /** The last 16 KiB of stderr. */
  stderr: string;
  /** The child's last 'end' or 'error' message, if it sent one. */
  last: Extract<ChildMessage, { type: 'end' | 'error' }> | null;
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
  let last: TrainerOutcome['last'] = null;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-16_384); });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (stdoutRest + d).split('\n');
    stdoutRest = lines.pop()!;
    for (const line of lines) {
      const m = parseChildMessage(line);
      if (m?.type === 'progress') o.onProgress?.(m.step, m.totalSteps);
      else if (m?.type === 'end' || m?.type === 'error') last = m;
    }
  });
  child.on('error', (e) => { spawnError = e; });
  const exited = new Promise<TrainerOutcome>((done) => {
    child.on('close', (code, signal) => {
      clearInterval(poll);
      done({ code, signal, spawnError, stderr, last });
    });
  });
  return { child, exited };
}

/** The error text for a trainer that did not finish: how it ended, then its stderr tail. */
export function describeFailure(command: string, out: TrainerOutcome): string {
  const how = out.spawnError ? `could not start ${command}: ${out.spawnError.message}` : out.signal ? `killed by ${out.signal}` : `exit code ${out.code}`;
  const detail = out.stderr.trim() ? tailLines(out.stderr, 40) : out.last?.type === 'error' ? out.last.message : out.last?.error ?? '';
  return `${how}${detail ? `\n${detail}` : ''}`;
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
