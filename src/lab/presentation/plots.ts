// Figure builders: plain rows in, Vega-Lite specs out, for reports, the dashboard and studies
// (a study builds its own rows and calls these, or writes its own spec). Every spec keeps its
// rows in top-level named `datasets` ("rows"; parallelChart adds "ticks" and "axes"), so a
// live view can swap the data without rebuilding the chart. renderSvg draws a spec to SVG in Node (Vega's SVG
// renderer needs no canvas), which is how reports inline their figures and open offline.
//
// Conventions: x and y are the plotted values; `series` is what colours a line or point (a
// run's label, or its group's); `run` separates lines within a series. Log axes drop rows
// with x or y <= 0 (a log scale cannot show them) by a filter inside the spec.

import { compile, type TopLevelSpec } from 'vega-lite';
import { View, parse, logger, Error as VegaError } from 'vega';
import type { BandPoint } from './plots-data.js';

export type { TopLevelSpec } from 'vega-lite';

/** A figure: an id (file name: [a-z0-9-]), a title and caption, and its spec. */
export interface Figure {
  id: string;
  title: string;
  caption?: string;
  spec: TopLevelSpec;
}

export interface AxisOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
  /** Legend title (default "run"). */
  colorTitle?: string;
  /** Show the colour legend (default: when there are at most 30 series). */
  legend?: boolean;
}

/** A point of a curve; `raw` is the unsmoothed value when y is smoothed (drawn faintly behind). */
export interface CurveRow {
  run: string;
  series: string;
  x: number;
  y: number;
  raw?: number;
}

export interface ScatterRow {
  run: string;
  series: string;
  x: number | string;
  y: number;
  /** Shown in the tooltip (default: run). */
  label?: string;
}

/** Shared look: quiet grid, readable labels, legend labels never truncated (labelLimit 0: no limit). */
export const figureConfig = {
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: '#ccc' },
  axis: { gridColor: '#eee', labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, labelFlush: false },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 0, symbolLimit: 40, symbolOpacity: 1 },
  title: { fontSize: 14, anchor: 'start' as const, fontWeight: 'normal' as const },
};

const seriesCount = (rows: readonly { series: string }[]): number => new Set(rows.map((r) => r.series)).size;

function colour(rows: readonly { series: string }[], o: AxisOptions) {
  const n = seriesCount(rows);
  const legend = o.legend ?? n <= 30;
  return {
    field: 'series', type: 'nominal' as const, title: o.colorTitle ?? 'run', sort: null,
    scale: { scheme: n <= 10 ? 'tableau10' : 'tableau20' },
    legend: legend ? { orient: 'right' as const } : null,
  };
}

const scale = (log: boolean | undefined) => (log ? { type: 'log' as const, nice: false } : { zero: false });

function positiveFilter(o: AxisOptions, fields: { x: string[]; y: string[] }): { filter: string }[] {
  const tests = [...(o.logX ? fields.x : []), ...(o.logY ? fields.y : [])].map((f) => `datum.${f} > 0`);
  return tests.length ? [{ filter: tests.join(' && ') }] : [];
}

const size = (o: AxisOptions) => ({ width: o.width ?? 520, height: o.height ?? 300 });
const title = (o: AxisOptions) => (o.title ? { title: o.title } : {});

/**
 * Lines, one per run, coloured by series. With `raw` on the rows (smoothed curves), the raw
 * values are drawn faintly behind, as TensorBoard does.
 */
export function curveChart(rows: CurveRow[], o: AxisOptions = {}): TopLevelSpec {
  const hasRaw = rows.some((r) => r.raw !== undefined);
  const x = { field: 'x', type: 'quantitative' as const, title: o.xTitle ?? 'step', scale: scale(o.logX) };
  const color = colour(rows, o);
  const line = (field: 'y' | 'raw', opacity: number) => ({
    mark: { type: 'line' as const, strokeWidth: field === 'y' ? 1.6 : 1, opacity, clip: true },
    encoding: {
      x, y: { field, type: 'quantitative' as const, title: o.yTitle ?? 'value', scale: scale(o.logY) },
      color, detail: { field: 'run', type: 'nominal' as const },
      ...(field === 'y' ? { tooltip: curveTooltip(o) } : {}),
    },
  });
  // A run with one point (a final metric, an evaluation at the end) has no line to draw: a dot.
  const single = {
    transform: [{ joinaggregate: [{ op: 'count' as const, as: 'n_points' }], groupby: ['run'] }, { filter: 'datum.n_points === 1' }],
    mark: { type: 'point' as const, filled: true, size: 70, clip: true },
    encoding: { x, y: { field: 'y', type: 'quantitative' as const, title: o.yTitle ?? 'value', scale: scale(o.logY) }, color, tooltip: curveTooltip(o) },
  };
  return {
    ...title(o), ...size(o), config: figureConfig,
    datasets: { rows }, data: { name: 'rows' },
    transform: positiveFilter(o, { x: ['x'], y: hasRaw ? ['y', 'raw'] : ['y'] }),
    layer: hasRaw ? [line('raw', 0.22), line('y', 1), single] : [line('y', 1), single],
  } as TopLevelSpec;
}

