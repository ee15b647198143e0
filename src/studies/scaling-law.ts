// `study scaling-law`: fit L(N, D) = E + A / N^alpha + B / D^beta to models of several sizes,
// each trained once with WSD and decayed (branched) at several token budgets, and test the law
// where it matters: fitted without the largest model, does it predict that model's losses?
//
// Plan: model sizes N_j (non-embedding parameters); compute levels C_k = 6 N D on a factor-2
// ladder; each size gets the K consecutive levels whose length D_jk = C_k / (6 N_j) reaches at
// least minSteps (steps rounded to a multiple of `unit`, so branch points share a checkpoint
// interval). So the runs form IsoFLOP levels across sizes (Chinchilla's approach 2) and, per
// size, a WSD family of K decays (approaches 1 and 3). A size's longest budget is its trunk
// (WSD, decay 20% of its steps, as Hägele et al. recommend for scaling runs); every shorter
// budget branches from the trunk's stable phase into its own 20% decay.
//
// Analysis: the three approaches on all points (fitScaling); then approach 3 refitted without
// the largest model, with a bootstrap over points (warm starts), predicting each of the largest
// model's final losses with a 95% bootstrap interval. The claim holds at a point when the whole
// interval of the relative error (predicted - observed) / observed lies within +-2%, fails when
// it lies wholly outside, and is inconclusive otherwise; supported when every point holds, not
// supported when any fails. The report also states how wide the exponents' intervals are and
// what that does to the compute-optimal allocation 10x and 100x beyond the data.

import { bootstrapParametric, computeOptimal, coarseGrid, chinchillaGrid, fitParametric, fitScaling, gridStarts, logData, predictLoss,
  chinchillaHuberDelta, type LawParams, type ScalingFit, type ScalingPoint } from '../lab/fit/index.js';
