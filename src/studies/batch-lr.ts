// `study batch-lr`: a grid of batch sizes x learning rates at a fixed token budget. For each
// batch size: the best learning rate and the loss it reaches; across batch sizes: the power
// law lr* ∝ B^k with its interval, and the critical batch size.
//
// Every run trains the same number of tokens (steps = tokens / (B x context)) with WSD: warm-up
// over 10% of its steps (the same tokens for every batch size; a warm-up of a few steps leaves
// large batches stuck on the unigram plateau at high lr), a 20% 1-sqrt decay. Loss: final
// validation loss, averaged over seeds, on the same validation sequences for every batch size
// (evalBatches = evalSequences / B). A cell with any diverged seed counts as diverged (as in
// mup-transfer): averaging the survivors would flatter an lr past the edge of stability.
// Every run logs the gradient noise scale (the trainer's noiseScale option).
//
// Best learning rate of a batch size: the vertex of the parabola in log2(lr) through the grid's
// lowest mean loss and its two neighbours. At an edge of the grid the optimum is not bracketed:
// the batch size is reported but left out of the power law. Its interval (seeds >= 5; fewer give
// too few distinct resamples to call anything 95%): the percentile interval of the vertex over a
// bootstrap of the seeds (cells re-averaged).
// The power law: least squares of ln lr* on ln B over the bracketed batch sizes, with a 95%
// t-interval on k (3 or more batch sizes).
//
// Claim and verdict: the best learning rate grows with the batch size (k > 0). Supported when
// the whole interval of k lies above 0, not supported when it lies at or below 0, inconclusive
// otherwise. Whether the square-root rule (k = 1/2, Adam) or the linear rule (k = 1, SGD) lies in
// the interval is reported as evidence.
//
// Critical batch size, as McCandlish et al. 2018 define it: for each batch size at its best grid
// lr, the steps S to reach a target loss (the training loss, a centred mean over 5% of the run's
// steps, first at or below the target) and the examples E = S B; the trade-off (S/S_min - 1)(E/E_min - 1) = 1 is
// S = S_min + E_min / B, a straight line in 1/B, so S_min and E_min come from least squares and
// B_crit = E_min / S_min (sequences). The target is the highest loss every batch size reaches
// before its decay starts (WSD's stable phase, where the lr is constant; in the decay every run
// reaches its loss at the same token count, which says nothing about the trade-off). Beside it,
// the gradient noise scale B_simple = tr(Sigma) / |G|^2 measured in those runs (the mean of the
// trace estimates over the mean of the |G|^2 estimates, over the stable phase's second half),
// which McCandlish et al. find predicts B_crit. And, as before, the loss-based batch size at which
// the best loss at this fixed token budget has risen 1% above the lowest (a different quantity).

