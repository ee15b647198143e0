// `study mup-transfer`: does the best learning rate transfer across width under muP?
//
// Plan: a learning-rate sweep (7+ values, factor 2 apart) at 4+ widths spanning 8x or more,
// under the standard parametrization (SP) and under muP (base width = the narrowest, where muP
// is SP bit for bit), every run the same steps and tokens (cosine to 10% after a warm-up).
//
// Analysis, per parametrization and width: the mean final validation loss per lr over seeds, and
// the best lr (parabola vertex in log lr, as in batch-lr; an optimum at the grid's edge is not
// bracketed and is left out of the drift fit). Drift: the slope of ln lr* on ln width, least
// squares over the bracketed widths, 95% t-interval. A slope of +-1/3 moves lr* by a factor 2
// (one grid step) over an 8x width range; so:
//   muP stays put   the slope's interval lies within +-1/3     (fails: wholly outside)
//   SP drifts       the slope's interval lies wholly outside +-1/3 (fails: wholly within)
//   wider is better under muP at every lr: at each lr where the narrower model finished, the next
//                   wider one is not worse by more than 0.5% of the loss. Noise: the seed spread,
//                   pooled over every cell (seeds >= 2), gives each difference a 95% t-interval; a
//                   pair holds when its upper end is within the margin, fails when its lower end
//                   is beyond it or the wider model diverged; with one seed only divergence decides.
// Supported when all three hold; not supported when any fails; inconclusive otherwise.

import { fitLine, studentTQuantile } from '../lab/fit/stats.js';
import type { Figure } from '../lab/presentation/plots.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import { linesAndPoints, type LineRow, type PointRow } from './figures.js';
import { bestLr, finalOf, fmt, v } from './stats.js';
import { planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';
import type { Param } from './coord-check.js';

export interface TransferBudget {
  widths: number[];
  nLayer: number;
  nHead: number;
  batchSize: number;
  context: number;
  steps: number;
  warmupSteps: number;
  lrs: number[];
  seeds: number[];
  evalBatches: number;
  categories?: string[];
}

/** The drift slope (ln lr* per ln width) that moves lr* by one factor-2 grid step over 8x in width. */
export const driftSlope = 1 / 3;
/** "Not worse" between neighbouring widths: within this fraction of the loss. */
export const widerMargin = 0.005;

const budgets: Record<Budget, TransferBudget> = {
  smoke: {
    widths: [16, 32], nLayer: 1, nHead: 2, batchSize: 4, context: 32, steps: 20, warmupSteps: 2, lrs: [8e-3, 3.2e-2], seeds: [0], evalBatches: 2, categories: ['news'],
  },
  small: {
    widths: [32, 64, 128, 256], nLayer: 2, nHead: 4, batchSize: 16, context: 64, steps: 300, warmupSteps: 30,
    lrs: [5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2], seeds: [0, 1], evalBatches: 16,
  },
  full: {
    widths: [32, 64, 128, 256, 512], nLayer: 2, nHead: 4, batchSize: 16, context: 64, steps: 1000, warmupSteps: 50,
    lrs: [1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2], seeds: [0, 1], evalBatches: 32,
  },
};

const claim = 'Under muP the best learning rate stays put as the width grows, while under the standard parametrization it drifts; ' +
  'and under muP a wider model is better at every learning rate.';

const paramName = (p: Param): string => (p === 'sp' ? 'SP' : 'muP');

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const base = studyBase({ dModel: b.widths[0], nLayer: b.nLayer, nHead: b.nHead, batchSize: b.batchSize, context: b.context, lr: b.lrs[0], evalBatches: b.evalBatches, categories: b.categories });
  const runs: PlannedRun[] = [];
  for (const param of ['sp', 'mup'] as const) {
    for (const width of b.widths) {
      for (const lr of b.lrs) {
        for (const seed of b.seeds) {
          runs.push({
            run: `${param}-w${width}-lr${lr}-s${seed}`,
            set: {
              'model.dModel': width, ...(param === 'mup' ? { 'model.mup': { baseWidth: b.widths[0] } } : {}),
              lr, seed, steps: b.steps, schedule: { kind: 'cosine', warmupSteps: b.warmupSteps, minLrRatio: 0.1 },
            },
            vars: { param, width, lr, seed },
          });
        }
      }
    }
  }
  return planSweep({ study: 'mup-transfer', budget, base, runs });
}

