// What the figure of a scaling fit shows, as plain rows (src/lab/presentation/fit-figure.ts
// draws them): the observed loss against compute C (the fit's FLOP convention) by model size, the fitted law along
// each size's tokens, the compute-optimal frontier L*(C) of the fit, and the log residuals.

import { computeOptimal, computeOptimalBy, predictLoss } from './chinchilla.js';
import type { ScalingFit } from './scaling.js';
import { fmtCount } from '../../base/format.js';

export interface ScalingFitRows {
  observed: { series: string; x: number; y: number; predicted: number; run: string }[];
  law: { series: string; x: number; y: number }[];
  frontier: { x: number; y: number }[];
  residuals: { series: string; x: number; y: number; run: string }[];
  /** The compute axis's title, naming the FLOP convention. */
  computeTitle: string;
}

const sizeLabel = (n: number): string => `N=${fmtCount(n)}`;

/** Points along [lo, hi] evenly spaced in log. */
function logSpace(lo: number, hi: number, n: number): number[] {
  if (!(hi > lo)) return [lo];
  return Array.from({ length: n }, (_, i) => Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (n - 1)));
}

/** The rows of the figure: observed points, the law along each size, the frontier, the residuals. */
export function scalingFitRows(fit: ScalingFit): ScalingFitRows {
  const a3 = fit.approach3, p = { E: a3.E, A: a3.A, B: a3.B, alpha: a3.alpha, beta: a3.beta };
  const observed = a3.residuals.map((r) => ({ series: sizeLabel(r.params), x: r.compute, y: r.observed, predicted: r.predicted, run: r.run ?? '' }));
  const residuals = a3.residuals.map((r) => ({ series: sizeLabel(r.params), x: r.compute, y: r.logResidual, run: r.run ?? '' }));
  const law: { series: string; x: number; y: number }[] = [];
  for (const N of [...new Set(a3.residuals.map((r) => r.params))].sort((a, b) => a - b)) {
    const mine = a3.residuals.filter((r) => r.params === N), Ds = mine.map((r) => r.tokens), perToken = mine[0].compute / mine[0].tokens;
    for (const D of logSpace(Math.min(...Ds), Math.max(...Ds), 24)) law.push({ series: sizeLabel(N), x: perToken * D, y: predictLoss(p, N, D) });
  }
  const [cLo, cHi] = fit.input.range.compute, f = fit.compute.perToken;
  const frontier = logSpace(cLo, Math.max(cHi, ...a3.allocation.map((a) => a.compute)), 40)
    .map((C) => ({ x: C, y: (f ? computeOptimalBy(p, C, (N) => Math.exp(f.intercept + f.slope * Math.log(N)), Math.sqrt(fit.input.range.N[0] * fit.input.range.N[1])) : computeOptimal(p, C)).loss }))
    .filter((r) => Number.isFinite(r.y) && r.y > 0);
  return { observed, law, frontier, residuals, computeTitle: `compute C (FLOPs; ${fit.compute.convention} convention)` };
}