import { intervalOf } from '../lab/fit/bootstrap.js';
import type { Figure, TopLevelSpec } from '../lab/presentation/plots.js';
import { figureConfig } from '../lab/presentation/plots.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import { runCost } from '../lab/experiments/sweep.js';
import { intervalChart, linesAndPoints, type BandRow, type IntervalRow, type LineRow, type PointRow } from './figures.js';
import { finalOf, fmt, v } from './stats.js';
import { gcd, planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';
import { fmtCount, fmtSci } from '../base/format.js';

export interface ScalingBudget {
  sizes: { dModel: number; nLayer: number; nHead: number }[];
  batchSize: number;
  context: number;
  lr: number;
  warmupSteps: number;
  evalBatches: number;
  /** Token budgets per size (compute levels), and the shortest run in steps. */
  budgetsPerSize: number;
  minSteps: number;
  /** Steps are rounded to a multiple of this. */
  unit: number;
  /** Approach 3's starting grid and bootstrap resamples. */
  grid: 'coarse' | 'chinchilla';
  bootstrap: number;
  categories?: string[];
}

/** Decay length of every run, as a fraction of its steps. */
export const decayFraction = 0.2;
/** The held-out prediction must be within this relative error. */
export const tolerance = 0.02;

const budgets: Record<Budget, ScalingBudget> = {
  smoke: {
    sizes: [{ dModel: 8, nLayer: 1, nHead: 2 }, { dModel: 16, nLayer: 1, nHead: 2 }, { dModel: 24, nLayer: 1, nHead: 2 }],
    batchSize: 4, context: 32, lr: 3e-3, warmupSteps: 2, evalBatches: 2,
    budgetsPerSize: 3, minSteps: 10, unit: 5, grid: 'coarse', bootstrap: 30, categories: ['news'],
  },
  small: {
    sizes: [
      { dModel: 16, nLayer: 2, nHead: 2 }, { dModel: 32, nLayer: 2, nHead: 4 }, { dModel: 48, nLayer: 3, nHead: 4 },
      { dModel: 64, nLayer: 4, nHead: 4 }, { dModel: 96, nLayer: 4, nHead: 4 }, { dModel: 128, nLayer: 4, nHead: 4 },
    ],
    batchSize: 16, context: 64, lr: 3e-3, warmupSteps: 10, evalBatches: 16,
    budgetsPerSize: 5, minSteps: 100, unit: 25, grid: 'chinchilla', bootstrap: 200,
  },
  full: {
    sizes: [
      { dModel: 32, nLayer: 2, nHead: 4 }, { dModel: 48, nLayer: 3, nHead: 4 }, { dModel: 64, nLayer: 4, nHead: 4 }, { dModel: 96, nLayer: 4, nHead: 4 },
      { dModel: 128, nLayer: 4, nHead: 4 }, { dModel: 160, nLayer: 5, nHead: 5 }, { dModel: 192, nLayer: 6, nHead: 6 },
    ],
    batchSize: 16, context: 128, lr: 2e-3, warmupSteps: 20, evalBatches: 32,
    budgetsPerSize: 6, minSteps: 100, unit: 50, grid: 'chinchilla', bootstrap: 400,
  },
};

const claim = `A scaling law L(N, D) = E + A/N^alpha + B/D^beta fitted to every model but the largest predicts the largest model's final validation loss ` +
  `at each token budget to within ${tolerance * 100}% (judged on the fit's own 95% bootstrap interval).`;

interface SizePlan { index: number; model: ScalingBudget['sizes'][number]; N: number; lengths: { steps: number; compute: number }[] }

/** Sizes with their non-embedding N and the (steps, planned compute level) of each budget. */
export function planSizes(b: ScalingBudget): SizePlan[] {
  const T = b.batchSize * b.context;
  const withN = b.sizes.map((model, index) => {
    const base = studyBase({ ...model, batchSize: b.batchSize, context: b.context, lr: b.lr, evalBatches: b.evalBatches, categories: b.categories });
    const N = runCost({ ...base, steps: 1 }).nonEmbeddingParams;
    if (!N) throw new Error(`scaling-law: cannot count the parameters of ${JSON.stringify(model)}`);
    return { index, model, N };
  });
  // The ladder starts where the smallest model reaches minSteps.
  const C0 = 6 * Math.min(...withN.map((s) => s.N)) * T * b.minSteps;
  return withN.map((s) => {
    const first = Math.ceil(Math.log2((6 * s.N * T * b.minSteps) / C0) - 1e-9);
    const lengths = Array.from({ length: b.budgetsPerSize }, (_, i) => {
      const compute = C0 * 2 ** (first + i);
      return { steps: Math.max(b.unit, b.unit * Math.round(compute / (6 * s.N * T) / b.unit)), compute };
    });
    return { ...s, lengths };
  });
}

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const runs: PlannedRun[] = [];
  for (const s of planSizes(b)) {
    const tag = `m${s.index + 1}-d${s.model.dModel}l${s.model.nLayer}`;
    const decay = (L: number): number => Math.max(1, Math.round(decayFraction * L));
    const trunk = s.lengths[s.lengths.length - 1];
    const every = gcd(...s.lengths.slice(0, -1).map((l) => l.steps - decay(l.steps))) || trunk.steps;
    const name = (L: number): string => `${tag}-L${L}`;
    for (const l of [trunk, ...s.lengths.slice(0, -1)]) {
      runs.push({
        run: name(l.steps),
        set: {
          'model.dModel': s.model.dModel, 'model.nLayer': s.model.nLayer, 'model.nHead': s.model.nHead, steps: l.steps,
          schedule: { kind: 'wsd', warmupSteps: b.warmupSteps, decayShape: '1-sqrt', decaySteps: decay(l.steps), minLrRatio: 0 },
          checkpointInterval: every, keepCheckpoints: 0,
        },
        vars: { size: s.index + 1, N: s.N, length: l.steps, compute: l.compute, trunk: l === trunk },
        from: l === trunk ? undefined : { run: name(trunk.steps), at: l.steps - decay(l.steps) },
      });
    }
  }
  const base = studyBase({ ...b.sizes[0], batchSize: b.batchSize, context: b.context, lr: b.lr, evalBatches: b.evalBatches, categories: b.categories });
  return planSweep({ study: 'scaling-law', budget, base, runs });
}

// ---- analysis --------------------------------------------------------------------------------

type Interval = [number, number];

interface HeldOut {
  tokens: number;
  observed: number;
  predicted: number;
  interval: Interval;
  /** (predicted - observed) / observed, and its interval. */
  relError: number;
  relInterval: Interval;
  result: 'holds' | 'fails' | 'inconclusive';
}

interface Refit { params: LawParams; ci: Record<keyof LawParams, Interval> | null; samples: LawParams[]; failed: number; points: number }

/** How hard to fit: approach 3's starting grid and the bootstrap resamples. */
export interface FitSettings { grid: typeof chinchillaGrid; bootstrap: number }

/** The fit settings of the budget the runs were planned at (read from their sweep's name). */
function fitSettings(runs: StudyRun[]): FitSettings {
  const budget = runs[0]?.record.sweeps.find((s) => s.startsWith('scaling-law-'))?.slice('scaling-law-'.length) as Budget | undefined;
  const b = budgets[budget ?? 'small'] ?? budgets.small;
  return { grid: b.grid === 'coarse' ? coarseGrid : chinchillaGrid, bootstrap: b.bootstrap };
}

function analyse(_store: Store, runs: StudyRun[]): Analysis {
  return analyseScaling(runs, fitSettings(runs));
}