/** Hovering a curve names the run and reads off its step and value. */
function curveTooltip(o: AxisOptions) {
  return [
    { field: 'series', title: o.colorTitle ?? 'run' }, { field: 'run', title: 'run id' },
    { field: 'x', title: o.xTitle ?? 'step', format: '.6~g' }, { field: 'y', title: o.yTitle ?? 'value', format: '.5~g' },
  ];
}

/** Mean lines with a shaded spread (lo..hi) per group: runs of a group differ only by seed. */
export function bandChart(rows: BandPoint[], o: AxisOptions = {}): TopLevelSpec {
  const data = rows.map((r) => ({ ...r, series: r.group }));
  const x = { field: 'x', type: 'quantitative' as const, title: o.xTitle ?? 'step', scale: scale(o.logX) };
  const color = colour(data, { colorTitle: 'group', ...o });
  const yScale = scale(o.logY);
  return {
    ...title(o), ...size(o), config: figureConfig,
    datasets: { rows: data }, data: { name: 'rows' },
    transform: positiveFilter(o, { x: ['x'], y: ['lo', 'hi', 'mean'] }),
    layer: [
      {
        mark: { type: 'area', opacity: 0.2, clip: true },
        encoding: { x, y: { field: 'lo', type: 'quantitative', scale: yScale, title: o.yTitle ?? 'value' }, y2: { field: 'hi' }, color },
      },
      {
        mark: { type: 'line', strokeWidth: 1.8, clip: true },
        encoding: {
          x, y: { field: 'mean', type: 'quantitative', scale: yScale, title: o.yTitle ?? 'value' }, color,
          tooltip: [{ field: 'series', title: o.colorTitle ?? 'group' }, { field: 'n', title: 'runs' }],
        },
      },
    ],
  } as TopLevelSpec;
}

/**
 * Points coloured by series, e.g. final loss against parameters on log axes. `connect` joins
 * the points of a series in x order (a scaling curve). A string x makes a categorical axis.
 */
export function scatterChart(rows: ScatterRow[], o: AxisOptions & { connect?: boolean } = {}): TopLevelSpec {
  const categorical = rows.some((r) => typeof r.x === 'string');
  const x = categorical
    ? { field: 'x', type: 'nominal' as const, title: o.xTitle ?? 'x', sort: 'ascending' as const }
    : { field: 'x', type: 'quantitative' as const, title: o.xTitle ?? 'x', scale: { ...scale(o.logX), padding: 12 }, axis: o.logX ? { format: '~s' } : {} };
  const y = { field: 'y', type: 'quantitative' as const, title: o.yTitle ?? 'y', scale: { ...scale(o.logY), padding: 12 } };
  const color = colour(rows, o);
  const points = {
    mark: { type: 'point' as const, filled: true, size: 60, opacity: 0.85 },
    encoding: {
      x, y, color,
      tooltip: [{ field: 'label', title: 'run' }, { field: 'x', title: o.xTitle ?? 'x', format: categorical ? undefined : '.4~g' }, { field: 'y', title: o.yTitle ?? 'y', format: '.4~g' }],
    },
  };
  const lines = { mark: { type: 'line' as const, opacity: 0.5 }, encoding: { x, y, color, order: { field: 'x' } } };
  return {
    ...title(o), ...size(o), config: figureConfig,
    datasets: { rows: rows.map((r) => ({ ...r, label: r.label ?? r.run })) }, data: { name: 'rows' },
    transform: positiveFilter({ ...o, logX: o.logX && !categorical }, { x: ['x'], y: ['y'] }),
    layer: o.connect && !categorical ? [lines, points] : [points],
  } as TopLevelSpec;
}

/** One run's values for a parallel-coordinates view: config values by key, and its metric. */
export interface ParallelRun {
  run: string;
  label: string;
  values: Record<string, unknown>;
  metric: number | null;
}

/**
 * Parallel coordinates: one vertical axis per key (then the metric), one line per run coloured
 * by the metric. Each axis is scaled on its own: numbers linearly, or logarithmically when
 * all positive and spanning 10x or more; anything else as evenly spaced categories.
 */
