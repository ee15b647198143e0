// Synthetic scaling tables drawn from known laws, for the fit tests: a factorial grid of
// model sizes and token counts, and IsoFLOP levels around a deliberately wrong guess of the
// frontier; multiplicative log-normal noise from a seeded generator.
import { Rng } from '../../../src/base/random.js';
import { computeOptimal, predictLoss, type LawParams } from '../../../src/lab/fit/chinchilla.js';
import type { ScalingPoint } from '../../../src/lab/fit/points.js';

/** Hoffmann et al.'s fit (their eq. 10). */
export const chinchillaLaw: LawParams = { E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28 };
/** A different law at windtunnel's scale: smaller A, larger beta than alpha. */
export const smallLaw: LawParams = { E: 1.2, A: 30, B: 250, alpha: 0.25, beta: 0.35 };

/** nN sizes over nDecades from N0, times nD token counts over dDecades from D0 (8 x 8 over 1.5 and 2 decades by default). */
export function gridTable(law: LawParams, o: { N0: number; D0: number; seed: number; noise?: number; nN?: number; nD?: number; nDecades?: number; dDecades?: number }): ScalingPoint[] {
  const rng = new Rng(o.seed), nN = o.nN ?? 8, nD = o.nD ?? 8;
  const out: ScalingPoint[] = [];
  for (let i = 0; i < nN; i++) {
    for (let j = 0; j < nD; j++) {
      const N = o.N0 * 10 ** (((o.nDecades ?? 1.5) * i) / (nN - 1)), D = o.D0 * 10 ** (((o.dDecades ?? 2) * j) / (nD - 1));
      out.push({ params: N, tokens: D, loss: predictLoss(law, N, D) * Math.exp((o.noise ?? 0.01) * rng.normal()) });
    }
  }
  return out;
}

/**
 * IsoFLOP levels: 8 budgets over 2 decades from C0; at each, the model sizes of a fixed ladder
 * (25 over 3 decades) within 0.6 decades of a guess of N*(C) with exponent 0.5 (not the true
 * one, so the levels are not centred on the optimum, as in a real plan).
 */
export function isoflopTable(law: LawParams, o: { C0: number; seed: number; noise?: number; withFlops?: boolean }): ScalingPoint[] {
  const rng = new Rng(o.seed);
  const Cs = Array.from({ length: 8 }, (_, i) => o.C0 * 10 ** ((2 * i) / 7));
  const mid = Cs[4], Nmid = computeOptimal(law, mid).N;
  const sizes = Array.from({ length: 25 }, (_, i) => (Nmid / 30) * 10 ** ((3 * i) / 24));
  const out: ScalingPoint[] = [];
  for (const C of Cs) {
    const guess = Nmid * (C / mid) ** 0.5;
    for (const N of sizes) {
      if (Math.abs(Math.log10(N / guess)) > 0.6) continue;
      const D = C / (6 * N);
      out.push({ params: N, tokens: D, loss: predictLoss(law, N, D) * Math.exp((o.noise ?? 0) * rng.normal()), ...(o.withFlops ? { flops: C } : {}) });
    }
  }
  return out;
}

/** Training curves: nRuns model sizes over 2 decades, each evaluated at 31 token counts over 3 decades. */
export function curvesTable(law: LawParams, o: { N0: number; D0: number; seed: number; noise?: number; nRuns?: number }): ScalingPoint[] {
  const rng = new Rng(o.seed), nRuns = o.nRuns ?? 16;
  const out: ScalingPoint[] = [];
  for (let i = 0; i < nRuns; i++) {
    const N = o.N0 * 10 ** ((2 * i) / (nRuns - 1));
    for (let j = 0; j <= 30; j++) {
      const D = o.D0 * 10 ** ((3 * j) / 30);
      out.push({ params: N, tokens: D, loss: predictLoss(law, N, D) * Math.exp((o.noise ?? 0) * rng.normal()), run: `run${i}`, step: j * 100 });
    }
  }
  return out;
}

/** a = beta / (alpha + beta): the true exponent of N_opt ∝ C^a. */
export const trueA = (law: LawParams): number => law.beta / (law.alpha + law.beta);
