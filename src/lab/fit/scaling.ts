// `fitScaling`: the three Chinchilla approaches on one set of points, side by side, with
// their uncertainty and with warnings wherever the numbers should not be trusted. This is
// what `windtunnel fit scaling` prints and what the scaling-law study reads.
//
//   approach3  the parametric fit L(N, D) = E + A / N^alpha + B / D^beta (chinchilla.ts),
//              bootstrap intervals (bootstrap.ts), residuals, and the compute-optimal N*, D*
//   approach1  lowest loss per compute (envelope.ts)
//   approach2  IsoFLOP parabolas (isoflop.ts)
//
// Compute follows one FLOP convention (flops.ts), named in the result: the lab's count (with
// attention) when every point carries what it needs, else 6ND over non-embedding N; approach 2
// groups by a table's own flops column when it has one.
//
// Uncertainty: one bootstrap drives all three approaches. Its units are clusters when the points
// have them (a run's points share a trunk and a seed, so they are not independent draws):
// 'auto' resamples runs when every point names one, else points. With fewer than 10 clusters the
// wild cluster bootstrap replaces resampling (bootstrap.ts). Approaches 1 and 2 are redone on
// every replicate, so their intervals are cluster-bootstrap intervals too; without a bootstrap
// they keep the line fit's t-intervals, labelled not valid (their levels are correlated).
// Approach 3 also gives prediction intervals (prediction.ts): the refits' spread plus the
// observation noise (the fit's residual standard deviation, or a measured seed noise).

import { approach1, type Approach1Result } from './envelope.js';
import { approach2, type Approach2Result } from './isoflop.js';
import { bootstrapParametric, intervalOf, replicator, type BootstrapMethod, type BootstrapStarts, type Replicate } from './bootstrap.js';
import {
  chinchillaGrid, computeOptimal, computeOptimalBy, fitParametric, gridStarts, logData, logResiduals, predictLoss, residualJacobian,
  type Allocation, type LawParams, type StartGrid,
} from './chinchilla.js';
import { describeFlops, flopsPerToken, labFlopConvention, type FlopConvention } from './flops.js';
import { chinchillaHuberDelta } from './huber.js';
import type { ScalingPoint } from './points.js';
import { residualSd } from './prediction.js';
import { fitLine, percentileInterval, symmetricEigenvalues } from './stats.js';

export type Interval = [number, number];

/** Bootstrap clusters: 'auto' is runs when every point names one, else points; sizes groups by N. */
export type BootstrapBy = 'auto' | 'points' | 'runs' | 'sizes';

export interface ScalingOptions {
  /** Compute budgets (FLOPs) for the allocations (default: the largest compute among the points). */
  computes?: number[];
  /** Bootstrap replicates (default 200; 0 skips the bootstrap intervals). */
  bootstrap?: number;
  seed?: number;
  /** The bootstrap's units (default 'auto'). */
  bootstrapBy?: BootstrapBy;
  /** 'auto' (default): the wild cluster bootstrap with fewer than 10 clusters, else resampling. */
  bootstrapMethod?: 'auto' | BootstrapMethod;
  /** Where refits start (default 'restart': the full fit's optima and a small grid; see bootstrap.ts). */
  bootstrapStarts?: BootstrapStarts;
  /** The FLOP convention (default: the lab's, 'attention', when every point carries its shape; else 'non-embedding'). */
  flops?: FlopConvention;
  /** A measured seed-to-seed standard deviation of log loss for the prediction intervals (default: the fit's residuals only). */
  seedNoise?: number;
  /** Starting grid of approach 3 (default: Hoffmann et al.'s 4500 starts). */
  grid?: StartGrid;
  huberDelta?: number;
  approach1?: { levels?: number };
  approach2?: { tolerance?: number; window?: number };
}

export interface Residual {
  params: number;
  tokens: number;
  observed: number;
  predicted: number;
  /** log predicted - log observed. */
  logResidual: number;
  /** Training compute of the point under the fit's FLOP convention. */
  compute: number;
  run?: string;
  step?: number;
}

