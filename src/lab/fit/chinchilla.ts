// Chinchilla's third approach (Hoffmann et al. 2022, section 3.3 and appendix D.2): the loss
// surface L(N, D) = E + A / N^alpha + B / D^beta, fitted by minimising the Huber loss of the
// log-loss residuals,
//   sum_i w_i Huber_delta( LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i ),
// with A = exp(a), B = exp(b), E = exp(e) (the log-sum-exp form keeps A, B, E positive and
// the sum free of overflow), by L-BFGS from every point of a grid of starts, keeping the best.
//
// theta, the optimiser's vector, is [a, b, e, alpha, beta] throughout this folder.
// The weights w_i are resample counts: a bootstrap refit reweights instead of copying points.
// Alpha and beta are not constrained; a negative exponent in the result is reported, not hidden.

import { minimize, type LbfgsOptions, type Objective, type StopReason } from './lbfgs.js';
import { chinchillaHuberDelta } from './huber.js';

export interface LawParams {
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
}

/** Observations in log space; weight (default all 1) multiplies each point's Huber term. */
export interface LogData {
  logN: Float64Array;
  logD: Float64Array;
  logL: Float64Array;
  weight?: Float64Array;
}

export const toTheta = (p: LawParams): number[] => [Math.log(p.A), Math.log(p.B), Math.log(p.E), p.alpha, p.beta];
export const toParams = (t: ArrayLike<number>): LawParams => ({ E: Math.exp(t[2]), A: Math.exp(t[0]), B: Math.exp(t[1]), alpha: t[3], beta: t[4] });

export function predictLoss(p: LawParams, N: number, D: number): number {
  return p.E + p.A / N ** p.alpha + p.B / D ** p.beta;
}

export function logData(points: readonly { params: number; tokens: number; loss: number }[]): LogData {
  return {
    logN: Float64Array.from(points, (q) => Math.log(q.params)),
    logD: Float64Array.from(points, (q) => Math.log(q.tokens)),
    logL: Float64Array.from(points, (q) => Math.log(q.loss)),
  };
}

/** The fit's objective with its analytic gradient in theta = [a, b, e, alpha, beta]. */
export function huberObjective(data: LogData, delta = chinchillaHuberDelta): Objective {
  const { logN, logD, logL, weight } = data;
  const n = logN.length;
  return (theta, grad) => {
    const a = theta[0], b = theta[1], e = theta[2], alpha = theta[3], beta = theta[4];
    let f = 0, ga = 0, gb = 0, ge = 0, gAlpha = 0, gBeta = 0;
    for (let i = 0; i < n; i++) {
      const w = weight === undefined ? 1 : weight[i];
      if (w === 0) continue;
      const t1 = a - alpha * logN[i], t2 = b - beta * logD[i];
      // exp(t - max) of the three terms; the largest is exactly 1, which saves an exp.
      let mx: number, x1: number, x2: number, x3: number;
      if (t1 >= t2 && t1 >= e) { mx = t1; x1 = 1; x2 = Math.exp(t2 - mx); x3 = Math.exp(e - mx); }
      else if (t2 >= e) { mx = t2; x1 = Math.exp(t1 - mx); x2 = 1; x3 = Math.exp(e - mx); }
      else { mx = e; x1 = Math.exp(t1 - mx); x2 = Math.exp(t2 - mx); x3 = 1; }
      const s = x1 + x2 + x3;
      const r = mx + Math.log(s) - logL[i];
      // Huber and its derivative, inlined (this loop is the whole cost of a fit).
      let h: number;
      if (r > delta) { f += w * delta * (r - 0.5 * delta); h = delta; }
      else if (r < -delta) { f += w * delta * (-r - 0.5 * delta); h = -delta; }
      else { f += w * 0.5 * r * r; h = r; }
      // d r / d t_k is the softmax weight of term k.
      h *= w / s;
      ga += h * x1; gb += h * x2; ge += h * x3;
      gAlpha -= h * x1 * logN[i]; gBeta -= h * x2 * logD[i];
    }
    grad[0] = ga; grad[1] = gb; grad[2] = ge; grad[3] = gAlpha; grad[4] = gBeta;
    return f;
  };
}