import { fitLine, predictLine, percentileInterval } from '../lab/fit/stats.js';
import type { Figure, TopLevelSpec } from '../lab/presentation/plots.js';
import { figureConfig } from '../lab/presentation/plots.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import { metricSeries } from '../lab/results/query.js';
import { Rng } from '../base/random.js';
import { linesAndPoints, type BandRow, type LineRow, type PointRow } from './figures.js';
import { bestLr, finalOf, fmt, v } from './stats.js';
import { planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';
import { fmtCount } from '../base/format.js';

export interface BatchLrBudget {
  model: { dModel: number; nLayer: number; nHead: number };
  context: number;
  /** Validation sequences every batch size is scored on (a multiple of every batch size). */
  evalSequences: number;
  /** Tokens every run trains. */
  tokens: number;
  /** Sequences per step. */
  batchSizes: number[];
  lrs: number[];
  seeds: number[];
  categories?: string[];
}

/** The loss rise that marks the loss-based batch size. */
export const criticalRise = 0.01;
/** Seeds needed before a seed bootstrap is called a 95% interval (2 seeds have 3 distinct resamples). */
export const minBootstrapSeeds = 5;
/** Noise-scale measurements per run. */
const noiseMeasurements = 50;
/** Decay fraction of every run's WSD schedule. */
const decayFraction = 0.2;

const budgets: Record<Budget, BatchLrBudget> = {
  smoke: {
    model: { dModel: 16, nLayer: 1, nHead: 2 }, context: 32, evalSequences: 8, tokens: 2560,
    batchSizes: [4, 8], lrs: [4e-3, 1.6e-2, 6.4e-2], seeds: [0], categories: ['news'],
  },
  small: {
    model: { dModel: 48, nLayer: 2, nHead: 4 }, context: 64, evalSequences: 256, tokens: 1_000_000,
    batchSizes: [4, 8, 16, 32, 64], lrs: [5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2], seeds: [0, 1],
  },
  full: {
    model: { dModel: 128, nLayer: 4, nHead: 4 }, context: 128, evalSequences: 512, tokens: 2_000_000,
    batchSizes: [4, 8, 16, 32, 64, 128], lrs: [5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2], seeds: [0, 1, 2, 3, 4],
  },
};

const claim = 'At a fixed token budget the best learning rate grows with the batch size, as a power law lr* ∝ B^k with k > 0 ' +
  '(the square-root rule for Adam says k = 1/2).';

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const base = studyBase({ ...b.model, batchSize: b.batchSizes[0], context: b.context, lr: b.lrs[0], evalBatches: 1, categories: b.categories });
  const runs: PlannedRun[] = [];
  for (const B of b.batchSizes) {
    if (b.evalSequences % B !== 0) throw new Error(`batch-lr ${budget}: evalSequences ${b.evalSequences} is not a multiple of batch size ${B}`);
    const steps = Math.max(1, Math.round(b.tokens / (B * b.context)));
    for (const lr of b.lrs) {
      for (const seed of b.seeds) {
        runs.push({
          run: `B${B}-lr${lr}-s${seed}`,
          set: {
            batchSize: B, lr, seed, steps, evalBatches: b.evalSequences / B, noiseScale: { every: Math.max(1, Math.round(steps / noiseMeasurements)) },
            schedule: { kind: 'wsd', warmupSteps: Math.max(1, Math.round(0.1 * steps)), decayFraction, decayShape: '1-sqrt', minLrRatio: 0 },
          },
          vars: { batch: B, lr, seed },
        });
      }
    }
  }
  return planSweep({ study: 'batch-lr', budget, base, runs });
}

// ---- analysis --------------------------------------------------------------------------------

type Interval = [number, number];

interface BatchResult {
  batch: number;
  /** Mean final loss per lr (NaN where every seed failed or diverged). */
  cells: { lr: number; loss: number; n: number }[];
  /** The parabola vertex (or the grid's best when unbracketed); null without data. */
  bestLr: number | null;
  bestLrCi: Interval | null;
  bracketed: boolean;
  /** The lowest mean loss on the grid, and its lr. */
  bestLoss: number;
  gridBestLr: number;
}

/** Final losses by batch, lr and seed; null for a seed that diverged or failed. Runs without a result yet are absent. */
type Table = Map<number, Map<number, Map<number, number | null>>>;

const finished = (r: StudyRun): boolean => r.record.status === 'done' || r.record.status === 'failed';

function lossTable(runs: StudyRun[]): Table {
  const t: Table = new Map();
  for (const r of runs) {
    if (!finished(r)) continue;
    const loss = finalOf(r);
    const B = v<number>(r, 'batch')!, lr = v<number>(r, 'lr')!, seed = v<number>(r, 'seed')!;
    const byLr = t.get(B) ?? t.set(B, new Map()).get(B)!;
    const bySeed = byLr.get(lr) ?? byLr.set(lr, new Map()).get(lr)!;
    bySeed.set(seed, loss);
  }
  return t;
}

/** Mean loss per lr (seed weights for a resample); NaN where any counted seed diverged, or none finished. */
function cellsOf(byLr: Map<number, Map<number, number | null>>, lrs: number[], weight?: Map<number, number>): { lr: number; loss: number; n: number }[] {
  return lrs.map((lr) => {
    const bySeed = byLr.get(lr);
    let s = 0, w = 0, diverged = false;
    for (const [seed, loss] of bySeed ?? []) {
      const k = weight ? weight.get(seed) ?? 0 : 1;
      if (k === 0) continue;
      if (loss === null) diverged = true; else { s += k * loss; w += k; }
    }
    return { lr, loss: diverged || w === 0 ? NaN : s / w, n: bySeed?.size ?? 0 };
  });
}