/** The analysis with explicit fit settings (tests use a cheap grid on synthetic stores). */
export function analyseScaling(runs: StudyRun[], settings: FitSettings): Analysis {
  const points: ScalingPoint[] = [];
  for (const r of runs) {
    const loss = finalOf(r);
    if (loss === null) continue;
    const c = r.record.config as { steps: number; batchSize: number; context: number; gradAccum?: number };
    points.push({ params: v<number>(r, 'N')!, tokens: c.steps * c.batchSize * c.context * (c.gradAccum ?? 1), loss, flops: v<number>(r, 'compute'), run: `size ${v(r, 'size')}`, step: c.steps });
  }
  const missing = runs.filter((r) => finalOf(r) === null);
  const caveats: string[] = [
    'N counts non-embedding parameters; D the tokens trained; compute is 6ND throughout (attention and the output head are left out, as in Chinchilla).',
    `One seed per run, and every model shares one learning rate and warm-up (not tuned per size); each loss is the final validation loss after a ${decayFraction * 100}% 1-sqrt decay.`,
  ];
  if (missing.length) caveats.push(`${missing.length} run(s) did not finish (${missing.slice(0, 5).map((r) => `${r.name}: ${r.record.status}`).join(', ')}${missing.length > 5 ? ', ...' : ''}); they are left out.`);

  const sizes = [...new Set(points.map((p) => p.params))].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1];
  const heldIn = points.filter((p) => p.params !== largest), heldOut = points.filter((p) => p.params === largest);
  const base = { evidence: [] as string[], caveats, figures: [] as Figure[], tables: [] as ReportTable[] };
  if (points.length < 5 || sizes.length < 2) {
    return { ...base, verdict: 'inconclusive', reason: `Only ${points.length} finished point(s) over ${sizes.length} size(s): nothing to fit.`, data: { points } };
  }

  const maxC = Math.max(...points.map((p) => 6 * p.params * p.tokens));
  const computes = [maxC, 10 * maxC, 100 * maxC];
  const full = fitScaling(points, { computes, bootstrap: settings.bootstrap, grid: settings.grid, seed: 0 });
  let refit: Refit | null = null, refitError: string | null = null;
  try {
    refit = refitWithout(heldIn, settings);
  } catch (e) {
    refitError = (e as Error).message;
  }

  const preds: HeldOut[] = refit ? heldOut.sort((a, b) => a.tokens - b.tokens).map((p) => predict(refit!, p)) : [];
  const fails = preds.filter((p) => p.result === 'fails'), holds = preds.filter((p) => p.result === 'holds');
  let verdict: Verdict, reason: string;
  const largestLabel = `the largest model (N = ${fmtCount(largest)})`;
  if (!refit) {
    verdict = 'inconclusive';
    reason = `The law could not be refitted without ${largestLabel}: ${refitError}`;
  } else if (preds.length === 0) {
    verdict = 'inconclusive';
    reason = `No finished runs of ${largestLabel} to predict.`;
  } else if (fails.length) {
    verdict = 'not supported';
    reason = `Fitted on the ${sizes.length - 1} smaller sizes, the law misses ${largestLabel} by more than ${tolerance * 100}% at ${fails.length} of ${preds.length} budgets, beyond its own 95% interval: ` +
      fails.map((p) => `${fmtCount(p.tokens)} tokens ${fmtPct(p.relError)} [${fmtPct(p.relInterval[0])}, ${fmtPct(p.relInterval[1])}]`).join('; ') + '.';
  } else if (holds.length === preds.length) {
    verdict = 'supported';
    reason = `Fitted on the ${sizes.length - 1} smaller sizes, the law predicts ${largestLabel} within ${tolerance * 100}% at all ${preds.length} budgets, interval included (worst ${fmtPct(worst(preds))}).`;
  } else {
    verdict = 'inconclusive';
    const open = preds.filter((p) => p.result === 'inconclusive');
    reason = `At ${open.length} of ${preds.length} budgets the 95% interval of the prediction error straddles +-${tolerance * 100}% (${open.map((p) => `${fmtCount(p.tokens)} tokens ${fmtPct(p.relError)} [${fmtPct(p.relInterval[0])}, ${fmtPct(p.relInterval[1])}]`).join('; ')}): ` +
      'the fit without the largest model is too uncertain to say.';
  }

  const a3 = full.approach3;
  const evidence = [
    `${points.length} points: ${sizes.length} sizes (N ${fmtCount(sizes[0])}..${fmtCount(largest)}), ${new Set(points.map((p) => p.tokens)).size} token budgets (D ${fmtCount(Math.min(...points.map((p) => p.tokens)))}..${fmtCount(Math.max(...points.map((p) => p.tokens)))}).`,
    `All sizes: alpha ${fmtCi(a3.alpha, a3.ci?.alpha)}, beta ${fmtCi(a3.beta, a3.ci?.beta)}, E ${fmtCi(a3.E, a3.ci?.E)} (95% bootstrap intervals, ${a3.bootstrap.completed} refits); ` +
      `interval widths alpha ${a3.ci ? fmt(a3.ci.alpha[1] - a3.ci.alpha[0], 2) : '-'}, beta ${a3.ci ? fmt(a3.ci.beta[1] - a3.ci.beta[0], 2) : '-'}; rms log residual ${fmt(a3.rmsLogResidual, 2)}.`,
    ...(refit ? [`Without the largest model (${refit.points} points): alpha ${fmtCi(refit.params.alpha, refit.ci?.alpha)}, beta ${fmtCi(refit.params.beta, refit.ci?.beta)}, E ${fmtCi(refit.params.E, refit.ci?.E)}.`] : []),
    ...preds.map((p) => `Largest model at ${fmtCount(p.tokens)} tokens: observed ${fmt(p.observed)}, predicted ${fmt(p.predicted)} [${fmt(p.interval[0])}, ${fmt(p.interval[1])}], error ${fmtPct(p.relError)} [${fmtPct(p.relInterval[0])}, ${fmtPct(p.relInterval[1])}]: ${p.result}.`),
    `Compute-optimal exponent a (N* ∝ C^a): approach 1 ${fmtCi(full.approach1.a, full.approach1.ci.a)}, approach 2 ${fmtCi(full.approach2.a, full.approach2.ci.a)}, approach 3 ${fmtCi(a3.exponents.a, a3.exponents.ci?.a)}.`,
    ...a3.allocation.slice(1).map((al) => `At ${fmtSci(al.compute)} FLOPs (${fmt(al.compute / maxC)}x the largest run) approach 3 puts N* at ${fmtCount(al.N)}` +
      (al.ci ? ` [${fmtCount(al.ci.N[0])}, ${fmtCount(al.ci.N[1])}], a ${fmt(al.ci.N[1] / al.ci.N[0], 2)}x spread from the exponents' uncertainty.` : '.')),
  ];
  if (full.warnings.length) caveats.push(`The fit warns: ${full.warnings.slice(0, 4).join('; ')}${full.warnings.length > 4 ? `; and ${full.warnings.length - 4} more` : ''}.`);

  return {
    verdict, reason, evidence, caveats,
    figures: figures(points, full, refit, preds, largest),
    tables: tables(points, full, refit, preds, computes),
    data: { tolerance, points, heldOut: preds, refit: refit && { params: refit.params, ci: refit.ci, failed: refit.failed }, fit: { approach3: withoutResiduals(full), warnings: full.warnings } },
  };
}

