// Prediction intervals: where a new observation of the loss at (N, D) should fall, not only
// where the law's mean does. Two sources of spread add up: the law's own uncertainty (the
// bootstrap refits) and the observation's noise (a run's seed, its data order, its evaluation
// batches), which a bootstrap of the mean never sees. The noise is taken in log space, as the
// fit's residuals are: the residual standard deviation of the fit (n - 5 degrees of freedom),
// plus a measured seed-to-seed standard deviation in quadrature when the caller has one (with
// one seed per size a law soaks up part of the seed effects, so residuals alone understate it).
//
// Each refit contributes `draws` values log L_hat + noise * z, z standard normal, and the
// interval is read off their percentiles. Seeded, so the same inputs give the same interval.

import { Rng } from '../../base/random.js';
import { predictLoss, type LawParams } from './chinchilla.js';
import { percentileInterval } from './stats.js';

/** Residual standard deviation of log residuals with `parameters` fitted (NaN when n <= parameters). */
export function residualSd(logResiduals: ArrayLike<number>, parameters = 5): number {
  const n = logResiduals.length;
  if (n <= parameters) return NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += logResiduals[i] ** 2;
  return Math.sqrt(s / (n - parameters));
}

export interface PredictionOptions {
  level?: number;
  /** Noise draws per refit (default 20). */
  draws?: number;
  seed?: number;
}

export interface Prediction {
  /** The law's mean prediction from the refits' median (the caller's point estimate may differ). */
  interval: [number, number];
  /** The draws the interval is read from (loss units), for tail probabilities. */
  draws: Float64Array;
}

/**
 * The prediction interval of a loss at (N, D): every refit's prediction times exp(noise * z).
 * `samples` are bootstrap refits; `logNoiseSd` the observation noise in log space (0: the
 * interval of the mean). Empty samples give NaN ends.
 */
export function predictionInterval(samples: readonly LawParams[], N: number, D: number, logNoiseSd: number, o: PredictionOptions = {}): Prediction {
  const draws = o.draws ?? 20, rng = new Rng(o.seed ?? 0), sd = Number.isFinite(logNoiseSd) ? logNoiseSd : 0;
  const out = new Float64Array(samples.length * draws);
  let k = 0;
  for (const s of samples) {
    const logMean = Math.log(predictLoss(s, N, D));
    for (let j = 0; j < draws; j++) out[k++] = Math.exp(logMean + sd * rng.normal());
  }
  return { interval: percentileInterval(Array.from(out), o.level ?? 0.95), draws: out };
}
