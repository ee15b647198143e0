// Calibrating a study's decision rule: feed its verdict code simulated data from worlds where the
// claim is true, exactly at the margin, and false, with correlated noise like a real run's, and
// count how often each verdict comes out. A rule is calibrated when, at the margin, it says
// SUPPORTED and NOT SUPPORTED each at most 5% of the time (neither side claimed on a coin toss),
// and its power shows in the worlds away from the margin.
//
// scaling-law: the worlds follow a known law L = E + A/N^alpha + B/D^beta at the plan's sizes
// and token budgets (planSizes). Noise is multiplicative in two layers: a seed effect per model
// size, shared by all of a size's points (one trunk, one seed; sd `seedNoise`), and an
// independent term per point (each branch's own decay and evaluation; sd `pointNoise`). The
// held-out model's losses sit on the law (true), so the law's prediction misses them by exactly
// the tolerance (margin), or by four times it (false). Each replicate goes through judgeHeldOut,
// the very function analyse uses for its verdict (the rest of analyse is reporting).

import { Rng } from '../base/random.js';
import { coarseGrid, predictLoss, type LawParams, type ScalingPoint } from '../lab/fit/index.js';
import { judgeHeldOut, planSizes, scalingLaw, tolerance, type FitSettings } from './scaling-law.js';
import { expandStudy, type Analysis, type Budget, type Study, type Verdict } from './study.js';
import { marginFraction, wsdVsCosine } from './wsd-vs-cosine.js';
import { studyRuns } from './run.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRuns } from '../lab/results/query.js';
import { recordSweep } from '../lab/experiments/runner.js';
import { Store } from '../lab/results/store.js';
import type { Sweep } from '../lab/experiments/sweep.js';

export type World = 'true' | 'margin' | 'false';
export const worlds: readonly World[] = ['true', 'margin', 'false'];

export interface WorldRates {
  world: World;
  /** How far the world is from the claim: scaling-law, the held-out miss; wsd-vs-cosine, WSD's relative gap over cosine. */
  miss: number;
  replicates: number;
  counts: Record<Verdict, number>;
  /** counts / replicates, with 95% Wilson intervals. */
  rates: Record<Verdict, { rate: number; ci: [number, number] }>;
}

export interface ScalingCalibrationOptions {
  budget?: Budget;
  replicates: number;
  seed?: number;
  /** Seed effect per model size (sd of log loss; default 0.005). */
  seedNoise?: number;
  /** Independent noise per point (sd of log loss; default 0.002). */
  pointNoise?: number;
  law?: LawParams;
  settings?: FitSettings;
  onReplicate?: (world: World, i: number, verdict: Verdict) => void;
}

/** The default world's law (the shape of small byte-level models; E, A, B in nats per byte). */
export const calibrationLaw: LawParams = { E: 1.5, A: 40, alpha: 0.35, B: 60, beta: 0.35 };

/** 95% Wilson score interval of k successes in n. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959964, p = k / n, d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d, h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

/** The points of one simulated scaling-law study in a world. */
export function scalingWorld(world: World, budget: Budget, rng: Rng, o: { seedNoise: number; pointNoise: number; law: LawParams }): ScalingPoint[] {
  const b = scalingLaw.budgets[budget], T = b.batchSize * b.context;
  const sizes = planSizes(b);
  const largest = Math.max(...sizes.map((s) => s.N));
  const miss = world === 'true' ? 0 : world === 'margin' ? tolerance : 4 * tolerance;
  const points: ScalingPoint[] = [];
  for (const s of sizes) {
    const seedEffect = o.seedNoise * rng.normal();
    for (const l of s.lengths) {
      const D = l.steps * T;
      // The law's prediction misses the held-out model by `miss` (predicted / observed - 1 = -miss).
      const onLaw = predictLoss(o.law, s.N, D) / (s.N === largest ? 1 - miss : 1);
      points.push({ params: s.N, tokens: D, loss: onLaw * Math.exp(seedEffect + o.pointNoise * rng.normal()), run: `size ${s.index + 1}`, step: l.steps, flops: l.compute });
    }
  }
  return points;
}