// ---- analysis --------------------------------------------------------------------------------

interface Cell { lr: number; loss: number; n: number; losses: number[] }
interface WidthResult { param: Param; width: number; cells: Cell[]; best: ReturnType<typeof bestLr> }
interface Drift { param: Param; slope: number; ci: [number, number] | null; widths: number; result: 'stays' | 'drifts' | 'unclear' }
interface Violation { lr: number; narrow: number; wide: number; narrowLoss: number; wideLoss: number }

function analyse(_store: Store, runs: StudyRun[]): Analysis {
  const widths = [...new Set(runs.map((r) => v<number>(r, 'width')!))].sort((a, b) => a - b);
  const lrs = [...new Set(runs.map((r) => v<number>(r, 'lr')!))].sort((a, b) => a - b);
  const seeds = new Set(runs.map((r) => v<number>(r, 'seed'))).size;
  const results: WidthResult[] = [];
  for (const param of ['sp', 'mup'] as const) {
    for (const width of widths) {
      const cells = lrs.map((lr) => {
        const ls = runs.filter((r) => v(r, 'param') === param && v(r, 'width') === width && v(r, 'lr') === lr).map((r) => finalOf(r));
        const ok = ls.filter((x): x is number => x !== null);
        // A cell counts only when every seed finished: a diverged seed means the lr is past the edge.
        return { lr, loss: ok.length && ok.length === ls.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN, n: ok.length, losses: ok };
      });
      results.push({ param, width, cells, best: bestLr(cells) });
    }
  }

  const drift = (param: Param): Drift => {
    const used = results.filter((r) => r.param === param && r.best?.bracketed);
    if (used.length < 2) return { param, slope: NaN, ci: null, widths: used.length, result: 'unclear' };
    const f = fitLine(used.map((r) => Math.log(r.width)), used.map((r) => Math.log(r.best!.lr)));
    const ci: [number, number] | null = Number.isFinite(f.slopeCi[0]) ? f.slopeCi : null;
    const result = !ci ? 'unclear' : ci[0] >= -driftSlope && ci[1] <= driftSlope ? 'stays' : ci[0] > driftSlope || ci[1] < -driftSlope ? 'drifts' : 'unclear';
    return { param, slope: f.slope, ci, widths: used.length, result };
  };
  const dMup = drift('mup'), dSp = drift('sp');

  // Wider is better under muP: every neighbouring pair of widths at every lr the narrower finished,
  // judged against the seed noise pooled over all cells.
  const pooled = pooledSd(results.flatMap((r) => r.cells));
  const violations: Violation[] = [];
  let comparisons = 0, decided = 0;
  const mup = results.filter((r) => r.param === 'mup');
  for (const lr of lrs) {
    for (let i = 0; i + 1 < mup.length; i++) {
      const a = mup[i].cells.find((c) => c.lr === lr)!, b = mup[i + 1].cells.find((c) => c.lr === lr)!;
      if (!Number.isFinite(a.loss)) continue;
      comparisons++;
      const v = { lr, narrow: mup[i].width, wide: mup[i + 1].width, narrowLoss: a.loss, wideLoss: b.loss };
      if (!Number.isFinite(b.loss)) { violations.push(v); decided++; continue; }
      if (!pooled) continue;
      const half = studentTQuantile(0.975, pooled.df) * pooled.sd * Math.sqrt(1 / a.n + 1 / b.n);
      const margin = widerMargin * a.loss, diff = b.loss - a.loss;
      if (diff - half > margin) { violations.push(v); decided++; } else if (diff + half <= margin) decided++;
    }
  }
  const wider: 'holds' | 'fails' | 'unclear' = violations.length ? 'fails' : comparisons > 0 && decided === comparisons ? 'holds' : 'unclear';

  const showDrift = (d: Drift): string => Number.isFinite(d.slope) ? `${fmt(d.slope, 3)}${d.ci ? ` [${fmt(d.ci[0], 3)}, ${fmt(d.ci[1], 3)}]` : ' (no interval)'} over ${d.widths} widths` : `not estimable (${d.widths} bracketed widths)`;
  const showViolation = (x: Violation): string => `lr ${fmt(x.lr, 3)}: width ${x.wide} ${Number.isFinite(x.wideLoss) ? fmt(x.wideLoss) : 'diverged'} vs width ${x.narrow} ${fmt(x.narrowLoss)}`;
  const parts = [
    { name: 'muP\'s best lr stays put', ok: dMup.result === 'stays', bad: dMup.result === 'drifts', text: `muP drift slope ${showDrift(dMup)}` },
    { name: 'SP\'s best lr drifts', ok: dSp.result === 'drifts', bad: dSp.result === 'stays', text: `SP drift slope ${showDrift(dSp)}` },
    {
      name: 'wider is better under muP at every lr', ok: wider === 'holds', bad: wider === 'fails',
      text: wider === 'fails' ? `${violations.length} of ${comparisons} width steps are worse beyond noise: ${violations.slice(0, 3).map(showViolation).join('; ')}`
        : wider === 'holds' ? `${comparisons} width steps compared, none worse by more than ${widerMargin * 100}% (95% intervals, pooled seed sd ${fmt(pooled!.sd, 2)})`
          : pooled ? `${comparisons - decided} of ${comparisons} width steps are within noise of the ${widerMargin * 100}% margin (pooled seed sd ${fmt(pooled.sd, 2)})`
            : `one seed: no noise estimate, so only divergence could decide (${comparisons} width steps, none diverged)`,
    },
  ];
  let verdict: Verdict, reason: string;
  if (parts.some((p) => p.bad)) {
    verdict = 'not supported';
    reason = parts.filter((p) => p.bad).map((p) => `Not so that ${p.name}: ${p.text}.`).join(' ');
  } else if (parts.every((p) => p.ok)) {
    verdict = 'supported';
    reason = parts.map((p) => `${p.text}.`).join(' ');
  } else {
    verdict = 'inconclusive';
    reason = `Undecided at this scale: ${parts.filter((p) => !p.ok).map((p) => `${p.name} (${p.text})`).join('; ')}.`;
  }

  const evidence = [
    ...(['mup', 'sp'] as const).map((param) => `${paramName(param)} best lr by width: ${results.filter((r) => r.param === param).map((r) =>
      `${r.width}: ${r.best ? `${fmt(r.best.lr, 3)}${r.best.bracketed ? '' : ' (grid edge)'} at ${fmt(r.best.loss)}` : 'none'}`).join(', ')}.`),
    ...parts.map((p) => `${p.name[0].toUpperCase()}${p.name.slice(1)}: ${p.text} (${p.ok ? 'holds' : p.bad ? 'fails' : 'undecided'}).`),
  ];
  const failed = runs.filter((r) => finalOf(r) === null);
  const caveats = [
    `A drift slope of +-${fmt(driftSlope, 2)} moves the best lr by one grid step (2x) over an 8x range of widths; the grid spaces learning rates by factors of ${lrs.length > 1 ? fmt(lrs[1] / lrs[0], 2) : '-'}.`,
    'Width only: depth, batch size and training length are fixed; muP says nothing about transfer across them.',
    ...(seeds < 2 ? ['One seed per cell: no noise estimate, so "wider is better" can only fail by divergence, never hold.'] : ['The seed noise is pooled over all cells (assumed the same everywhere).']),
    ...(failed.length ? [`${failed.length} run(s) diverged or failed (${failed.slice(0, 6).map((r) => r.name).join(', ')}${failed.length > 6 ? ', ...' : ''}); their cells are missing.`] : []),
  ];
  return {
    verdict, reason, evidence, caveats,
    figures: figures(results, dMup, dSp),
    tables: tables(results, lrs),
    data: { drift: { mup: dMup, sp: dSp, threshold: driftSlope }, wider: { result: wider, comparisons, violations, margin: widerMargin }, widths: results },
  };
}

