// What the dashboard shows, computed from the store: a sorted, paged runs table; curves of
// any metric (smoothed at full resolution, downsampled on the server so 500 runs of 10,000
// steps stay light, grouped by any config keys with mean and spread bands); and
// hyperparameters against a final metric (parallel coordinates or a scatter). Each view
// returns plain JSON (figures as Vega-Lite specs from plots.ts); src/interfaces/ui serves it.
// Reads only.

import { evalSeries, flatten, metricKeys, metricSeries, queryRuns, runSamples, runTaskEvals, type RunFilter, type TaskEvalPoint, type RunRecord } from '../results/query.js';
import type { SampleRow, Store } from '../results/store.js';
import { bands, downsample, labelFor, shortKeys, smoothEma, varyingKeys, type GroupedCurve, type Spread, type XY } from './plots-data.js';
import { bandChart, curveChart, parallelChart, scatterChart, type CurveRow, type ParallelRun, type ScatterRow, type TopLevelSpec } from './plots.js';

export interface Selection {
  filter: RunFilter;
  /** Case-insensitive text to find in a run's name or id. */
  q?: string;
  /** name | status | params | tokens | flops | step | created | updated | final.<key> | config.<dotted key> */
  sort?: string;
  desc?: boolean;
}

/**
 * The runs of a selection, sorted (missing values last whichever the direction). Runs still
 * training have no final metrics in the store yet; they get their latest values here.
 */
export function selectRuns(store: Store, s: Selection): RunRecord[] {
  let runs = queryRuns(store, { ...s.filter, limit: undefined });
  for (const r of runs) if (r.final === null && (r.status === 'running' || r.status === 'interrupted')) r.final = store.finalMetrics(r.id);
  if (s.q) {
    const q = s.q.toLowerCase();
    runs = runs.filter((r) => r.name.toLowerCase().includes(q) || r.id.toLowerCase().startsWith(q));
  }
  if (s.sort) {
    const get = sortValue(s.sort);
    const dir = s.desc ? -1 : 1;
    const keyed = runs.map((r) => ({ r, v: get(r) }));
    keyed.sort((a, b) => {
      const na = a.v === null || a.v === undefined, nb = b.v === null || b.v === undefined;
      if (na || nb) return Number(na) - Number(nb);
      if (typeof a.v === 'number' && typeof b.v === 'number') return dir * (a.v - b.v);
      return dir * String(a.v).localeCompare(String(b.v), undefined, { numeric: true });
    });
    runs = keyed.map((k) => k.r);
  }
  return s.filter.limit === undefined ? runs : runs.slice(0, s.filter.limit);
}

function sortValue(key: string): (r: RunRecord) => unknown {
  if (key.startsWith('final.')) { const k = key.slice(6); return (r) => r.final?.[k]; }
  if (key.startsWith('config.')) { const k = key.slice(7); return (r) => flatten(r.config)[k]; }
  const fields: Record<string, (r: RunRecord) => unknown> = {
    name: (r) => r.name, id: (r) => r.id, status: (r) => r.status, params: (r) => r.params, tokens: (r) => r.tokens, flops: (r) => r.flops,
    step: (r) => r.final?.step, created: (r) => r.createdAt, updated: (r) => r.updatedAt, sweeps: (r) => r.sweeps.join(','),
  };
  const f = Object.hasOwn(fields, key) ? fields[key] : undefined; // not "__proto__" or "toString"
  if (!f) throw new Error(`cannot sort by "${key}" (name, status, params, tokens, flops, step, created, updated, final.<metric>, config.<key>)`);
  return f;
}

export interface RunRow {
  id: string;
  name: string;
  status: string;
  sweeps: string[];
  tags: string[];
  params: number | null;
  tokens: number | null;
  flops: number | null;
  step: number | null;
  error: string | null;
  updatedAt: string;
  final: Record<string, number | null>;
  /** The values of the config keys that vary in the selection. */
  config: Record<string, unknown>;
}

