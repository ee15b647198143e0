// `study layer-redundancy`: ShortGPT (Men et al. 2024, "ShortGPT: Layers in Large Language Models
// are More Redundant Than You Expect"). Blocks whose output barely differs from their input (low
// Block Influence, BI = 1 - mean cos(input, output)) can be deleted with little loss; deleting
// by BI beats deleting the last blocks first or at random.
//
// Plan: models of several depths at one width, trained on Brown (per depth and seed, one run).
// Measurement (in this process, after training, stored as metrics so it is done once): the
// run's validation windows are split into calibration windows (BI, the loss-increase order, and
// a unigram baseline) and disjoint evaluation windows; for each deletion order (probes/
// redundancy.ts: bi, last-first, random, loss-increase) and k = 0 .. floor(maxFraction * L)
// deleted blocks, the evaluation loss from downstreamScore (validation loss until the
// evaluation harness takes its place).
//
// Performance retained with k blocks deleted: (unigram loss - loss_k) / (unigram loss - loss_0),
// the share of what the model gained over a unigram model (fitted on the calibration windows)
// that it keeps. Loss stands in for downstream tasks here: that is the main caveat.
//
// Verdict at a quarter of the blocks (k = round(L / 4)), for every depth and seed:
//   (1) retained >= 0.9 by BI order; (2) BI's loss <= the last-first and random orders' losses.
// Supported: both everywhere. Not supported: (1) fails at most depths, or BI loses to another
// of those orders at most depths. Inconclusive otherwise.

import { existsSync } from 'node:fs';
import { metricSeries } from '../lab/results/query.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import type { Figure } from '../lab/presentation/plots.js';
import { loadRun, openData, validationBatches } from '../training/assemble.js';
import { listCheckpoints } from '../training/checkpoint.js';
import { batchTensors } from '../training/evaluate.js';
import {
  blockInfluence, deletionCurve, deletionOrder, deletionOrderKinds, type DeletionOrderKind, type TokenBatch,
} from '../probes/redundancy.js';
import { linesAndPoints, type LineRow, type PointRow } from './figures.js';
import { fmt, mean, v } from './stats.js';
import { planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';

export interface RedundancyBudget {
  depths: number[];
  dModel: number;
  nHead: number;
  batchSize: number;
  context: number;
  lr: number;
  steps: number;
  seeds: number[];
  /** Validation batches for calibration, and (disjoint, after them) for evaluation. */
  calibrationBatches: number;
  evalBatches: number;
  maxFraction: number;
  categories?: string[];
}

const budgets: Record<Budget, RedundancyBudget> = {
  smoke: { depths: [4], dModel: 32, nHead: 2, batchSize: 4, context: 32, lr: 3e-3, steps: 20, seeds: [0], calibrationBatches: 1, evalBatches: 1, maxFraction: 0.5, categories: ['news'] },
  small: { depths: [4, 8, 12], dModel: 64, nHead: 4, batchSize: 16, context: 64, lr: 3e-3, steps: 1000, seeds: [0, 1], calibrationBatches: 4, evalBatches: 8, maxFraction: 0.5 },
  full: { depths: [8, 12, 16, 24], dModel: 128, nHead: 4, batchSize: 32, context: 128, lr: 2e-3, steps: 3000, seeds: [0, 1, 2], calibrationBatches: 8, evalBatches: 32, maxFraction: 0.5 },
};

export const keepThreshold = 0.9;

const claim = `Deleting the quarter of a model's blocks with the lowest Block Influence keeps at least ${keepThreshold * 100}% of its performance ` +
  `(here: its loss gain over a unigram model), and deleting by Block Influence beats deleting the last blocks first or at random.`;

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const base = studyBase({
    dModel: b.dModel, nLayer: b.depths[0], nHead: b.nHead, batchSize: b.batchSize, context: b.context, lr: b.lr,
    evalBatches: b.calibrationBatches + b.evalBatches, categories: b.categories,
  });
  const runs: PlannedRun[] = [];
  for (const depth of b.depths) for (const seed of b.seeds) {
    runs.push({
      run: `L${depth}-s${seed}`,
      set: { 'model.nLayer': depth, seed, steps: b.steps, schedule: { kind: 'cosine', warmupSteps: Math.ceil(b.steps / 10), minLrRatio: 0.1 } },
      vars: { depth, seed, calibrationBatches: b.calibrationBatches, evalBatches: b.evalBatches, maxFraction: b.maxFraction },
    });
  }
  return planSweep({ study: 'layer-redundancy', budget, base, runs });
}

