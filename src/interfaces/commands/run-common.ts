// Helpers shared by the run commands (train, resume, sample, eval, export, branch): exit codes,
// the action wrapper that turns errors into messages, and number formatting.
//
// Exit codes: 0 done; 1 an error while running; 2 a usage or config error (nothing ran);
// 3 training stopped on a NaN/Inf; 130 stopped by Ctrl-C / SIGTERM after a final checkpoint.

import { InvalidArgumentError, type Command } from 'commander';
import { TrainConfigError } from '../../training/config.js';
import { UsageError } from '../../base/config-file.js';

export const EXIT = { ok: 0, error: 1, usage: 2, diverged: 3, interrupted: 130 } as const;

/** Runs a command action; errors become one message on stderr and an exit code (no stack unless WINDTUNNEL_DEBUG). */
export function action<A extends unknown[]>(fn: (...a: A) => Promise<number | void> | number | void): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      const code = await fn(...a);
      process.exitCode = code ?? EXIT.ok;
    } catch (e) {
      const usage = e instanceof UsageError || e instanceof TrainConfigError;
      console.error(`error: ${(e as Error).message}`);
      if (process.env.WINDTUNNEL_DEBUG && !usage) console.error((e as Error).stack);
      process.exitCode = usage ? EXIT.usage : EXIT.error;
    }
  };
}

/** Flag and argument errors (unknown option, missing value) exit 2 like config errors, help exits 0. */
export function usageExits(cmd: Command): Command {
  return cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.usage));
}

/** Option parsers: a bad value is a commander usage error (exit 2) naming the flag. */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}.`);
    return n;
  };
}

export function numberOption(name: string, ok: (n: number) => boolean = Number.isFinite, what = 'a number'): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !ok(n)) throw new InvalidArgumentError(`${name} must be ${what}.`);
    return n;
  };
}