export interface RunsPage {
  total: number;
  offset: number;
  limit: number;
  rows: RunRow[];
  /** Config keys that vary across the whole selection (the table's config columns), bookkeeping keys left out unless asked for. */
  configKeys: string[];
  /** Bookkeeping keys that vary but are left out of `configKeys` (one click shows them). */
  hiddenKeys: string[];
  finalKeys: string[];
  /** How many of the selection are in each status. */
  byStatus: Record<string, number>;
}

/** One page of the runs table; `bookkeeping` shows the bookkeeping keys among the config columns. */
export function runsPage(store: Store, s: Selection, offset = 0, limit = 50, bookkeeping = false): RunsPage {
  const runs = selectRuns(store, s);
  const { shown: configKeys, hidden: hiddenKeys } = splitBookkeeping(varyingKeys(runs), bookkeeping);
  const finalKeys = [...new Set(runs.flatMap((r) => Object.keys(r.final ?? {})))].filter((k) => k !== 'step').sort(lossFirst);
  const byStatus: Record<string, number> = {};
  for (const r of runs) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const rows = runs.slice(offset, offset + limit).map((r): RunRow => {
    const flat = flatten(r.config);
    return {
      id: r.id, name: r.name, status: r.status, sweeps: r.sweeps, tags: r.tags, params: r.params, tokens: r.tokens, flops: r.flops,
      step: r.final?.step ?? null, error: r.error, updatedAt: r.updatedAt, final: r.final ?? {},
      config: Object.fromEntries(configKeys.map((k) => [k, flat[k]])),
    };
  });
  return { total: runs.length, offset, limit, rows, configKeys, hiddenKeys, finalKeys, byStatus };
}

/** Metric names a selection has logged: training keys ("loss") and evaluations as "<split>/<key>" ("val/loss"). */
export function metricNames(store: Store, runs: RunRecord[], sample = 25): { train: string[]; eval: string[] } {
  const ids = runs.slice(0, sample).map((r) => r.id);
  const train = new Set<string>();
  for (const id of ids) for (const k of metricKeys(store, id)) train.add(k.key);
  const ev = store.db.prepare('SELECT DISTINCT split, key FROM evals WHERE run IN (SELECT value FROM json_each(?)) ORDER BY split, key')
    .all(JSON.stringify(ids)) as { split: string; key: string }[];
  return { train: [...train].sort(lossFirst), eval: ev.map((e) => `${e.split}/${e.key}`) };
}

export interface CurvesQuery {
  /** A training metric ("loss") or an evaluation as "<split>/<key>" ("val/loss"). */
  metric: string;
  /** step, or a training metric to plot against (tokens, time), joined on step. */
  x?: string;
  /** Debiased-EMA weight in [0, 1). */
  smoothing?: number;
  /** Config keys to group runs by: one mean line and spread band per group. */
  groupBy?: string[];
  spread?: Spread;
  /** Points per curve (or bins per group) after downsampling. */
  points?: number;
  /** Overlaid runs at most (grouping uses every run of the selection). */
  maxRuns?: number;
  logX?: boolean;
  logY?: boolean;
}

export interface CurvesView {
  spec: TopLevelSpec;
  /** Runs drawn, runs selected, groups (when grouped), points sent. */
  shown: number;
  total: number;
  groups: number;
  points: number;
}

/**
 * Raw curves of finished runs, kept between requests: a done or failed run's series no longer
 * change (training it again resets it first, which changes its status and updatedAt), so a
 * live page re-reads only the runs still training. Bounded by a total point count.
 */
export class CurveCache {
  private entries = new Map<string, XY[]>();
  private points = 0;

  constructor(readonly maxPoints = 20_000_000) {}

