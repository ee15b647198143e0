// The numbers studies share: means with t-intervals over seeds, paired differences, and the
// three-way comparison every verdict rests on. Line fits and quantiles come from the scaling-law
// fitting code (src/lab/fit/stats.ts) rather than a second copy here.

import { studentTQuantile } from '../lab/fit/stats.js';
import { metricSeries } from '../lab/results/query.js';
import type { Store } from '../lab/results/store.js';
import type { StudyRun } from './study.js';

export interface Estimate {
  mean: number;
  /** Sample standard deviation (NaN for one value). */
  sd: number;
  n: number;
  /** 95% t-interval of the mean; null with fewer than two values (no spread to judge by). */
  ci: [number, number] | null;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** Mean with its 95% t-interval. */
export function estimate(xs: readonly number[], level = 0.95): Estimate {
  if (xs.length === 0) return { mean: NaN, sd: NaN, n: 0, ci: null };
  const m = mean(xs), s = sd(xs), n = xs.length;
  if (n < 2) return { mean: m, sd: NaN, n, ci: null };
  const half = studentTQuantile((1 + level) / 2, n - 1) * s / Math.sqrt(n);
  return { mean: m, sd: s, n, ci: [m - half, m + half] };
}

/**
 * The rule for a claim "a is at or below b" (losses, lower is better), judged on the 95% interval
 * of the difference a - b against a margin that says how close counts as "at":
 *   holds         upper end of the 95% interval <= margin (a is not worse than b by more than margin)
 *   fails         lower end > margin (a is worse than b by more than margin, beyond noise)
 *   inconclusive  the interval straddles the margin, or there is no interval (one seed)
 */
export type Comparison = 'holds' | 'fails' | 'inconclusive';

export function compareAtOrBelow(diff: Estimate, margin: number): Comparison {
  if (!diff.ci) return 'inconclusive';
  if (diff.ci[1] <= margin) return 'holds';
  if (diff.ci[0] > margin) return 'fails';
  return 'inconclusive';
}

/** "2.314 ± 0.012 (n=3)": mean ± half the 95% interval, or the single value. */
export function fmtEstimate(e: Estimate, digits = 4): string {
  if (e.n === 0) return 'no data';
  if (!e.ci) return `${fmt(e.mean, digits)} (n=${e.n}, no spread)`;
  return `${fmt(e.mean, digits)} ± ${fmt((e.ci[1] - e.ci[0]) / 2, 2)} (n=${e.n})`;
}

/** "-0.012 [-0.020, -0.004]". */
export function fmtInterval(e: Estimate, digits = 4): string {
  if (e.n === 0) return 'no data';
  return e.ci ? `${fmtSigned(e.mean, digits)} [${fmtSigned(e.ci[0], digits)}, ${fmtSigned(e.ci[1], digits)}]` : `${fmtSigned(e.mean, digits)} (one seed: no interval)`;
}

export function fmt(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2).replace('e+', 'e');
  return String(+v.toPrecision(digits));
}

const fmtSigned = (v: number, digits: number): string => (v > 0 ? `+${fmt(v, digits)}` : fmt(v, digits));

/** A done run's final value of a metric (default val_loss), or null. */
export function finalOf(r: StudyRun, key = 'val_loss'): number | null {
  if (r.record.status !== 'done') return null;
  const v = r.record.final?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The last logged value of a metric of a run (a measurement stored after training), or null. */
export function lastMetric(store: Store, r: StudyRun, key: string): number | null {
  return metricSeries(store, { runs: [r.id], keys: [key] }).filter((p) => p.value !== null).at(-1)?.value ?? null;
}

/** A sweep variable of a run ($name), or undefined. */
export function v<T extends string | number | boolean>(r: StudyRun, name: string): T | undefined {
  return r.point[`$${name}`] as T | undefined;
}

/** Groups values by key, keeping first-seen order. */
export function groupBy<T, K>(xs: readonly T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const g = m.get(k);
    if (g) g.push(x); else m.set(k, [x]);
  }
  return m;
}

/**
 * The best learning rate on a grid: the vertex of the parabola in log2(lr) through the lowest
 * loss and its two neighbours (clamped between them). At an edge of the grid, or next to a
 * missing (diverged) neighbour, the optimum is not bracketed and the grid's best is returned.
 * NaN losses are missing cells. null without any finite loss.
 */
export function bestLr(cells: readonly { lr: number; loss: number }[]): { lr: number; bracketed: boolean; loss: number; gridLr: number } | null {
  const all = [...cells].sort((a, b) => a.lr - b.lr);
  let k = -1;
  all.forEach((c, j) => { if (Number.isFinite(c.loss) && (k < 0 || c.loss < all[k].loss)) k = j; });
  if (k < 0) return null;
  const best = all[k];
  if (k === 0 || k === all.length - 1 || !Number.isFinite(all[k - 1].loss) || !Number.isFinite(all[k + 1].loss)) {
    return { lr: best.lr, bracketed: false, loss: best.loss, gridLr: best.lr };
  }
  const [x0, x1, x2] = [all[k - 1], all[k], all[k + 1]].map((c) => Math.log2(c.lr));
  const [y0, y1, y2] = [all[k - 1].loss, all[k].loss, all[k + 1].loss];
  const d = (x0 - x1) * (x0 - x2) * (x1 - x2);
  const a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / d;
  const b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / d;
  const xv = a > 0 ? -b / (2 * a) : x1;
  return { lr: 2 ** Math.min(x2, Math.max(x0, xv)), bracketed: true, loss: best.loss, gridLr: best.lr };
}
