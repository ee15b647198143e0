// `study ln-nonlinearity`: Ni, Huang et al. (ICML 2024), "On the Nonlinearity of Layer
// Normalization". A network of linear layers and layer normalisation alone (LN-Net) is not a
// linear map: it can fit random labels on random points, more of them the deeper it is, and
// group LN (normalising G slices of the features separately) adds nonlinearity, so at equal width
// more groups fit more labels. A stack of linear layers without LN is one linear map and cannot.
//
// Part 1, the claims (measured in this process, once, and stored as metrics of the study's first
// run): N points drawn from a standard normal in R^inDim with uniformly random binary labels;
// networks x -> [Linear(width) -> LN with G groups (no affine)] x depth -> Linear(2), trained
// full-batch with AdamW on cross-entropy for a fixed number of steps; the score is the training
// accuracy (the fraction of labels fitted). Each fit has its own seed (points, labels and weights).
// The same stack without LN is the linear baseline.
// Verdict, on means over seeds (margin 0.05):
//   (a) the deepest LN-Net (its best group count) fits more labels than any linear stack;
//   (b) depth: the deepest LN-Nets fit more than the shallowest (mean over group counts);
//   (c) groups: at equal width and depth, the most groups fit more than G = 1 (mean over depths);
//   (d) the linear stack stays short of fitting them all (accuracy <= 0.9).
// Supported: all four. Not supported: one of (a)-(c) goes the other way or not at all (difference
// <= 0), or (d) fails. Inconclusive otherwise.
//
// Part 2, diagnostics (no verdict): transformers with LayerNorm, RMSNorm and group LN trained on
// Brown with the run config's rank section, so the effective rank and isotropy of the residual
// stream over training are logged; the report tabulates the final values and draws the curves.

import { Rng, Tensor, backward, crossEntropy, groupNorm, linear, noGrad, tensor } from '../engine/index.js';
import { AdamW } from '../training/optimizers.js';
import { metricSeries } from '../lab/results/query.js';
import type { Store } from '../lab/results/store.js';
import type { Figure } from '../lab/presentation/plots.js';
import { curveChart, type CurveRow } from '../lab/presentation/plots.js';
import { intervalChart, type IntervalRow } from './figures.js';
import { fmt, mean, v } from './stats.js';
import { planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';

export interface FitSettings {
  points: number;
  inDim: number;
  width: number;
  depths: number[];
  groups: number[];
  steps: number;
  lr: number;
  seeds: number[];
}

export interface LnBudget {
  fit: FitSettings;
  transformer: { dModel: number; nLayer: number; nHead: number; batchSize: number; context: number; lr: number; steps: number; seeds: number[]; groups: number; rankEvery: number; categories?: string[] };
}

const budgets: Record<Budget, LnBudget> = {
  smoke: {
    fit: { points: 32, inDim: 4, width: 8, depths: [1, 3], groups: [1, 2], steps: 150, lr: 2e-2, seeds: [0] },
    transformer: { dModel: 32, nLayer: 2, nHead: 2, batchSize: 4, context: 32, lr: 3e-3, steps: 10, seeds: [0], groups: 4, rankEvery: 5, categories: ['news'] },
  },
  small: {
    fit: { points: 64, inDim: 4, width: 16, depths: [1, 2, 4], groups: [1, 2, 4], steps: 1000, lr: 2e-2, seeds: [0, 1, 2] },
    transformer: { dModel: 64, nLayer: 4, nHead: 4, batchSize: 16, context: 64, lr: 3e-3, steps: 600, seeds: [0], groups: 8, rankEvery: 50 },
  },
  full: {
    fit: { points: 128, inDim: 4, width: 32, depths: [1, 2, 4, 8], groups: [1, 2, 4, 8], steps: 3000, lr: 1e-2, seeds: [0, 1, 2, 3, 4] },
    transformer: { dModel: 128, nLayer: 6, nHead: 4, batchSize: 32, context: 128, lr: 2e-3, steps: 2000, seeds: [0, 1], groups: 8, rankEvery: 100 },
  },
};

const margin = 0.05, linearCeiling = 0.9;

const claim = 'A stack of linear layers with layer normalisation alone (LN-Net) fits random labels on random points, more of them the deeper it is; ' +
  'group LN fits more labels at equal width than plain LN; a linear stack without LN cannot.';

export const norms = ['layernorm', 'rmsnorm', 'groupnorm'] as const;

const list = (xs: number[]) => xs.join(',');
const parseList = (s: unknown) => (typeof s === 'string' ? s.split(',').filter(Boolean).map(Number) : []);

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget], t = b.transformer;
  const base = studyBase({ dModel: t.dModel, nLayer: t.nLayer, nHead: t.nHead, batchSize: t.batchSize, context: t.context, lr: t.lr, evalBatches: 2, categories: t.categories });
  const fitVars = {
    fitPoints: b.fit.points, fitInDim: b.fit.inDim, fitWidth: b.fit.width, fitDepths: list(b.fit.depths), fitGroups: list(b.fit.groups),
    fitSteps: b.fit.steps, fitLr: b.fit.lr, fitSeeds: list(b.fit.seeds),
  };
  const runs: PlannedRun[] = [];
  for (const norm of norms) for (const seed of t.seeds) {
    runs.push({
      run: `${norm}-s${seed}`,
      set: {
        'model.norm': norm, ...(norm === 'groupnorm' ? { 'model.normGroups': t.groups } : {}), seed, steps: t.steps,
        schedule: { kind: 'cosine', warmupSteps: Math.ceil(t.steps / 10), minLrRatio: 0.1 }, rank: { every: t.rankEvery, rows: 2 },
      },
      vars: { norm, seed, ...fitVars },
    });
  }
  return planSweep({ study: 'ln-nonlinearity', budget, base, runs });
}