/** The batch size at which the best loss has risen `criticalRise` above the lowest, log-interpolated; Infinity when not reached. */
export function criticalBatch(best: { batch: number; loss: number }[]): { batch: number; reached: boolean } | null {
  const pts = best.filter((p) => Number.isFinite(p.loss)).sort((a, b) => a.batch - b.batch);
  if (pts.length < 2) return null;
  let i = 0;
  pts.forEach((p, j) => { if (p.loss < pts[i].loss) i = j; });
  const limit = pts[i].loss * (1 + criticalRise);
  for (let j = i + 1; j < pts.length; j++) {
    if (pts[j].loss > limit) {
      const a = pts[j - 1], b = pts[j];
      const t = (limit - a.loss) / (b.loss - a.loss);
      return { batch: Math.exp(Math.log(a.batch) + t * (Math.log(b.batch) - Math.log(a.batch))), reached: true };
    }
  }
  return { batch: pts[pts.length - 1].batch, reached: false };
}

/** S = S_min + E_min / B (McCandlish et al.'s (S/S_min - 1)(E/E_min - 1) = 1 with E = S B), least squares in 1/B; B_crit = E_min / S_min. */
export function fitCriticalBatch(pts: readonly { batch: number; steps: number }[]): { sMin: number; eMin: number; bCrit: number; r2: number } | null {
  if (new Set(pts.map((p) => p.batch)).size < 2) return null;
  const f = fitLine(pts.map((p) => 1 / p.batch), pts.map((p) => p.steps));
  return { sMin: f.intercept, eMin: f.slope, bCrit: f.intercept > 0 && f.slope > 0 ? f.slope / f.intercept : NaN, r2: f.r2 };
}

/** Centred moving mean: each point averaged with those within `halfWidth` steps either side (no lag on a straight trend). */
export function centredMean(xs: readonly number[], ys: readonly number[], halfWidth: number): number[] {
  const out: number[] = [];
  let lo = 0, hi = 0, sum = 0;
  for (let i = 0; i < xs.length; i++) {
    while (hi < xs.length && xs[hi] <= xs[i] + halfWidth) sum += ys[hi++];
    while (xs[lo] < xs[i] - halfWidth) sum -= ys[lo++];
    out.push(sum / (hi - lo));
  }
  return out;
}

interface TradeOff {
  batch: number;
  lr: number;
  /** Steps to the target loss (NaN: not reached in the stable phase). */
  steps: number;
  examples: number;
  /** Gradient noise scale in sequences (NaN: not measured). */
  bSimple: number;
}

/**
 * For each batch size at its best grid lr: the seed-mean training-loss curve in the stable phase,
 * smoothed by a centred mean over 5% of the run's steps; the target is the highest of their minima (every batch size
 * reaches it before its decay); the steps to it; and the noise scale over the stable phase's
 * second half (mean of the trace estimates over the mean of the |G|^2 estimates, all seeds).
 */
