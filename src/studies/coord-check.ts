// `study coord-check`: muP's coordinate check (Yang et al. 2022, "Tensor Programs V", fig. 5).
// Models of several widths train a few steps at one learning rate, under the standard
// parametrization (SP) and under muP (src/models/mup.ts, base width = the narrowest); the size
// of each layer's activations on a fixed batch is measured after each step. Under muP the size
// of the update Δx_t = x_t - x_0 stays flat across width; under SP with Adam it grows (a hidden
// matrix's update moves its output by ~lr x fan-in).
//
// Plan: per width, parametrization and seed, one run of `steps` steps at a constant lr, no
// clipping (it would rescale the update by a width-dependent global norm), checkpointing at
// every measured step. Measurement (in this process, after training): the run's first validation
// batch through the model at init (rebuilt from the config and seed, as the trainer builds it)
// and at each checkpoint, caching hook_embed, each block's hook_attn_out, hook_mlp_out and
// hook_resid_post, and the logits; RMS(x_t) and RMS(x_t - x_0) of each are stored in the results
// store as metrics act_rms/<hook> and act_drms/<hook> at the step (so they are measured once,
// and show in the dashboard).
//
// Verdict, on every measured step: per parametrization, hook, seed and step, the slope of
// ln RMS(Δx) on ln width (least squares over the widths); per step, the mean slope over seeds
// with a t-interval over seeds (seeds are the independent replicates; the widths of one seed share
// its data order). The intervals are Bonferroni-corrected over the measured steps (level
// 1 - 0.05 / steps), since a layer is judged at each. "Flat" = the interval lies within +-0.25
// (over an 8x width range, less than a 1.7x change); "grows" = it lies wholly above 0.25.
// A muP layer is flat when it is flat at every step, and breaks the claim when at some step
// (its worst) the interval lies wholly outside +-0.25; an SP layer grows when it grows at the last
// step. Supported: every muP hook flat and some SP hook grows. Not supported: some muP hook breaks.
// Inconclusive otherwise (including a check too gentle to make SP grow: then it shows nothing).
// One seed gives no interval, so nothing is decided. A passing coord check is not evidence that
// hyperparameters transfer; `study mup-transfer` tests that.

import { existsSync } from 'node:fs';
import { noGrad, tensor, type Tensor } from '../engine/index.js';
import { fitLine } from '../lab/fit/stats.js';
import type { Figure } from '../lab/presentation/plots.js';
import { metricSeries } from '../lab/results/query.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import { Transformer } from '../models/transformer.js';
import { loadRun, openData, readRunConfig, readRunTokenizer, validationBatches } from '../training/assemble.js';
import { listCheckpoints } from '../training/checkpoint.js';
import { intervalChart, linesAndPoints, type IntervalRow, type LineRow, type PointRow } from './figures.js';
import { estimate, fmt, v } from './stats.js';
import { planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';

export interface CoordBudget {
  widths: number[];
  nLayer: number;
  nHead: number;
  batchSize: number;
  context: number;
  lr: number;
  steps: number;
  /** Checkpoint (and so measure) every this many steps. */
  every: number;
  seeds: number[];
  categories?: string[];
}

/** |slope| of ln RMS(Δx) on ln width that still counts as flat. */
export const flatSlope = 0.25;

const budgets: Record<Budget, CoordBudget> = {
  smoke: { widths: [16, 32], nLayer: 1, nHead: 2, batchSize: 4, context: 32, lr: 1e-2, steps: 3, every: 1, seeds: [0], categories: ['news'] },
  small: { widths: [32, 64, 128, 256], nLayer: 2, nHead: 4, batchSize: 16, context: 64, lr: 1e-2, steps: 10, every: 1, seeds: [0, 1, 2, 3, 4] },
  // The budget with the most compute never has fewer seeds than a smaller one (the interval is over seeds).
  full: { widths: [64, 128, 256, 512], nLayer: 2, nHead: 4, batchSize: 32, context: 128, lr: 1e-2, steps: 16, every: 4, seeds: [0, 1, 2, 3, 4] },
};

const claim = `Under muP the size of every layer's activation update after the first training steps stays flat as the width grows ` +
  `(|d ln RMS(Δx) / d ln width| <= ${flatSlope}), while under the standard parametrization it grows.`;

export type Param = 'sp' | 'mup';
const paramName = (p: Param): string => (p === 'sp' ? 'SP' : 'muP');

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const base = studyBase({ dModel: b.widths[0], nLayer: b.nLayer, nHead: b.nHead, batchSize: b.batchSize, context: b.context, lr: b.lr, evalBatches: 2, categories: b.categories });
  const runs: PlannedRun[] = [];
  for (const param of ['sp', 'mup'] as const) {
    for (const width of b.widths) {
      for (const seed of b.seeds) {
        runs.push({
          run: `${param}-w${width}-s${seed}`,
          set: {
            'model.dModel': width, ...(param === 'mup' ? { 'model.mup': { baseWidth: b.widths[0] } } : {}),
            seed, steps: b.steps, schedule: { kind: 'constant' }, clip: 0, checkpointInterval: b.every, keepCheckpoints: 0,
          },
          vars: { param, width, seed },
        });
      }
    }
  }
  return planSweep({ study: 'coord-check', budget, base, runs });
}