  get(store: Store, run: RunRecord, metric: string, x: string): XY[] {
    const key = `${run.id}\u0000${run.updatedAt}\u0000${metric}\u0000${x}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const pts = readCurve(store, run.id, metric, x);
    if ((run.status === 'done' || run.status === 'failed') && pts.length <= this.maxPoints) {
      this.entries.set(key, pts);
      this.points += pts.length;
      for (const [k, v] of this.entries) {
        if (this.points <= this.maxPoints) break;
        this.entries.delete(k);
        this.points -= v.length;
      }
    }
    return pts;
  }
}

/** A run's metric against x ("step", or another training metric joined on step). */
function readCurve(store: Store, run: string, metric: string, x: string): XY[] {
  const ys = seriesOf(store, run, metric);
  if (x === 'step') return ys.map((p) => ({ x: p.step, y: p.value }));
  const xs = new Map(seriesOf(store, run, x).map((p) => [p.step, p.value]));
  return ys.filter((p) => xs.has(p.step)).map((p) => ({ x: xs.get(p.step)!, y: p.value }));
}

/** Curves of one metric for a list of runs (in the order given). */
export function curvesView(store: Store, runs: RunRecord[], q: CurvesQuery, cache?: CurveCache): CurvesView {
  const grouped = (q.groupBy ?? []).length > 0;
  const shown = grouped ? runs : runs.slice(0, q.maxRuns ?? 50);
  const weight = q.smoothing ?? 0;
  // a budget of points per response: 50 runs get 400 points each, 500 runs 60
  const lines = grouped ? new Set(shown.map((r) => labelFor(r, q.groupBy!))).size : shown.length;
  const points = Math.max(20, Math.min(q.points ?? 400, Math.floor(30_000 / Math.max(lines, 1))));
  const x = q.x ?? 'step';
  const varying = varyingKeys(shown);
  const short = shortKeys([...new Set([...varying, ...(q.groupBy ?? [])])]);
  const source = cache ?? new CurveCache(0);
  const curves = shown.map((r) => ({ run: r, pts: source.get(store, r, q.metric, x) }));
  const yTitle = q.metric, xTitle = x;
  if (grouped) {
    const gs: GroupedCurve[] = curves.map((c) => {
      const sm = weight > 0 ? smoothEma(c.pts.map((p) => p.y), weight) : null;
      return { group: labelFor(c.run, q.groupBy!, short), run: c.run.id, points: sm ? c.pts.map((p, i) => ({ x: p.x, y: sm[i] })) : c.pts };
    });
    const rows = bands(gs, points, q.spread ?? 'std').map((b) => ({ ...b, mean: round(b.mean), lo: round(b.lo), hi: round(b.hi) }));
    return {
      spec: bandChart(rows, { xTitle, yTitle, logX: q.logX, logY: q.logY, colorTitle: q.groupBy!.map((k) => short.get(k) ?? k).join(' '), width: 640, height: 340 }),
      shown: shown.length, total: runs.length, groups: new Set(gs.map((g) => g.group)).size, points: rows.length,
    };
  }
  const rows: CurveRow[] = [];
  for (const c of curves) {
    const series = labelFor(c.run, varying, short);
    const sm = weight > 0 ? smoothEma(c.pts.map((p) => p.y), weight) : null;
    // raw values behind smoothed ones help with a few runs and are clutter with many
    const raw = sm !== null && shown.length <= 100;
    const full = c.pts.map((p, i) => (raw ? { run: c.run.id, series, x: p.x, y: sm[i], raw: p.y } : { run: c.run.id, series, x: p.x, y: sm ? sm[i] : p.y }));
    for (const row of downsample(full, points)) {
      row.y = round(row.y);
      if (row.raw !== undefined) row.raw = round(row.raw);
      rows.push(row);
    }
  }
  return {
    spec: curveChart(rows, { xTitle, yTitle, logX: q.logX, logY: q.logY, width: 640, height: 340 }),
    shown: shown.length, total: runs.length, groups: 0, points: rows.length,
  };
}

/** A run's series of a training metric or "<split>/<key>" evaluation, non-finite values dropped. */
function seriesOf(store: Store, run: string, metric: string): { step: number; value: number }[] {
  const slash = metric.indexOf('/');
  const rows = slash < 0
    ? metricSeries(store, { runs: [run], keys: [metric] })
    : evalSeries(store, { runs: [run], split: metric.slice(0, slash), keys: [metric.slice(slash + 1)] });
  return rows.filter((p) => p.value !== null && Number.isFinite(p.value)).map((p) => ({ step: p.step, value: p.value as number }));
}

export interface HparamsQuery {
  /** A final metric ("loss", "val_loss"). */
  metric: string;
  view?: 'parallel' | 'scatter';
  /** parallel: the axes (default: the config keys that vary; at most 12). scatter: keys[0] is x. */
  keys?: string[];
  /** scatter: the key that colours the points. */
  color?: string;
  logX?: boolean;
  logY?: boolean;
  /** Offer the bookkeeping keys as hyperparameters too (default: left out). */
  bookkeeping?: boolean;
}

export interface HparamsView {
  spec: TopLevelSpec;
  keys: string[];
  runs: number;
  /** Bookkeeping keys that vary among these runs but are left out. */
  hiddenKeys: string[];
}

/** Hyperparameters against a final metric, over the runs that have it. */
export function hparamsView(runs: RunRecord[], q: HparamsQuery): HparamsView {
  const scored = runs.filter((r) => typeof r.final?.[q.metric] === 'number' && Number.isFinite(r.final[q.metric]));
  const { shown: varying, hidden: hiddenKeys } = splitBookkeeping(varyingKeys(scored), q.bookkeeping ?? false);
  const short = shortKeys(varying);
  const flats = new Map(scored.map((r) => [r.id, flatten(r.config)]));
  const label = (r: RunRecord): string => labelFor(r, varying, short);
  if ((q.view ?? 'parallel') === 'parallel') {
    const keys = (q.keys?.length ? q.keys : varying).slice(0, 12);
    const rows: ParallelRun[] = scored.map((r) => ({ run: r.id, label: label(r), values: flats.get(r.id)!, metric: r.final![q.metric] }));
    return { spec: parallelChart(rows, keys, { metricTitle: q.metric, keyTitles: shortKeys(keys) }), keys, runs: scored.length, hiddenKeys };
  }
  const xKey = q.keys?.[0] ?? varying[0];
  if (!xKey) throw new Error('no config key varies across these runs: nothing to put on x');
  const rows: ScatterRow[] = [];
  for (const r of scored) {
    const v = flats.get(r.id)![xKey];
    if (v === undefined || v === null) continue;
    rows.push({
      run: r.id, series: q.color ? String(flats.get(r.id)![q.color] ?? '-') : 'runs',
      x: typeof v === 'number' ? v : String(v), y: r.final![q.metric] as number, label: label(r),
    });
  }
  return {
    spec: scatterChart(rows, { xTitle: xKey, yTitle: `final ${q.metric}`, logX: q.logX, logY: q.logY, colorTitle: q.color ?? '', legend: q.color !== undefined, width: 560, height: 340 }),
    keys: [xKey], runs: rows.length, hiddenKeys,
  };
}

/** Six significant digits: what a plot can show, at half the JSON. */
const round = (v: number): number => +v.toPrecision(6);

function lossFirst(a: string, b: string): number {
  const rank = (k: string): number => (k === 'loss' ? 0 : k.endsWith('loss') ? 1 : /perplexity|bits_per_byte|acc/.test(k) ? 2 : 3);
  return rank(a) - rank(b) || a.localeCompare(b);
}

// ---- one run ----------------------------------------------------------------------------

/** Config keys about bookkeeping, not the experiment: hidden by default on the run page, in the runs table and the hyperparameter view. */
export const BOOKKEEPING_KEYS = ['checkpointInterval', 'keepCheckpoints', 'logInterval', 'evalInterval', 'evalBatches', 'data.cacheDir'];
/** The samples and rank sections are bookkeeping too: text and measurements logged for reading, which change no result. */
export const isBookkeeping = (key: string) => BOOKKEEPING_KEYS.includes(key) || key.startsWith('samples.') || key.startsWith('rank.');

/** Config keys to show and bookkeeping keys hidden (none hidden with `show`). */
function splitBookkeeping(keys: string[], show: boolean): { shown: string[]; hidden: string[] } {
  if (show) return { shown: keys, hidden: [] };
  return { shown: keys.filter((k) => !isBookkeeping(k)), hidden: keys.filter(isBookkeeping) };
}

export interface RunPanel {
  /** Metric key ("loss", "lr", ...; evaluations as "<split>/<key>"). */
  key: string;
  points: number;
  last: { step: number; value: number | null } | null;
  spec: TopLevelSpec;
}

export interface RunPageView {
  run: RunRecord;
  /** The resolved config by full key path, bookkeeping keys flagged. */
  config: { key: string; value: unknown; bookkeeping: boolean }[];
  /** "final" for a finished run; a running or stopped run's values are its latest, never final. */
  valuesAre: 'final' | 'latest';
  /** One panel per training metric, then one per evaluation metric, then one per task score ("task/<task> <k>-shot/<metric>"). */
  panels: RunPanel[];
  evals: { split: string; key: string; step: number; value: number | null }[];
  /** Text samples logged during training, newest step first. */
  samples: SampleRow[];
  /** Task scores from the evaluation harness (`eval RUN --tasks`), by task, shots, metric, step. */
  taskEvals: TaskEvalPoint[];
  /** Steps of the checkpoints in the run folder (empty when the folder is not on this machine). */
  checkpoints: number[];
  /** A command that trains this config again into a new folder. */
  reproduce: string | null;
  sweeps: { name: string; report: string }[];
}

/** Everything the run page shows for one run; panels are small Vega-Lite line charts (points when a metric has one value). */
export function runPageView(store: Store, run: RunRecord, checkpoints: number[], points = 300): RunPageView {
  const keys = metricKeys(store, run.id).map((k) => k.key);
  const label = run.name;
  const panel = (key: string, series: { step: number; value: number | null }[]): RunPanel => {
    const rows: CurveRow[] = downsample(series.filter((p) => p.value !== null && Number.isFinite(p.value)).map((p) => ({ run: run.id, series: label, x: p.step, y: p.value! })), points);
    const last = series.at(-1) ?? null;
    return { key, points: series.length, last: last && { step: last.step, value: last.value }, spec: curveChart(rows, { title: key, yTitle: key, width: 300, height: 170 }) };
  };
  const train = metricSeries(store, { runs: [run.id], keys });
  const evals = evalSeries(store, { runs: [run.id] });
  const panels: RunPanel[] = [];
  // Per-layer measurements (the run config's rank section: rank.eff.block0, ...) share one panel per measure, a line per layer.
  const layered = /^(rank\.(?:eff|stable|isotropy))\.(.+)$/;
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const m = layered.exec(key);
    if (!m) { panels.push(panel(key, train.filter((p) => p.key === key))); continue; }
    if (!groups.has(m[1])) groups.set(m[1], []);
    groups.get(m[1])!.push(key);
  }
  for (const [group, members] of groups) {
    const series = train.filter((p) => members.includes(p.key) && p.value !== null && Number.isFinite(p.value));
    const rows: CurveRow[] = series.map((p) => ({ run: `${run.id} ${p.key}`, series: p.key.slice(group.length + 1), x: p.step, y: p.value! }));
    panels.push({ key: group, points: series.length, last: null, spec: curveChart(rows, { title: `${group} by layer`, yTitle: group, colorTitle: 'layer', width: 300, height: 170 }) });
  }
  const evalKeys = [...new Set(evals.map((e) => `${e.split}/${e.key}`))];
  for (const k of evalKeys) panels.push(panel(k, evals.filter((e) => `${e.split}/${e.key}` === k)));
  const taskEvals = runTaskEvals(store, run.id);
  const taskKey = (t: TaskEvalPoint) => `task/${t.task} ${t.shots}-shot/${t.metric}`;
  for (const k of [...new Set(taskEvals.map(taskKey))]) panels.push(panel(k, taskEvals.filter((t) => taskKey(t) === k)));
  const flat = flatten(run.config);
  const dir = run.dir;
  return {
    run,
    config: Object.keys(flat).sort().map((key) => ({ key, value: flat[key], bookkeeping: isBookkeeping(key) })),
    valuesAre: run.status === 'done' ? 'final' : 'latest',
    panels,
    evals: evals.map((e) => ({ split: e.split ?? '', key: e.key, step: e.step, value: e.value })),
    samples: runSamples(store, run.id),
    taskEvals,
    checkpoints,
    reproduce: dir ? `npx windtunnel train --config ${shellQuote(`${dir}/config.json`)} --run-dir ${shellQuote(`${dir}-again`)}` : null,
    sweeps: run.sweeps.map((name) => ({ name, report: `/report/${encodeURIComponent(name)}` })),
  };
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