function tradeOffs(store: Store, runs: StudyRun[], best: { batch: number; lr: number }[]): { target: number; rows: TradeOff[] } | null {
  const curves = best.flatMap(({ batch, lr }) => {
    const mine = runs.filter((r) => v(r, 'batch') === batch && v(r, 'lr') === lr && finalOf(r) !== null);
    if (!mine.length) return [];
    const steps = (mine[0].record.config as { steps?: number }).steps ?? 0;
    const stable = steps - Math.round(decayFraction * steps);
    const series = metricSeries(store, { runs: mine.map((r) => r.id), keys: ['loss', 'gns_trace', 'gns_grad_sq'], toStep: stable });
    const byStep = new Map<number, number[]>();
    for (const p of series) if (p.key === 'loss' && p.value !== null) (byStep.get(p.step) ?? byStep.set(p.step, []).get(p.step)!).push(p.value);
    const xs = [...byStep.keys()].sort((a, b) => a - b).filter((st) => byStep.get(st)!.length === mine.length);
    if (!xs.length) return [];
    const ys = centredMean(xs, xs.map((st) => byStep.get(st)!.reduce((a, b) => a + b, 0) / mine.length), 0.025 * steps);
    const late = (key: string) => series.filter((p) => p.key === key && p.value !== null && p.step > stable / 2).map((p) => p.value!);
    const tr = late('gns_trace'), g2 = late('gns_grad_sq');
    const bSimple = tr.length && g2.length ? (tr.reduce((a, b) => a + b, 0) / tr.length) / (g2.reduce((a, b) => a + b, 0) / g2.length) : NaN;
    return [{ batch, lr, xs, ys, bSimple }];
  });
  if (curves.length < 2) return null;
  const target = Math.max(...curves.map((c) => Math.min(...c.ys)));
  const rows = curves.map((c) => {
    const i = c.ys.findIndex((y) => y <= target);
    const steps = i >= 0 ? c.xs[i] : NaN;
    return { batch: c.batch, lr: c.lr, steps, examples: steps * c.batch, bSimple: c.bSimple };
  });
  return { target, rows };
}