// ---- measurement -----------------------------------------------------------------------------

const biKey = (l: number) => `redundancy/bi/${l}`;
const lossKey = (order: DeletionOrderKind, k: number) => `redundancy/loss/${order}/${k}`;
const unigramKey = 'redundancy/unigram_loss';

/** Cross-entropy of the evaluation targets under add-one-smoothed unigram frequencies of the calibration targets. */
export function unigramLoss(calibration: TokenBatch[], evaluation: TokenBatch[], vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  let total = vocabSize;
  for (const b of calibration) for (const t of b.targets!.i) if (t >= 0) { counts[t]++; total++; }
  let loss = 0, n = 0;
  for (const b of evaluation) for (const t of b.targets!.i) if (t >= 0) { loss -= Math.log(counts[t] / total); n++; }
  return loss / n;
}

/** Measures a finished run and stores the metrics; false when its folder is not here. */
export function measureRun(store: Store, r: StudyRun): boolean {
  const dir = r.record.dir;
  if (!dir || !existsSync(dir) || listCheckpoints(dir).length === 0) return false;
  const run = loadRun(dir);
  const cal = v<number>(r, 'calibrationBatches') ?? 1, ev = v<number>(r, 'evalBatches') ?? 1, maxFraction = v<number>(r, 'maxFraction') ?? 0.5;
  const data = openData(run.config, run.tokenizer);
  let all: TokenBatch[];
  try {
    all = [...validationBatches(run.config, data, cal + ev)].map(batchTensors);
  } finally {
    data.train.close();
    data.valid.close();
  }
  if (all.length < 2) throw new Error(`${dir}: needs at least 2 validation batches (one to calibrate, one to evaluate), has ${all.length}`);
  const calibration = all.slice(0, Math.min(cal, all.length - 1)), evaluation = all.slice(calibration.length);
  const model = run.model, L = model.config.nLayer;
  const bi = blockInfluence(model, calibration);
  const ks = Array.from({ length: Math.min(L - 1, Math.floor(maxFraction * L)) + 1 }, (_, k) => k);
  const values: Record<string, number> = { [unigramKey]: unigramLoss(calibration, evaluation, model.config.vocabSize) };
  bi.forEach((x, l) => { values[biKey(l)] = x; });
  for (const order of deletionOrderKinds) {
    const layers = deletionOrder(model, order, { bi, calibration: () => calibration, seed: v<number>(r, 'seed') ?? 0 });
    for (const p of deletionCurve(model, layers, ks, () => evaluation)) values[lossKey(order, p.deleted.length)] = p.score.value;
  }
  store.logMetrics(r.id, [{ step: 0, values }]);
  return true;
}

// ---- analysis --------------------------------------------------------------------------------

/** One model's measurements. */
export interface RedundancyResult {
  depth: number;
  seed: number;
  bi: number[];
  unigramLoss: number;
  /** loss[order][k], k = 0 .. maxK blocks deleted. */
  loss: Record<DeletionOrderKind, number[]>;
}