export function parallelChart(runs: ParallelRun[], keys: string[], o: AxisOptions & { metricTitle?: string; keyTitles?: Map<string, string> } = {}): TopLevelSpec {
  const metricTitle = o.metricTitle ?? 'metric';
  const axes = [...keys, '\u0000metric'];
  const rows: { run: string; label: string; axis: number; pos: number; value: string; metric: number | null }[] = [];
  const ticks: { axis: number; pos: number; text: string }[] = [];
  axes.forEach((key, i) => {
    const get = (r: ParallelRun): unknown => (key === '\u0000metric' ? r.metric : r.values[key]);
    const present = runs.filter((r) => get(r) !== undefined && get(r) !== null && !(typeof get(r) === 'number' && !Number.isFinite(get(r) as number)));
    const pos = axisPositions(present.map(get));
    present.forEach((r, j) => rows.push({ run: r.run, label: r.label, axis: i, pos: pos.at[j], value: fmtTick(get(r)), metric: r.metric }));
    for (const t of pos.ticks) ticks.push({ axis: i, pos: t.pos, text: t.text });
    ticks.push({ axis: i, pos: 1.1, text: key === '\u0000metric' ? metricTitle : (o.keyTitles?.get(key) ?? key) });
  });
  const x = { field: 'axis', type: 'quantitative' as const, axis: null, scale: { domain: [-0.05, axes.length - 0.6] } };
  const y = { field: 'pos', type: 'quantitative' as const, axis: null, scale: { domain: [-0.05, 1.15] } };
  return {
    ...title(o), width: o.width ?? Math.max(360, 130 * axes.length), height: o.height ?? 300, config: { ...figureConfig, view: { stroke: null } },
    datasets: { rows, ticks, axes: axes.map((_, i) => ({ axis: i })) },
    layer: [
      { data: { name: 'axes' }, mark: { type: 'rule', color: '#bbb' }, encoding: { x, y: { datum: 0, type: 'quantitative', axis: null, scale: y.scale }, y2: { datum: 1 } } },
      {
        data: { name: 'rows' },
        mark: { type: 'line', strokeWidth: 1.2, opacity: 0.7 },
        encoding: {
          x, y, detail: { field: 'run', type: 'nominal' }, order: { field: 'axis' },
          color: { field: 'metric', type: 'quantitative', title: metricTitle, scale: { scheme: 'viridis', reverse: true } },
          tooltip: [{ field: 'label', title: 'run' }, { field: 'metric', title: metricTitle, format: '.4~g' }],
        },
      },
      { data: { name: 'ticks' }, mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#444' }, encoding: { x, y, text: { field: 'text' } } },
    ],
  } as TopLevelSpec;
}

/** Positions in [0, 1] for one parallel axis, and the labels to print on it. */
function axisPositions(vs: unknown[]): { at: number[]; ticks: { pos: number; text: string }[] } {
  if (vs.length === 0) return { at: [], ticks: [] };
  if (vs.every((v) => typeof v === 'number')) {
    const ns = vs as number[];
    const lo = Math.min(...ns), hi = Math.max(...ns);
    const log = lo > 0 && hi / lo >= 10;
    const t = (v: number): number => (log ? Math.log10(v) : v);
    const at = (v: number): number => (hi === lo ? 0.5 : (t(v) - t(lo)) / (t(hi) - t(lo)));
    const distinct = [...new Set(ns)].sort((a, b) => a - b);
    const shown = distinct.length <= 6 ? distinct : [lo, log ? Math.pow(10, (t(lo) + t(hi)) / 2) : (lo + hi) / 2, hi];
    return { at: ns.map(at), ticks: shown.map((v) => ({ pos: at(v), text: fmtTick(v) })) };
  }
  const texts = vs.map(fmtTick);
  const distinct = [...new Set(texts)].sort();
  const at = (s: string): number => (distinct.length === 1 ? 0.5 : distinct.indexOf(s) / (distinct.length - 1));
  return { at: texts.map(at), ticks: distinct.slice(0, 12).map((s) => ({ pos: at(s), text: s })) };
}

function fmtTick(v: unknown): string {
  if (typeof v === 'number') return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2).replace('e+', 'e') : String(+v.toPrecision(4));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Draws a spec to an SVG string in Node (no canvas needed; text widths are estimated). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const quiet = logger(VegaError);
  const { spec: vg } = compile(spec, { logger: quiet });
  const view = new View(parse(vg), { renderer: 'none', logLevel: VegaError });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
