// Figures studies share, beside the lab's builders (src/lab/presentation/plots.ts): points with 95% error
// bars (plots.ts has none), and a run's curve read from the store, from a given step on.

import { metricSeries } from '../lab/results/query.js';
import { figureConfig, type AxisOptions, type TopLevelSpec } from '../lab/presentation/plots.js';
import { smoothEma } from '../lab/presentation/plots-data.js';
import type { Store } from '../lab/results/store.js';

/** A point with its interval (lo = hi = y when there is none). */
export interface IntervalRow {
  series: string;
  x: number | string;
  y: number;
  lo: number;
  hi: number;
  /** Tooltip text. */
  label?: string;
}

/**
 * Means with 95% error bars, coloured by series, joined in x order (`connect`, default on). A
 * string x makes a categorical axis.
 */
export function intervalChart(rows: IntervalRow[], o: AxisOptions & { connect?: boolean } = {}): TopLevelSpec {
  const categorical = rows.some((r) => typeof r.x === 'string');
  const x = categorical
    ? { field: 'x', type: 'nominal' as const, title: o.xTitle ?? 'x', sort: null }
    : { field: 'x', type: 'quantitative' as const, title: o.xTitle ?? 'x', scale: o.logX ? { type: 'log' as const, nice: false, padding: 12 } : { zero: false, padding: 12 } };
  const yScale = o.logY ? { type: 'log' as const, nice: false } : { zero: false };
  const n = new Set(rows.map((r) => r.series)).size;
  const color = { field: 'series', type: 'nominal' as const, title: o.colorTitle ?? 'series', sort: null, scale: { scheme: n <= 10 ? 'tableau10' : 'tableau20' } };
  const y = { field: 'y', type: 'quantitative' as const, title: o.yTitle ?? 'y', scale: yScale };
  const layers: unknown[] = [
    { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'lo', type: 'quantitative', scale: yScale, title: o.yTitle ?? 'y' }, y2: { field: 'hi' }, color } },
    {
      mark: { type: 'point', filled: true, size: 50 },
      encoding: { x, y, color, tooltip: [{ field: 'label' }, { field: 'y', format: '.4~g' }, { field: 'lo', format: '.4~g' }, { field: 'hi', format: '.4~g' }] },
    },
  ];
  if (o.connect ?? true) layers.unshift({ mark: { type: 'line', opacity: 0.5 }, encoding: { x, y, color, order: { field: 'order' } } });
  return {
    ...(o.title ? { title: o.title } : {}), width: o.width ?? 420, height: o.height ?? 280, config: figureConfig,
    datasets: { rows: rows.map((r, i) => ({ ...r, label: r.label ?? r.series, order: typeof r.x === 'number' ? r.x : i })) }, data: { name: 'rows' },
    layer: layers,
  } as TopLevelSpec;
}

/** One metric curve of a run (training "loss" by default), from step `from` on, optionally smoothed. */
export function runCurve(store: Store, run: string, o: { key?: string; from?: number; smoothing?: number } = {}): { x: number; y: number }[] {
  const pts = metricSeries(store, { runs: [run], keys: [o.key ?? 'loss'] }).filter((p) => p.value !== null);
  const ys = o.smoothing ? smoothEma(pts.map((p) => p.value as number), o.smoothing) : pts.map((p) => p.value as number);
  return pts.map((p, i) => ({ x: p.step, y: ys[i] })).filter((p) => p.x > (o.from ?? -1));
}

/** A line of a fitted curve (x ascending within a `run`), a measured point, and a shaded band. */
export interface LineRow { series: string; run: string; x: number; y: number }
export interface PointRow { series: string; x: number; y: number; label?: string }
export interface BandRow { series: string; x: number; lo: number; hi: number }

/**
 * Fitted or predicted curves (lines) over measured values (points), coloured by series, with
 * optional shaded bands (a prediction interval): how well a law meets its data.
 */
export function linesAndPoints(lines: LineRow[], points: PointRow[], o: AxisOptions & { bands?: BandRow[]; dashed?: boolean } = {}): TopLevelSpec {
  const scale = (log: boolean | undefined) => (log ? { type: 'log' as const, nice: false } : { zero: false });
  const all = [...lines.map((r) => r.series), ...points.map((r) => r.series), ...(o.bands ?? []).map((r) => r.series)];
  const domain = [...new Set(all)];
  const color = { field: 'series', type: 'nominal' as const, title: o.colorTitle ?? 'series', sort: null, scale: { domain, scheme: domain.length <= 10 ? 'tableau10' : 'tableau20' } };
  const x = { field: 'x', type: 'quantitative' as const, title: o.xTitle ?? 'x', scale: scale(o.logX), ...(o.logX ? { axis: { format: '~s' } } : {}) };
  const yTitle = o.yTitle ?? 'y';
  const positive = (fields: string[]) => [...(o.logX ? ['x'] : []), ...(o.logY ? fields : [])].map((f) => `datum.${f} > 0`).join(' && ') || 'true';
  const layer: unknown[] = [];
  if (o.bands?.length) {
    layer.push({
      data: { name: 'bands' }, transform: [{ filter: positive(['lo', 'hi']) }], mark: { type: 'area', opacity: 0.18 },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: yTitle, scale: scale(o.logY) }, y2: { field: 'hi' }, color },
    });
  }
  if (lines.length) {
    layer.push({
      data: { name: 'lines' }, transform: [{ filter: positive(['y']) }], mark: { type: 'line', strokeWidth: 1.5, clip: true, ...(o.dashed ? { strokeDash: [5, 3] } : {}) },
      encoding: { x, y: { field: 'y', type: 'quantitative', title: yTitle, scale: scale(o.logY) }, color, detail: { field: 'run', type: 'nominal' }, order: { field: 'x' } },
    });
  }
  if (points.length) {
    layer.push({
      data: { name: 'points' }, transform: [{ filter: positive(['y']) }], mark: { type: 'point', filled: true, size: 45, opacity: 0.9 },
      encoding: { x, y: { field: 'y', type: 'quantitative', title: yTitle, scale: scale(o.logY) }, color, tooltip: [{ field: 'label' }, { field: 'x', format: '.4~g' }, { field: 'y', format: '.4~g' }] },
    });
  }
  return {
    ...(o.title ? { title: o.title } : {}), width: o.width ?? 460, height: o.height ?? 300, config: figureConfig,
    datasets: { lines, points: points.map((p) => ({ ...p, label: p.label ?? p.series })), bands: o.bands ?? [] },
    layer,
  } as TopLevelSpec;
}