// ---- measurement -----------------------------------------------------------------------------

const rmsKey = (hook: string): string => `act_rms/${hook}`;
const drmsKey = (hook: string): string => `act_drms/${hook}`;

/**
 * Measures a finished run's activations at init and at each checkpoint and stores them as
 * metrics; returns false when the run folder is not here to measure (its metrics may still be
 * in the store).
 */
export function measureRun(store: Store, r: StudyRun): boolean {
  const dir = r.record.dir;
  if (!dir || !existsSync(dir) || listCheckpoints(dir).length === 0) return false;
  const config = readRunConfig(dir);
  const data = openData(config, readRunTokenizer(dir));
  let batch;
  try {
    batch = validationBatches(config, data, 1)[Symbol.iterator]().next().value;
  } finally {
    data.train.close();
    data.valid.close();
  }
  if (!batch) return false;
  const ids = tensor(batch.inputs, [batch.B, batch.T], { dtype: 'int32' });
  const names = ['hook_embed', ...Array.from({ length: config.model.nLayer }, (_, l) => [`blocks.${l}.hook_attn_out`, `blocks.${l}.hook_mlp_out`, `blocks.${l}.hook_resid_post`]).flat()];
  const acts = (model: Transformer): Map<string, Float32Array> => noGrad(() => {
    const { logits, cache } = model.runWithCache(ids, { names });
    const out = new Map<string, Float32Array>(names.map((n) => [n, Float32Array.from(cache.get(n).data as Float32Array)]));
    out.set('logits', Float32Array.from((logits as Tensor).data as Float32Array));
    return out;
  });
  const init = acts(new Transformer(config.model, { seed: config.seed }));
  const rows = [{ step: 0, values: Object.fromEntries([...init].flatMap(([n, x]) => [[rmsKey(n), rms(x)], [drmsKey(n), 0]])) }];
  for (const step of listCheckpoints(dir)) {
    const now = acts(loadRun(dir, step).model);
    rows.push({ step, values: Object.fromEntries([...now].flatMap(([n, x]) => [[rmsKey(n), rms(x)], [drmsKey(n), rmsDiff(x, init.get(n)!)]])) });
  }
  store.logMetrics(r.id, rows);
  return true;
}

function rms(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s / x.length);
}

function rmsDiff(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - y[i]) ** 2;
  return Math.sqrt(s / x.length);
}

// ---- analysis --------------------------------------------------------------------------------

/** One measurement: a hook's activation size at a step, in one run. */
export interface CoordPoint { param: Param; width: number; seed: number; step: number; hook: string; rms: number; drms: number }

/** A layer's slope at one step: the mean over seeds of each seed's slope, with its (Bonferroni) interval over seeds. */
interface StepSlope { step: number; slope: number; ci: [number, number] | null; seeds: number }
/** A layer's verdict over the steps; slope and ci are those of the deciding step (muP: the worst; SP: the last). */
interface Slope { param: Param; hook: string; slope: number; ci: [number, number] | null; n: number; step: number; steps: StepSlope[]; result: 'flat' | 'grows' | 'shrinks' | 'unclear' }

