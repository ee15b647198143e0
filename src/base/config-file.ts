// Config files, the one reader for all of them (run configs, sweep files, bases): JSON when the
// name ends in .json, YAML otherwise (YAML reads JSON too, so that is the default for unknown
// extensions). Plus `--set key.path=value` overrides whose values are typed by JSON syntax
// (numbers, booleans, null, arrays, objects, "strings"); anything that is not JSON is taken as a
// plain string. Validation is the owning layer's schema; this file only reads and edits the raw object.

import { existsSync, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './errors.js';

/** An object that is not null and not an array: what a config (or a section of one) is. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a config file into an object; a missing file, a parse error or a non-object is a UsageError. */
export function readConfigFile(path: string, what = 'config file'): Record<string, unknown> {
  if (!existsSync(path)) throw new UsageError(`${what} ${path} does not exist`);
  const text = readFileSync(path, 'utf8');
  const format = /\.json$/i.test(path) ? 'JSON' : 'YAML';
  let value: unknown;
  try {
    value = format === 'JSON' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new UsageError(`cannot parse ${what} ${path}: not valid ${format}: ${(e as Error).message}`);
  }
  if (!isPlainObject(value)) throw new UsageError(`${what} ${path} must hold an object`);
  return value;
}

/** The config's name for default run folders: the file name without its extension. */
export function configName(path: string): string {
  return basename(path, extname(path));
}

/** `3e-4` -> 0.0003, `true` -> true, `[0.9,0.95]` -> array, `{"kind":"byte"}` -> object, `gpt2` -> "gpt2". */
export function parseSetValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Applies `a.b.c=value` overrides in order, creating objects along the way. A segment that
 * meets a non-object (e.g. `lr.x=1` when lr is a number) is an error naming the path.
 */
export function applyOverrides(config: Record<string, unknown>, sets: readonly string[]): Record<string, unknown> {
  const out = structuredClone(config);
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${JSON.stringify(s)}: expected key.path=value`);
    const path = s.slice(0, eq).trim().split('.');
    if (path.some((p) => p === '')) throw new UsageError(`--set ${JSON.stringify(s)}: empty segment in the key path`);
    const value = parseSetValue(s.slice(eq + 1));
    let node: Record<string, unknown> | unknown[] = out;
    for (let i = 0; i < path.length - 1; i++) {
      const key = path[i];
      let next = (node as Record<string, unknown>)[key];
      if (next === undefined) (node as Record<string, unknown>)[key] = next = {};
      if (next === null || typeof next !== 'object') {
        throw new UsageError(`--set ${path.join('.')}: ${path.slice(0, i + 1).join('.')} is ${JSON.stringify(next)}, not an object`);
      }
      node = next as Record<string, unknown>;
    }
    (node as Record<string, unknown>)[path[path.length - 1]] = value;
  }
  return out;
}