export interface Approach3Allocation {
  compute: number;
  N: number;
  D: number;
  tokensPerParam: number;
  loss: number;
  ci: { N: Interval; D: Interval; tokensPerParam: Interval; loss: Interval } | null;
}

export interface Approach3Result extends LawParams {
  ci: Record<keyof LawParams, Interval> | null;
  /** The frontier exponents implied by the fit: a = beta / (alpha + beta), b = alpha / (alpha + beta). */
  exponents: { a: number; b: number; ci: { a: Interval; b: Interval } | null };
  objective: number;
  huberDelta: number;
  starts: number;
  /** Starts whose L-BFGS run met its convergence test, and starts that ended at the best optimum. */
  converged: number;
  atBest: number;
  /** The best few distinct local optima: objective, parameters, and how many starts reached each. */
  localOptima: { objective: number; params: LawParams; starts: number }[];
  /** Condition number of the residual Jacobian's normalised Gram matrix at the optimum (identifiability). */
  conditionNumber: number;
  rmsLogResidual: number;
  residuals: Residual[];
  allocation: Approach3Allocation[];
  bootstrap: {
    samples: number; completed: number;
    /** Refits with no finite optimum (left out of the intervals) and their fraction of the replicates. */
    failed: number; failedFraction: number;
    /** Completed refits that stopped short of L-BFGS's convergence test (kept in the intervals). */
    unconverged: number;
    seed: number; by: Exclude<BootstrapBy, 'auto'>; clusters: number; method: BootstrapMethod; starts: BootstrapStarts;
  };
  /** Observation noise in log loss for prediction intervals: the residual standard deviation (n - 5 dof), with the seed noise added in quadrature when given. */
  noise: { logSd: number; source: string };
  warnings: string[];
  /**
   * The warnings (also in `warnings`) that say the data cannot identify the law at all: E
   * collapsed towards 0, an exponent above 2 or not positive. Empty when the law is identified.
   */
  unidentified: string[];
}

export interface InputSummary {
  points: number;
  distinctN: number;
  distinctD: number;
  runs: number | null;
  range: { N: Interval; D: Interval; loss: Interval; compute: Interval };
  /** What was excluded, and where the data came from. */
  notes: string[];
}

export interface ScalingFit {
  input: InputSummary;
  /** The FLOP convention every compute in this fit follows. */
  compute: {
    convention: FlopConvention; description: string;
    /** FLOPs per token against N as a power law ln f = intercept + slope ln N (null for 6N exactly), used for the allocations. */
    perToken: { intercept: number; slope: number } | null;
  };
  approach1: Approach1Result;
  approach2: Approach2Result;
  approach3: Approach3Result;
  /** Every approach's warnings, and the input's, in one list. */
  warnings: string[];
}

const minMax = (v: number[]): Interval => [Math.min(...v), Math.max(...v)];