function analyse(store: Store, runs: StudyRun[]): Analysis {
  const table = lossTable(runs);
  const batches = [...new Set(runs.map((r) => v<number>(r, 'batch')!))].sort((a, b) => a - b);
  const lrs = [...new Set(runs.map((r) => v<number>(r, 'lr')!))].sort((a, b) => a - b);
  const seeds = [...new Set(runs.map((r) => v<number>(r, 'seed')!))].sort((a, b) => a - b);
  const B = 400;

  // Bootstrap over seeds: each resample re-weights the seeds, re-averages the cells, re-finds the vertices.
  const rng = new Rng(11);
  const resamples: Map<number, number>[] = seeds.length >= minBootstrapSeeds ? Array.from({ length: B }, () => {
    const w = new Map<number, number>();
    for (let i = 0; i < seeds.length; i++) { const s = seeds[rng.scaledInt(seeds.length)]; w.set(s, (w.get(s) ?? 0) + 1); }
    return w;
  }) : [];

  const results: BatchResult[] = batches.map((batch) => {
    const byLr = table.get(batch) ?? new Map();
    const cells = cellsOf(byLr, lrs);
    const best = bestLr(cells);
    const boot = resamples.map((w) => bestLr(cellsOf(byLr, lrs, w))).filter((x): x is NonNullable<typeof x> => x !== null && x.bracketed).map((x) => Math.log(x.lr));
    const bestLrCi: Interval | null = best?.bracketed && boot.length >= 20 ? percentileInterval(boot).map(Math.exp) as Interval : null;
    return { batch, cells, bestLr: best?.lr ?? null, bestLrCi, bracketed: best?.bracketed ?? false, bestLoss: best?.loss ?? NaN, gridBestLr: best?.gridLr ?? NaN };
  });

  // The power law over the bracketed batch sizes.
  const used = results.filter((r) => r.bracketed && r.bestLr !== null);
  const fit = used.length >= 3 ? fitLine(used.map((r) => Math.log(r.batch)), used.map((r) => Math.log(r.bestLr!))) : null;
  const k = fit?.slope ?? (used.length === 2 ? Math.log(used[1].bestLr! / used[0].bestLr!) / Math.log(used[1].batch / used[0].batch) : NaN);
  const kCi: Interval | null = fit && Number.isFinite(fit.slopeCi[0]) ? fit.slopeCi : null;

  // Critical batch size, with a seed bootstrap when there are seeds to resample.
  const crit = criticalBatch(results.map((r) => ({ batch: r.batch, loss: r.bestLoss })));
  const critBoot = resamples.map((w) => criticalBatch(batches.map((batch) => {
    const cs = cellsOf(table.get(batch) ?? new Map(), lrs, w).filter((c) => Number.isFinite(c.loss));
    return { batch, loss: cs.length ? Math.min(...cs.map((c) => c.loss)) : NaN };
  }))).filter((x): x is NonNullable<typeof x> => x !== null);
  const critCi: Interval | null = critBoot.length >= 20 ? percentileInterval(critBoot.map((c) => Math.log(c.batch))).map(Math.exp) as Interval : null;
  const critNotReached = critBoot.filter((c) => !c.reached).length;

  // McCandlish et al.'s critical batch size from the steps-examples trade-off, and the noise scale.
  const trade = tradeOffs(store, runs, results.filter((r) => Number.isFinite(r.gridBestLr)).map((r) => ({ batch: r.batch, lr: r.gridBestLr })));
  const tradeFit = trade ? fitCriticalBatch(trade.rows.filter((t) => Number.isFinite(t.steps))) : null;

  let verdict: Verdict, reason: string;
  const kText = kCi ? `k = ${fmt(k, 3)} [${fmt(kCi[0], 3)}, ${fmt(kCi[1], 3)}]` : Number.isFinite(k) ? `k = ${fmt(k, 3)} (no interval)` : 'k cannot be estimated';
  if (!kCi) {
    verdict = 'inconclusive';
    reason = `${used.length} batch size(s) have a bracketed best learning rate; the power law needs 3 for an interval on k (${kText}).`;
  } else if (kCi[0] > 0) {
    verdict = 'supported';
    reason = `The best learning rate grows with batch size: ${kText} over ${used.length} batch sizes (95% t-interval).`;
  } else if (kCi[1] <= 0) {
    verdict = 'not supported';
    reason = `The best learning rate does not grow with batch size: ${kText}, wholly at or below 0.`;
  } else {
    verdict = 'inconclusive';
    reason = `${kText}: the interval includes 0 at this scale.`;
  }

  const inCi = (x: number): string => (x >= kCi![0] && x <= kCi![1] ? 'inside' : 'outside');
  const evidence = [
    ...results.map((r) => `B = ${r.batch} (${fmtCount(r.batch)} sequences/step): best lr ${r.bestLr === null ? '-' : fmt(r.bestLr, 3)}` +
      `${r.bestLrCi ? ` [${fmt(r.bestLrCi[0], 3)}, ${fmt(r.bestLrCi[1], 3)}]` : ''}${r.bracketed ? '' : ' (at the edge of the grid: not bracketed, left out of the fit)'}, best loss ${fmt(r.bestLoss)}.`),
    `Power law lr* ∝ B^k: ${kText}${fit ? `, R² ${fmt(fit.r2, 3)}` : ''}` +
      (kCi ? `; the square-root rule (k = 0.5) is ${inCi(0.5)} the interval, the linear rule (k = 1) ${inCi(1)}.` : '; without an interval neither the square-root nor the linear rule can be tested.'),
    !trade || !tradeFit ? 'Critical batch size (McCandlish et al.): too few batch sizes with training curves to fit the steps-examples trade-off.'
      : `Critical batch size (McCandlish et al.: S = S_min + E_min / B fitted to the steps each batch size at its best grid lr needs to reach training loss ${fmt(trade.target)} in its stable phase): ` +
        `${Number.isFinite(tradeFit.bCrit) ? `B_crit = E_min / S_min = ${fmt(tradeFit.bCrit, 3)} sequences (${fmtCount(tradeFit.bCrit * contextOf(runs))} tokens)` : `not identified (S_min ${fmt(tradeFit.sMin, 3)}, E_min ${fmt(tradeFit.eMin, 3)}: the steps do not fall with the batch size as the trade-off says)`}, ` +
        `S_min ${fmt(tradeFit.sMin, 3)} steps, E_min ${fmt(tradeFit.eMin, 3)} sequences, R² ${fmt(tradeFit.r2, 3)}; point estimate, no interval. Steps to target by batch size: ${trade.rows.map((t) => `${t.batch}: ${Number.isFinite(t.steps) ? t.steps : 'not reached'}`).join(', ')}.`,
    trade && trade.rows.some((t) => Number.isFinite(t.bSimple))
      ? `Gradient noise scale B_simple = tr(Sigma)/|G|^2 (McCandlish et al.'s unbiased estimates from half and whole batches, averaged over the stable phase's second half at each batch size's best lr): ${trade.rows.map((t) => `B=${t.batch}: ${Number.isFinite(t.bSimple) ? fmt(t.bSimple, 3) : '-'}`).join(', ')} sequences${tradeFit && Number.isFinite(tradeFit.bCrit) ? `; the fitted B_crit is ${fmt(tradeFit.bCrit, 3)}` : ''}.`
      : 'Gradient noise scale: not measured in these runs.',
    crit === null ? 'Loss-based batch size: too few batch sizes with data.'
      : crit.reached ? `Loss-based batch size (a different quantity: where the best loss at this fixed token budget is ${criticalRise * 100}% above the lowest): about ${fmt(crit.batch, 3)} sequences (${fmtCount(crit.batch * contextOf(runs))} tokens) per step` +
        `${critCi ? ` [${fmt(critCi[0], 3)}, ${fmt(critCi[1], 3)}] over a seed bootstrap${critNotReached ? ` (${critNotReached} of ${critBoot.length} resamples never reach it)` : ''}` : ''}.`
        : `Loss-based batch size: not reached; every batch size up to ${crit.batch} gets within ${criticalRise * 100}% of the lowest best loss at this token budget.`,
  ];
  // Exploratory, not the verdict: the scaling rules are meant for batches below the critical size.
  const bCrit = tradeFit && Number.isFinite(tradeFit.bCrit) ? tradeFit.bCrit : null;
  const below = bCrit !== null ? used.filter((r) => r.batch <= bCrit) : [];
  if (below.length >= 3 && below.length < used.length) {
    const fb = fitLine(below.map((r) => Math.log(r.batch)), below.map((r) => Math.log(r.bestLr!)));
    evidence.push(`Exploratory (not part of the verdict): over the ${below.length} batch sizes at or below the critical batch size, k = ${fmt(fb.slope, 3)}` +
      `${Number.isFinite(fb.slopeCi[0]) ? ` [${fmt(fb.slopeCi[0], 3)}, ${fmt(fb.slopeCi[1], 3)}]` : ''}.`);
  }
  const failed = runs.filter((r) => r.record.status === 'failed');
  const caveats = [
    `Every run trains ${fmtCount(tokensOf(runs))} tokens; a different budget moves both the best learning rates and the critical batch size (it grows as the loss falls).`,
    `The grid spaces learning rates by factors of ${lrs.length > 1 ? fmt(lrs[1] / lrs[0], 2) : '-'}; a best lr between grid points comes from a three-point parabola in log lr.`,
    ...(seeds.length < minBootstrapSeeds ? [`${seeds.length} seed(s): fewer than ${minBootstrapSeeds}, so no seed-bootstrap intervals on the best learning rates or the loss-based batch size (with 2 seeds a bootstrap has 3 distinct resamples); the t-interval on k reflects only the scatter of the vertices.`] : []),
    'The critical batch size is a point estimate, and is measured on the WSD runs\' stable phase at each batch size\'s best grid lr for the final loss, not a separately tuned constant-lr run per batch size as McCandlish et al. do.',
    `Every batch size is scored on the same ${fmtCount(evalTokensOf(runs))} validation tokens.`,
    ...(failed.length ? [`${failed.length} run(s) failed or diverged (${failed.slice(0, 6).map((r) => r.name).join(', ')}${failed.length > 6 ? ', ...' : ''}); a cell with any diverged seed counts as diverged (a diverged learning rate is past the optimum).`] : []),
  ];
  return {
    verdict, reason, evidence, caveats,
    figures: figures(results, fit, crit, lrs),
    tables: tables(results, lrs),
    data: {
      batches: results, powerLaw: { k, ci: kCi, points: used.length, r2: fit?.r2 ?? null },
      critical: tradeFit && trade && { ...tradeFit, target: trade.target, tradeOffs: trade.rows },
      lossBased: crit && { ...crit, ci: critCi, rise: criticalRise },
    },
  };
}