// ---- the fits ----------------------------------------------------------------------------------

export interface FitSpec { points: number; inDim: number; width: number; depth: number; groups: number; norm: boolean; steps: number; lr: number; seed: number }

/** Training accuracy of one LN-Net (or linear stack, norm false) on random labels (see the header). */
export function fitRandomLabels(o: FitSpec): number {
  if (o.norm && o.width % o.groups !== 0) throw new Error(`fitRandomLabels: width ${o.width} does not split into ${o.groups} groups`);
  if (o.norm && o.width / o.groups < 2) throw new Error('fitRandomLabels: a group needs at least 2 features to normalise');
  const rng = new Rng(o.seed);
  const x = new Float32Array(o.points * o.inDim);
  rng.fillNormal(x, 1);
  const y = Int32Array.from({ length: o.points }, () => rng.int(2));
  const X = new Tensor(x, [o.points, o.inDim]), Y = tensor(y, [o.points], { dtype: 'int32' });
  const params = new Map<string, Tensor>();
  const matrix = (name: string, out: number, inp: number) => {
    const a = new Float32Array(out * inp);
    rng.fillNormal(a, 1 / Math.sqrt(inp));
    const t = new Tensor(a, [out, inp], true);
    params.set(name, t);
    return t;
  };
  const layers = Array.from({ length: o.depth }, (_, i) => matrix(`layer${i}`, o.width, i === 0 ? o.inDim : o.width));
  const head = matrix('head', 2, o.width);
  const forward = () => {
    let h = X;
    for (const w of layers) {
      h = linear(h, w);
      if (o.norm) h = groupNorm(h, o.groups, null, null);
    }
    return linear(h, head);
  };
  const opt = new AdamW(params, { weightDecay: 0 });
  for (let s = 0; s < o.steps; s++) {
    const loss = crossEntropy(forward(), Y);
    for (const t of params.values()) t.grad = null;
    backward(loss);
    opt.step(o.lr);
  }
  const logits = noGrad(forward).f;
  let right = 0;
  for (let i = 0; i < o.points; i++) if ((logits[2 * i + 1] > logits[2 * i] ? 1 : 0) === y[i]) right++;
  return right / o.points;
}

export interface FitResult { kind: 'ln' | 'linear'; depth: number; groups: number; seed: number; accuracy: number }

const fitKey = (r: Omit<FitResult, 'accuracy'>) => (r.kind === 'linear' ? `lnfit/linear/d${r.depth}/s${r.seed}` : `lnfit/ln/g${r.groups}/d${r.depth}/s${r.seed}`);

/** Every fit of the settings: LN-Nets for each groups x depth, linear stacks for each depth, per seed. */
export function runFits(f: FitSettings): FitResult[] {
  const out: FitResult[] = [];
  for (const seed of f.seeds) for (const depth of f.depths) {
    const common = { points: f.points, inDim: f.inDim, width: f.width, depth, steps: f.steps, lr: f.lr, seed };
    out.push({ kind: 'linear', depth, groups: 0, seed, accuracy: fitRandomLabels({ ...common, groups: 1, norm: false }) });
    for (const groups of f.groups) out.push({ kind: 'ln', depth, groups, seed, accuracy: fitRandomLabels({ ...common, groups, norm: true }) });
  }
  return out;
}

// ---- analysis ----------------------------------------------------------------------------------

export interface NormRank { norm: string; seed: number; point: string; effectiveRank: number; isotropy: number; step: number }