export function fitScaling(points: readonly ScalingPoint[], opts: ScalingOptions = {}, notes: string[] = []): ScalingFit {
  if (points.length < 5) throw new Error(`a scaling fit needs at least 5 points (the law has 5 parameters); got ${points.length}`);
  points.forEach((p, i) => {
    for (const k of ['params', 'tokens', 'loss'] as const) {
      if (!(Number.isFinite(p[k]) && p[k] > 0)) throw new Error(`point ${i + 1}: ${k} must be a positive finite number, got ${p[k]}`);
    }
  });
  const convention = opts.flops ?? (points.every((p) => p.attentionFlopsPerToken !== undefined) ? labFlopConvention : 'non-embedding');
  const perToken = (p: ScalingPoint): number => flopsPerToken(p, convention);
  const C = points.map((p) => perToken(p) * p.tokens);
  const computes = opts.computes?.length ? opts.computes : [Math.max(...C)];
  const runs = points.every((p) => p.run !== undefined) ? new Set(points.map((p) => p.run)).size : null;
  const input: InputSummary = {
    points: points.length, distinctN: new Set(points.map((p) => p.params)).size, distinctD: new Set(points.map((p) => p.tokens)).size, runs,
    range: { N: minMax(points.map((p) => p.params)), D: minMax(points.map((p) => p.tokens)), loss: minMax(points.map((p) => p.loss)), compute: minMax(C) },
    notes: [...notes, ...(opts.computes?.length ? [] : [`no --compute given: allocations at the largest compute in the data, ${computes[0].toExponential(2)} FLOPs`])],
  };
  const perTokenLaw = tokenFlopsOfN(points, perToken);
  const perTokenOfN = perTokenLaw && ((N: number) => Math.exp(perTokenLaw.intercept + perTokenLaw.slope * Math.log(N)));
  const boot = bootstrapPlan(points, opts);
  const a3 = approach3(points, computes, opts, input, perTokenOfN, boot, C);
  const o1 = { ...opts.approach1, computes, perToken }, o2 = { ...opts.approach2, computes, perToken, convention };
  const a1 = approach1(points, o1);
  const a2 = approach2(points, o2);
  if (boot.samples > 0) {
    // Approaches 1 and 2 redone on the same replicates as approach 3 (same seed, same draws).
    const draw = replicator(logData(points), a3, { seed: boot.seed, groups: boot.groups, method: boot.method, clusterNoise: opts.seedNoise });
    const r1: ApproachSample[] = [], r2: ApproachSample[] = [];
    for (let b = 0; b < boot.samples; b++) {
      const pts = replicatePoints(points, draw());
      r1.push(sampleOf(approach1(pts, o1)));
      r2.push(sampleOf(approach2(pts, o2)));
    }
    const label = `${boot.method === 'wild' ? 'wild cluster' : 'cluster'} bootstrap by ${boot.by} (${boot.clusters} clusters, ${boot.samples} replicates)`;
    applyBootstrap(a1, r1, label, 'approach 1');
    applyBootstrap(a2, r2, label, 'approach 2');
  } else {
    for (const a of [a1, a2]) a.ciMethod = 't-interval of the line fit: not valid (the levels share runs and are correlated)';
  }
  return { input, compute: { convention, description: describeFlops(convention), perToken: perTokenLaw }, approach1: a1, approach2: a2, approach3: a3, warnings: [...a3.warnings, ...a1.warnings, ...a2.warnings] };
}

interface BootPlan { samples: number; seed: number; by: Exclude<BootstrapBy, 'auto'>; groups?: string[]; clusters: number; method: BootstrapMethod }

function bootstrapPlan(points: readonly ScalingPoint[], opts: ScalingOptions): BootPlan {
  const hasRuns = points.every((p) => p.run !== undefined);
  const by = (opts.bootstrapBy ?? 'auto') === 'auto' ? (hasRuns ? 'runs' : 'points') : opts.bootstrapBy as Exclude<BootstrapBy, 'auto'>;
  if (by === 'runs' && !hasRuns) throw new Error('bootstrap by runs needs a run on every point');
  const groups = by === 'runs' ? points.map((q) => q.run!) : by === 'sizes' ? points.map((q) => String(q.params)) : undefined;
  const clusters = groups ? new Set(groups).size : points.length;
  const method = (opts.bootstrapMethod ?? 'auto') === 'auto' ? (clusters < 10 ? 'wild' : 'resample') : opts.bootstrapMethod as BootstrapMethod;
  return { samples: opts.bootstrap ?? 200, seed: opts.seed ?? 0, by, groups, clusters, method };
}

/**
 * FLOPs per token as a function of N for the allocations: 6N for the non-embedding convention,
 * else a power law fitted to the points' own models (ln f against ln N), which is what lets
 * approach 3 ask "which N is optimal at C" for a model family it only saw at a few sizes.
 */