const evalTokensOf = (runs: StudyRun[]): number => {
  const c = runs[0]?.record.config as { evalBatches?: number; batchSize?: number; context?: number } | undefined;
  return (c?.evalBatches ?? 0) * (c?.batchSize ?? 0) * (c?.context ?? 0);
};
const contextOf = (runs: StudyRun[]): number => (runs[0]?.record.config as { context?: number } | undefined)?.context ?? 0;
const tokensOf = (runs: StudyRun[]): number => {
  const c = runs[0]?.record.config as { steps?: number; batchSize?: number; context?: number } | undefined;
  return (c?.steps ?? 0) * (c?.batchSize ?? 0) * (c?.context ?? 0);
};

function figures(results: BatchResult[], fit: ReturnType<typeof fitLine> | null, crit: { batch: number; reached: boolean } | null, lrs: number[]): Figure[] {
  const figs: Figure[] = [];
  const label = (B: number): string => `B=${B}`;
  const curveLines: LineRow[] = results.flatMap((r) => r.cells.filter((c) => Number.isFinite(c.loss)).map((c) => ({ series: label(r.batch), run: label(r.batch), x: c.lr, y: c.loss })));
  const vertices: PointRow[] = results.filter((r) => r.bestLr !== null).map((r) => {
    const c = r.cells.find((x) => x.lr === r.gridBestLr);
    return { series: label(r.batch), x: r.bestLr!, y: c?.loss ?? r.bestLoss, label: `best lr of B=${r.batch}` };
  });
  figs.push({
    id: 'loss-vs-lr', title: 'Final validation loss against learning rate, per batch size',
    caption: 'Mean over seeds; the marked point on each curve is its best learning rate (parabola vertex, drawn at the grid minimum\'s height). Missing points diverged or failed.',
    spec: linesAndPoints(curveLines, [...curveLines.map((l) => ({ series: l.series, x: l.x, y: l.y })), ...vertices], { xTitle: 'peak learning rate', yTitle: 'final validation loss', logX: true, colorTitle: 'batch size' }),
  });
  const used = results.filter((r) => r.bracketed && r.bestLr !== null);
  const pts: PointRow[] = results.filter((r) => r.bestLr !== null).map((r) => ({ series: r.bracketed ? 'best lr (bracketed)' : 'best lr (grid edge)', x: r.batch, y: r.bestLr!, label: `B=${r.batch}` }));
  const lines: LineRow[] = [], bands: BandRow[] = [];
  if (fit) {
    const xs = results.map((r) => r.batch);
    const grid = Array.from({ length: 30 }, (_, i) => Math.min(...xs) * (Math.max(...xs) / Math.min(...xs)) ** (i / 29));
    for (const x of grid) {
      const p = predictLine(fit, Math.log(x));
      lines.push({ series: `fit: lr* ∝ B^${fmt(fit.slope, 2)}`, run: 'fit', x, y: Math.exp(p.value) });
      bands.push({ series: `fit: lr* ∝ B^${fmt(fit.slope, 2)}`, x, lo: Math.exp(p.ci[0]), hi: Math.exp(p.ci[1]) });
    }
    const anchor = used[0];
    for (const x of grid) lines.push({ series: 'square-root rule', run: 'sqrt', x, y: anchor.bestLr! * Math.sqrt(x / anchor.batch) });
  }
  figs.push({
    id: 'best-lr', title: 'Best learning rate against batch size',
    caption: 'Log-log. The least-squares power law over the bracketed batch sizes, shaded by its 95% interval, and for reference the square-root rule through the smallest bracketed batch size. Each best lr\'s own seed-bootstrap interval is in the table below.',
    spec: linesAndPoints(lines, pts, { xTitle: 'batch size (sequences)', yTitle: 'best learning rate', logX: true, logY: true, bands, colorTitle: '' }),
  });
  const lossPts: PointRow[] = results.filter((r) => Number.isFinite(r.bestLoss)).map((r) => ({ series: 'best loss', x: r.batch, y: r.bestLoss }));
  const lossLines: LineRow[] = lossPts.map((p) => ({ series: 'best loss', run: 'best', x: p.x, y: p.y }));
  const lo = Math.min(...lossPts.map((p) => p.y));
  if (Number.isFinite(lo)) for (const p of lossPts) lossLines.push({ series: `lowest + ${criticalRise * 100}%`, run: 'limit', x: p.x, y: lo * (1 + criticalRise) });
  const critPts: PointRow[] = crit?.reached ? [{ series: 'loss-based batch size', x: crit.batch, y: lo * (1 + criticalRise) }] : [];
  figs.push({
    id: 'best-loss', title: 'Best loss reached at each batch size (fixed tokens)',
    caption: `The loss-based batch size is where the best loss crosses ${criticalRise * 100}% above the lowest (not McCandlish et al.'s critical batch size, which is in the evidence).`,
    spec: linesAndPoints(lossLines, [...lossPts, ...critPts], { xTitle: 'batch size (sequences)', yTitle: 'best final validation loss', logX: true, colorTitle: '' }),
  });
  figs.push({ id: 'grid', title: 'The grid: mean final validation loss', caption: 'Blank cells diverged or failed.', spec: heatmap(results, lrs) });
  return figs;
}

