// Bootstrap for the parametric fit: draw the points (or whole runs) with replacement, refit,
// and read 95% intervals off the percentiles of the refitted values. A resample is a vector
// of counts, used as weights by the objective, so no data is copied.
//
// Refits start from the distinct optima the full-data grid found ('warm', the default), not
// from the whole grid again: a resample is a small perturbation of the data, so its optimum
// lies in one of the near-best basins, and this costs ~1/1000 of a grid per resample.
// 'grid' restarts every resample from the full grid (honest about far-away basins, and slow).
// Seeded (xoshiro128** from the engine), so the same seed gives the same intervals.

import { Rng } from '../../base/random.js';
import { fitParametric, type LawParams, type LogData, type ParametricFit, type ParametricOptions } from './chinchilla.js';
import { percentileInterval } from './stats.js';

export interface BootstrapOptions {
  samples: number;
  seed: number;
  /** Resampling units: each point (default), or each group (e.g. a run's points together). */
  groups?: readonly string[];
  starts?: 'warm' | 'grid';
}

/** A function returning one resample's counts per point (n draws of units with replacement). */
export function resampler(n: number, seed: number, groups?: readonly string[]): () => Float64Array {
  const rng = new Rng(seed);
  const units: number[][] = [];
  if (groups) {
    const index = new Map<string, number>();
    groups.forEach((g, i) => {
      if (!index.has(g)) { index.set(g, units.length); units.push([]); }
      units[index.get(g)!].push(i);
    });
  } else for (let i = 0; i < n; i++) units.push([i]);
  return () => {
    const w = new Float64Array(n);
    for (let k = 0; k < units.length; k++) for (const i of units[rng.scaledInt(units.length)]) w[i]++;
    return w;
  };
}

/** Warm starts: the full fit's optima within this factor of the best objective (at most 5). */
const warmFactor = 1.5;

export interface BootstrapResult {
  samples: LawParams[];
  /** Resamples whose refit failed (no finite optimum) or did not converge; left out of the intervals. */
  failed: number;
}

export function bootstrapParametric(data: LogData, fit: ParametricFit, opts: BootstrapOptions, fitOpts: ParametricOptions = {}): BootstrapResult {
  const draw = resampler(data.logN.length, opts.seed, opts.groups);
  const samples: LawParams[] = [];
  const warm = (opts.starts ?? 'warm') === 'warm';
  // Only basins whose objective is close to the best can win a resample; a start in a far
  // worse basin (a plateau where a term vanishes) just burns evaluations.
  const starts = warm ? fit.optima.filter((o) => o.objective <= warmFactor * fit.best.objective).slice(0, 5).map((o) => o.theta) : fitOpts.starts;
  let failed = 0;
  for (let s = 0; s < opts.samples; s++) {
    const weight = draw();
    try {
      const r = fitParametric({ ...data, weight }, { ...fitOpts, starts, keepOptima: 1 });
      if (!r.best.converged) { failed++; continue; }
      samples.push(r.best.params);
    } catch {
      failed++;
    }
  }
  return { samples, failed };
}

/** Percentile interval of a derived quantity over the bootstrap samples (NaN ends when there are none). */
export function intervalOf<T>(samples: readonly T[], get: (s: T) => number, level = 0.95): [number, number] {
  return percentileInterval(samples.map(get), level);
}