function tokenFlopsOfN(points: readonly ScalingPoint[], perToken: (p: ScalingPoint) => number): { intercept: number; slope: number } | null {
  const bySize = new Map<number, number>();
  for (const p of points) bySize.set(p.params, perToken(p));
  if ([...bySize].every(([N, f]) => Math.abs(f - 6 * N) <= 1e-9 * f)) return null;
  if (bySize.size < 2) { const [[N, f]] = [...bySize]; return { intercept: Math.log(f / N), slope: 1 }; }
  const line = fitLine([...bySize.keys()].map(Math.log), [...bySize.values()].map(Math.log));
  return { intercept: line.intercept, slope: line.slope };
}

interface ApproachSample { a: number | null; b: number | null; alloc: { N: number; D: number; tokensPerParam: number }[] }

const sampleOf = (r: Approach1Result | Approach2Result): ApproachSample => ({ a: r.a, b: r.b, alloc: r.allocation.map((x) => ({ N: x.N, D: x.D, tokensPerParam: x.tokensPerParam })) });

/** A replicate as points: a resample's points repeated by their counts (each copy of a run its own run), or the wild losses. */
function replicatePoints(points: readonly ScalingPoint[], rep: Replicate): ScalingPoint[] {
  if (rep.logL) return points.map((p, i) => ({ ...p, loss: Math.exp(rep.logL![i]) }));
  const out: ScalingPoint[] = [];
  points.forEach((p, i) => {
    for (let k = 0; k < rep.weight![i]; k++) out.push(k === 0 ? p : { ...p, ...(p.run !== undefined ? { run: `${p.run}#${k}` } : {}) });
  });
  return out;
}

function applyBootstrap(r: Approach1Result | Approach2Result, samples: ApproachSample[], label: string, name: string): void {
  const ok = samples.filter((x) => x.a !== null && x.b !== null);
  r.ciMethod = `${label}; ${samples.length - ok.length} replicate(s) without enough usable levels left out`;
  if (r.a === null) return;
  if (ok.length < 2) {
    r.ci = { a: null, b: null };
    r.warnings.push(`${name}: only ${ok.length} bootstrap replicate(s) had enough usable levels; no interval`);
    return;
  }
  r.ci = { a: percentileInterval(ok.map((x) => x.a!)), b: percentileInterval(ok.map((x) => x.b!)) };
  r.allocation.forEach((al, i) => {
    const xs = ok.map((x) => x.alloc[i]).filter((x) => x !== undefined);
    al.ci = { N: percentileInterval(xs.map((x) => x.N)), D: percentileInterval(xs.map((x) => x.D)), tokensPerParam: percentileInterval(xs.map((x) => x.tokensPerParam)) };
  });
  if (ok.length < 0.9 * samples.length) r.warnings.push(`${name}: ${samples.length - ok.length} of ${samples.length} bootstrap replicates had too few usable levels to fit the frontier`);
}