function heatmap(results: BatchResult[], lrs: number[]): TopLevelSpec {
  const rows = results.flatMap((r) => r.cells.filter((c) => Number.isFinite(c.loss)).map((c) => ({ B: String(r.batch), lr: fmt(c.lr, 3), loss: c.loss })));
  return {
    width: 60 * results.length, height: 28 * lrs.length, config: figureConfig,
    datasets: { rows }, data: { name: 'rows' },
    layer: [
      {
        mark: 'rect',
        encoding: {
          x: { field: 'B', type: 'ordinal', title: 'batch size', sort: results.map((r) => String(r.batch)) },
          y: { field: 'lr', type: 'ordinal', title: 'learning rate', sort: [...lrs].reverse().map((x) => fmt(x, 3)) },
          color: { field: 'loss', type: 'quantitative', scale: { scheme: 'viridis', reverse: true }, title: 'loss' },
        },
      },
      {
        mark: { type: 'text', fontSize: 9 },
        encoding: {
          x: { field: 'B', type: 'ordinal', sort: results.map((r) => String(r.batch)) },
          y: { field: 'lr', type: 'ordinal', sort: [...lrs].reverse().map((x) => fmt(x, 3)) },
          text: { field: 'loss', type: 'quantitative', format: '.3f' }, color: { value: '#fff' },
        },
      },
    ],
  } as TopLevelSpec;
}

