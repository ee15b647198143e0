// Bootstrap for the parametric fit: draw the points (or whole clusters: a run's points, a model
// size's points) with replacement, refit, and read 95% intervals off the percentiles of the
// refitted values. A resample is a vector of counts, used as weights by the objective, so no
// data is copied. Points from one run share a trunk and a seed, so they are not independent:
// resampling them one by one understates the spread; resample by cluster when you can.
//
// Two ways to draw a replicate:
//   'resample'  units (points, or clusters) drawn with replacement (the pairs bootstrap);
//   'wild'      the design kept, each cluster's residuals from the full fit flipped and scaled by
//               one random weight (Webb's six-point distribution) and added back to the fitted
//               values: the wild cluster bootstrap (Cameron, Gelbach and Miller 2008), which stays
//               usable with a handful of clusters, where drawing 5 sizes with replacement would
//               leave most replicates with 3 or fewer sizes and an unidentifiable law.
// Refits start from:
//   'restart' (default) the full fit's near-best optima and a small grid spread over the box
//             (restartGrid), so a resample whose optimum moved to another basin can find it;
//   'warm'    the full fit's near-best optima only (fast: a resample is a small perturbation);
//   'grid'    the whole grid of the full fit (honest about far-away basins, and slow).
// A refit that did not meet L-BFGS's convergence test still ends at a finite point: it is kept
// (dropping the hard resamples would narrow the interval) and counted as `unconverged`. A
// refit with no finite optimum at all is `failed`; the count and fraction are reported, and
// the intervals are over the completed refits only.
// Seeded (xoshiro128** from the engine), so the same seed gives the same intervals.

import { Rng } from '../../base/random.js';
import { fitParametric, gridStarts, predictLoss, type LawParams, type LogData, type ParametricFit, type ParametricOptions, type StartGrid } from './chinchilla.js';
import { percentileInterval } from './stats.js';

export interface BootstrapOptions {
  samples: number;
  seed: number;
  /** Resampling units: each point (default), or each group (e.g. a run's points together). */
  groups?: readonly string[];
  starts?: BootstrapStarts;
  /** How replicates are drawn (default 'resample'). */
  method?: BootstrapMethod;
  /**
   * Wild only: a known cluster-level noise (sd of log loss, e.g. the seed-to-seed spread) added
   * to each cluster of each replicate. With one seed per cluster a law with as many parameters as
   * clusters soaks the seed effects up, its residuals are near zero, and the wild replicates
   * barely move; this puts the seed noise back into the refits.
   */
  clusterNoise?: number;
}

export type BootstrapMethod = 'resample' | 'wild';

/** One replicate: counts per point (resample) or replacement log losses (wild). */
export interface Replicate {
  weight?: Float64Array;
  logL?: Float64Array;
}

/** Webb's six-point weights: +-sqrt(1/2), +-1, +-sqrt(3/2), each with probability 1/6 (mean 0, variance 1). */
const webb = [-Math.sqrt(1.5), -1, -Math.sqrt(0.5), Math.sqrt(0.5), 1, Math.sqrt(1.5)];

/** Units of resampling: each group's point indices (first-seen order), or each point alone. */
function unitsOf(n: number, groups?: readonly string[]): number[][] {
  const units: number[][] = [];
  if (groups) {
    const index = new Map<string, number>();
    groups.forEach((g, i) => {
      if (!index.has(g)) { index.set(g, units.length); units.push([]); }
      units[index.get(g)!].push(i);
    });
  } else for (let i = 0; i < n; i++) units.push([i]);
  return units;
}

/**
 * A function drawing one replicate after another (seeded): resampled counts, or for 'wild' the
 * fitted log losses of `params` plus each cluster's residuals times a Webb weight.
 */
export function replicator(data: LogData, params: LawParams, o: { seed: number; groups?: readonly string[]; method?: BootstrapMethod; clusterNoise?: number }): () => Replicate {
  const n = data.logN.length;
  if ((o.method ?? 'resample') === 'resample') {
    const draw = resampler(n, o.seed, o.groups);
    return () => ({ weight: draw() });
  }
  const rng = new Rng(o.seed);
  const units = unitsOf(n, o.groups);
  const fitted = Float64Array.from(data.logN, (ln, i) => Math.log(predictLoss(params, Math.exp(ln), Math.exp(data.logD[i]))));
  return () => {
    const logL = new Float64Array(n);
    for (const u of units) {
      const v = webb[rng.scaledInt(6)], shift = o.clusterNoise ? o.clusterNoise * rng.normal() : 0;
      for (const i of u) logL[i] = fitted[i] + v * (data.logL[i] - fitted[i]) + shift;
    }
    return { logL };
  };
}

export type BootstrapStarts = 'restart' | 'warm' | 'grid';

/**
 * The extra starts of a 'restart' refit: 8 points spread over the box the grids span (both
 * amplitudes low and high, both exponents low and high), so no resample is tied to the full
 * fit's basins alone. Small on purpose: it runs once per resample.
 */
export const restartGrid: StartGrid = { a: [3, 15], b: [3, 15], e: [0], alpha: [0.3, 1], beta: [0.3, 1] };

/** A function returning one resample's counts per point (n draws of units with replacement). */
export function resampler(n: number, seed: number, groups?: readonly string[]): () => Float64Array {
  const rng = new Rng(seed);
  const units = unitsOf(n, groups);
  return () => {
    const w = new Float64Array(n);
    for (let k = 0; k < units.length; k++) for (const i of units[rng.scaledInt(units.length)]) w[i]++;
    return w;
  };
}

/** Warm starts: the full fit's optima within this factor of the best objective (at most 5). */
const warmFactor = 1.5;

export interface BootstrapResult {
  /** Every completed refit (converged or not). */
  samples: LawParams[];
  /** Refits with no finite optimum: left out of the intervals, and counted here. */
  failed: number;
  /** Completed refits whose best L-BFGS run stopped without meeting its convergence test (kept in samples). */
  unconverged: number;
  /** failed / resamples. */
  failedFraction: number;
  starts: BootstrapStarts;
  method: BootstrapMethod;
}

export function bootstrapParametric(data: LogData, fit: ParametricFit, opts: BootstrapOptions, fitOpts: ParametricOptions = {}): BootstrapResult {
  const draw = replicator(data, fit.best.params, opts);
  const samples: LawParams[] = [];
  const kind = opts.starts ?? 'restart';
  // Only basins whose objective is close to the best can win a resample; a start in a far
  // worse basin (a plateau where a term vanishes) just burns evaluations.
  const warm = fit.optima.filter((o) => o.objective <= warmFactor * fit.best.objective).slice(0, 5).map((o) => o.theta);
  const starts = kind === 'warm' ? warm : kind === 'restart' ? [...warm, ...gridStarts(restartGrid)] : fitOpts.starts;
  let failed = 0, unconverged = 0;
  for (let s = 0; s < opts.samples; s++) {
    const rep = draw();
    try {
      const r = fitParametric({ ...data, ...rep }, { ...fitOpts, starts, keepOptima: 1 });
      if (!r.best.converged) unconverged++;
      samples.push(r.best.params);
    } catch {
      failed++;
    }
  }
  return { samples, failed, unconverged, failedFraction: opts.samples > 0 ? failed / opts.samples : 0, starts: kind, method: opts.method ?? 'resample' };
}

/** Percentile interval of a derived quantity over the bootstrap samples (NaN ends when there are none). */
export function intervalOf<T>(samples: readonly T[], get: (s: T) => number, level = 0.95): [number, number] {
  return percentileInterval(samples.map(get), level);
}
