// Errors every layer shares, and what they mean for a process's exit code: a UsageError is a
// mistake in what the user gave (flags, files, configs), found before anything ran (exit 2); a
// ConfigError is a UsageError that lists every bad field of a config by its dotted path, made
// from zod's issues by one function. runAction is the one wrapper that turns a command's errors
// into a message on stderr and an exit code.

import type { ZodError } from 'zod';

/** 0 done; 1 an error while running; 2 a usage or config error (nothing ran); 3 training stopped on a NaN/Inf; 130 stopped by Ctrl-C / SIGTERM. */
export const EXIT = { ok: 0, error: 1, usage: 2, diverged: 3, interrupted: 130 } as const;

/** A mistake in what the user gave (file, flags, config): exit code 2, nothing has run. */
export class UsageError extends Error {
  readonly exitCode: number = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FieldIssue {
  /** Dotted path of the field (`model.nHead`, `data.corpus.kind`), or "(config)" for the whole. */
  field: string;
  message: string;
}

/**
 * A config that failed validation, with every bad field. The message is the title, then the
 * issues: one per line (`lines`), or joined by "; " on the title's line (`inline`).
 */
export class ConfigError extends UsageError {
  constructor(readonly title: string, readonly issues: FieldIssue[], layout: 'lines' | 'inline' = 'lines') {
    super(layout === 'lines'
      ? `${title}:\n${issues.map((i) => `  ${i.field}: ${i.message}`).join('\n')}`
      : `${title}: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export interface ZodIssueOptions {
  /** Path segments put before each issue's own path (the config section being checked). */
  prefix?: (string | number)[];
  /** The field name for an issue about the whole object (default "(config)"). */
  root?: string;
  /** The message for an unknown key at `path` (default "unknown key"). */
  unknownKey?: (path: (string | number)[]) => string;
}

/** zod's issues as field issues; an unrecognized-keys issue becomes one issue per unknown key. */
export function fieldIssues(error: ZodError, o: ZodIssueOptions = {}): FieldIssue[] {
  const prefix = o.prefix ?? [];
  return error.issues.flatMap((i) => (i.code === 'unrecognized_keys'
    ? i.keys.map((k) => ({ field: [...prefix, ...i.path, k].join('.'), message: o.unknownKey?.(i.path) ?? 'unknown key' }))
    : [{ field: [...prefix, ...i.path].join('.') || (o.root ?? '(config)'), message: i.message }]));
}

/** The exit code an error ends a process with. */
export function exitCodeFor(e: unknown): number {
  return e instanceof UsageError ? e.exitCode : EXIT.error;
}

/**
 * Runs a command's action. A returned number is the exit code; without one the code is whatever
 * the action set (0 by default). An error becomes one line `error: <message>` on stderr (its stack
 * too under WINDTUNNEL_DEBUG, unless it is a usage error) and exit code 2 for a UsageError, else 1.
 */
export function runAction<A extends unknown[]>(fn: (...a: A) => Promise<number | void> | number | void): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      const code = await fn(...a);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      console.error(`error: ${(e as Error).message}`);
      if (process.env.WINDTUNNEL_DEBUG && !(e instanceof UsageError)) console.error((e as Error).stack);
      process.exitCode = exitCodeFor(e);
    }
  };
}