function approach3(points: readonly ScalingPoint[], computes: number[], opts: ScalingOptions, input: InputSummary, perTokenOfN: ((N: number) => number) | null, plan: BootPlan, C: number[]): Approach3Result {
  const delta = opts.huberDelta ?? chinchillaHuberDelta;
  const data = logData(points);
  const starts = gridStarts(opts.grid ?? chinchillaGrid);
  const fit = fitParametric(data, { delta, starts });
  const p = fit.best.params;
  const warnings: string[] = [];
  const warn = (s: string) => warnings.push(`approach 3: ${s}`);

  const startsKind = opts.bootstrapStarts ?? 'restart', seed = plan.seed, B = plan.samples, by = plan.by;
  const boot = B > 0 ? bootstrapParametric(data, fit, { samples: B, seed, starts: startsKind, groups: plan.groups, method: plan.method, clusterNoise: opts.seedNoise }, { delta, starts }) : null;
  const nearN = Math.sqrt(input.range.N[0] * input.range.N[1]);
  const optimal = (q: LawParams, Cb: number): Allocation => (perTokenOfN ? computeOptimalBy(q, Cb, perTokenOfN, nearN) : computeOptimal(q, Cb));
  const S = boot?.samples ?? [];
  const has = S.length >= 2;
  const ci = (get: (s: LawParams) => number): Interval => intervalOf(S, get);

  const res = logResiduals(data, p);
  const residuals = points.map((q, i): Residual => ({
    params: q.params, tokens: q.tokens, observed: q.loss, predicted: predictLoss(p, q.params, q.tokens), logResidual: res[i], compute: C[i],
    ...(q.run !== undefined ? { run: q.run } : {}), ...(q.step !== undefined ? { step: q.step } : {}),
  }));
  const allocation = computes.map((Cb): Approach3Allocation => {
    const o = optimal(p, Cb);
    const bs = S.map((s) => optimal(s, Cb));
    return { ...o, ci: has ? { N: intervalOf(bs, (b) => b.N), D: intervalOf(bs, (b) => b.D), tokensPerParam: intervalOf(bs, (b) => b.tokensPerParam), loss: intervalOf(bs, (b) => b.loss) } : null };
  });
  const expo = (s: LawParams) => ({ a: s.beta / (s.alpha + s.beta), b: s.alpha / (s.alpha + s.beta) });
  const out: Approach3Result = {
    ...p,
    ci: has ? { E: ci((s) => s.E), A: ci((s) => s.A), B: ci((s) => s.B), alpha: ci((s) => s.alpha), beta: ci((s) => s.beta) } : null,
    exponents: { ...expo(p), ci: has ? { a: ci((s) => expo(s).a), b: ci((s) => expo(s).b) } : null },
    objective: fit.best.objective, huberDelta: delta, starts: fit.starts, converged: fit.converged, atBest: fit.atBest,
    localOptima: fit.optima.slice(0, 5).map((o) => ({ objective: o.objective, params: o.params, starts: o.count })),
    conditionNumber: conditionNumber(residualJacobian(data, fit.best.theta)),
    rmsLogResidual: Math.sqrt(res.reduce((s, r) => s + r * r, 0) / res.length),
    residuals, allocation,
    bootstrap: {
      samples: B, completed: S.length, failed: boot?.failed ?? 0, failedFraction: boot?.failedFraction ?? 0, unconverged: boot?.unconverged ?? 0,
      seed, by, clusters: plan.clusters, method: plan.method, starts: startsKind,
    },
    noise: noiseOf(res, opts.seedNoise),
    warnings, unidentified: [],
  };

  // ---- honesty checks ----
  if (points.length < 15) warn(`only ${points.length} points for 5 parameters; expect wide intervals`);
  if (input.distinctN < 3) warn(`only ${input.distinctN} distinct model size(s): alpha and A cannot be separated from E`);
  if (input.distinctD < 3) warn(`only ${input.distinctD} distinct token count(s): beta and B cannot be separated from E`);
  const r = correlation(data.logN, data.logD);
  if (Math.abs(r) > 0.95) warn(`log N and log D are almost collinear (correlation ${r.toFixed(3)}): the data cannot tell alpha from beta; vary N and D independently`);
  if (out.conditionNumber > 1e8) warn(`the fit is ill-conditioned (condition number ${out.conditionNumber.toExponential(1)}): some combination of parameters is not identified by these points`);
  if (!fit.best.converged) warn(`the best L-BFGS run stopped without converging (${fit.best.reason})`);
  const unidentified = (s: string) => { warn(s); out.unidentified.push(`approach 3: ${s}`); };
  if (!(p.alpha > 0) || !(p.beta > 0)) unidentified(`a non-positive exponent (alpha ${p.alpha.toFixed(3)}, beta ${p.beta.toFixed(3)}): no compute-optimal allocation`);
  if (p.alpha > 2 || p.beta > 2) unidentified(`an exponent above 2 (alpha ${p.alpha.toFixed(3)}, beta ${p.beta.toFixed(3)}): its term vanishes within the data; the fit is degenerate`);
  if (p.E < 1e-3 * input.range.loss[0]) unidentified(`E collapsed towards 0 (${p.E.toExponential(2)}): the irreducible loss is not identified`);
  const rival = fit.optima.slice(1).find((o) => o.objective <= fit.best.objective * (1 + 1e-3) && Math.abs(o.params.alpha - p.alpha) + Math.abs(o.params.beta - p.beta) > 0.05);
  if (rival) warn(`another optimum is nearly as good (objective ${rival.objective.toExponential(3)} vs ${fit.best.objective.toExponential(3)}) with alpha ${rival.params.alpha.toFixed(3)}, beta ${rival.params.beta.toFixed(3)}`);
  if (boot) {
    if (boot.failed > 0) warn(`${boot.failed} of ${B} bootstrap refits (${(100 * boot.failedFraction).toFixed(1)}%) found no finite optimum; the intervals are over the other ${S.length}`);
    if (boot.unconverged > 0.05 * B) warn(`${boot.unconverged} of ${B} bootstrap refits stopped short of convergence (kept in the intervals)`);
    if (plan.clusters < 5) warn(`only ${plan.clusters} bootstrap clusters (${by}): the intervals rest on very few independent units`);
    if (out.ci) {
      for (const k of ['E', 'A', 'B'] as const) {
        const [lo, hi] = out.ci[k];
        if (!(lo > 0) || hi / lo > 10) warn(`the 95% interval on ${k} spans ${lo > 0 ? `${(hi / lo).toPrecision(2)}x` : 'down to 0'} ([${fmt(lo)}, ${fmt(hi)}])`);
      }
      for (const k of ['alpha', 'beta'] as const) {
        const [lo, hi] = out.ci[k];
        if (hi - lo > 0.5 || !(lo > 0)) warn(`the 95% interval on ${k} is [${lo.toFixed(3)}, ${hi.toFixed(3)}]`);
      }
    }
    const noAlloc = S.filter((s) => !(s.alpha > 0 && s.beta > 0)).length;
    if (noAlloc > 0) warn(`${noAlloc} of ${S.length} bootstrap refits have a non-positive exponent (no optimum); the allocation intervals leave them out`);
    for (const al of allocation) {
      if (al.ci && al.ci.N[1] / al.ci.N[0] > 10) warn(`at C = ${al.compute.toExponential(2)} the 95% interval on N* spans ${(al.ci.N[1] / al.ci.N[0]).toPrecision(2)}x`);
    }
  } else warn('no bootstrap (--bootstrap 0): no intervals');
  for (const al of allocation) {
    if (al.N > 10 * input.range.N[1] || al.N < input.range.N[0] / 10) warn(`at C = ${al.compute.toExponential(2)} N* = ${fmt(al.N)} is more than 10x outside the model sizes fitted (${fmt(input.range.N[0])}..${fmt(input.range.N[1])}): an extrapolation`);
  }
  return out;
}

