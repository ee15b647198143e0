// Reading the results store: runs filtered by sweep, tag, status, config values (dotted paths
// into the config JSON) and final-metric ranges; metric and eval time series; run comparison;
// and export of any of these to CSV or JSON. Reports, the dashboard and studies read the store
// through this module only, so the tables can change behind it.

import { UsageError } from '../../base/errors.js';
import type { Store, RunStatus, SampleRow } from './store.js';
import { isPlainObject } from '../../base/config-file.js';

export interface RunRecord {
  id: string;
  name: string;
  status: RunStatus;
  config: Record<string, unknown>;
  tags: string[];
  /** Sweeps this run belongs to (one config can recur in several). */
  sweeps: string[];
  dir: string | null;
  error: string | null;
  attempts: number;
  worker: string | null;
  pid: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** Last value of each metric, "<split>_<key>" for evals, and "step"; null before any metric. */
  final: Record<string, number | null> | null;
  params: number | null;
  nonEmbeddingParams: number | null;
  tokens: number | null;
  flops: number | null;
}

export type Op = '=' | '!=' | '<' | '<=' | '>' | '>=';

/**
 * A filter that cannot mean what was written: unreadable, a key that no run has, or a value
 * whose type (number or text) no run's value at that key has. Bad input (exit 2, HTTP 400).
 */
export class QueryError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

/** A test on a dotted path: config.<path> for `where`, final.<path> for `final`. */
export interface Condition {
  path: string;
  op: Op;
  value: string | number | boolean | null;
}

export interface RunFilter {
  ids?: string[];
  sweep?: string;
  /** Runs carrying every one of these tags. */
  tags?: string[];
  status?: RunStatus[];
  /** Tests on config values: { path: 'lr', op: '<=', value: 0.003 }. */
  where?: Condition[];
  /** Tests on final metrics: { path: 'loss', op: '<', value: 3.5 }. */
  final?: Condition[];
  limit?: number;
}