function analyse(store: Store, runs: StudyRun[]): Analysis {
  const done = runs.filter((r) => r.record.status === 'done');
  const measured = new Set(metricSeries(store, { runs: done.map((r) => r.id), keys: [drmsKey('logits')] }).map((p) => p.run));
  for (const r of done) if (!measured.has(r.id)) measureRun(store, r);
  const points: CoordPoint[] = [];
  for (const r of done) {
    const byStep = new Map<number, Map<string, { rms?: number; drms?: number }>>();
    for (const p of metricSeries(store, { runs: [r.id] })) {
      if (p.value === null || !p.key.startsWith('act_')) continue;
      const [kind, hook] = [p.key.slice(0, p.key.indexOf('/')), p.key.slice(p.key.indexOf('/') + 1)];
      const hooks = byStep.get(p.step) ?? byStep.set(p.step, new Map()).get(p.step)!;
      const h = hooks.get(hook) ?? hooks.set(hook, {}).get(hook)!;
      if (kind === 'act_rms') h.rms = p.value; else h.drms = p.value;
    }
    for (const [step, hooks] of byStep) for (const [hook, x] of hooks) {
      if (x.rms !== undefined && x.drms !== undefined) points.push({ param: v<Param>(r, 'param')!, width: v<number>(r, 'width')!, seed: v<number>(r, 'seed')!, step, hook, rms: x.rms, drms: x.drms });
    }
  }
  const analysis = judgeCoords(points);
  const missing = runs.filter((r) => r.record.status !== 'done');
  if (missing.length) analysis.caveats.push(`${missing.length} run(s) did not finish (${missing.slice(0, 5).map((r) => `${r.name}: ${r.record.status}`).join(', ')}); they are left out.`);
  return analysis;
}

/** Where an interval lies against +-flatSlope. */
function classify(ci: [number, number] | null): Slope['result'] {
  if (!ci) return 'unclear';
  return ci[0] >= -flatSlope && ci[1] <= flatSlope ? 'flat' : ci[0] > flatSlope ? 'grows' : ci[1] < -flatSlope ? 'shrinks' : 'unclear';
}

/** Per step: each seed's least-squares slope of ln RMS(Δx) on ln width, then their mean with a t-interval over seeds. */
export function stepSlopes(pts: CoordPoint[], level: number): StepSlope[] {
  const out: StepSlope[] = [];
  for (const step of [...new Set(pts.map((p) => p.step))].sort((a, b) => a - b)) {
    const perSeed: number[] = [];
    for (const seed of [...new Set(pts.map((p) => p.seed))].sort((a, b) => a - b)) {
      const mine = pts.filter((p) => p.step === step && p.seed === seed);
      if (new Set(mine.map((p) => p.width)).size < 2) continue;
      perSeed.push(fitLine(mine.map((p) => Math.log(p.width)), mine.map((p) => Math.log(p.drms))).slope);
    }
    if (!perSeed.length) continue;
    const e = estimate(perSeed, level);
    out.push({ step, slope: e.mean, ci: e.ci, seeds: perSeed.length });
  }
  return out;
}

