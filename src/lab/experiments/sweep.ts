// Sweeps: a family of training runs declared once. A sweep file (YAML or JSON) names a base
// run config and the axes to vary; `expandSweep` turns it into a deterministic list of runs,
// each with the resolved config, a stable id (a hash of that config, so a re-run of the sweep,
// or another sweep with an identical run, recognises finished work) and a readable name.
// `sweepCost` says what the runs cost (tokens, FLOPs). Running them is runner.ts's job.
//
//   name: lr-width                      # [A-Za-z0-9._-], also the runs folder name
//   base: ../configs/brown.yaml         # a run config file (relative to this file) or an inline object
//   tags: [smoke]
//   grid:  { lr: [1e-3, 3e-3], model.dModel: [64, 128] }          # cartesian product, first key outermost
//   zip:   { model.nLayer: [2, 4], model.nHead: [2, 4] }          # parallel lists, equal lengths
//   list:  [ { schedule.kind: cosine }, { schedule.kind: wsd, schedule.decayFraction: 0.1 } ]
//   seeds: 3                            # or [0, 7, 9]; sets seedKey (default "seed") in each run
//   derived: { batchSize: "$tokensPerStep / context" }            # see expr.ts
//
// Keys are dotted paths into the config. A key starting with "$" is a sweep variable: it is
// not written into the config, but derived expressions and run names can use it. Axes combine
// as list x zip x grid x seeds (seeds innermost); derived values are computed last, in
// dependency order, and may read any config value, variable or other derived value. Each
// resolved run is then checked as `windtunnel train` would check it, so a bad value fails
// here, naming the run and the field, before anything trains.

import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { isPlainObject, readConfigFile } from '../../base/config-file.js';
import { ConfigError, fieldIssues, type FieldIssue } from '../../base/errors.js';
import { evaluate, ExprError, parseExpr, references, type Node } from './expr.js';
import { countParams, parseModelConfig } from '../../models/config.js';
import { labFlopConvention, modelComputeShape, trainingFlops, type ComputeShape } from '../fit/flops.js';
import { tokensPerStep, totalSteps, type TrainConfig } from '../../training/config.js';
// The run-config check `windtunnel train` applies: model presets expanded, vocabSize from the
// tokenizer, the data section validated, defaults filled.
import { resolveRunConfig } from '../../training/assemble.js';
import { FORBIDDEN_KEY_MESSAGE, forbiddenKeyPath } from '../../base/config-file.js';

export type Config = Record<string, unknown>;

const keyRe = /^\$?[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/;
const axisKey = z.string().regex(keyRe, 'a key is a dotted path like model.dModel, or a $variable');
const values = z.array(z.unknown()).min(1, 'give at least one value');

export const sweepSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" (it names a folder)'),
  description: z.string().optional(),
  base: z.union([z.string().min(1), z.record(z.string(), z.unknown())], {
    errorMap: (_, ctx) => ({ message: `${ctx.data === undefined ? 'required' : 'expected'}: a training config file path or an inline config object` }),
  }),
  tags: z.array(z.string().min(1)).default([]),
  grid: z.record(axisKey, values).optional(),
  zip: z.record(axisKey, values).optional(),
  list: z.array(z.record(axisKey, z.unknown())).min(1, 'give at least one entry').optional(),
  seeds: z.union([z.number().int().positive(), z.array(z.number().int()).min(1)]).optional(),
  seedKey: z.string().regex(keyRe).default('seed'),
  derived: z.record(axisKey, z.string().min(1)).optional(),
}).strict().superRefine((s, ctx) => {
  const issue = (path: (string | number)[], message: string): void => { ctx.addIssue({ code: z.ZodIssueCode.custom, path, message }); };
  const zipKeys = Object.keys(s.zip ?? {});
  for (const k of zipKeys.slice(1)) {
    const n = s.zip![k].length, n0 = s.zip![zipKeys[0]].length;
    if (n !== n0) issue(['zip', k], `has ${n} values but zip.${zipKeys[0]} has ${n0}; zipped lists must have equal lengths`);
  }
  // Each key is set by one axis only (else the result would depend on the order of application).
  const owner = new Map<string, string>();
  const claim = (key: string, where: string, path: (string | number)[]): void => {
    for (const [k, w] of owner) {
      if (w === where && where.startsWith('list')) continue;
      if (k === key || key.startsWith(k + '.') || k.startsWith(key + '.')) { issue(path, `${key} is also set by ${w}.${k}`); return; }
    }
    owner.set(key, where);
  };
  for (const k of Object.keys(s.grid ?? {})) claim(k, 'grid', ['grid', k]);
  for (const k of zipKeys) claim(k, 'zip', ['zip', k]);
  const listKeys = new Set((s.list ?? []).flatMap((e) => Object.keys(e)));
  for (const k of listKeys) claim(k, 'list', ['list', k]);
  if (s.seeds !== undefined) claim(s.seedKey, 'seeds', ['seedKey']);
  for (const [k, src] of Object.entries(s.derived ?? {})) {
    claim(k, 'derived', ['derived', k]);
    try { parseExpr(src); } catch (e) { issue(['derived', k], (e as Error).message); }
  }
  if (s.seeds && Array.isArray(s.seeds) && new Set(s.seeds).size !== s.seeds.length) issue(['seeds'], 'seeds repeat');
});

