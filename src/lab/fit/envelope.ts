// Chinchilla's first approach: at each compute level C (6 N D by default; any FLOP
// convention of flops.ts through perToken), the lowest loss any run
// reached, and the N and D that reached it; then N_opt ∝ C^a and D_opt ∝ C^b by least squares
// in log space.
//
// Two ways to find the lowest loss per C:
//   envelope  when points carry a run (a training curve of one model size): each run's log loss
//             is interpolated linearly in log C between its points, and at each of a log-spaced
//             grid of C the lowest run wins (Hoffmann et al.'s envelope of the curves);
//   bins      otherwise: points are binned by log C into equal-width bins, and the lowest point
//             of each bin wins.
// A level whose winner is the smallest or largest model among its candidates is not used: the
// optimum may lie beyond the models tried, and keeping it would flatten the fitted exponent.
// The levels are not independent (a dense C grid over a few runs), so the least-squares
// intervals on a and b are optimistic; approach 3's bootstrap is the better uncertainty.

import type { ScalingPoint } from './points.js';
import { fitFrontier, type ApproachResult } from './frontier.js';

export interface Level {
  compute: number;
  N: number;
  D: number;
  loss: number;
  /** Runs (envelope) or points (bins) competing at this level. */
  candidates: number;
  used: boolean;
  /** Why the level is not used. */
  note?: string;
}

export interface Approach1Result extends ApproachResult {
  method: 'envelope' | 'bins';
  levels: Level[];
}

export interface Approach1Options {
  /** Compute levels on the envelope grid, or bins (default: 40 levels; bins: about one per 4 points, 3 to 20). */
  levels?: number;
  /** Budgets at which to evaluate the fitted N_opt(C), D_opt(C). */
  computes?: number[];
  /** Training FLOPs per token of a point's model (default 6 N: the non-embedding convention). */
  perToken?: (p: ScalingPoint) => number;
}

export function approach1(points: readonly ScalingPoint[], opts: Approach1Options = {}): Approach1Result {
  const byRun = points.every((p) => p.run !== undefined) && new Set(points.map((p) => p.run)).size > 1;
  const perToken = opts.perToken ?? ((p: ScalingPoint) => 6 * p.params);
  const levels = byRun ? envelopeLevels(points, opts.levels ?? 40, perToken) : binLevels(points, opts.levels ?? Math.max(3, Math.min(20, Math.floor(points.length / 4))), perToken);
  return { method: byRun ? 'envelope' : 'bins', levels, ...fitFrontier(levels, 'approach 1', opts.computes ?? []) };
}

function envelopeLevels(points: readonly ScalingPoint[], k: number, perToken: (p: ScalingPoint) => number): Level[] {
  const computeOf = (p: ScalingPoint): number => perToken(p) * p.tokens;
  const runs = new Map<string, ScalingPoint[]>();
  for (const p of points) {
    // A run has one model size; a table that reuses a run name across sizes gets split by size.
    const key = `${p.run}\u0000${p.params}`;
    (runs.get(key) ?? runs.set(key, []).get(key)!).push(p);
  }
  const curves = [...runs.values()].map((ps) => {
    const sorted = [...ps].sort((p, q) => computeOf(p) - computeOf(q));
    return { N: sorted[0].params, perToken: perToken(sorted[0]), logC: sorted.map((p) => Math.log(computeOf(p))), logL: sorted.map((p) => Math.log(p.loss)) };
  }).filter((c) => c.logC.length >= 2);
  if (curves.length < 2) return [];
  const lo = Math.min(...curves.map((c) => c.logC[0])), hi = Math.max(...curves.map((c) => c.logC[c.logC.length - 1]));
  const out: Level[] = [];
  for (let i = 0; i < k; i++) {
    const logC = lo + ((hi - lo) * i) / (k - 1);
    const cands: { N: number; perToken: number; logL: number }[] = [];
    for (const c of curves) {
      const n = c.logC.length;
      if (logC < c.logC[0] || logC > c.logC[n - 1]) continue;
      let j = 1;
      while (j < n - 1 && c.logC[j] < logC) j++;
      const x0 = c.logC[j - 1], x1 = c.logC[j];
      const t = x1 > x0 ? (logC - x0) / (x1 - x0) : 0;
      cands.push({ N: c.N, perToken: c.perToken, logL: c.logL[j - 1] + t * (c.logL[j] - c.logL[j - 1]) });
    }
    if (cands.length === 0) continue;
    const win = cands.reduce((a, b) => (b.logL < a.logL ? b : a));
    const C = Math.exp(logC);
    out.push({ compute: C, N: win.N, D: C / win.perToken, loss: Math.exp(win.logL), candidates: cands.length, ...edgeCheck(win.N, cands.map((c) => c.N)) });
  }
  return out;
}

function binLevels(points: readonly ScalingPoint[], k: number, perToken: (p: ScalingPoint) => number): Level[] {
  const computeOf = (p: ScalingPoint): number => perToken(p) * p.tokens;
  const logC = points.map((p) => Math.log(computeOf(p)));
  const lo = Math.min(...logC), hi = Math.max(...logC), w = (hi - lo) / k;
  const bins: ScalingPoint[][] = Array.from({ length: k }, () => []);
  points.forEach((p, i) => bins[w > 0 ? Math.min(k - 1, Math.floor((logC[i] - lo) / w)) : 0].push(p));
  return bins.filter((b) => b.length > 0).map((b) => {
    const win = b.reduce((p, q) => (q.loss < p.loss ? q : p));
    return { compute: computeOf(win), N: win.params, D: win.tokens, loss: win.loss, candidates: b.length, ...edgeCheck(win.params, b.map((p) => p.params)) };
  });
}

function edgeCheck(N: number, candidates: number[]): { used: boolean; note?: string } {
  const sizes = [...new Set(candidates)];
  if (sizes.length < 3) return { used: false, note: `only ${sizes.length} model size(s) compete here` };
  if (N === Math.min(...sizes)) return { used: false, note: 'the smallest model competing wins: the optimum may be smaller' };
  if (N === Math.max(...sizes)) return { used: false, note: 'the largest model competing wins: the optimum may be larger' };
  return { used: true };
}