/** The verdict from the measurements alone (the tests feed it synthetic ones). */
export function judgeCoords(points: CoordPoint[]): Analysis {
  const measured = points.filter((p) => p.step > 0 && p.drms > 0);
  const stepList = [...new Set(measured.map((p) => p.step))].sort((a, b) => a - b);
  const last = stepList.length ? stepList[stepList.length - 1] : 0;
  const level = 1 - 0.05 / Math.max(1, stepList.length);
  const hooks = orderHooks([...new Set(points.map((p) => p.hook))]);
  const slopes: Slope[] = [];
  for (const param of ['sp', 'mup'] as const) {
    for (const hook of hooks) {
      const steps = stepSlopes(measured.filter((p) => p.param === param && p.hook === hook), level);
      if (!steps.length) continue;
      let decide: StepSlope;
      let result: Slope['result'];
      if (param === 'mup') {
        // The worst step: the one whose interval lies furthest from flat (by its nearer end), else the largest |slope|.
        const outside = (s: StepSlope): number => (s.ci ? Math.max(s.ci[0] - flatSlope, -flatSlope - s.ci[1]) : -Infinity);
        decide = steps.reduce((w, s) => (outside(s) > outside(w) || (outside(s) === outside(w) && Math.abs(s.slope) > Math.abs(w.slope)) ? s : w));
        const each = steps.map((s) => classify(s.ci));
        result = each.some((r) => r === 'grows' || r === 'shrinks') ? classify(decide.ci) : each.every((r) => r === 'flat') ? 'flat' : 'unclear';
      } else {
        decide = steps[steps.length - 1];
        result = decide.step === last ? classify(decide.ci) : 'unclear';
      }
      slopes.push({ param, hook, slope: decide.slope, ci: decide.ci, n: decide.seeds, step: decide.step, steps, result });
    }
  }
  const mup = slopes.filter((s) => s.param === 'mup'), sp = slopes.filter((s) => s.param === 'sp');
  const mupBad = mup.filter((s) => s.result === 'grows' || s.result === 'shrinks');
  const spGrows = sp.filter((s) => s.result === 'grows');
  let verdict: Verdict, reason: string;
  const show = (s: Slope): string => `${s.hook} ${fmt(s.slope, 2)}${s.ci ? ` [${fmt(s.ci[0], 2)}, ${fmt(s.ci[1], 2)}]` : ''} at step ${s.step}`;
  const pct = `${fmt(level * 100, 3)}%`;
  if (mup.length === 0) {
    verdict = 'inconclusive';
    reason = 'No muP measurements over two or more widths.';
  } else if (mupBad.length) {
    verdict = 'not supported';
    reason = `Under muP, ${mupBad.length} of ${mup.length} layers' updates change with width beyond +-${flatSlope} at their worst measured step (${pct} intervals over seeds): ${mupBad.map(show).join('; ')}.`;
  } else if (mup.every((s) => s.result === 'flat') && spGrows.length) {
    verdict = 'supported';
    reason = `At every measured step (1..${last}), every muP layer's update is flat across width (slopes within +-${flatSlope}, ${pct} intervals over seeds), while under SP ${spGrows.length} of ${sp.length} layers grow at step ${last} (${spGrows.slice(0, 3).map(show).join('; ')}).`;
  } else {
    verdict = 'inconclusive';
    const open = mup.filter((s) => s.result !== 'flat');
    reason = mup.every((s) => s.ci === null)
      ? `No interval on the slopes (one seed: the interval is over seeds): muP ${mup.map(show).join('; ')}; SP ${sp.map(show).join('; ')}.`
      : open.length
      ? `At some measured step the intervals of ${open.length} muP layer(s) straddle +-${flatSlope} (${open.slice(0, 3).map(show).join('; ')}${open.length > 3 ? '; ...' : ''}): more widths or seeds are needed.`
      : `Under muP every layer is flat, but no SP layer clearly grows at step ${last}: the check is too gentle at this lr and step count to tell the parametrizations apart.`;
  }
  const widths = [...new Set(points.map((p) => p.width))].sort((a, b) => a - b);
  const seeds = new Set(points.map((p) => p.seed)).size;
  const evidence = [
    `${widths.length} widths (${widths.join(', ')}), ${seeds} seed(s), measured at steps ${stepList.join(', ')} on a fixed validation batch; one slope per seed and step, ${pct} t-intervals over seeds (95% Bonferroni-corrected over ${stepList.length} steps).`,
    `muP, slope of ln RMS(Δx) on ln width at each layer's worst step: ${mup.map(show).join('; ')}.`,
    `SP, slope at the last step: ${sp.map(show).join('; ')}.`,
    ...(['mup', 'sp'] as const).map((param) => `${paramName(param)}, largest |slope| of any layer at each step: ${stepList.map((st) => {
      const at = slopes.filter((s) => s.param === param).flatMap((s) => s.steps.filter((x) => x.step === st));
      return at.length ? `${st}: ${fmt(at.reduce((w, x) => (Math.abs(x.slope) > Math.abs(w.slope) ? x : w)).slope, 2)}` : `${st}: -`;
    }).join(', ')}.`),
  ];
  const caveats = [
    'A flat coordinate check is necessary, not sufficient, for hyperparameters to transfer across width; `study mup-transfer` tests the transfer itself.',
    'The widths share the base model\'s head count (dHead grows with width); muP\'s attention scale is 1/dHead anchored at the base head size.',
    ...(seeds < 2 ? ['One seed: the interval on each slope is over seeds, so there is none and nothing can be concluded.'] : []),
  ];
  return {
    verdict, reason, evidence, caveats,
    figures: figures(points, slopes, last, hooks),
    tables: [{
      title: 'Slopes of ln RMS(Δx) on ln width: SP at the last step, muP at each layer\'s worst step',
      caption: `Mean of the per-seed slopes with a ${pct} t-interval over seeds. Flat: the interval within +-${flatSlope}; grows: wholly above it.`,
      header: ['layer', 'SP slope [interval]', 'SP', 'muP slope [interval]', 'muP step', 'muP'],
      rows: hooks.map((h) => {
        const a = sp.find((s) => s.hook === h), b = mup.find((s) => s.hook === h);
        const cell = (s?: Slope): string => (s ? `${fmt(s.slope, 3)}${s.ci ? ` [${fmt(s.ci[0], 3)}, ${fmt(s.ci[1], 3)}]` : ''}` : '-');
        return [h, cell(a), a?.result ?? '-', cell(b), b ? String(b.step) : '-', b?.result ?? '-'];
      }),
    } satisfies ReportTable],
    data: { step: last, steps: stepList, level, flatSlope, slopes },
  };
}