/** Approach 3 on the smaller sizes, with bootstrap samples kept for the prediction intervals. */
function refitWithout(points: ScalingPoint[], s: FitSettings): Refit {
  if (points.length < 5) throw new Error(`${points.length} points remain, fewer than the law's 5 parameters`);
  if (new Set(points.map((p) => p.params)).size < 2) throw new Error('one model size remains; alpha cannot be fitted');
  const data = logData(points);
  const opts = { delta: chinchillaHuberDelta, starts: gridStarts(s.grid) };
  const fit = fitParametric(data, opts);
  const boot = s.bootstrap > 0 ? bootstrapParametric(data, fit, { samples: s.bootstrap, seed: 1 }, opts) : { samples: [], failed: 0 };
  const ci = boot.samples.length >= 2
    ? Object.fromEntries((['E', 'A', 'B', 'alpha', 'beta'] as const).map((k) => [k, intervalOf(boot.samples, (q) => q[k])])) as Record<keyof LawParams, Interval>
    : null;
  return { params: fit.best.params, ci, samples: boot.samples, failed: boot.failed, points: points.length };
}

function predict(refit: Refit, p: ScalingPoint): HeldOut {
  const predicted = predictLoss(refit.params, p.params, p.tokens);
  const interval: Interval = refit.samples.length >= 2 ? intervalOf(refit.samples, (q) => predictLoss(q, p.params, p.tokens)) : [predicted, predicted];
  const rel = (x: number): number => (x - p.loss) / p.loss;
  const relInterval: Interval = [rel(interval[0]), rel(interval[1])];
  const within = (x: number): boolean => Math.abs(x) <= tolerance;
  const hasInterval = refit.samples.length >= 2;
  const result = hasInterval && within(relInterval[0]) && within(relInterval[1]) ? 'holds'
    : hasInterval && (relInterval[0] > tolerance || relInterval[1] < -tolerance) ? 'fails' : 'inconclusive';
  return { tokens: p.tokens, observed: p.loss, predicted, interval, relError: rel(predicted), relInterval, result };
}