export type SweepInput = z.input<typeof sweepSchema>;

/** A validated sweep with its base config loaded and every axis present (empty when not given). */
export interface Sweep {
  name: string;
  description?: string;
  tags: string[];
  base: Config;
  /** Absolute path of the base config file, when base was a path. */
  baseFile?: string;
  grid: Record<string, unknown[]>;
  zip: Record<string, unknown[]>;
  list: Record<string, unknown>[];
  seeds: number[];
  seedKey: string;
  derived: Record<string, string>;
  /** Absolute path of the sweep file, when loaded from one. */
  file?: string;
}

export class SweepError extends ConfigError {
  constructor(readonly source: string, issues: FieldIssue[]) {
    super(`invalid sweep ${source}`, issues);
    this.name = 'SweepError';
  }
}

export function loadSweep(file: string): Sweep {
  const abs = resolve(file);
  return parseSweep(readConfigFile(abs, 'sweep file'), { source: file, dir: dirname(abs), file: abs });
}

/** Validates a sweep object; a string base is read relative to `dir`. Throws SweepError naming each bad field. */
export function parseSweep(raw: unknown, opts: { source?: string; dir?: string; file?: string } = {}): Sweep {
  const source = opts.source ?? '(inline)';
  const forbidden = forbiddenKeyPath(raw);
  if (forbidden !== null) throw new SweepError(source, [{ field: forbidden, message: FORBIDDEN_KEY_MESSAGE }]);
  const r = sweepSchema.safeParse(raw);
  if (!r.success) {
    throw new SweepError(source, fieldIssues(r.error, { root: '(sweep)' }));
  }
  const s = r.data;
  let base: Config, baseFile: string | undefined;
  if (typeof s.base === 'string') {
    baseFile = resolve(opts.dir ?? '.', s.base);
    let loaded: unknown;
    try { loaded = readConfigFile(baseFile); } catch (e) { throw new SweepError(source, [{ field: 'base', message: (e as Error).message }]); }
    if (!isPlainObject(loaded)) throw new SweepError(source, [{ field: 'base', message: `${s.base} does not hold a config object` }]);
    const bad = forbiddenKeyPath(loaded);
    if (bad !== null) throw new SweepError(source, [{ field: `base (${s.base}): ${bad}`, message: FORBIDDEN_KEY_MESSAGE }]);
    base = loaded;
  } else {
    base = s.base;
  }
  const seeds = s.seeds === undefined ? [] : typeof s.seeds === 'number' ? Array.from({ length: s.seeds }, (_, i) => i) : s.seeds;
  return {
    name: s.name, description: s.description, tags: [...new Set(s.tags)], base, baseFile,
    grid: s.grid ?? {}, zip: s.zip ?? {}, list: s.list ?? [], seeds, seedKey: s.seedKey, derived: s.derived ?? {}, file: opts.file,
  };
}

/** One run of a sweep. */
export interface ExpandedRun {
  /** Position in the expansion (0-based). */
  index: number;
  /** Hash of the resolved config: the same config always gets the same id. */
  id: string;
  /** Readable, unique within the sweep, safe as a folder name: "dModel=64_lr=0.001_seed=1". */
  name: string;
  /** The axis values of this run, by key ($variables included, derived values not). */
  point: Record<string, unknown>;
  /** The base config with the point and the derived values applied. */
  config: Config;
}

export interface ExpandOptions {
  /**
   * Checks each resolved config; throws (naming the field) when it is invalid. Default:
   * validateTrainConfig. false: configs are opaque (a custom trainer).
   */
  validate?: ((config: Config) => void) | false;
}

/** The default check: a run config must be one `windtunnel train` accepts. */
export function validateTrainConfig(config: Config): void {
  resolveRunConfig(config);
}

