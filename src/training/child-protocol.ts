// The training child process's contract: how the lab (its runner and its queue workers) starts a
// trainer for one run folder, and what the trainer tells it back. The trainer is child.ts, run by
// childCommand(); a stand-in (tests, custom builds: `--trainer`) takes the same arguments and
// speaks the same messages.
//
//   argv       <command...> train <runDir>    a fresh run of <runDir>/run-config.json
//              <command...> resume <runDir>   continue from the checkpoint <runDir>/latest names
//   env        WINDTUNNEL_THREADS, the run's thread count
//   stdout     ChildMessage objects, one JSON object per line, nothing else (messages go to stderr)
//   files      the run folder (run-folder.ts): metrics.jsonl as training goes, checkpoints
//   SIGINT     stop at the next step boundary with a checkpoint and exit 130; a second one quits
//   exit code  0 completed; 130 stopped; 3 diverged; 2 a bad config (nothing ran); 1 any other error

import { fileURLToPath } from 'node:url';

export type ChildMode = 'train' | 'resume';

export type ChildMessage =
  | { type: 'start'; mode: ChildMode; step: number; totalSteps: number }
  | { type: 'progress'; step: number; totalSteps: number; loss: number }
  | { type: 'end'; status: 'completed' | 'stopped' | 'diverged'; step: number; error?: string }
  | { type: 'error'; message: string };

const TYPES = new Set<ChildMessage['type']>(['start', 'progress', 'end', 'error']);

/** The command line that runs the child: compiled (dist/), child.js on this Node; from source, child.ts through tsx. */
export function childCommand(): string[] {
  if (import.meta.url.endsWith('.js')) return [process.execPath, fileURLToPath(new URL('./child.js', import.meta.url))];
  return [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./child.ts', import.meta.url))];
}

export function childArgs(mode: ChildMode, runDir: string): string[] {
  return [mode, runDir];
}

export function parseChildArgs(argv: readonly string[]): { mode: ChildMode; runDir: string } {
  const [mode, runDir, ...rest] = argv;
  if ((mode !== 'train' && mode !== 'resume') || !runDir || rest.length) {
    throw new Error(`usage: <trainer> train|resume <run folder>, got ${JSON.stringify(argv)}`);
  }
  return { mode, runDir };
}

export function encodeChildMessage(m: ChildMessage): string {
  return JSON.stringify(m) + '\n';
}

/** A line of the child's stdout as a message; null for anything else. */
export function parseChildMessage(line: string): ChildMessage | null {
  if (!line.startsWith('{')) return null;
  try {
    const v = JSON.parse(line) as { type?: unknown };
    return v !== null && typeof v === 'object' && TYPES.has(v.type as ChildMessage['type']) ? (v as ChildMessage) : null;
  } catch {
    return null;
  }
}