const worst = (ps: HeldOut[]): number => ps.reduce((w, p) => (Math.abs(p.relError) > Math.abs(w) ? p.relError : w), 0);

function withoutResiduals(f: ScalingFit): unknown {
  const { residuals: _, ...rest } = f.approach3;
  return rest;
}

// ---- figures and tables ----------------------------------------------------------------------

function figures(points: ScalingPoint[], full: ScalingFit, refit: Refit | null, preds: HeldOut[], largest: number): Figure[] {
  const figs: Figure[] = [];
  const p3 = full.approach3;
  const sizes = [...new Set(points.map((p) => p.params))].sort((a, b) => a - b);
  const dRange: Interval = [Math.min(...points.map((p) => p.tokens)), Math.max(...points.map((p) => p.tokens))];
  const nRange: Interval = [sizes[0], sizes[sizes.length - 1]];
  const logspace = (lo: number, hi: number, n: number): number[] => Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));
  const label = (N: number): string => `N=${fmtCount(N)}`;

  // Loss against tokens per size, with the law (all sizes) through them.
  const lines: LineRow[] = sizes.flatMap((N) => logspace(dRange[0] / 1.5, dRange[1] * 1.5, 40).map((D) => ({ series: label(N), run: label(N), x: D, y: predictLoss(p3, N, D) })));
  figs.push({
    id: 'loss-vs-tokens', title: 'Final validation loss against tokens, per model size', caption: 'Points: each run\'s final loss after its decay. Lines: the law fitted to all sizes (approach 3).',
    spec: linesAndPoints(lines, points.map((p) => ({ series: label(p.params), x: p.tokens, y: p.loss })), { xTitle: 'training tokens D', yTitle: 'final validation loss', logX: true, logY: true, colorTitle: 'model size' }),
  });

  // The loss surface with iso-loss curves and the compute-optimal frontier.
  figs.push({
    id: 'loss-surface', title: 'Loss surface L(N, D), iso-loss curves and the compute-optimal frontier',
    caption: 'Colour: the fitted law (all sizes). Grey lines: iso-loss curves. Black line: N*(C) and D*(C) of approach 3. Dots: the runs.',
    spec: surfaceChart(p3, points, [nRange[0] / 2, nRange[1] * 4], [dRange[0] / 2, dRange[1] * 4]),
  });

  // IsoFLOP profiles: approach 2's parabolas over its levels' points.
  const levels = full.approach2.parabolas.filter((q) => q.points >= 2);
  const isoPoints: PointRow[] = [], isoLines: LineRow[] = [];
  for (const q of levels) {
    const name = `C=${fmtSci(q.compute)}`;
    for (const p of points.filter((x) => x.flops !== undefined && Math.abs(Math.log(x.flops / q.compute)) < Math.log(1 + full.approach2.tolerance))) isoPoints.push({ series: name, x: p.params, y: p.loss });
    if (Number.isFinite(q.coefficients[2])) {
      for (const N of logspace(q.nRange[0], q.nRange[1], 30)) {
        const u = Math.log(N);
        isoLines.push({ series: name, run: name, x: N, y: q.coefficients[0] + q.coefficients[1] * u + q.coefficients[2] * u * u });
      }
    }
  }
  if (isoPoints.length) {
    figs.push({
      id: 'isoflop', title: 'IsoFLOP profiles (approach 2)', caption: 'Final loss against model size at each planned compute level (6ND), with the parabola in ln N fitted to each level that has 3+ sizes.',
      spec: linesAndPoints(isoLines, isoPoints, { xTitle: 'non-embedding parameters N', yTitle: 'final validation loss', logX: true, colorTitle: 'compute' }),
    });
  }

  // The law's own IsoFLOP curves: L(N, C / 6N) at the planned levels, over a wider range of N, with their minima.
  const lawLevels = [...new Set(points.map((p) => p.flops).filter((c): c is number => c !== undefined))].sort((a, b) => a - b);
  const lawLines: LineRow[] = [], lawMinima: PointRow[] = [];
  for (const C of lawLevels.filter((_, i) => lawLevels.length <= 8 || i % Math.ceil(lawLevels.length / 8) === 0)) {
    const name = `C=${fmtSci(C)}`;
    for (const N of logspace(nRange[0] / 4, nRange[1] * 4, 40)) lawLines.push({ series: name, run: name, x: N, y: predictLoss(p3, N, C / (6 * N)) });
    if (p3.alpha > 0 && p3.beta > 0) { const o = computeOptimal(p3, C); lawMinima.push({ series: name, x: o.N, y: o.loss, label: `N* at ${name}` }); }
  }
  if (lawLines.length) {
    figs.push({
      id: 'isoflop-law', title: 'IsoFLOP curves of the fitted law (approach 3)',
      caption: 'L(N, C/6N) at the planned compute levels, from a quarter of the smallest to 4x the largest model; points: each curve\'s minimum N*(C).',
      spec: linesAndPoints(lawLines, lawMinima, { xTitle: 'non-embedding parameters N', yTitle: 'predicted loss', logX: true, colorTitle: 'compute' }),
    });
  }

  // The three approaches' N*(C), side by side.
  const cs = logspace(Math.min(...points.map((p) => 6 * p.params * p.tokens)), 100 * Math.max(...points.map((p) => 6 * p.params * p.tokens)), 30);
  const frontier: LineRow[] = [];
  const fromFits = (name: string, fits: ScalingFit['approach1']['fits']): void => {
    if (!fits) return;
    for (const C of cs) frontier.push({ series: name, run: name, x: C, y: Math.exp(fits.N.intercept + fits.N.exponent * Math.log(C)) });
  };
  fromFits('approach 1 (lowest loss per compute)', full.approach1.fits);
  fromFits('approach 2 (IsoFLOP)', full.approach2.fits);
  if (p3.alpha > 0 && p3.beta > 0) for (const C of cs) frontier.push({ series: 'approach 3 (parametric)', run: 'a3', x: C, y: computeOptimal(p3, C).N });
  const optima: PointRow[] = [
    ...full.approach1.levels.filter((l) => l.used).map((l) => ({ series: 'approach 1 (lowest loss per compute)', x: l.compute, y: l.N })),
    ...full.approach2.parabolas.filter((q) => q.used).map((q) => ({ series: 'approach 2 (IsoFLOP)', x: q.compute, y: q.N })),
  ];
  const bands: BandRow[] = p3.allocation.filter((al) => al.ci).map((al) => ({ series: 'approach 3 (parametric)', x: al.compute, lo: al.ci!.N[0], hi: al.ci!.N[1] }));
  if (frontier.length) {
    figs.push({
      id: 'frontier', title: 'Compute-optimal model size N*(C): three approaches',
      caption: 'Lines: each approach\'s fitted N*(C), extrapolated to 100x the largest run. Points: the optima each approach read off the data. Shading: approach 3\'s 95% bootstrap interval at 1x, 10x and 100x.',
      spec: linesAndPoints(frontier, optima, { xTitle: 'compute C = 6ND (FLOPs)', yTitle: 'N*', logX: true, logY: true, bands, colorTitle: 'approach' }),
    });
  }

  // The held-out prediction.
  if (refit) {
    const big = points.filter((p) => p.params === largest).sort((a, b) => a.tokens - b.tokens);
    const ds = logspace(dRange[0], dRange[1] * 1.5, 40);
    const predLines: LineRow[] = [
      ...ds.map((D) => ({ series: 'fit without it (prediction)', run: 'refit', x: D, y: predictLoss(refit.params, largest, D) })),
      ...ds.map((D) => ({ series: 'fit with all sizes', run: 'full', x: D, y: predictLoss(p3, largest, D) })),
    ];
    const predBands: BandRow[] = refit.samples.length >= 2
      ? ds.map((D) => { const [lo, hi] = intervalOf(refit.samples, (q) => predictLoss(q, largest, D)); return { series: 'fit without it (prediction)', x: D, lo, hi }; })
      : [];
    figs.push({
      id: 'held-out', title: `Predicting the largest model (N=${fmtCount(largest)}) from the smaller ones`,
      caption: `Shading: 95% bootstrap interval of the prediction. The claim asks for every observed point within ${tolerance * 100}% of the prediction, interval included.`,
      spec: linesAndPoints(predLines, big.map((p) => ({ series: 'observed', x: p.tokens, y: p.loss })), { xTitle: 'training tokens D', yTitle: 'final validation loss', logX: true, bands: predBands, colorTitle: '' }),
    });
    void preds;
  }

  // How wide the exponents are.
  const rows: IntervalRow[] = [];
  const add = (series: string, name: string, value: number, ci: Interval | null | undefined): void => {
    if (Number.isFinite(value)) rows.push({ series, x: name, y: value, lo: ci?.[0] ?? value, hi: ci?.[1] ?? value });
  };
  add('all sizes', 'alpha', p3.alpha, p3.ci?.alpha); add('all sizes', 'beta', p3.beta, p3.ci?.beta);
  if (refit) { add('without the largest', 'alpha', refit.params.alpha, refit.ci?.alpha); add('without the largest', 'beta', refit.params.beta, refit.ci?.beta); }
  add('all sizes', 'a (approach 1)', full.approach1.a ?? NaN, full.approach1.ci.a); add('all sizes', 'a (approach 2)', full.approach2.a ?? NaN, full.approach2.ci.a);
  add('all sizes', 'a (approach 3)', p3.exponents.a, p3.exponents.ci?.a);
  figs.push({
    id: 'exponents', title: 'The exponents and their 95% intervals',
    caption: 'alpha and beta of the law (bootstrap), and the frontier exponent a of N* ∝ C^a by each approach (approaches 1 and 2: t-intervals of the line fit).',
    spec: intervalChart(rows, { xTitle: '', yTitle: 'exponent', colorTitle: 'fit', connect: false }),
  });
  return figs;
}