/** Expands a sweep into its runs, in a fixed order. Throws SweepError naming the run and field on any problem. */
export function expandSweep(sweep: Sweep, opts: ExpandOptions = {}): ExpandedRun[] {
  const validate = opts.validate === undefined ? validateTrainConfig : opts.validate;
  const source = sweep.file ?? sweep.name;
  const count = sweepSize(sweep);
  if (count > MAX_SWEEP_RUNS) {
    throw new SweepError(source, [{ field: '(sweep)', message: `expands to ${count} runs, more than the ${MAX_SWEEP_RUNS} a sweep may have; split it, or use fewer values per axis` }]);
  }
  const points = sweepPoints(sweep);
  const derived = Object.entries(sweep.derived).map(([key, src]) => ({ key, tree: parseExpr(src), src }));
  const varied = variedKeys(sweep);
  const runs: ExpandedRun[] = [];
  const seen = new Map<string, string>();
  const names = new Set<string>();
  for (const [index, point] of points.entries()) {
    const name = uniqueName(runName(point, varied), names);
    const config = structuredClone(sweep.base);
    const fail = (field: string, message: string): never => { throw new SweepError(source, [{ field: `run ${name}: ${field}`, message }]); };
    for (const [k, v] of Object.entries(point)) if (!k.startsWith('$')) setPath(config, k, structuredClone(v), fail);
    for (const [k, v] of Object.entries(computeDerived(derived, point, config, fail))) if (!k.startsWith('$')) setPath(config, k, v, fail);
    if (validate) {
      try { validate(config); } catch (e) { fail('config', oneLine(e)); }
    }
    const id = runId(config);
    const twin = seen.get(id);
    if (twin !== undefined) fail('config', `resolves to the same config as run ${twin} (an axis or $variable that changes nothing?)`);
    seen.set(id, name);
    runs.push({ index, id, name, point, config });
  }
  return runs;
}

/** Runs a sweep may expand to: beyond this, expanding (and registering, and running) them would exhaust memory long before anything useful happens. */
export const MAX_SWEEP_RUNS = 100_000;

/** How many runs the axes make (list x zip x grid x seeds), counted without expanding them. */
export function sweepSize(s: Sweep): number {
  let n = Math.max(1, s.list.length) * Math.max(1, s.seeds.length);
  const zipKeys = Object.keys(s.zip);
  if (zipKeys.length) n *= s.zip[zipKeys[0]].length;
  for (const vs of Object.values(s.grid)) n *= vs.length;
  return n;
}

/** The axis points: list x zip x grid x seeds, first axis outermost. */
function sweepPoints(s: Sweep): Record<string, unknown>[] {
  const factors: Record<string, unknown>[][] = [];
  if (s.list.length) factors.push(s.list);
  const zipKeys = Object.keys(s.zip);
  if (zipKeys.length) factors.push(s.zip[zipKeys[0]].map((_, i) => Object.fromEntries(zipKeys.map((k) => [k, s.zip[k][i]]))));
  for (const [k, vs] of Object.entries(s.grid)) factors.push(vs.map((v) => ({ [k]: v })));
  if (s.seeds.length) factors.push(s.seeds.map((seed) => ({ [s.seedKey]: seed })));
  let points: Record<string, unknown>[] = [{}];
  for (const f of factors) points = points.flatMap((p) => f.map((q) => ({ ...p, ...q })));
  return points;
}

function computeDerived(derived: { key: string; tree: Node; src: string }[], point: Record<string, unknown>, config: Config,
  fail: (field: string, message: string) => never): Record<string, number> {
  const byKey = new Map(derived.map((d) => [d.key, d]));
  const done: Record<string, number> = {};
  const visiting: string[] = [];
  const value = (key: string): number => {
    if (key in done) return done[key];
    const d = byKey.get(key)!;
    if (visiting.includes(key)) fail(`derived.${key}`, `depends on itself: ${[...visiting.slice(visiting.indexOf(key)), key].join(' -> ')}`);
    visiting.push(key);
    const lookup = (name: string): number => {
      if (byKey.has(name)) return value(name);
      const v = name.startsWith('$') ? point[name] : getPath(config, name);
      if (v === undefined) fail(`derived.${key}`, `"${d.src}" reads ${name}, which ${name.startsWith('$') ? 'no axis sets' : 'the config does not have'}`);
      if (typeof v !== 'number') fail(`derived.${key}`, `"${d.src}" reads ${name} = ${JSON.stringify(v)}, not a number`);
      return v as number;
    };
    let out: number;
    try { out = evaluate(d.tree, lookup); } catch (e) { if (e instanceof ExprError) fail(`derived.${key}`, e.message); throw e; }
    if (!Number.isFinite(out)) fail(`derived.${key}`, `"${d.src}" = ${out}`);
    visiting.pop();
    return (done[key] = out);
  };
  for (const d of derived) value(d.key);
  return done;
}

/** The keys whose values differ between runs, in axis order: these make up run names. */
function variedKeys(s: Sweep): string[] {
  const keys = [...new Set(s.list.flatMap((e) => Object.keys(e)))];
  keys.push(...Object.keys(s.zip), ...Object.keys(s.grid));
  if (s.seeds.length) keys.push(s.seedKey);
  return keys;
}

