// Scaling points from the results store: one point per (run, evaluation step) of a sweep's
// finished runs, or one per run (its last evaluation) with finalOnly. N is the run's
// non-embedding parameter count, D the tokens seen at that evaluation (the trainer logs them
// on every eval line; else step x tokens per step from the run's config), loss the eval loss.
//
// Points along one run's curve are taken before its learning rate has decayed, so under a
// cosine or WSD schedule they sit above what a run of that length would reach; runs branched
// into their own decays (or finalOnly) give the points the law is about.

import { evalSeries, queryRuns } from '../results/query.js';
import type { RunStatus, Store } from '../results/store.js';
import type { ScalingPoint } from './points.js';
import { modelComputeShape, type ComputeShape } from './flops.js';
import { countParams } from '../../models/config.js';
import { resolveRunConfig } from '../../training/assemble.js';

/** Every FLOP convention's view of a run's model, or null when its config does not resolve. */
function shapeOf(config: unknown): Required<ComputeShape> | null {
  try {
    const c = resolveRunConfig(config as Parameters<typeof resolveRunConfig>[0]);
    return modelComputeShape(countParams(c.model), c.model, c.context);
  } catch {
    return null;
  }
}

export interface StorePointOptions {
  sweep: string;
  /** Evaluation split (default "val"). */
  split?: string;
  /** Evaluation metric used as the loss (default "loss"). */
  key?: string;
  /** One point per run: its last evaluation. */
  finalOnly?: boolean;
  /** Drop evaluations at or before this step; 'config' uses each run's own schedule.warmupSteps. */
  excludeWarmup?: number | 'config';
  minTokens?: number;
  /** Which runs (default: done only; a failed or diverged run's losses would pull the fit). */
  status?: RunStatus[];
}

export function pointsFromStore(store: Store, o: StorePointOptions): { points: ScalingPoint[]; notes: string[] } {
  const split = o.split ?? 'val', key = o.key ?? 'loss', status = o.status ?? ['done'];
  const runs = queryRuns(store, { sweep: o.sweep, status });
  if (runs.length === 0) throw new Error(`sweep "${o.sweep}" has no runs with status ${status.join('/')} in ${store.path}`);
  const notes: string[] = [`from sweep "${o.sweep}" in ${store.path}: ${runs.length} run(s) (${status.join('/')}), ${split} ${key}`];
  const noN = runs.filter((r) => r.nonEmbeddingParams === null);
  if (noN.length) notes.push(`${noN.length} run(s) without a non-embedding parameter count skipped: ${noN.slice(0, 5).map((r) => r.name).join(', ')}${noN.length > 5 ? ', ...' : ''}`);
  const usable = runs.filter((r) => r.nonEmbeddingParams !== null);
  if (usable.length === 0) throw new Error(`no run of sweep "${o.sweep}" records its non-embedding parameter count`);

  const series = evalSeries(store, { runs: usable.map((r) => r.id), split, keys: [key, 'tokens'] });
  const byRun = new Map<string, Map<number, { loss?: number; tokens?: number }>>();
  for (const s of series) {
    if (s.value === null) continue;
    const steps = byRun.get(s.run) ?? byRun.set(s.run, new Map()).get(s.run)!;
    const at = steps.get(s.step) ?? steps.set(s.step, {}).get(s.step)!;
    if (s.key === key) at.loss = s.value; else at.tokens = s.value;
  }

  const points: ScalingPoint[] = [];
  let warmupDropped = 0, fewTokens = 0, noTokens = 0, noEvals = 0;
  for (const r of usable) {
    const steps = byRun.get(r.id);
    const withLoss = steps ? [...steps.entries()].filter(([, v]) => v.loss !== undefined && v.loss > 0).sort((a, b) => a[0] - b[0]) : [];
    if (withLoss.length === 0) { noEvals++; continue; }
    const cfg = r.config as { batchSize?: number; context?: number; gradAccum?: number; schedule?: { warmupSteps?: number } };
    const perStep = cfg.batchSize && cfg.context ? cfg.batchSize * cfg.context * (cfg.gradAccum ?? 1) : null;
    const warmup = o.excludeWarmup === 'config' ? (cfg.schedule?.warmupSteps ?? 0) : o.excludeWarmup;
    const chosen = o.finalOnly ? withLoss.slice(-1) : withLoss;
    const shape = shapeOf(r.config);
    for (const [step, v] of chosen) {
      const tokens = v.tokens ?? (perStep !== null ? step * perStep : undefined);
      if (tokens === undefined) { noTokens++; continue; }
      if (warmup !== undefined && step <= warmup) { warmupDropped++; continue; }
      if (!(tokens > 0) || (o.minTokens !== undefined && tokens < o.minTokens)) { fewTokens++; continue; }
      points.push({ ...(shape ?? {}), params: r.nonEmbeddingParams!, tokens, loss: v.loss!, step, run: r.id });
    }
  }
  if (noEvals) notes.push(`${noEvals} run(s) have no ${split} ${key} evaluations`);
  if (noTokens) notes.push(`${noTokens} evaluation(s) skipped: no token count logged and no batchSize/context in the config`);
  if (warmupDropped) notes.push(`${warmupDropped} evaluation(s) at or before the warm-up's end excluded`);
  if (fewTokens) notes.push(`${fewTokens} evaluation(s) with ${o.minTokens !== undefined ? `fewer than ${o.minTokens}` : 'no'} tokens excluded`);
  return { points, notes };
}