/** Heatmap of the law over (D, N) in log space, iso-loss curves, the approach-3 frontier and the runs. */
function surfaceChart(p: LawParams, points: ScalingPoint[], nRange: Interval, dRange: Interval): TopLevelSpec {
  const G = 28;
  const ln = (lo: number, hi: number, i: number, n: number): number => lo * (hi / lo) ** (i / n);
  const cells: { d0: number; d1: number; n0: number; n1: number; loss: number }[] = [];
  for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
    const d0 = ln(dRange[0], dRange[1], i, G), d1 = ln(dRange[0], dRange[1], i + 1, G), n0 = ln(nRange[0], nRange[1], j, G), n1 = ln(nRange[0], nRange[1], j + 1, G);
    cells.push({ d0, d1, n0, n1, loss: predictLoss(p, Math.sqrt(n0 * n1), Math.sqrt(d0 * d1)) });
  }
  const losses = cells.map((c) => c.loss).filter(Number.isFinite).sort((a, b) => a - b);
  const levels = [0.1, 0.3, 0.5, 0.7, 0.9].map((q) => losses[Math.floor(q * (losses.length - 1))]).filter((x, i, a) => a.indexOf(x) === i);
  const iso: { level: string; x: number; y: number }[] = [];
  for (const L of levels) {
    for (let j = 0; j <= 60; j++) {
      const N = ln(nRange[0], nRange[1], j, 60);
      const rest = L - p.E - p.A / N ** p.alpha;
      if (!(rest > 0)) continue;
      const D = (p.B / rest) ** (1 / p.beta);
      if (D >= dRange[0] && D <= dRange[1]) iso.push({ level: `L=${fmt(L, 3)}`, x: D, y: N });
    }
  }
  const frontier: { x: number; y: number }[] = [];
  if (p.alpha > 0 && p.beta > 0) {
    for (let k = 0; k <= 40; k++) {
      const C = 6 * nRange[0] * dRange[0] * ((nRange[1] * dRange[1]) / (nRange[0] * dRange[0])) ** (k / 40);
      const o = computeOptimal(p, C);
      if (o.N >= nRange[0] && o.N <= nRange[1] && o.D >= dRange[0] && o.D <= dRange[1]) frontier.push({ x: o.D, y: o.N });
    }
  }
  const xs = { type: 'log' as const, domain: dRange, nice: false };
  const ys = { type: 'log' as const, domain: nRange, nice: false };
  return {
    width: 460, height: 340, config: figureConfig,
    datasets: { cells, iso, frontier, runs: points.map((q) => ({ x: q.tokens, y: q.params, loss: q.loss })) },
    layer: [
      {
        data: { name: 'cells' }, mark: { type: 'rect' },
        encoding: {
          x: { field: 'd0', type: 'quantitative', scale: xs, title: 'training tokens D', axis: { format: '~s' } }, x2: { field: 'd1' },
          y: { field: 'n0', type: 'quantitative', scale: ys, title: 'non-embedding parameters N', axis: { format: '~s' } }, y2: { field: 'n1' },
          color: { field: 'loss', type: 'quantitative', title: 'predicted loss', scale: { scheme: 'viridis', reverse: true } },
        },
      },
      { data: { name: 'iso' }, mark: { type: 'line', color: '#eee', strokeWidth: 1 }, encoding: { x: { field: 'x', type: 'quantitative', scale: xs }, y: { field: 'y', type: 'quantitative', scale: ys }, detail: { field: 'level' }, order: { field: 'y' }, tooltip: [{ field: 'level' }] } },
      { data: { name: 'frontier' }, mark: { type: 'line', color: '#111', strokeWidth: 2 }, encoding: { x: { field: 'x', type: 'quantitative', scale: xs }, y: { field: 'y', type: 'quantitative', scale: ys }, order: { field: 'x' } } },
      { data: { name: 'runs' }, mark: { type: 'point', filled: true, color: '#d62728', size: 30 }, encoding: { x: { field: 'x', type: 'quantitative', scale: xs }, y: { field: 'y', type: 'quantitative', scale: ys }, tooltip: [{ field: 'loss', format: '.4~g' }] } },
    ],
  } as TopLevelSpec;
}

