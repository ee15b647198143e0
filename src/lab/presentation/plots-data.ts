// Series arithmetic for plots, shared by reports and the dashboard: TensorBoard's debiased EMA
// smoothing, downsampling that keeps a curve's shape (largest-triangle-three-buckets), mean
// and spread bands across the runs of a group (seeds), and short labels for runs from the
// config keys that vary. Pure functions on plain arrays; nothing here reads the store.
//
// Order matters: smooth at full resolution, then downsample (smoothing a downsampled curve
// changes its meaning with the zoom level), and aggregate seeds before downsampling (each
// run's points land in shared x bins, so the mean is taken over the same x for every run).

import { flatten, type RunRecord } from '../results/query.js';

export interface XY {
  x: number;
  y: number;
}

/**
 * TensorBoard's smoothing: an exponential moving average debiased as in Adam, so the first
 * points are not dragged towards zero. `weight` in [0, 1): 0 returns the input, 0.99 is very
 * smooth. Non-finite values pass through and do not enter the average; a constant series is
 * returned as is (as TensorBoard does, so rounding cannot make it wiggle).
 *   last_t = w * last_{t-1} + (1 - w) * y_t,   smoothed_t = last_t / (1 - w^t)
 */
export function smoothEma(ys: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`smoothing weight must be in [0, 1), got ${weight}`);
  const constant = ys.every((v) => v === ys[0]);
  let last = 0, n = 0;
  return ys.map((y) => {
    if (constant || !Number.isFinite(y)) return y;
    last = last * weight + (1 - weight) * y;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

/**
 * At most `max` points that keep the curve's look: the first and last points, and from each
 * of max - 2 equal buckets the point that makes the largest triangle with the point kept
 * before it and the mean of the next bucket (Steinarsson's LTTB). Spikes survive, unlike
 * striding or averaging. Points must be sorted by x. `max` < 3 keeps the first and last.
 */
export function downsample<T>(points: readonly T[], max: number, x: (p: T) => number = (p) => (p as XY).x, y: (p: T) => number = (p) => (p as XY).y): T[] {
  const n = points.length;
  if (n <= max) return points.slice();
  if (max < 3) return max <= 0 ? [] : max === 1 ? [points[n - 1]] : [points[0], points[n - 1]];
  const out: T[] = [points[0]];
  const size = (n - 2) / (max - 2);
  let a = 0;
  for (let i = 0; i < max - 2; i++) {
    const start = Math.floor(i * size) + 1, end = Math.floor((i + 1) * size) + 1;
    const nextStart = end, nextEnd = Math.min(Math.floor((i + 2) * size) + 1, n);
    let mx = 0, my = 0;
    for (let j = nextStart; j < nextEnd; j++) { mx += x(points[j]); my += y(points[j]); }
    const m = Math.max(nextEnd - nextStart, 1);
    mx /= m; my /= m;
    const ax = x(points[a]), ay = y(points[a]);
    let best = start, bestArea = -1;
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - mx) * (y(points[j]) - ay) - (ax - x(points[j])) * (my - ay));
      if (area > bestArea) { bestArea = area; best = j; }
    }
    out.push(points[best]);
    a = best;
  }
  out.push(points[n - 1]);
  return out;
}

export type Spread = 'std' | 'stderr' | 'minmax' | 'none';
export const spreads: readonly Spread[] = ['std', 'stderr', 'minmax', 'none'];

/** One curve of one run, in a group (the runs of a group differ only in their seed, say). */
export interface GroupedCurve {
  group: string;
  run: string;
  points: readonly XY[];
}