/** Log residuals log L_hat - log L per point. */
export function logResiduals(data: LogData, p: LawParams): Float64Array {
  return Float64Array.from(data.logN, (ln, i) => Math.log(predictLoss(p, Math.exp(ln), Math.exp(data.logD[i]))) - data.logL[i]);
}

/** Jacobian of the log residuals with respect to theta (rows: points, 5 columns). */
export function residualJacobian(data: LogData, theta: ArrayLike<number>): number[][] {
  const [a, b, e, alpha, beta] = Array.from(theta);
  return Array.from(data.logN, (ln, i) => {
    const t1 = a - alpha * ln, t2 = b - beta * data.logD[i];
    const mx = Math.max(t1, t2, e);
    const x1 = Math.exp(t1 - mx), x2 = Math.exp(t2 - mx), x3 = Math.exp(e - mx), s = x1 + x2 + x3;
    return [x1 / s, x2 / s, x3 / s, -ln * x1 / s, -data.logD[i] * x2 / s];
  });
}

/** The starting points, axis by axis (their product is the grid). */
export interface StartGrid {
  a: number[];
  b: number[];
  e: number[];
  alpha: number[];
  beta: number[];
}

const range = (lo: number, hi: number, step: number): number[] => Array.from({ length: Math.round((hi - lo) / step) + 1 }, (_, i) => lo + i * step);

/** Hoffmann et al.'s grid: 6 x 6 x 5 x 5 x 5 = 4500 starts. */
export const chinchillaGrid: StartGrid = { a: range(0, 25, 5), b: range(0, 25, 5), e: range(-1, 1, 0.5), alpha: range(0, 2, 0.5), beta: range(0, 2, 0.5) };

/** 3^5 = 243 starts spanning the same box: for tests and quick looks (`--grid coarse`). */
export const coarseGrid: StartGrid = { a: [0, 10, 20], b: [0, 10, 20], e: [-1, 0, 1], alpha: [0, 1, 2], beta: [0, 1, 2] };

export function gridStarts(g: StartGrid): number[][] {
  const out: number[][] = [];
  for (const a of g.a) for (const b of g.b) for (const e of g.e) for (const alpha of g.alpha) for (const beta of g.beta) out.push([a, b, e, alpha, beta]);
  return out;
}

export interface LocalFit {
  theta: number[];
  params: LawParams;
  objective: number;
  converged: boolean;
  reason: StopReason;
  iterations: number;
  /** Starts that ended at this optimum (for the distinct optima of a grid). */
  count: number;
}

export interface ParametricFit {
  best: LocalFit;
  /** Distinct local optima, best first (at most `keepOptima`). */
  optima: LocalFit[];
  starts: number;
  /** Starts whose L-BFGS run stopped on its convergence test. */
  converged: number;
  /** Starts that ended at the best optimum (every component of theta within 1e-3, relative). */
  atBest: number;
}

export interface ParametricOptions {
  delta?: number;
  /** Starting points (theta vectors); default: the Chinchilla grid. */
  starts?: number[][];
  lbfgs?: LbfgsOptions;
  keepOptima?: number;
}

export const defaultLbfgs: LbfgsOptions = { maxIterations: 2000, gradTol: 1e-10, funcTol: 1e-13 };