const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : String(+v.toPrecision(4)));

function correlation(x: Float64Array, y: Float64Array): number {
  const n = x.length, mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ** 2; syy += (y[i] - my) ** 2; }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 1;
}

/** lambda_max / lambda_min of J'J with its diagonal scaled to 1 (so units of the parameters do not count). */
function conditionNumber(J: number[][]): number {
  const k = J[0]?.length ?? 0;
  const G = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => J.reduce((s, row) => s + row[a] * row[b], 0)));
  const d = G.map((row, i) => Math.sqrt(row[i]));
  if (d.some((v) => !(v > 0))) return Infinity;
  const ev = symmetricEigenvalues(G.map((row, i) => row.map((v, j) => v / (d[i] * d[j]))));
  return ev[0] > 0 ? ev[k - 1] / ev[0] : Infinity;
}

function noiseOf(res: Float64Array, seedNoise: number | undefined): { logSd: number; source: string } {
  const r = residualSd(res);
  if (seedNoise !== undefined) return { logSd: Math.hypot(Number.isFinite(r) ? r : 0, seedNoise), source: `the fit's residual sd and the seed-to-seed noise ${seedNoise}, in quadrature` };
  return { logSd: r, source: `the fit's residual standard deviation (${res.length} points, 5 parameters)` };
}