function analyse(store: Store, runs: StudyRun[]): Analysis {
  const first = [...runs].sort((a, b) => a.name.localeCompare(b.name))[0];
  let fits: FitResult[] = [];
  if (first) {
    const settings: FitSettings = {
      points: v<number>(first, 'fitPoints')!, inDim: v<number>(first, 'fitInDim')!, width: v<number>(first, 'fitWidth')!,
      depths: parseList(first.point.$fitDepths), groups: parseList(first.point.$fitGroups), steps: v<number>(first, 'fitSteps')!,
      lr: v<number>(first, 'fitLr')!, seeds: parseList(first.point.$fitSeeds),
    };
    const stored = new Map(metricSeries(store, { runs: [first.id] }).filter((p) => p.key.startsWith('lnfit/') && p.value !== null).map((p) => [p.key, p.value as number]));
    const wanted: Omit<FitResult, 'accuracy'>[] = settings.seeds.flatMap((seed) => settings.depths.flatMap((depth) => [
      { kind: 'linear' as const, depth, groups: 0, seed }, ...settings.groups.map((groups) => ({ kind: 'ln' as const, depth, groups, seed }))]));
    if (wanted.every((w) => stored.has(fitKey(w)))) fits = wanted.map((w) => ({ ...w, accuracy: stored.get(fitKey(w))! }));
    else {
      fits = runFits(settings);
      store.logMetrics(first.id, [{ step: 0, values: Object.fromEntries(fits.map((r) => [fitKey(r), r.accuracy])) }]);
    }
  }
  const ranks: NormRank[] = [];
  for (const r of runs.filter((x) => x.record.status === 'done')) {
    const series = metricSeries(store, { runs: [r.id] }).filter((p) => p.key.startsWith('rank.') && p.value !== null);
    const last = Math.max(-1, ...series.map((p) => p.step));
    for (const p of series.filter((x) => x.step === last && x.key.startsWith('rank.eff.'))) {
      const point = p.key.slice('rank.eff.'.length);
      const iso = series.find((x) => x.step === last && x.key === `rank.isotropy.${point}`)?.value ?? Number.NaN;
      ranks.push({ norm: v<string>(r, 'norm') ?? '?', seed: v<number>(r, 'seed') ?? 0, point, effectiveRank: p.value as number, isotropy: iso as number, step: last });
    }
  }
  const a = judgeLnNonlinearity(fits, ranks);
  // Rank over training, one line per norm and residual point.
  const rows: CurveRow[] = [];
  for (const r of runs) {
    for (const p of metricSeries(store, { runs: [r.id] }).filter((x) => x.key.startsWith('rank.eff.') && x.value !== null)) {
      const point = p.key.slice('rank.eff.'.length);
      rows.push({ run: `${r.id} ${point}`, series: `${v<string>(r, 'norm')} ${point}`, x: p.step, y: p.value as number });
    }
  }
  if (rows.length) a.figures.push({ id: 'rank-over-training', title: 'Effective rank of the residual stream over training, by norm', spec: curveChart(rows, { xTitle: 'step', yTitle: 'effective rank', colorTitle: 'norm and point' }) });
  const missing = runs.filter((r) => r.record.status !== 'done');
  if (missing.length) a.caveats.push(`${missing.length} transformer run(s) did not finish; their rank diagnostics are missing.`);
  return a;
}