/** Parses "model.dModel=128", "lr<=3e-3", "schedule.kind!=wsd", "loss<3.5". Values: numbers, true, false, null, else text. */
export function parseCondition(text: string): Condition {
  const m = /^\s*([^=!<>\s]+)\s*(<=|>=|!=|==|=|<|>)\s*(.*?)\s*$/.exec(text);
  if (!m) throw new QueryError(`cannot read condition "${text}": expected KEY=VALUE (or !=, <, <=, >, >=)`);
  const raw = m[3];
  let value: Condition['value'];
  if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (raw === 'null') value = null;
  else if (raw !== '' && Number.isFinite(Number(raw))) value = Number(raw);
  else value = raw.replace(/^(["'])(.*)\1$/, '$2');
  return { path: m[1], op: (m[2] === '==' ? '=' : m[2]) as Op, value };
}

/** SQLite JSON path for a dotted key: model.dModel -> $.model.dModel (odd segments quoted). */
export function jsonPath(dotted: string): string {
  return '$' + dotted.split('.').map((seg) => /^[A-Za-z_][\w]*$/.test(seg) ? `.${seg}` : `."${seg.replace(/"/g, '\\"')}"`).join('');
}

function conditionSql(column: string, c: Condition, params: unknown[]): string {
  const path = jsonPath(c.path);
  const expr = `json_extract(${column}, ?)`;
  if (c.value === null) {
    if (c.op !== '=' && c.op !== '!=') throw new QueryError(`${c.path}${c.op}null: only = and != compare with null`);
    params.push(path);
    return `${expr} IS ${c.op === '=' ? '' : 'NOT '}NULL`;
  }
  const value = typeof c.value === 'boolean' ? (c.value ? 1 : 0) : c.value;
  if (c.op === '!=') {
    // Also keeps runs that lack the key, as a user reading "lr != 0.1" expects.
    params.push(path, path, value);
    return `(${expr} IS NULL OR ${expr} != ?)`;
  }
  params.push(path, value);
  return `${expr} ${c.op} ?`;
}

/**
 * Refuses a condition that would silently match nothing (or, with !=, everything): one on a key
 * that no run in the store has, or one whose value is a number where every run's value is text
 * (or the other way round). An empty store has no keys to check against.
 */
function checkCondition(store: Store, column: 'config' | 'final', c: Condition): void {
  const what = column === 'config' ? 'config key' : 'final metric';
  const shown = `${c.path}${c.op}${c.value}`;
  if (typeof c.value === 'string' && c.op !== '=' && c.op !== '!=') {
    throw new QueryError(`${shown}: "${c.value}" is not a number; <, <=, > and >= compare numbers`);
  }
  const types = store.db.prepare(`SELECT DISTINCT json_type(${column}, ?) FROM runs WHERE json_type(${column}, ?) IS NOT NULL`).pluck()
    .all(jsonPath(c.path), jsonPath(c.path)) as string[];
  if (types.length === 0) {
    if (!store.db.prepare('SELECT 1 FROM runs LIMIT 1').get()) return;
    const close = knownKeys(store, column).filter((k) => k.split('.').pop() === c.path.split('.').pop());
    throw new QueryError(`no run has ${what} "${c.path}"${close.length ? ` (did you mean ${close.map((k) => `"${k}"`).join(' or ')}?)` : ''}` +
      (column === 'config' ? '; config keys are as in the run config file, e.g. lr, model.dModel, schedule.kind' : ''));
  }
  const numeric = types.some((t) => t === 'integer' || t === 'real');
  if (typeof c.value === 'number' && !numeric) throw new QueryError(`${shown}: ${c.path} holds text in every run, not numbers`);
  if (typeof c.value === 'string' && !types.includes('text')) {
    throw new QueryError(`${shown}: ${c.path} holds ${numeric ? 'numbers' : types.join('/')} in every run, and "${c.value}" is text`);
  }
}

/** Dotted keys present in the store's runs (a sample of them), for "did you mean". */
function knownKeys(store: Store, column: 'config' | 'final'): string[] {
  const rows = store.db.prepare(`SELECT ${column} FROM runs WHERE ${column} IS NOT NULL LIMIT 200`).pluck().all() as string[];
  return [...new Set(rows.flatMap((r) => Object.keys(flatten(JSON.parse(r) as Record<string, unknown>))))].sort();
}

const runColumns = `r.*,
  (SELECT json_group_array(tag) FROM (SELECT tag FROM run_tags WHERE run = r.id ORDER BY tag)) AS tags_json,
  (SELECT json_group_array(sweep) FROM (SELECT sweep FROM sweep_runs WHERE run = r.id ORDER BY sweep)) AS sweeps_json`;

/** Runs matching a filter: in sweep order when filtered by sweep, else in the order they were registered. */
export function queryRuns(store: Store, filter: RunFilter = {}): RunRecord[] {
  const where: string[] = [], params: unknown[] = [];
  if (filter.ids) { where.push('r.id IN (SELECT value FROM json_each(?))'); params.push(JSON.stringify(filter.ids)); }
  if (filter.sweep !== undefined) { where.push('EXISTS (SELECT 1 FROM sweep_runs s WHERE s.run = r.id AND s.sweep = ?)'); params.push(filter.sweep); }
  for (const t of filter.tags ?? []) { where.push('EXISTS (SELECT 1 FROM run_tags t WHERE t.run = r.id AND t.tag = ?)'); params.push(t); }
  if (filter.status?.length) { where.push('r.status IN (SELECT value FROM json_each(?))'); params.push(JSON.stringify(filter.status)); }
  for (const c of filter.where ?? []) { checkCondition(store, 'config', c); where.push(conditionSql('r.config', c, params)); }
  for (const c of filter.final ?? []) { checkCondition(store, 'final', c); where.push(conditionSql('r.final', c, params)); }
  let order = 'r.rowid';
  if (filter.sweep !== undefined) { order = '(SELECT idx FROM sweep_runs s WHERE s.run = r.id AND s.sweep = ?), r.id'; params.push(filter.sweep); }
  let sql = `SELECT ${runColumns} FROM runs r${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}`;
  if (filter.limit !== undefined) { sql += ' LIMIT ?'; params.push(filter.limit); }
  return (store.db.prepare(sql).all(...params) as RunRowDb[]).map(toRecord);
}

/** One run by id, unique id prefix, or name (as in `runs show`); throws when none or several match. */
export function findRun(store: Store, ref: string): RunRecord {
  const rows = store.db.prepare(`SELECT ${runColumns} FROM runs r WHERE r.id = @ref OR r.id LIKE @prefix OR r.name = @ref
    OR EXISTS (SELECT 1 FROM sweep_runs s WHERE s.run = r.id AND s.name = @ref) ORDER BY r.id = @ref DESC LIMIT 5`)
    .all({ ref, prefix: `${ref.replace(/[%_]/g, '')}%` }) as RunRowDb[];
  if (rows.length === 0) throw new Error(`no run matches "${ref}" (give an id, an id prefix or a run name)`);
  if (rows[0].id === ref || rows.length === 1) return toRecord(rows[0]);
  throw new Error(`"${ref}" matches several runs: ${rows.map((r) => `${r.id} ${r.name}`).join(', ')}; give more of the id`);
}

export interface SweepSummary {
  name: string;
  file: string | null;
  tags: string[];
  runs: number;
  byStatus: Partial<Record<RunStatus, number>>;
  updatedAt: string;
}

export function listSweeps(store: Store): SweepSummary[] {
  const sweeps = store.db.prepare('SELECT name, file, tags, updated_at FROM sweeps ORDER BY name').all() as { name: string; file: string | null; tags: string; updated_at: string }[];
  const counts = store.db.prepare(`SELECT s.sweep, r.status, count(*) AS n FROM sweep_runs s JOIN runs r ON r.id = s.run GROUP BY s.sweep, r.status`)
    .all() as { sweep: string; status: RunStatus; n: number }[];
  return sweeps.map((s) => {
    const byStatus: Partial<Record<RunStatus, number>> = {};
    for (const c of counts) if (c.sweep === s.name) byStatus[c.status] = c.n;
    return { name: s.name, file: s.file, tags: JSON.parse(s.tags) as string[], runs: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus, updatedAt: s.updated_at };
  });
}

/** The stored sweep spec (as parsed from its file, base inlined), or null. */
export function sweepSpec(store: Store, name: string): unknown {
  const row = store.db.prepare('SELECT spec FROM sweeps WHERE name = ?').pluck().get(name) as string | undefined;
  return row === undefined ? null : JSON.parse(row);
}

/** A sweep run's axis values ($variables included). */
export function runPoint(store: Store, sweep: string, run: string): Record<string, unknown> | null {
  const row = store.db.prepare('SELECT point FROM sweep_runs WHERE sweep = ? AND run = ?').pluck().get(sweep, run) as string | undefined;
  return row === undefined ? null : JSON.parse(row) as Record<string, unknown>;
}

export interface SeriesPoint {
  run: string;
  key: string;
  step: number;
  value: number | null;
  /** Only for evals. */
  split?: string;
}

export interface SeriesQuery {
  runs: string[];
  /** Metric keys (default: all). */
  keys?: string[];
  fromStep?: number;
  toStep?: number;
}

/** Training metric series, ordered by run, key, step (each run's curve is one index range). */
export function metricSeries(store: Store, q: SeriesQuery): SeriesPoint[] {
  const params: unknown[] = [JSON.stringify(q.runs)];
  let sql = 'SELECT run, key, step, value FROM metrics WHERE run IN (SELECT value FROM json_each(?))';
  if (q.keys) { sql += ' AND key IN (SELECT value FROM json_each(?))'; params.push(JSON.stringify(q.keys)); }
  if (q.fromStep !== undefined) { sql += ' AND step >= ?'; params.push(q.fromStep); }
  if (q.toStep !== undefined) { sql += ' AND step <= ?'; params.push(q.toStep); }
  return store.db.prepare(`${sql} ORDER BY run, key, step`).all(...params) as SeriesPoint[];
}

/** Evaluation series, ordered by run, split, key, step. */
export function evalSeries(store: Store, q: SeriesQuery & { split?: string }): SeriesPoint[] {
  const params: unknown[] = [JSON.stringify(q.runs)];
  let sql = 'SELECT run, split, key, step, value FROM evals WHERE run IN (SELECT value FROM json_each(?))';
  if (q.split !== undefined) { sql += ' AND split = ?'; params.push(q.split); }
  if (q.keys) { sql += ' AND key IN (SELECT value FROM json_each(?))'; params.push(JSON.stringify(q.keys)); }
  if (q.fromStep !== undefined) { sql += ' AND step >= ?'; params.push(q.fromStep); }
  if (q.toStep !== undefined) { sql += ' AND step <= ?'; params.push(q.toStep); }
  return store.db.prepare(`${sql} ORDER BY run, split, key, step`).all(...params) as SeriesPoint[];
}

/**
 * A run's text samples by step (newest first; `latest` keeps the newest N steps). A store written
 * before samples existed (schema 1) and opened read-only has no samples table: none, then.
 */
export function runSamples(store: Store, run: string, latest?: number): SampleRow[] {
  const hasTable = store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'samples'").get() !== undefined;
  if (!hasTable) return [];
  const steps = store.db.prepare(`SELECT DISTINCT step FROM samples WHERE run = ? ORDER BY step DESC${latest !== undefined ? ' LIMIT ?' : ''}`)
    .all(...(latest !== undefined ? [run, latest] : [run])) as { step: number }[];
  const rows = store.db.prepare('SELECT prompt, text FROM samples WHERE run = ? AND step = ? ORDER BY idx');
  return steps.map(({ step }) => ({ step, samples: rows.all(run, step) as { prompt: string; text: string }[] }));
}

/** The metric keys a run has logged, with how many steps each. */
export function metricKeys(store: Store, run: string): { key: string; steps: number; lastStep: number }[] {
  return store.db.prepare('SELECT key, count(*) AS steps, max(step) AS lastStep FROM metrics WHERE run = ? GROUP BY key ORDER BY key').all(run) as { key: string; steps: number; lastStep: number }[];
}

export interface Comparison {
  runs: { id: string; name: string; status: RunStatus }[];
  /** Config keys (dotted) whose values differ between the runs, each with one value per run. */
  config: Record<string, unknown[]>;
  /** Final metrics, one value per run. */
  final: Record<string, (number | null)[]>;
}

export function compareRuns(runs: RunRecord[]): Comparison {
  const flat = runs.map((r) => flatten(r.config));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
  const config: Record<string, unknown[]> = {};
  for (const k of keys) {
    const vs = flat.map((f) => f[k]);
    if (new Set(vs.map((v) => JSON.stringify(v))).size > 1) config[k] = vs;
  }
  const finalKeys = [...new Set(runs.flatMap((r) => Object.keys(r.final ?? {})))].sort();
  const final: Record<string, (number | null)[]> = {};
  for (const k of finalKeys) final[k] = runs.map((r) => r.final?.[k] ?? null);
  return { runs: runs.map((r) => ({ id: r.id, name: r.name, status: r.status })), config, final };
}

/** Nested object -> { 'a.b.c': leaf }; arrays are leaves. */
export function flatten(obj: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v) && Object.keys(v).length > 0) flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}

/** A run as one flat row for CSV: fixed columns, then config.<dotted key> and final.<key>. */
export function flattenRun(r: RunRecord): Record<string, unknown> {
  return {
    id: r.id, name: r.name, status: r.status, sweeps: r.sweeps.join(';'), tags: r.tags.join(';'),
    params: r.params, non_embedding_params: r.nonEmbeddingParams, tokens: r.tokens, flops: r.flops,
    attempts: r.attempts, worker: r.worker, started_at: r.startedAt, finished_at: r.finishedAt, dir: r.dir, error: r.error,
    ...Object.fromEntries(Object.entries(flatten(r.config)).map(([k, v]) => [`config.${k}`, v])),
    ...Object.fromEntries(Object.entries(r.final ?? {}).map(([k, v]) => [`final.${k}`, v])),
  };
}

/** RFC 4180 CSV; columns default to every key, in order of first appearance. Objects are written as JSON. */
export function toCsv(rows: Record<string, unknown>[], columns?: string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.map(cell).join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

interface RunRowDb {
  id: string; name: string; config: string; dir: string | null; status: RunStatus; error: string | null; attempts: number;
  worker: string | null; pid: number | null; created_at: string; started_at: string | null; finished_at: string | null;
  updated_at: string; final: string | null; params: number | null; non_embedding_params: number | null;
  tokens: number | null; flops: number | null; tags_json: string; sweeps_json: string;
}

function toRecord(r: RunRowDb): RunRecord {
  return {
    id: r.id, name: r.name, status: r.status, config: JSON.parse(r.config) as Record<string, unknown>,
    tags: JSON.parse(r.tags_json) as string[], sweeps: JSON.parse(r.sweeps_json) as string[], dir: r.dir, error: r.error,
    attempts: r.attempts, worker: r.worker, pid: r.pid, createdAt: r.created_at, startedAt: r.started_at,
    finishedAt: r.finished_at, updatedAt: r.updated_at, final: r.final === null ? null : JSON.parse(r.final) as Record<string, number | null>,
    params: r.params, nonEmbeddingParams: r.non_embedding_params, tokens: r.tokens, flops: r.flops,
  };
}

/** One task score of a run (the evaluation harness; `windtunnel eval RUN --tasks`). */
export interface TaskEvalPoint {
  step: number;
  task: string;
  shots: number;
  metric: string;
  value: number | null;
  items: number;
}

/**
 * A run's task scores ordered by task, shots, metric, step. A store from before task evaluations
 * (schema < 3) opened read-only has no task_evals table: none, then.
 */
export function runTaskEvals(store: Store, run: string): TaskEvalPoint[] {
  const hasTable = store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'task_evals'").get() !== undefined;
  if (!hasTable) return [];
  return store.db.prepare('SELECT step, task, shots, metric, value, items FROM task_evals WHERE run = ? ORDER BY task, shots, metric, step').all(run) as TaskEvalPoint[];
}