/** Runs L-BFGS from every start and keeps the best (ties go to the earlier start, so the result is deterministic). */
export function fitParametric(data: LogData, opts: ParametricOptions = {}): ParametricFit {
  const f = huberObjective(data, opts.delta ?? chinchillaHuberDelta);
  const starts = opts.starts ?? gridStarts(chinchillaGrid);
  if (starts.length === 0) throw new Error('fitParametric: no starting points');
  const lbfgs = { ...defaultLbfgs, ...opts.lbfgs };
  const optima: LocalFit[] = [];
  let converged = 0;
  const ends: number[][] = [];
  for (const x0 of starts) {
    const r = minimize(f, x0, lbfgs);
    if (r.converged) converged++;
    if (!Number.isFinite(r.f)) continue;
    const theta = Array.from(r.x);
    ends.push(theta);
    const same = optima.find((o) => theta.every((v, i) => Math.abs(v - o.theta[i]) <= 1e-4 * Math.max(1, Math.abs(v))));
    if (same) {
      same.count++;
      if (r.f < same.objective) Object.assign(same, { theta, params: toParams(theta), objective: r.f, converged: r.converged, reason: r.reason, iterations: r.iterations });
    } else optima.push({ theta, params: toParams(theta), objective: r.f, converged: r.converged, reason: r.reason, iterations: r.iterations, count: 1 });
  }
  if (optima.length === 0) throw new Error('fitParametric: every start ended at a non-finite objective');
  optima.sort((p, q) => p.objective - q.objective);
  const best = optima[0];
  const atBest = ends.filter((t) => t.every((v, i) => Math.abs(v - best.theta[i]) <= 1e-3 * Math.max(1, Math.abs(v)))).length;
  return { best, optima: optima.slice(0, opts.keepOptima ?? 10), starts: starts.length, converged, atBest };
}

export interface Allocation {
  compute: number;
  N: number;
  D: number;
  tokensPerParam: number;
  loss: number;
}

/**
 * The compute-optimal split of C = 6 N D under the fitted law (Hoffmann et al., eq. 4):
 *   N*(C) = G (C/6)^(beta/(alpha+beta)),  D*(C) = G^-1 (C/6)^(alpha/(alpha+beta)),
 *   G = (alpha A / (beta B))^(1/(alpha+beta)).
 * Meaningful only for positive alpha and beta; otherwise every field is NaN.
 */
export function computeOptimal(p: LawParams, C: number): Allocation {
  const s = p.alpha + p.beta;
  if (!(p.alpha > 0 && p.beta > 0)) return { compute: C, N: NaN, D: NaN, tokensPerParam: NaN, loss: NaN };
  // In logs: G and (C/6)^x overflow for the large exponents a bad fit can produce.
  const logG = (Math.log(p.alpha * p.A) - Math.log(p.beta * p.B)) / s, logC6 = Math.log(C / 6);
  const N = Math.exp(logG + (p.beta / s) * logC6), D = Math.exp(-logG + (p.alpha / s) * logC6);
  return { compute: C, N, D, tokensPerParam: D / N, loss: predictLoss(p, N, D) };
}

/**
 * The compute-optimal split of C under any FLOP convention: the N minimising L(N, C / f(N)),
 * where f(N) is the training FLOPs per token of a model of N non-embedding parameters. With
 * f(N) = 6N this is computeOptimal's closed form; otherwise it is found numerically (a scan of
 * ln N over 25 decades around `near`, then golden-section refinement between the scan's
 * neighbours of the best). NaN fields when the law has a non-positive exponent.
 */
export function computeOptimalBy(p: LawParams, C: number, perToken: (N: number) => number, near: number): Allocation {
  if (!(p.alpha > 0 && p.beta > 0)) return { compute: C, N: NaN, D: NaN, tokensPerParam: NaN, loss: NaN };
  const loss = (x: number): number => {
    const N = Math.exp(x), D = C / perToken(N);
    return D > 0 && Number.isFinite(D) ? predictLoss(p, N, D) : Infinity;
  };
  const lo = Math.log(near) - 10 * Math.LN10, hi = Math.log(near) + 15 * Math.LN10, K = 500;
  let best = 0, bestL = Infinity;
  for (let k = 0; k <= K; k++) {
    const l = loss(lo + ((hi - lo) * k) / K);
    if (l < bestL) { bestL = l; best = k; }
  }
  let a = lo + ((hi - lo) * Math.max(0, best - 1)) / K, b = lo + ((hi - lo) * Math.min(K, best + 1)) / K;
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a), d = a + g * (b - a), fc = loss(c), fd = loss(d);
  for (let i = 0; i < 100 && b - a > 1e-10; i++) {
    if (fc < fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = loss(c); } else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = loss(d); }
  }
  const N = Math.exp((a + b) / 2), D = C / perToken(N);
  return { compute: C, N, D, tokensPerParam: D / N, loss: predictLoss(p, N, D) };
}