/** Verdict rates of the scaling-law rule in each world. */
export function calibrateScalingLaw(o: ScalingCalibrationOptions): WorldRates[] {
  const budget = o.budget ?? 'small', rng = new Rng(o.seed ?? 0);
  const noise = { seedNoise: o.seedNoise ?? 0.005, pointNoise: o.pointNoise ?? 0.002, law: o.law ?? calibrationLaw };
  const settings = o.settings ?? { grid: coarseGrid, bootstrap: 40, loso: false };
  return worlds.map((world) => {
    const counts: Record<Verdict, number> = { supported: 0, 'not supported': 0, inconclusive: 0 };
    for (let i = 0; i < o.replicates; i++) {
      const v = judgeHeldOut(scalingWorld(world, budget, rng, noise), settings).verdict;
      counts[v]++;
      o.onReplicate?.(world, i, v);
    }
    const rate = (v: Verdict) => ({ rate: counts[v] / o.replicates, ci: wilson(counts[v], o.replicates) });
    return {
      world, miss: world === 'true' ? 0 : world === 'margin' ? tolerance : 4 * tolerance, replicates: o.replicates, counts,
      rates: { supported: rate('supported'), 'not supported': rate('not supported'), inconclusive: rate('inconclusive') },
    };
  });
}

// ---- synthetic stores ------------------------------------------------------------------------
// A study's real plan registered in a temporary store, each run given a final validation loss as
// if trained, and the study's own analyse run on it: the whole verdict path, store included.

/** Registers `sweep` in a fresh temporary store and "trains" each run with `loss(run)` (null: failed); returns the analysis. */
export async function analyseSynthetic(study: Study, sweep: Sweep, loss: (r: { name: string; point: Record<string, unknown> }) => number | null): Promise<Analysis> {
  const dir = mkdtempSync(join(tmpdir(), 'wt-calibrate-'));
  const store = Store.open(join(dir, 'windtunnel.db'));
  try {
    const planned = expandStudy(sweep);
    recordSweep(store, sweep, planned, join(dir, 'runs'));
    for (const r of planned) {
      const l = loss({ name: r.name, point: r.point });
      const steps = (r.config as { steps: number }).steps;
      if (l === null) { store.claim(r.id, 'synthetic'); store.fail(r.id, 'synthetic failure'); continue; }
      store.logMetrics(r.id, [{ step: steps, values: { loss: l } }]);
      store.logEvals(r.id, [{ step: steps, split: 'val', values: { loss: l } }]);
      store.finish(r.id);
    }
    return await study.analyse(store, studyRuns(queryRuns(store, { sweep: sweep.name }), planned));
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// wsd-vs-cosine: the claim is "WSD at or below cosine within a margin of 0.5% of the cosine loss"
// at every length. Worlds: WSD's final loss is cosine's times (1 + gap), gap -1% (true), +0.5%
// (the margin), +2% (false). Noise: a seed effect (sd `seedNoise`) shared by every run of a seed
// (same init and data order, which the pairing removes), a trunk effect (sd `trunkNoise`) shared
// by the WSD runs of a seed (one trunk), and an independent term per run (sd `runNoise`).

export interface WsdCalibrationOptions {
  budget?: Budget;
  replicates: number;
  seed?: number;
  seedNoise?: number;
  trunkNoise?: number;
  runNoise?: number;
  onReplicate?: (world: World, i: number, verdict: Verdict) => void;
}

export const wsdGaps: Record<World, number> = { true: -0.01, margin: marginFraction, false: 0.02 };

export async function calibrateWsdVsCosine(o: WsdCalibrationOptions): Promise<WorldRates[]> {
  const budget = o.budget ?? 'small', rng = new Rng(o.seed ?? 0), sweep = wsdVsCosine.plan(budget);
  const sd = { seed: o.seedNoise ?? 0.01, trunk: o.trunkNoise ?? 0.002, run: o.runNoise ?? 0.002 };
  const out: WorldRates[] = [];
  for (const world of worlds) {
    const counts: Record<Verdict, number> = { supported: 0, 'not supported': 0, inconclusive: 0 };
    for (let i = 0; i < o.replicates; i++) {
      const seedEffect = new Map<unknown, number>(), trunkEffect = new Map<unknown, number>();
      const effect = (m: Map<unknown, number>, k: unknown, s: number): number => m.get(k) ?? m.set(k, s * rng.normal()).get(k)!;
      const a = await analyseSynthetic(wsdVsCosine, sweep, (r) => {
        const L = r.point.$length as number, seed = r.point.$seed, wsd = r.point.$role === 'wsd';
        const base = (2 + 5 / Math.sqrt(L)) * Math.exp(effect(seedEffect, seed, sd.seed) + sd.run * rng.normal());
        return wsd ? base * (1 + wsdGaps[world]) * Math.exp(effect(trunkEffect, seed, sd.trunk)) : base;
      });
      counts[a.verdict]++;
      o.onReplicate?.(world, i, a.verdict);
    }
    const rate = (v: Verdict) => ({ rate: counts[v] / o.replicates, ci: wilson(counts[v], o.replicates) });
    out.push({ world, miss: wsdGaps[world], replicates: o.replicates, counts, rates: { supported: rate('supported'), 'not supported': rate('not supported'), inconclusive: rate('inconclusive') } });
  }
  return out;
}