function analyse(store: Store, runs: StudyRun[]): Analysis {
  const done = runs.filter((r) => r.record.status === 'done');
  const measured = new Set(metricSeries(store, { runs: done.map((r) => r.id), keys: [unigramKey] }).map((p) => p.run));
  for (const r of done) if (!measured.has(r.id)) measureRun(store, r);
  const results: RedundancyResult[] = [];
  for (const r of done) {
    const series = metricSeries(store, { runs: [r.id] }).filter((p) => p.key.startsWith('redundancy/') && p.value !== null);
    const get = (key: string) => series.find((p) => p.key === key)?.value ?? undefined;
    const unigram = get(unigramKey);
    if (unigram === undefined) continue;
    const depth = v<number>(r, 'depth')!;
    const bi = Array.from({ length: depth }, (_, l) => get(biKey(l))!);
    const loss = Object.fromEntries(deletionOrderKinds.map((o) => {
      const xs: number[] = [];
      for (let k = 0; get(lossKey(o, k)) !== undefined; k++) xs.push(get(lossKey(o, k))!);
      return [o, xs];
    })) as Record<DeletionOrderKind, number[]>;
    results.push({ depth, seed: v<number>(r, 'seed')!, bi, unigramLoss: unigram, loss });
  }
  const a = judgeRedundancy(results);
  const missing = runs.filter((r) => r.record.status !== 'done');
  if (missing.length) a.caveats.push(`${missing.length} run(s) did not finish (${missing.slice(0, 5).map((r) => `${r.name}: ${r.record.status}`).join(', ')}); they are left out.`);
  return a;
}

/** Performance retained with k blocks deleted in an order (see the header). */
export function retained(r: RedundancyResult, order: DeletionOrderKind, k: number): number {
  return (r.unigramLoss - r.loss[order][k]) / (r.unigramLoss - r.loss[order][0]);
}

/** The verdict from the measurements alone (the tests feed it synthetic ones). */
export function judgeRedundancy(results: RedundancyResult[]): Analysis {
  const quarter = (r: RedundancyResult) => Math.max(1, Math.round(r.depth / 4));
  const rows = results.map((r) => {
    const k = Math.min(quarter(r), r.loss.bi.length - 1);
    const keepBi = retained(r, 'bi', k);
    const rivals = (['last-first', 'random'] as const).map((o) => ({ order: o, loss: r.loss[o][k], keep: retained(r, o, k) }));
    return { r, k, keepBi, lossBi: r.loss.bi[k], rivals, keeps: keepBi >= keepThreshold, beats: rivals.every((x) => r.loss.bi[k] <= x.loss + 1e-9) };
  });
  const depths = [...new Set(results.map((r) => r.depth))].sort((a, b) => a - b);
  const byDepth = depths.map((d) => {
    const rs = rows.filter((x) => x.r.depth === d);
    return { depth: d, keeps: rs.every((x) => x.keeps), keepsNowhere: rs.every((x) => !x.keeps), beats: rs.every((x) => x.beats), losesEverywhere: rs.every((x) => !x.beats), meanKeep: mean(rs.map((x) => x.keepBi)) };
  });
  let verdict: Verdict, reason: string;
  const describe = (x: (typeof rows)[number]) => `L=${x.r.depth} seed ${x.r.seed}: ${x.k} deleted, BI keeps ${fmt(x.keepBi, 3)} (loss ${fmt(x.lossBi, 3)}; ${x.rivals.map((o) => `${o.order} ${fmt(o.keep, 3)}`).join(', ')})`;
  const untrained = rows.filter((x) => !(x.r.loss.bi[0] < x.r.unigramLoss));
  if (rows.length === 0 || rows.some((x) => x.k < 1) || untrained.length) {
    verdict = 'inconclusive';
    reason = rows.length === 0 ? 'No measured models.' : untrained.length
      ? `${untrained.length} model(s) do not beat a unigram model (${untrained.slice(0, 3).map((x) => `L=${x.r.depth} seed ${x.r.seed}: loss ${fmt(x.r.loss.bi[0], 3)} vs unigram ${fmt(x.r.unigramLoss, 3)}`).join('; ')}), so there is no performance to keep.`
      : 'Some model is too shallow to delete a block.';
  } else if (rows.every((x) => x.keeps && x.beats)) {
    verdict = 'supported';
    reason = `With a quarter of the blocks deleted by Block Influence every model keeps at least ${keepThreshold} of its gain over a unigram model (lowest ${fmt(Math.min(...rows.map((x) => x.keepBi)), 3)}), and BI order is at least as good as last-first and random deletion everywhere.`;
  } else if (byDepth.filter((d) => d.keepsNowhere).length > depths.length / 2 || byDepth.filter((d) => d.losesEverywhere).length > depths.length / 2) {
    verdict = 'not supported';
    const bad = rows.filter((x) => !x.keeps || !x.beats);
    reason = `At most depths the claim fails: ${bad.slice(0, 4).map(describe).join('; ')}.`;
  } else {
    verdict = 'inconclusive';
    const bad = rows.filter((x) => !x.keeps || !x.beats);
    reason = `The claim holds for some models and not others: ${bad.slice(0, 4).map(describe).join('; ')}.`;
  }
  const evidence = [
    `${results.length} model(s): depths ${depths.join(', ')}; seeds ${[...new Set(results.map((r) => r.seed))].join(', ')}.`,
    ...rows.map(describe),
    ...depths.map((d) => {
      const rs = results.filter((r) => r.depth === d);
      return `L=${d}: Block Influence per block (mean over seeds) ${Array.from({ length: d }, (_, l) => fmt(mean(rs.map((r) => r.bi[l])), 3)).join(', ')}.`;
    }),
  ];
  const caveats = [
    'Performance is the validation loss gain over a unigram model, not downstream task accuracy: ShortGPT measured benchmarks (MMLU and others), which small models cannot do; downstreamScore() is where the evaluation harness will plug in.',
    'Models of a few blocks trained briefly are far from the regime (deep, heavily trained LLMs) in which redundancy was reported; the deeper the models here, the closer the test.',
    'The loss-increase order needs one evaluation per block (an oracle on the calibration windows); it is shown as a reference, not part of the verdict.',
    ...(new Set(results.map((r) => r.seed)).size < 2 ? ['One seed per depth: no spread over training runs.'] : []),
  ];
  return {
    verdict, reason, evidence, caveats,
    figures: figures(results),
    tables: [{
      title: `Performance retained with a quarter of the blocks deleted`,
      caption: 'Retained: (unigram loss - loss after deletion) / (unigram loss - full model loss).',
      header: ['depth', 'seed', 'deleted', ...deletionOrderKinds],
      rows: rows.map((x) => [String(x.r.depth), String(x.r.seed), String(x.k), ...deletionOrderKinds.map((o) => fmt(retained(x.r, o, x.k), 3))]),
    } satisfies ReportTable],
    data: { keepThreshold, results, byDepth },
  };
}

