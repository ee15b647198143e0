// The compute-optimal frontier as power laws, shared by Chinchilla's first two approaches:
// given one optimum (N_opt, D_opt) per compute level, fit log N_opt = k + a log C and
// log D_opt = k' + b log C by ordinary least squares, with t-intervals, and evaluate them at
// the requested budgets. Levels marked unused (an optimum at the edge of the models tried,
// an unbracketed parabola) are reported but left out of the fit.

import { fitLine, predictLine, type LineFit } from './stats.js';

export interface PowerLaw {
  /** log N_opt = intercept + exponent log C (natural logs). */
  exponent: number;
  intercept: number;
  ci: [number, number];
  r2: number;
}

export interface ApproachResult {
  /** N_opt ∝ C^a and D_opt ∝ C^b; null when too few usable levels. */
  a: number | null;
  b: number | null;
  ci: { a: [number, number] | null; b: [number, number] | null };
  /** The N and D power laws in full (natural-log intercepts). */
  fits: { N: PowerLaw; D: PowerLaw } | null;
  /** The power laws evaluated at each requested compute budget, with t-intervals on the mean. */
  allocation: FrontierPoint[];
  warnings: string[];
  /**
   * How ci and the allocation intervals were made: the least-squares t-intervals (not valid: the
   * levels share runs, so they are not independent), or a cluster bootstrap of the whole approach.
   */
  ciMethod?: string;
}

export interface FrontierPoint {
  compute: number;
  N: number;
  D: number;
  tokensPerParam: number;
  ci: { N: [number, number]; D: [number, number]; tokensPerParam: [number, number] };
}

/** Fits N_opt and D_opt against C over the used levels; shared by approaches 1 and 2. */
export function fitFrontier(levels: readonly { compute: number; N: number; D: number; used: boolean }[], name: string, computes: readonly number[]): ApproachResult {
  const used = levels.filter((l) => l.used);
  const warnings: string[] = [];
  const distinctC = new Set(used.map((l) => l.compute)).size;
  if (used.length < 3 || distinctC < 3) {
    warnings.push(`${name}: ${used.length} usable compute level(s) (of ${levels.length}); at least 3 are needed to fit N_opt ∝ C^a`);
    return { a: null, b: null, ci: { a: null, b: null }, fits: null, allocation: [], warnings };
  }
  const x = used.map((l) => Math.log(l.compute));
  const fN = fitLine(x, used.map((l) => Math.log(l.N))), fD = fitLine(x, used.map((l) => Math.log(l.D)));
  if (used.length === 3) warnings.push(`${name}: only 3 usable compute levels; the intervals on a and b rest on 1 degree of freedom`);
  if (new Set(used.map((l) => l.N)).size < 3) warnings.push(`${name}: the optimum moves over fewer than 3 model sizes; a is poorly determined`);
  for (const [k, f] of [['a', fN], ['b', fD]] as const) {
    if (f.slopeCi[1] - f.slopeCi[0] > 0.5) warnings.push(`${name}: the 95% interval on ${k} is wider than 0.5 (${fmtCi(f.slopeCi)})`);
  }
  const fR = fitLine(x, used.map((l) => Math.log(l.D / l.N)));
  const allocation = computes.map((C): FrontierPoint => {
    const [n, d, r] = [fN, fD, fR].map((f) => predictLine(f, Math.log(C)));
    const exp = (ci: [number, number]): [number, number] => [Math.exp(ci[0]), Math.exp(ci[1])];
    return { compute: C, N: Math.exp(n.value), D: Math.exp(d.value), tokensPerParam: Math.exp(r.value), ci: { N: exp(n.ci), D: exp(d.ci), tokensPerParam: exp(r.ci) } };
  });
  return { a: fN.slope, b: fD.slope, ci: { a: fN.slopeCi, b: fD.slopeCi }, fits: { N: toPowerLaw(fN), D: toPowerLaw(fD) }, allocation, warnings };
}

const toPowerLaw = (f: LineFit): PowerLaw => ({ exponent: f.slope, intercept: f.intercept, ci: f.slopeCi, r2: f.r2 });
const fmtCi = (ci: [number, number]): string => `[${ci.map((v) => v.toFixed(3)).join(', ')}]`;
