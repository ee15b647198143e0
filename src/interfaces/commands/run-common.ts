// Helpers shared by the commands: the action wrapper that turns errors into messages and exit
// codes (base/errors.ts), flag and argument errors as usage errors, option parsers.
//
// Exit codes: 0 done; 1 an error while running; 2 a usage or config error (nothing ran);
// 3 training stopped on a NaN/Inf; 130 stopped by Ctrl-C / SIGTERM after a final checkpoint.

import { InvalidArgumentError, type Command } from 'commander';
import { EXIT, runAction } from '../../base/errors.js';

export { EXIT };

/** Runs a command action: the one error wrapper of every command (base/errors.ts runAction). */
export const action = runAction;

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