function figures(results: RedundancyResult[]): Figure[] {
  const figs: Figure[] = [];
  for (const d of [...new Set(results.map((r) => r.depth))].sort((a, b) => a - b)) {
    const rs = results.filter((r) => r.depth === d);
    const lines: LineRow[] = [], pts: PointRow[] = [];
    for (const o of deletionOrderKinds) {
      const K = Math.min(...rs.map((r) => r.loss[o].length));
      for (let k = 0; k < K; k++) {
        const y = mean(rs.map((r) => retained(r, o, k)));
        lines.push({ series: o, run: o, x: k / d, y });
        pts.push({ series: o, x: k / d, y });
      }
    }
    figs.push({
      id: `deletion-l${d}`, title: `${d} blocks: performance retained as blocks are deleted, by order`,
      caption: 'Share of the loss gain over a unigram model that is kept, mean over seeds; x: fraction of blocks deleted.',
      spec: linesAndPoints(lines, pts, { xTitle: 'fraction of blocks deleted', yTitle: 'performance retained', colorTitle: 'order' }),
    });
  }
  const biLines: LineRow[] = [];
  for (const d of [...new Set(results.map((r) => r.depth))]) {
    const rs = results.filter((r) => r.depth === d);
    for (let l = 0; l < d; l++) biLines.push({ series: `L=${d}`, run: `L${d}`, x: d > 1 ? l / (d - 1) : 0, y: mean(rs.map((r) => r.bi[l])) });
  }
  figs.push({
    id: 'block-influence', title: 'Block Influence by relative depth',
    caption: 'BI = 1 - mean cos(block input, block output) over calibration tokens, mean over seeds; x: block index / (depth - 1).',
    spec: linesAndPoints(biLines, [], { xTitle: 'relative depth', yTitle: 'Block Influence', colorTitle: 'model' }),
  });
  return figs;
}

export const layerRedundancy: Study<RedundancyBudget> = {
  name: 'layer-redundancy',
  title: 'Layer redundancy: deleting blocks by Block Influence (ShortGPT)',
  claim,
  budgets,
  plan,
  analyse,
};