/** hook_embed, then blocks in order (attn, mlp, resid), then logits. */
function orderHooks(hooks: string[]): string[] {
  const rank = (h: string): number => {
    if (h === 'hook_embed') return -1;
    if (h === 'logits') return 1e6;
    const m = /^blocks\.(\d+)\.hook_(attn_out|mlp_out|resid_post)$/.exec(h);
    return m ? Number(m[1]) * 3 + ['attn_out', 'mlp_out', 'resid_post'].indexOf(m[2]) : 1e5;
  };
  return [...hooks].sort((a, b) => rank(a) - rank(b));
}

function figures(points: CoordPoint[], slopes: Slope[], last: number, hooks: string[]): Figure[] {
  const figs: Figure[] = [];
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const param of ['sp', 'mup'] as const) {
    const mine = points.filter((p) => p.param === param && p.step === last);
    const lines: LineRow[] = [], pts: PointRow[] = [];
    for (const hook of hooks) {
      const widths = [...new Set(mine.filter((p) => p.hook === hook).map((p) => p.width))].sort((a, b) => a - b);
      for (const w of widths) {
        const y = mean(mine.filter((p) => p.hook === hook && p.width === w).map((p) => p.drms));
        lines.push({ series: hook, run: hook, x: w, y });
        pts.push({ series: hook, x: w, y });
      }
    }
    if (lines.length) {
      figs.push({
        id: `coord-${param}`, title: `${paramName(param)}: size of the activation update after ${last} steps, by width`,
        caption: 'RMS(x_t - x_0) on a fixed batch, mean over seeds; log-log. Flat lines: the update does not depend on width.',
        spec: linesAndPoints(lines, pts, { xTitle: 'width (dModel)', yTitle: 'RMS of the update', logX: true, logY: true, colorTitle: 'layer' }),
      });
    }
  }
  // Over the steps: the widest and the narrowest model, SP and muP, at the logits.
  const widths = [...new Set(points.map((p) => p.width))].sort((a, b) => a - b);
  const stepLines: LineRow[] = [];
  for (const param of ['sp', 'mup'] as const) {
    for (const w of [widths[0], widths[widths.length - 1]]) {
      const steps = [...new Set(points.filter((p) => p.param === param && p.width === w && p.hook === 'logits').map((p) => p.step))].sort((a, b) => a - b).filter((s) => s > 0);
      for (const s of steps) stepLines.push({ series: `${paramName(param)} width ${w}`, run: `${param}${w}`, x: s, y: mean(points.filter((p) => p.param === param && p.width === w && p.hook === 'logits' && p.step === s).map((p) => p.drms)) });
    }
  }
  if (stepLines.length) {
    figs.push({
      id: 'logits-over-steps', title: 'Size of the logits\' update over the first steps',
      caption: 'RMS(logits_t - logits_0), mean over seeds, for the narrowest and the widest model.',
      spec: linesAndPoints(stepLines, [], { xTitle: 'step', yTitle: 'RMS of the update', logY: true, colorTitle: '' }),
    });
  }
  const rows: IntervalRow[] = slopes.map((s) => ({ series: paramName(s.param), x: s.hook, y: s.slope, lo: s.ci?.[0] ?? s.slope, hi: s.ci?.[1] ?? s.slope }));
  if (rows.length) {
    figs.push({
      id: 'slopes', title: 'Slope of ln RMS(Δx) on ln width per layer (SP: last step; muP: its worst step)',
      caption: `Mean of the per-seed slopes, Bonferroni-corrected t-intervals over seeds. Flat means within +-${flatSlope}.`,
      spec: intervalChart(rows, { xTitle: 'layer', yTitle: 'slope', colorTitle: 'parametrization', connect: false, width: 520 }),
    });
  }
  return figs;
}

export const coordCheck: Study<CoordBudget> = {
  name: 'coord-check',
  title: 'muP coordinate check: activation updates across width, SP beside muP',
  claim,
  budgets,
  plan,
  analyse,
};