function runName(point: Record<string, unknown>, varied: string[]): string {
  const short = (k: string): string => {
    const last = k.replace(/^\$/, '').split('.').pop()!;
    return varied.filter((o) => o.replace(/^\$/, '').split('.').pop() === last).length > 1 ? k.replace(/^\$/, '') : last;
  };
  const parts = varied.filter((k) => k in point).map((k) => `${short(k)}=${formatValue(point[k])}`);
  return (parts.join('_') || 'base').replace(/[^A-Za-z0-9._=+,-]+/g, '-').slice(0, 120);
}

function uniqueName(name: string, taken: Set<string>): string {
  let out = name;
  for (let i = 2; taken.has(out); i++) out = `${name}~${i}`;
  taken.add(out);
  return out;
}

function formatValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** An error as one line; a config error's issues as "field: message; ...". */
function oneLine(e: unknown): string {
  if (e instanceof ConfigError) return e.issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  return (e as Error).message.replace(/\n\s*/g, ' ');
}

/** Stable id: the first 12 hex digits of sha256 over the config as canonical JSON (sorted keys). */
export function runId(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12);
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}


export function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function setPath(obj: Config, path: string, value: unknown, fail: (field: string, message: string) => never): void {
  const parts = path.split('.');
  if (forbiddenKeyPath({ [path]: null }) !== null) fail(path, FORBIDDEN_KEY_MESSAGE); // never walk into Object.prototype
  let cur: Config = obj;
  for (const [i, part] of parts.slice(0, -1).entries()) {
    if (cur[part] === undefined) cur[part] = {};
    const next = cur[part];
    if (!isPlainObject(next)) fail(path, `cannot set it: ${parts.slice(0, i + 1).join('.')} is ${JSON.stringify(next)}, not an object`);
    cur = next as Config;
  }
  cur[parts[parts.length - 1]] = value;
}

// ---------------------------------------------------------------------------------------------
// Cost estimate: params N from the model config (countParams of src/models/config.ts), tokens D
// from the run's budget (steps x tokens per step, or the token budget rounded up to whole steps),
// FLOPs by the lab's one FLOP convention (src/lab/fit/flops.ts, labFlopConvention):
// D * (6 * N_matmul + 12 * nLayer * context * dModel), the PaLM / nanoGPT count that
// ../shared/bench uses: N_matmul is every parameter a token is multiplied by (non-embedding, plus
// the tied output head), the second term is attention's QK^T and AV.

export interface RunCost {
  /** All parameters. */
  params: number | null;
  /** Kaplan's N: parameters outside the embedding tables. */
  nonEmbeddingParams: number | null;
  tokens: number | null;
  flops: number | null;
  /** What every FLOP convention needs to know about the model (absent without a model). */
  shape?: Required<ComputeShape>;
  /** Why a field is null. */
  note?: string;
}

export function runCost(config: Config): RunCost {
  let c: TrainConfig;
  try {
    c = resolveRunConfig(config);
  } catch (e) {
    // Not a training config (an opaque run for a custom trainer): still count a model if there is one.
    const note = `not a training config: ${oneLine(e)}`;
    try {
      const pc = countParams(parseModelConfig(config.model));
      return { params: pc.total, nonEmbeddingParams: pc.nonEmbedding, tokens: null, flops: null, note };
    } catch {
      return { params: null, nonEmbeddingParams: null, tokens: null, flops: null, note };
    }
  }
  const m = c.model, pc = countParams(m);
  const tokens = totalSteps(c) * tokensPerStep(c);
  const shape = modelComputeShape(pc, m, c.context);
  return { params: pc.total, nonEmbeddingParams: pc.nonEmbedding, tokens, flops: trainingFlops(shape, tokens, labFlopConvention), shape };
}

export interface SweepCost {
  runs: number;
  /** Sums over the runs whose budget could be read. */
  tokens: number;
  flops: number;
  /** Runs whose tokens or FLOPs could not be estimated (see perRun[i].note). */
  unknown: number;
  perRun: RunCost[];
}

/** What a sweep costs: run count, total tokens and FLOPs. */
export function sweepCost(sweep: Sweep | ExpandedRun[]): SweepCost {
  const runs = Array.isArray(sweep) ? sweep : expandSweep(sweep);
  const perRun = runs.map((r) => runCost(r.config));
  return {
    runs: runs.length,
    tokens: perRun.reduce((a, e) => a + (e.tokens ?? 0), 0),
    flops: perRun.reduce((a, e) => a + (e.flops ?? 0), 0),
    unknown: perRun.filter((e) => e.tokens === null || e.flops === null).length,
    perRun,
  };
}