function tables(results: BatchResult[], lrs: number[]): ReportTable[] {
  return [
    {
      title: 'Best learning rate and loss per batch size',
      caption: `Best lr: parabola vertex in log lr through the grid minimum and its neighbours; interval: 95% over a seed bootstrap (${minBootstrapSeeds} or more seeds; none with fewer).`,
      header: ['batch size', 'best lr', '95% interval', 'bracketed', 'best loss', 'at grid lr'],
      rows: results.map((r) => [String(r.batch), r.bestLr === null ? '-' : fmt(r.bestLr, 3), r.bestLrCi ? `[${fmt(r.bestLrCi[0], 3)}, ${fmt(r.bestLrCi[1], 3)}]` : '-',
        r.bracketed ? 'yes' : 'no', fmt(r.bestLoss), fmt(r.gridBestLr, 3)]),
    },
    {
      title: 'Mean final validation loss: learning rate (rows) x batch size (columns)',
      header: ['lr', ...results.map((r) => `B=${r.batch}`)],
      rows: lrs.map((lr) => [fmt(lr, 3), ...results.map((r) => {
        const c = r.cells.find((x) => x.lr === lr);
        return c && Number.isFinite(c.loss) ? `${fmt(c.loss)}${c.n > 1 ? ` (${c.n})` : ''}` : 'diverged/failed';
      })]),
    },
  ];
}


export const batchLr: Study<BatchLrBudget> = {
  name: 'batch-lr',
  title: 'Batch size and learning rate at a fixed token budget',
  claim,
  budgets,
  plan,
  analyse,
};