/** The verdict from the fits alone (the tests feed it synthetic ones); the rank rows only fill the table. */
export function judgeLnNonlinearity(fits: FitResult[], ranks: NormRank[] = []): Analysis {
  const meanOf = (pred: (r: FitResult) => boolean) => {
    const xs = fits.filter(pred).map((r) => r.accuracy);
    return xs.length ? mean(xs) : Number.NaN;
  };
  const depths = [...new Set(fits.map((r) => r.depth))].sort((a, b) => a - b);
  const groups = [...new Set(fits.filter((r) => r.kind === 'ln').map((r) => r.groups))].sort((a, b) => a - b);
  const seeds = new Set(fits.map((r) => r.seed)).size;
  const evidence: string[] = [], caveats: string[] = [
    'Training accuracy after a fixed number of full-batch AdamW steps measures what the optimiser found, a lower bound on what the architecture can fit.',
    'Groups of two features make LN a sign function (zero gradient almost everywhere), which an optimiser struggles with even when the function class is richer.',
  ];
  const figures: Figure[] = [];
  let verdict: Verdict, reason: string;
  const data: Record<string, unknown> = { fits, ranks };
  if (depths.length < 2 || !groups.includes(1) || groups.length < 2) {
    verdict = 'inconclusive';
    reason = 'Needs at least two depths and two group counts, one of them 1.';
  } else {
    const dMin = depths[0], dMax = depths[depths.length - 1], gMax = groups[groups.length - 1];
    const linear = Math.max(...depths.map((d) => meanOf((r) => r.kind === 'linear' && r.depth === d)));
    const at = (g: number, d: number) => meanOf((r) => r.kind === 'ln' && r.groups === g && r.depth === d);
    const bestG = groups.reduce((best, g) => (at(g, dMax) > at(best, dMax) ? g : best), groups[0]);
    const lnDeep = at(bestG, dMax);
    const deep = mean(groups.map((g) => at(g, dMax))), shallow = mean(groups.map((g) => at(g, dMin)));
    const grouped = mean(depths.map((d) => at(gMax, d)));
    const plain = mean(depths.map((d) => at(1, d)));
    const checks = [
      { name: '(a) LN-Net beats every linear stack', diff: lnDeep - linear, text: `LN-Net (depth ${dMax}, G=${bestG}) ${fmt(lnDeep, 3)} vs best linear stack ${fmt(linear, 3)}` },
      { name: '(b) deeper LN-Nets fit more', diff: deep - shallow, text: `depth ${dMax} ${fmt(deep, 3)} vs depth ${dMin} ${fmt(shallow, 3)} (mean over G = ${groups.join(', ')}; plain LN alone: ${fmt(at(1, dMax), 3)} vs ${fmt(at(1, dMin), 3)})` },
      { name: '(c) more groups fit more', diff: grouped - plain, text: `G=${gMax} ${fmt(grouped, 3)} vs G=1 ${fmt(plain, 3)} (mean over depths ${depths.join(', ')})` },
    ];
    for (const c of checks) evidence.push(`${c.name}: ${c.text}; difference ${fmt(c.diff, 3)} (mean over ${seeds} seed(s); margin ${margin})`);
    evidence.push(`(d) the linear stack fits at most ${fmt(linear, 3)} of the labels (ceiling ${linearCeiling})`);
    const linearShort = linear <= linearCeiling;
    if (checks.every((c) => c.diff > margin) && linearShort) {
      verdict = 'supported';
      reason = `LN-Nets fit random labels beyond any linear stack (${fmt(lnDeep, 3)} vs ${fmt(linear, 3)}), more with depth (+${fmt(deep - shallow, 3)}) and with ${gMax} groups (+${fmt(grouped - plain, 3)}).`;
    } else if (checks.some((c) => c.diff <= 0) || !linearShort) {
      verdict = 'not supported';
      const bad = checks.filter((c) => c.diff <= 0).map((c) => `${c.name} (${c.text})`);
      if (!linearShort) bad.push(`the linear stack fits ${fmt(linear, 3)} of the labels`);
      reason = `Fails: ${bad.join('; ')}.`;
    } else {
      verdict = 'inconclusive';
      reason = `Every effect points the claimed way but some fall short of the ${margin} margin: ${checks.filter((c) => c.diff <= margin).map((c) => `${c.name} ${fmt(c.diff, 3)}`).join('; ')}.`;
    }
    const rows: IntervalRow[] = [];
    for (const g of groups) for (const d of depths) {
      const xs = fits.filter((r) => r.kind === 'ln' && r.groups === g && r.depth === d).map((r) => r.accuracy);
      rows.push({ series: `LN-Net, ${g} group${g > 1 ? 's' : ''}`, x: d, y: mean(xs), lo: Math.min(...xs), hi: Math.max(...xs) });
    }
    for (const d of depths) {
      const xs = fits.filter((r) => r.kind === 'linear' && r.depth === d).map((r) => r.accuracy);
      rows.push({ series: 'linear stack', x: d, y: mean(xs), lo: Math.min(...xs), hi: Math.max(...xs) });
    }
    figures.push({ id: 'fit-accuracy', title: 'Random labels fitted against depth, by LN groups', caption: 'Mean training accuracy over seeds; bars span the seeds (min to max).', spec: intervalChart(rows, { xTitle: 'depth', yTitle: 'training accuracy', colorTitle: 'network' }) });
  }
  const tables = [{
    title: 'Fits: training accuracy on random labels (mean over seeds)',
    header: ['network', ...depths.map((d) => `depth ${d}`)],
    rows: [
      ['linear stack', ...depths.map((d) => fmt(meanOf((r) => r.kind === 'linear' && r.depth === d), 3))],
      ...groups.map((g) => [`LN-Net, G=${g}`, ...depths.map((d) => fmt(meanOf((r) => r.kind === 'ln' && r.groups === g && r.depth === d), 3))]),
    ],
  }];
  if (ranks.length) {
    tables.push({
      title: 'Transformers: effective rank and isotropy distance of the residual stream at the end of training',
      header: ['norm', 'seed', 'point', 'effective rank', 'isotropy distance'],
      rows: ranks.map((r) => [r.norm, String(r.seed), r.point, fmt(r.effectiveRank, 2), fmt(r.isotropy, 3)]),
    });
  } else caveats.push('No transformer rank diagnostics were found in the store.');
  return { verdict, reason, evidence, caveats, figures, tables, data };
}

export const lnNonlinearity: Study<LnBudget> = {
  name: 'ln-nonlinearity',
  title: 'The nonlinearity of layer normalisation (LN-Net, group LN)',
  claim,
  budgets,
  plan,
  analyse,
};
