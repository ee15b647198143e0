// Chinchilla's second approach, IsoFLOP profiles: group the points into compute levels, fit a
// parabola of loss against ln N at each level, take its vertex as that level's optimal N*,
// then fit N* ∝ C^a (and D* ∝ C^b) across levels.
//
// Levels: the points' own `flops` when every point has one (a planned IsoFLOP grid), else
// C = 6 N D or the compute of the FLOP convention the caller passes (flops.ts); either way points whose compute lies within a relative tolerance of the first
// point of a level (sorted by compute) join it, and the level's compute is their geometric
// mean. D* is read off the level's own points (ln D fitted linearly in ln N, evaluated at N*),
// so it stays consistent when `flops` counts more than 6 N D.
// A level is not used when it has fewer than 3 model sizes, its parabola opens downwards, or
// its vertex lies outside the sizes tried (the minimum is not bracketed).

import type { ScalingPoint } from './points.js';
import { fitFrontier, type ApproachResult } from './frontier.js';
import { fitLine, solve } from './stats.js';

export interface Parabola {
  compute: number;
  /** loss ≈ c[0] + c[1] ln N + c[2] (ln N)^2. */
  coefficients: [number, number, number];
  /** The vertex: N*, D* and the parabola's loss there (NaN when there is no minimum). */
  N: number;
  D: number;
  loss: number;
  points: number;
  /** Range of N at this level. */
  nRange: [number, number];
  used: boolean;
  note?: string;
}

export interface Approach2Result extends ApproachResult {
  /** 'flops': the points' own flops column; otherwise the FLOP convention computed from N and D. */
  grouping: string;
  tolerance: number;
  parabolas: Parabola[];
}

export interface Approach2Options {
  /** Relative compute tolerance within a level (default 0.1: within 10% of the level's smallest). */
  tolerance?: number;
  /** Fit each parabola only to points within this many decades of N of the level's lowest loss (default: all). */
  window?: number;
  computes?: number[];
  /** Training FLOPs per token of a point's model, when the points carry no flops (default 6 N). */
  perToken?: (p: ScalingPoint) => number;
  /** The name of that convention, for `grouping` (default '6ND'). */
  convention?: string;
}

export function approach2(points: readonly ScalingPoint[], opts: Approach2Options = {}): Approach2Result {
  const tolerance = opts.tolerance ?? 0.1;
  const byFlops = points.length > 0 && points.every((p) => p.flops !== undefined);
  const perToken = opts.perToken ?? ((p: ScalingPoint) => 6 * p.params);
  const computeOf = (p: ScalingPoint): number => (byFlops ? p.flops! : perToken(p) * p.tokens);
  const groups = groupLevels(points, computeOf, tolerance);
  const parabolas = groups.map((g) => fitParabola(g.compute, g.points, opts.window));
  const frontier = fitFrontier(parabolas, 'approach 2', opts.computes ?? []);
  const thin = parabolas.filter((p) => p.note?.includes('model size(s) at this level')).length;
  if (frontier.a === null && thin > parabolas.length / 2) {
    frontier.warnings.push(`approach 2: the points do not form IsoFLOP levels (${thin} of ${parabolas.length} compute levels have fewer than 3 model sizes); ` +
      'plan runs at fixed compute budgets, give a flops column, or widen --isoflop-tol');
  }
  const unbracketed = parabolas.filter((p) => p.note?.startsWith('vertex')).length;
  if (unbracketed > 0) frontier.warnings.push(`approach 2: ${unbracketed} IsoFLOP level(s) have their minimum outside the model sizes tried; extend those levels to bracket the optimum`);
  return { grouping: byFlops ? 'flops' : opts.convention ?? '6ND', tolerance, parabolas, ...frontier };
}

/** Sorted by compute; a level collects points within (1 + tolerance) of its first point's compute. */
export function groupLevels(points: readonly ScalingPoint[], computeOf: (p: ScalingPoint) => number, tolerance: number): { compute: number; points: ScalingPoint[] }[] {
  const sorted = [...points].sort((p, q) => computeOf(p) - computeOf(q));
  const out: { compute: number; points: ScalingPoint[] }[] = [];
  let cur: ScalingPoint[] = [];
  const flush = () => {
    if (cur.length === 0) return;
    const logMean = cur.reduce((s, p) => s + Math.log(computeOf(p)), 0) / cur.length;
    out.push({ compute: Math.exp(logMean), points: cur });
    cur = [];
  };
  for (const p of sorted) {
    if (cur.length > 0 && computeOf(p) > computeOf(cur[0]) * (1 + tolerance)) flush();
    cur.push(p);
  }
  flush();
  return out;
}

export function fitParabola(compute: number, all: readonly ScalingPoint[], window?: number): Parabola {
  let pts = all;
  if (window !== undefined) {
    const best = all.reduce((p, q) => (q.loss < p.loss ? q : p));
    pts = all.filter((p) => Math.abs(Math.log10(p.params / best.params)) <= window);
  }
  const x = pts.map((p) => Math.log(p.params)), y = pts.map((p) => p.loss);
  const nRange: [number, number] = [Math.min(...pts.map((p) => p.params)), Math.max(...pts.map((p) => p.params))];
  const base = { compute, points: pts.length, nRange };
  const none = (note: string, coefficients: [number, number, number] = [NaN, NaN, NaN]): Parabola =>
    ({ ...base, coefficients, N: NaN, D: NaN, loss: NaN, used: false, note });
  const sizes = new Set(pts.map((p) => p.params)).size;
  if (sizes < 3) return none(`${sizes} model size(s) at this level; a parabola needs 3`);
  // Centre ln N before forming the normal equations: (ln N)^2 ~ 300 would square the conditioning.
  const xm = x.reduce((a, b) => a + b, 0) / x.length;
  const S = [0, 0, 0, 0, 0], T = [0, 0, 0];
  x.forEach((xi, i) => {
    const u = xi - xm;
    for (let k = 0; k < 5; k++) S[k] += u ** k;
    for (let k = 0; k < 3; k++) T[k] += y[i] * u ** k;
  });
  const p = solve([[S[0], S[1], S[2]], [S[1], S[2], S[3]], [S[2], S[3], S[4]]], T);
  if (!p) return none('the parabola fit is singular');
  const [p0, p1, p2] = p;
  const coefficients: [number, number, number] = [p0 - p1 * xm + p2 * xm * xm, p1 - 2 * p2 * xm, p2];
  if (!(p2 > 0)) return none('the parabola opens downwards (no minimum)', coefficients);
  const u = -p1 / (2 * p2), xStar = xm + u;
  const N = Math.exp(xStar), loss = p0 - (p1 * p1) / (4 * p2);
  const dLine = fitLine(x, pts.map((q) => Math.log(q.tokens)));
  const D = Math.exp(dLine.intercept + dLine.slope * xStar);
  const inside = xStar >= Math.min(...x) && xStar <= Math.max(...x);
  return { ...base, coefficients, N, D, loss, used: inside, ...(inside ? {} : { note: 'vertex outside the model sizes tried' }) };
}