/** The seed standard deviation pooled over cells with two or more finished seeds, with its degrees of freedom. */
function pooledSd(cells: Cell[]): { sd: number; df: number } | null {
  let ss = 0, df = 0;
  for (const c of cells) {
    if (c.losses.length < 2 || !Number.isFinite(c.loss)) continue;
    const m = c.losses.reduce((a, b) => a + b, 0) / c.losses.length;
    ss += c.losses.reduce((a, b) => a + (b - m) ** 2, 0);
    df += c.losses.length - 1;
  }
  return df > 0 ? { sd: Math.sqrt(ss / df), df } : null;
}

function figures(results: WidthResult[], dMup: Drift, dSp: Drift): Figure[] {
  const figs: Figure[] = [];
  for (const param of ['sp', 'mup'] as const) {
    const mine = results.filter((r) => r.param === param);
    const lines: LineRow[] = mine.flatMap((r) => r.cells.filter((c) => Number.isFinite(c.loss)).map((c) => ({ series: `width ${r.width}`, run: `w${r.width}`, x: c.lr, y: c.loss })));
    const best: PointRow[] = mine.filter((r) => r.best).map((r) => ({ series: `width ${r.width}`, x: r.best!.lr, y: r.best!.loss, label: `best lr, width ${r.width}` }));
    figs.push({
      id: `loss-vs-lr-${param}`, title: `${paramName(param)}: final validation loss against learning rate, per width`,
      caption: 'Mean over seeds; the extra point on each curve marks its best learning rate (parabola vertex). Missing points diverged.',
      spec: linesAndPoints(lines, [...lines.map((l) => ({ series: l.series, x: l.x, y: l.y })), ...best], { xTitle: 'peak learning rate', yTitle: 'final validation loss', logX: true, colorTitle: 'width' }),
    });
  }
  const pts: PointRow[] = results.filter((r) => r.best).map((r) => ({ series: paramName(r.param), x: r.width, y: r.best!.lr, label: `${paramName(r.param)} width ${r.width}${r.best!.bracketed ? '' : ' (grid edge)'}` }));
  const lines: LineRow[] = [];
  for (const d of [dMup, dSp]) {
    if (!Number.isFinite(d.slope)) continue;
    const used = results.filter((r) => r.param === d.param && r.best?.bracketed);
    const x0 = used.reduce((a, r) => a + Math.log(r.width), 0) / used.length, y0 = used.reduce((a, r) => a + Math.log(r.best!.lr), 0) / used.length;
    for (const r of results.filter((x) => x.param === d.param)) lines.push({ series: paramName(d.param), run: d.param, x: r.width, y: Math.exp(y0 + d.slope * (Math.log(r.width) - x0)) });
  }
  figs.push({
    id: 'best-lr-vs-width', title: 'Best learning rate against width',
    caption: 'Points: each width\'s best learning rate; lines: the least-squares drift over the bracketed widths. Flat: the lr transfers.',
    spec: linesAndPoints(lines, pts, { xTitle: 'width (dModel)', yTitle: 'best learning rate', logX: true, logY: true, colorTitle: 'parametrization' }),
  });
  return figs;
}

function tables(results: WidthResult[], lrs: number[]): ReportTable[] {
  return (['sp', 'mup'] as const).map((param) => {
    const mine = results.filter((r) => r.param === param);
    return {
      title: `${paramName(param)}: mean final validation loss, learning rate (rows) x width (columns)`,
      header: ['lr', ...mine.map((r) => `width ${r.width}`)],
      rows: [
        ...lrs.map((lr) => [fmt(lr, 3), ...mine.map((r) => {
          const c = r.cells.find((x) => x.lr === lr)!;
          return Number.isFinite(c.loss) ? fmt(c.loss) : 'diverged/failed';
        })]),
        ['best lr', ...mine.map((r) => (r.best ? `${fmt(r.best.lr, 3)}${r.best.bracketed ? '' : ' (edge)'}` : '-'))],
      ],
    };
  });
}

export const mupTransfer: Study<TransferBudget> = {
  name: 'mup-transfer',
  title: 'muP learning-rate transfer across width, SP beside muP',
  claim,
  budgets,
  plan,
  analyse,
};