/** One x of a group's band: the mean over runs, and lo/hi by the chosen spread; n runs contributed. */
export interface BandPoint {
  group: string;
  x: number;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

/**
 * Mean and spread across the runs of each group. When a group's curves have at most `bins`
 * distinct x values they are aligned exactly; otherwise x is cut into `bins` equal bins and
 * each run contributes the mean of its own points in a bin (one vote per run, however densely
 * it logged). A bin's x is the mean x of the points in it. Spread: std (sample standard
 * deviation, 0 for one run), stderr (std / sqrt n), minmax, or none. Non-finite y is skipped.
 */
export function bands(curves: readonly GroupedCurve[], bins = 500, spread: Spread = 'std'): BandPoint[] {
  const byGroup = new Map<string, GroupedCurve[]>();
  for (const c of curves) {
    const g = byGroup.get(c.group);
    if (g) g.push(c);
    else byGroup.set(c.group, [c]);
  }
  const out: BandPoint[] = [];
  for (const [group, cs] of byGroup) {
    const xs = new Set<number>();
    let lo = Infinity, hi = -Infinity;
    for (const c of cs) for (const p of c.points) if (Number.isFinite(p.y)) { xs.add(p.x); lo = Math.min(lo, p.x); hi = Math.max(hi, p.x); }
    if (xs.size === 0) continue;
    const exact = xs.size <= bins;
    const sorted = exact ? [...xs].sort((a, b) => a - b) : [];
    const index = exact ? new Map(sorted.map((x, i) => [x, i])) : null;
    const nb = exact ? sorted.length : bins;
    const binOf = (x: number): number => index ? index.get(x)! : Math.min(nb - 1, Math.floor(((x - lo) / (hi - lo)) * nb));
    // per bin: the runs' means, and the x values seen
    const votes: number[][] = Array.from({ length: nb }, () => []);
    const xsum = new Float64Array(nb), xcount = new Float64Array(nb);
    const sum = new Float64Array(nb), count = new Float64Array(nb);
    for (const c of cs) {
      sum.fill(0); count.fill(0);
      for (const p of c.points) {
        if (!Number.isFinite(p.y)) continue;
        const b = binOf(p.x);
        sum[b] += p.y; count[b]++;
        xsum[b] += p.x; xcount[b]++;
      }
      for (let b = 0; b < nb; b++) if (count[b] > 0) votes[b].push(sum[b] / count[b]);
    }
    for (let b = 0; b < nb; b++) {
      const v = votes[b];
      if (v.length === 0) continue;
      const n = v.length, mean = v.reduce((a, c) => a + c, 0) / n;
      const std = n > 1 ? Math.sqrt(v.reduce((a, c) => a + (c - mean) ** 2, 0) / (n - 1)) : 0;
      const half = spread === 'std' ? std : spread === 'stderr' ? std / Math.sqrt(n) : 0;
      const [l, h] = spread === 'minmax' ? [Math.min(...v), Math.max(...v)] : [mean - half, mean + half];
      out.push({ group, x: xsum[b] / xcount[b], mean, lo: l, hi: h, n });
    }
  }
  return out;
}

/** Config keys (dotted) whose values differ between the runs, in sorted order. */
export function varyingKeys(runs: readonly Pick<RunRecord, 'config'>[]): string[] {
  const flat = runs.map((r) => flatten(r.config));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
  return keys.filter((k) => new Set(flat.map((f) => JSON.stringify(f[k]))).size > 1);
}

/** Shortest unambiguous names for dotted keys: the last segment, or more where two would clash. */
export function shortKeys(keys: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of keys) {
    const parts = k.split('.');
    let n = 1;
    const tail = (key: string, m: number): string => key.split('.').slice(-m).join('.');
    while (n < parts.length && keys.some((o) => o !== k && tail(o, n) === tail(k, n))) n++;
    out.set(k, tail(k, n));
  }
  return out;
}

/** A compact printed value: 0.0030000001 -> 0.003, objects as JSON. */
export function fmtPlain(v: unknown): string {
  if (v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(4));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** "lr=0.001 dModel=64" from a run's values of `keys` (its name when no key is given). */
export function labelFor(run: Pick<RunRecord, 'config' | 'name'>, keys: readonly string[], short = shortKeys(keys)): string {
  if (keys.length === 0) return run.name;
  const flat = flatten(run.config);
  return keys.map((k) => `${short.get(k) ?? k}=${fmtPlain(flat[k])}`).join(' ');
}