function tables(points: ScalingPoint[], full: ScalingFit, refit: Refit | null, preds: HeldOut[], computes: number[]): ReportTable[] {
  const a3 = full.approach3;
  const keys = ['E', 'A', 'B', 'alpha', 'beta'] as const;
  const out: ReportTable[] = [{
    title: 'The law (approach 3), with and without the largest model',
    caption: '95% bootstrap intervals (points resampled; refits from the full fit\'s optima).',
    header: ['parameter', 'all sizes', 'without the largest'],
    rows: keys.map((k) => [k, fmtCi(a3[k], a3.ci?.[k]), refit ? fmtCi(refit.params[k], refit.ci?.[k]) : '-']),
  }];
  if (preds.length) {
    out.push({
      title: 'Predicting the largest model',
      caption: `Holds when the whole interval of the relative error is within +-${tolerance * 100}%; fails when it is wholly outside.`,
      header: ['tokens', 'observed', 'predicted [95%]', 'error [95%]', 'result'],
      rows: preds.map((p) => [fmtCount(p.tokens), fmt(p.observed), `${fmt(p.predicted)} [${fmt(p.interval[0])}, ${fmt(p.interval[1])}]`, `${fmtPct(p.relError)} [${fmtPct(p.relInterval[0])}, ${fmtPct(p.relInterval[1])}]`, p.result]),
    });
  }
  out.push({
    title: 'Compute-optimal frontier N* ∝ C^a, D* ∝ C^b: three approaches',
    header: ['approach', 'a', 'b', 'levels used'],
    rows: [
      ['1 lowest loss per compute', fmtCi(full.approach1.a, full.approach1.ci.a), fmtCi(full.approach1.b, full.approach1.ci.b), `${full.approach1.levels.filter((l) => l.used).length}/${full.approach1.levels.length}`],
      ['2 IsoFLOP parabolas', fmtCi(full.approach2.a, full.approach2.ci.a), fmtCi(full.approach2.b, full.approach2.ci.b), `${full.approach2.parabolas.filter((q) => q.used).length}/${full.approach2.parabolas.length}`],
      ['3 parametric law', fmtCi(a3.exponents.a, a3.exponents.ci?.a), fmtCi(a3.exponents.b, a3.exponents.ci?.b), '-'],
    ],
  });
  out.push({
    title: 'Compute-optimal allocation, and how far the intervals spread it',
    header: ['compute', 'approach', 'N*', 'D*', 'tokens per parameter'],
    rows: computes.flatMap((C, i) => {
      const f1 = full.approach1.allocation[i], f2 = full.approach2.allocation[i], f3 = a3.allocation[i];
      return [
        [fmtSci(C), '1', ciCount(f1?.N, f1?.ci.N), ciCount(f1?.D, f1?.ci.D), fmtCi(f1?.tokensPerParam ?? null, f1?.ci.tokensPerParam)],
        ['', '2', ciCount(f2?.N, f2?.ci.N), ciCount(f2?.D, f2?.ci.D), fmtCi(f2?.tokensPerParam ?? null, f2?.ci.tokensPerParam)],
        ['', '3', ciCount(f3?.N, f3?.ci?.N), ciCount(f3?.D, f3?.ci?.D), fmtCi(f3?.tokensPerParam ?? null, f3?.ci?.tokensPerParam)],
      ];
    }),
  });
  if (full.warnings.length) out.push({ title: 'Fit warnings', header: ['warning'], rows: full.warnings.map((w) => [w]) });
  out.push({
    title: 'Points',
    header: ['size', 'N', 'tokens', 'planned compute', 'final val loss', 'law (all sizes)'],
    rows: [...points].sort((a, b) => a.params - b.params || a.tokens - b.tokens).map((p) => [p.run ?? '', fmtCount(p.params), fmtCount(p.tokens), fmtSci(p.flops, '-'), fmt(p.loss), fmt(predictLoss(a3, p.params, p.tokens))]),
  });
  return out;
}

const fmtPct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`;
function fmtCi(value: number | null | undefined, ci: Interval | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return ci && Number.isFinite(ci[0]) ? `${fmt(value, 3)} [${fmt(ci[0], 3)}, ${fmt(ci[1], 3)}]` : fmt(value, 3);
}
const ciCount = (value: number | undefined, ci: Interval | null | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '-' : ci ? `${fmtCount(value)} [${fmtCount(ci[0])}, ${fmtCount(ci[1])}]` : fmtCount(value);

export const scalingLaw: Study<ScalingBudget> = {
  name: 'scaling-law',
  title: 'A scaling law fitted to WSD-branched runs, tested on the largest model',
  claim,
  budgets,
  plan,
  analyse,
};
