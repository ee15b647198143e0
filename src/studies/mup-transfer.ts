// `study mup-transfer`: does the best learning rate transfer across width under muP?
//
// Plan: a learning-rate sweep (7+ values, factor 2 apart) at 4+ widths spanning 8x or more, in
// each arm of the budget, every run the same steps and tokens (cosine to 10% after a warm-up),
// gradient clipping off (a global-norm clip rescales the update by a width-dependent factor, as
// the coord check notes). The arms, named in every report line:
//   sp       standard parametrization, every matrix N(0, 0.02^2) (GPT-2's constant std)
//   sp-tp5   Tensor Programs V's standard parametrization: variance 1/fan-in (model.initScheme 'fan-in')
//   mup      muP (src/models/mup.ts), base width = the narrowest, set up as Tensor Programs V
//            recommends: untied head, readout and query rows initialised at zero (muPSetup)
// Every arm uses the same architecture (an untied head), so the arms differ only in parametrization.
//
// The grid is adaptive (plan(budget, results)): where a width's lowest mean loss lies at an end of
// its lr grid (not next to a diverged lr), the grid is extended by one more factor-2 step on that
// side, up to `maxExtend` steps per side; an optimum still at the edge after that stays in the
// analysis as evidence of drift (its best lr is a bound, not a vertex), never dropped.
//
// Analysis, per arm and width: the mean final validation loss per lr over seeds (a cell with any
// diverged seed counts as diverged: that lr is past the edge), and the best lr (parabola vertex in
// log lr through the grid's lowest loss and its neighbours; at the grid's edge the edge lr).
// Drift: the slope of ln lr* on ln width, least squares over every width. Its 95% interval comes
// from bootstrapping the whole pipeline (cells -> best lr per width -> slope): over seeds when
// there are 5 or more; with 2-4 seeds a parametric bootstrap that redraws each cell's mean from
// the seed noise pooled over all cells (too few seeds to resample them); with one seed none.
// A slope of +-1/3 moves lr* by a factor 2 (one grid step) over an 8x width range; so:
//   muP stays put   the slope's interval lies within +-1/3 and no width's optimum is at the grid's edge
//                   (fails: wholly outside)
//   SP drifts       the slope's interval lies wholly outside +-1/3 (fails: wholly within); judged on
//                   the first SP arm of the budget, the others reported beside it
//   wider is better under muP at every lr: at each lr where the narrower model finished, the next
//                   wider one is not worse by more than 0.5% of the loss. Noise: the seed spread,
//                   pooled over every cell (seeds >= 2), gives each difference a 95% t-interval; a
//                   pair holds when its upper end is within the margin, fails when its lower end
//                   is beyond it or the wider model diverged; with one seed only divergence decides.
// Supported when all three hold; not supported when any fails; inconclusive otherwise.
// Transfer regret, per arm and width (evidence): the loss at the lr that was best at the base
// width (its grid lr) minus the width's own lowest loss, with the same bootstrap's interval.

import { fitLine, percentileInterval, studentTQuantile } from '../lab/fit/stats.js';
import type { Figure } from '../lab/presentation/plots.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import { linesAndPoints, type LineRow, type PointRow } from './figures.js';
import { bestLr, finalOf, fmt, v } from './stats.js';
import { planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';
import { Rng } from '../base/random.js';

export type Arm = 'sp' | 'sp-tp5' | 'mup';

export interface TransferBudget {
  /** The parametrizations compared (module header); the first SP arm decides "SP drifts". */
  arms: Arm[];
  widths: number[];
  nLayer: number;
  nHead: number;
  batchSize: number;
  context: number;
  steps: number;
  warmupSteps: number;
  /** The starting grid, factor 2 apart; extended adaptively past an edge optimum. */
  lrs: number[];
  /** Grid steps the plan may add on each side of `lrs`, per arm and width. */
  maxExtend: number;
  seeds: number[];
  evalBatches: number;
  categories?: string[];
}

/** The drift slope (ln lr* per ln width) that moves lr* by one factor-2 grid step over 8x in width. */
export const driftSlope = 1 / 3;
/** "Not worse" between neighbouring widths: within this fraction of the loss. */
export const widerMargin = 0.005;
/** Bootstrap resamples of the whole pipeline. */
const resamples = 400;

/**
 * What a careful muP user runs (Tensor Programs V, section on practical recommendations; the
 * `mup` package's examples): an untied head whose readout starts at zero, and query rows starting
 * at zero. The head is untied in every arm, so the arms share one architecture.
 */
export const mupSetup = { readoutZeroInit: true, queryZeroInit: true } as const;
export const untiedHead = { 'model.tiedEmbeddings': false } as const;

const budgets: Record<Budget, TransferBudget> = {
  smoke: {
    arms: ['sp', 'sp-tp5', 'mup'], widths: [16, 32], nLayer: 1, nHead: 2, batchSize: 4, context: 32, steps: 20, warmupSteps: 2, lrs: [8e-3, 3.2e-2], maxExtend: 1,
    seeds: [0], evalBatches: 2, categories: ['news'],
  },
  small: {
    arms: ['sp', 'mup'], widths: [32, 64, 128, 256], nLayer: 2, nHead: 4, batchSize: 16, context: 64, steps: 300, warmupSteps: 30,
    lrs: [5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2], maxExtend: 3, seeds: [0, 1], evalBatches: 16,
  },
  full: {
    arms: ['sp', 'sp-tp5', 'mup'], widths: [32, 64, 128, 256, 512], nLayer: 2, nHead: 4, batchSize: 16, context: 64, steps: 1000, warmupSteps: 50,
    lrs: [1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2], maxExtend: 3, seeds: [0, 1, 2, 3, 4], evalBatches: 32,
  },
};

const claim = 'Under muP the best learning rate stays put as the width grows, while under the standard parametrization it drifts; ' +
  'and under muP a wider model is better at every learning rate.';

/** An arm's name in reports, saying which parametrization and init it uses. */
export const armName = (a: Arm): string => (a === 'sp' ? 'SP (constant std 0.02)' : a === 'sp-tp5' ? 'SP (TP5: variance 1/fan-in)' : 'muP (zero readout and query)');

/** Model overrides of an arm (on top of the untied head every arm has). */
function armModel(arm: Arm, baseWidth: number): Record<string, unknown> {
  if (arm === 'sp-tp5') return { 'model.initScheme': 'fan-in' };
  if (arm === 'mup') return { 'model.mup': { baseWidth, ...mupSetup } };
  return {};
}

const roundLr = (x: number): number => Number(x.toPrecision(6));

/** A run that has a result: done, or failed (diverged). Pending, running and interrupted runs do not count yet. */
const finished = (r: StudyRun): boolean => r.record.status === 'done' || r.record.status === 'failed';

/**
 * The grid of one arm and width: the budget's lrs, extended one factor-2 step at a time past an
 * edge optimum while every seed of every cell so far has finished (so the plan is a function of
 * the results: asked again with the same results it gives the same runs).
 */
export function gridOf(b: Pick<TransferBudget, 'lrs' | 'maxExtend' | 'seeds'>, results: StudyRun[]): number[] {
  const ratio = b.lrs.length > 1 ? b.lrs[1] / b.lrs[0] : 2;
  const grid = [...b.lrs];
  for (let below = 0, above = 0; ;) {
    const cells = grid.map((lr) => {
      const rs = results.filter((r) => v(r, 'lr') === lr);
      return { lr, rs, loss: cellMean(rs) };
    });
    if (cells.some((c) => c.rs.filter(finished).length < b.seeds.length)) return grid;
    const best = bestLr(cells);
    if (!best || best.bracketed) return grid;
    if (best.gridLr === grid[0] && below < b.maxExtend) { grid.unshift(roundLr(grid[0] / ratio)); below++; continue; }
    if (best.gridLr === grid[grid.length - 1] && above < b.maxExtend) { grid.push(roundLr(grid[grid.length - 1] * ratio)); above++; continue; }
    return grid; // at the edge of a diverged neighbour, or the extension is used up
  }
}

/** Mean final loss of a cell's finished seeds (weights per seed when given); NaN when any weighted seed diverged or none finished. */
function cellMean(rs: StudyRun[], weights?: Map<number, number>): number {
  let s = 0, w = 0;
  for (const r of rs.filter(finished)) {
    const k = weights ? weights.get(v<number>(r, 'seed')!) ?? 0 : 1;
    if (k === 0) continue;
    const x = finalOf(r);
    if (x === null) return NaN;
    s += k * x; w += k;
  }
  return w > 0 ? s / w : NaN;
}

function plan(budget: Budget, results: StudyRun[] = []): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const base = studyBase({ dModel: b.widths[0], nLayer: b.nLayer, nHead: b.nHead, batchSize: b.batchSize, context: b.context, lr: b.lrs[0], evalBatches: b.evalBatches, categories: b.categories });
  const runs: PlannedRun[] = [];
  for (const arm of b.arms) {
    for (const width of b.widths) {
      const grid = gridOf(b, results.filter((r) => v(r, 'param') === arm && v(r, 'width') === width));
      for (const lr of grid) {
        for (const seed of b.seeds) {
          runs.push({
            run: `${arm}-w${width}-lr${lr}-s${seed}`,
            set: {
              'model.dModel': width, ...untiedHead, ...armModel(arm, b.widths[0]),
              lr, seed, steps: b.steps, clip: 0, schedule: { kind: 'cosine', warmupSteps: b.warmupSteps, minLrRatio: 0.1 },
            },
            vars: { param: arm, width, lr, seed },
          });
        }
      }
    }
  }
  return planSweep({ study: 'mup-transfer', budget, base, runs });
}

// ---- analysis --------------------------------------------------------------------------------

interface Cell { lr: number; loss: number; n: number; losses: number[] }
interface WidthResult { param: Arm; width: number; cells: Cell[]; best: ReturnType<typeof bestLr> }
interface Drift {
  param: Arm; slope: number; ci: [number, number] | null; widths: number;
  /** Widths whose optimum is at an edge of their (extended) grid: their best lr is a bound. */
  edges: number[];
  result: 'stays' | 'drifts' | 'unclear';
}
interface Regret { param: Arm; width: number; lr: number; regret: number; ci: [number, number] | null }
interface Violation { lr: number; narrow: number; wide: number; narrowLoss: number; wideLoss: number }
type BootMode = 'seeds' | 'parametric' | 'none';

/** Every arm's widths: cells over the arm-width's own grid (finished runs only), best lr. */
function widthResults(runs: StudyRun[], arms: Arm[], widths: number[], cellLoss: (rs: StudyRun[], arm: Arm, width: number, lr: number) => number): WidthResult[] {
  const out: WidthResult[] = [];
  for (const param of arms) {
    for (const width of widths) {
      const mine = runs.filter((r) => v(r, 'param') === param && v(r, 'width') === width && finished(r));
      const lrs = [...new Set(mine.map((r) => v<number>(r, 'lr')!))].sort((a, b) => a - b);
      const cells = lrs.map((lr) => {
        const rs = mine.filter((r) => v(r, 'lr') === lr);
        const losses = rs.map((r) => finalOf(r)).filter((x): x is number => x !== null);
        return { lr, loss: cellLoss(rs, param, width, lr), n: losses.length, losses };
      });
      out.push({ param, width, cells, best: bestLr(cells) });
    }
  }
  return out;
}

/** Least-squares slope of ln lr* on ln width over every width with a best lr (edge ones included: a bound is still evidence). */
function driftSlopeOf(results: WidthResult[], param: Arm): number {
  const used = results.filter((r) => r.param === param && r.best);
  return used.length >= 2 ? fitLine(used.map((r) => Math.log(r.width)), used.map((r) => Math.log(r.best!.lr))).slope : NaN;
}

/** Loss at the base width's best grid lr minus the width's own lowest loss (Infinity when that lr diverged there). */
function regretsOf(results: WidthResult[], param: Arm): { width: number; lr: number; regret: number }[] {
  const mine = results.filter((r) => r.param === param);
  const base = mine[0]?.best;
  if (!base) return [];
  return mine.filter((r) => r.best).map((r) => {
    const c = r.cells.find((x) => x.lr === base.gridLr);
    return { width: r.width, lr: base.gridLr, regret: c ? (Number.isFinite(c.loss) ? c.loss - r.best!.loss : Infinity) : NaN };
  });
}

function analyse(_store: Store, all: StudyRun[]): Analysis {
  const runs = all.filter(finished);
  const widths = [...new Set(all.map((r) => v<number>(r, 'width')!))].sort((a, b) => a - b);
  const arms = (['sp', 'sp-tp5', 'mup'] as const).filter((a) => all.some((r) => v(r, 'param') === a));
  const seedList = [...new Set(runs.map((r) => v<number>(r, 'seed')!))].sort((a, b) => a - b);
  const seeds = seedList.length;
  const results = widthResults(runs, arms, widths, (rs) => cellMean(rs));
  const pooled = pooledSd(results.flatMap((r) => r.cells));

  // The whole pipeline bootstrapped: cells -> best lr per width -> drift slope and regrets.
  const mode: BootMode = seeds >= 5 ? 'seeds' : seeds >= 2 && pooled ? 'parametric' : 'none';
  const rng = new Rng(23);
  const bootSlopes = new Map<Arm, number[]>(arms.map((a) => [a, []]));
  const bootRegrets = new Map<string, number[]>();
  for (let i = 0; mode !== 'none' && i < resamples; i++) {
    let again: WidthResult[];
    if (mode === 'seeds') {
      const w = new Map<number, number>();
      for (let k = 0; k < seeds; k++) { const s = seedList[rng.scaledInt(seeds)]; w.set(s, (w.get(s) ?? 0) + 1); }
      again = widthResults(runs, arms, widths, (rs) => cellMean(rs, w));
    } else {
      const byKey = new Map(results.map((r) => [`${r.param}/${r.width}`, r]));
      again = widthResults(runs, arms, widths, (_rs, arm, width, lr) => {
        const c = byKey.get(`${arm}/${width}`)!.cells.find((x) => x.lr === lr)!;
        return Number.isFinite(c.loss) ? c.loss + pooled!.sd / Math.sqrt(Math.max(1, c.n)) * rng.normal() : NaN;
      });
    }
    for (const a of arms) {
      const s = driftSlopeOf(again, a);
      if (Number.isFinite(s)) bootSlopes.get(a)!.push(s);
      for (const g of regretsOf(again, a)) {
        const key = `${a}/${g.width}`;
        (bootRegrets.get(key) ?? bootRegrets.set(key, []).get(key)!).push(g.regret);
      }
    }
  }

  const drift = (param: Arm): Drift => {
    const used = results.filter((r) => r.param === param && r.best);
    const edges = used.filter((r) => !r.best!.bracketed).map((r) => r.width);
    const slope = driftSlopeOf(results, param);
    const boot = bootSlopes.get(param) ?? [];
    const ci: [number, number] | null = Number.isFinite(slope) && boot.length >= resamples / 2 ? percentileInterval(boot) : null;
    const within = ci !== null && ci[0] >= -driftSlope && ci[1] <= driftSlope;
    const outside = ci !== null && (ci[0] > driftSlope || ci[1] < -driftSlope);
    // An optimum at the grid's edge is evidence of drift: "stays" cannot be concluded while one remains.
    const result = outside ? 'drifts' : within && edges.length === 0 ? 'stays' : 'unclear';
    return { param, slope, ci, widths: used.length, edges, result };
  };
  const drifts = arms.map(drift);
  const dMup = drifts.find((d) => d.param === 'mup') ?? { param: 'mup' as const, slope: NaN, ci: null, widths: 0, edges: [], result: 'unclear' as const };
  const spArm = arms.find((a) => a !== 'mup') ?? 'sp';
  const dSp = drifts.find((d) => d.param === spArm) ?? { param: spArm, slope: NaN, ci: null, widths: 0, edges: [], result: 'unclear' as const };

  const regrets: Regret[] = arms.flatMap((a) => regretsOf(results, a).map((g) => {
    const boot = (bootRegrets.get(`${a}/${g.width}`) ?? []).filter(Number.isFinite);
    return { param: a, ...g, ci: Number.isFinite(g.regret) && boot.length >= resamples / 2 ? percentileInterval(boot) : null };
  }));

  // Wider is better under muP: every neighbouring pair of widths at every lr the narrower finished,
  // judged against the seed noise pooled over all cells.
  const violations: Violation[] = [];
  let comparisons = 0, decided = 0;
  const mup = results.filter((r) => r.param === 'mup');
  const mupLrs = [...new Set(mup.flatMap((r) => r.cells.map((c) => c.lr)))].sort((a, b) => a - b);
  for (const lr of mupLrs) {
    for (let i = 0; i + 1 < mup.length; i++) {
      const a = mup[i].cells.find((c) => c.lr === lr), b = mup[i + 1].cells.find((c) => c.lr === lr);
      if (!a || !b || !Number.isFinite(a.loss)) continue;
      comparisons++;
      const x = { lr, narrow: mup[i].width, wide: mup[i + 1].width, narrowLoss: a.loss, wideLoss: b.loss };
      if (!Number.isFinite(b.loss)) { violations.push(x); decided++; continue; }
      if (!pooled) continue;
      const half = studentTQuantile(0.975, pooled.df) * pooled.sd * Math.sqrt(1 / a.n + 1 / b.n);
      const margin = widerMargin * a.loss, diff = b.loss - a.loss;
      if (diff - half > margin) { violations.push(x); decided++; } else if (diff + half <= margin) decided++;
    }
  }
  const wider: 'holds' | 'fails' | 'unclear' = violations.length ? 'fails' : comparisons > 0 && decided === comparisons ? 'holds' : 'unclear';

  const bootText = mode === 'seeds' ? `95% interval from a bootstrap of the seeds through the whole pipeline`
    : mode === 'parametric' ? `95% interval from a parametric bootstrap of the whole pipeline (cell means redrawn from the pooled seed sd; ${seeds} seeds are too few to resample)`
      : 'no interval (one seed: no noise estimate)';
  const showDrift = (d: Drift): string => Number.isFinite(d.slope)
    ? `${fmt(d.slope, 3)}${d.ci ? ` [${fmt(d.ci[0], 3)}, ${fmt(d.ci[1], 3)}]` : ' (no interval)'} over ${d.widths} widths${d.edges.length ? `; the optimum of width(s) ${d.edges.join(', ')} is still at the edge of the extended grid (a bound, evidence of drift)` : ''}`
    : `not estimable (${d.widths} widths with a best lr)`;
  const showViolation = (x: Violation): string => `lr ${fmt(x.lr, 3)}: width ${x.wide} ${Number.isFinite(x.wideLoss) ? fmt(x.wideLoss) : 'diverged'} vs width ${x.narrow} ${fmt(x.narrowLoss)}`;
  const parts = [
    { name: 'muP\'s best lr stays put', ok: dMup.result === 'stays', bad: dMup.result === 'drifts', text: `${armName('mup')} drift slope ${showDrift(dMup)}` },
    { name: 'SP\'s best lr drifts', ok: dSp.result === 'drifts', bad: dSp.result === 'stays', text: `${armName(dSp.param)} drift slope ${showDrift(dSp)}` },
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

  const showRegret = (g: Regret): string => `${g.width}: ${g.regret === Infinity ? 'diverged' : Number.isFinite(g.regret) ? `${fmt(g.regret, 3)}${g.ci ? ` [${fmt(g.ci[0], 3)}, ${fmt(g.ci[1], 3)}]` : ''}` : 'lr not tried'}`;
  const evidence = [
    `Arms: ${arms.map(armName).join('; ')}. Every arm has an untied head; muP's base width is ${widths[0]}; gradient clipping is off.`,
    ...arms.map((param) => `${armName(param)} best lr by width: ${results.filter((r) => r.param === param).map((r) =>
      `${r.width}: ${r.best ? `${fmt(r.best.lr, 3)}${r.best.bracketed ? '' : ' (grid edge)'} at ${fmt(r.best.loss)}` : 'none'} (grid ${r.cells.length ? `${fmt(r.cells[0].lr, 3)}..${fmt(r.cells[r.cells.length - 1].lr, 3)}` : '-'})`).join(', ')}.`),
    ...parts.map((p) => `${p.name[0].toUpperCase()}${p.name.slice(1)}: ${p.text} (${p.ok ? 'holds' : p.bad ? 'fails' : 'undecided'}).`),
    ...drifts.filter((d) => d.param !== 'mup' && d.param !== dSp.param).map((d) => `Beside it (not part of the verdict), ${armName(d.param)} drift slope ${showDrift(d)} (${d.result}).`),
    `Drift intervals: ${bootText}.`,
    ...arms.map((param) => `${armName(param)} transfer regret (loss at the base width's best lr minus the width's own best loss), by width: ${regrets.filter((g) => g.param === param).map(showRegret).join(', ') || '-'}.`),
  ];
  const failed = all.filter((r) => r.record.status === 'failed');
  const pending = all.filter((r) => !finished(r));
  const caveats = [
    `A drift slope of +-${fmt(driftSlope, 2)} moves the best lr by one grid step (2x) over an 8x range of widths; grids step by factors of 2 and are extended past an edge optimum up to the budget's limit.`,
    'Width only: depth, batch size and training length are fixed; muP says nothing about transfer across them.',
    'Whether a wider muP model is better depends on setup choices (head tying with the 1/m readout, zero-inits, init scale, steps): `study mup-ablation` isolates them.',
    'The best lr of each width is a three-point parabola vertex; its uncertainty enters the drift interval through the bootstrap, not the scatter of the vertices.',
    ...(seeds < 2 ? ['One seed per cell: no noise estimate, so "wider is better" can only fail by divergence, never hold, and the drift has no interval.'] : ['The seed noise is pooled over all cells (assumed the same everywhere).']),
    ...(failed.length ? [`${failed.length} run(s) diverged or failed (${failed.slice(0, 6).map((r) => r.name).join(', ')}${failed.length > 6 ? ', ...' : ''}); a cell with any diverged seed counts as diverged.`] : []),
    ...(pending.length ? [`${pending.length} planned run(s) have no result yet and are left out.`] : []),
  ];
  return {
    verdict, reason, evidence, caveats,
    figures: figures(results, drifts, arms),
    tables: [...tables(results, arms), regretTable(regrets, arms, widths)],
    data: { arms, drift: { mup: dMup, sp: dSp, all: drifts, threshold: driftSlope, bootstrap: mode }, regrets, wider: { result: wider, comparisons, violations, margin: widerMargin }, widths: results },
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

function figures(results: WidthResult[], drifts: Drift[], arms: Arm[]): Figure[] {
  const figs: Figure[] = [];
  for (const param of arms) {
    const mine = results.filter((r) => r.param === param);
    const lines: LineRow[] = mine.flatMap((r) => r.cells.filter((c) => Number.isFinite(c.loss)).map((c) => ({ series: `width ${r.width}`, run: `w${r.width}`, x: c.lr, y: c.loss })));
    const best: PointRow[] = mine.filter((r) => r.best).map((r) => ({ series: `width ${r.width}`, x: r.best!.lr, y: r.best!.loss, label: `best lr, width ${r.width}` }));
    figs.push({
      id: `loss-vs-lr-${param}`, title: `${armName(param)}: final validation loss against learning rate, per width`,
      caption: 'Mean over seeds; the extra point on each curve marks its best learning rate (parabola vertex, or the grid edge). Missing points diverged.',
      spec: linesAndPoints(lines, [...lines.map((l) => ({ series: l.series, x: l.x, y: l.y })), ...best], { xTitle: 'peak learning rate', yTitle: 'final validation loss', logX: true, colorTitle: 'width' }),
    });
  }
  const pts: PointRow[] = results.filter((r) => r.best).map((r) => ({ series: armName(r.param), x: r.width, y: r.best!.lr, label: `${armName(r.param)} width ${r.width}${r.best!.bracketed ? '' : ' (grid edge)'}` }));
  const lines: LineRow[] = [];
  for (const d of drifts) {
    if (!Number.isFinite(d.slope)) continue;
    const used = results.filter((r) => r.param === d.param && r.best);
    const x0 = used.reduce((a, r) => a + Math.log(r.width), 0) / used.length, y0 = used.reduce((a, r) => a + Math.log(r.best!.lr), 0) / used.length;
    for (const r of results.filter((x) => x.param === d.param)) lines.push({ series: armName(d.param), run: d.param, x: r.width, y: Math.exp(y0 + d.slope * (Math.log(r.width) - x0)) });
  }
  figs.push({
    id: 'best-lr-vs-width', title: 'Best learning rate against width',
    caption: 'Points: each width\'s best learning rate (grid-edge points are bounds); lines: the least-squares drift over every width. Flat: the lr transfers.',
    spec: linesAndPoints(lines, pts, { xTitle: 'width (dModel)', yTitle: 'best learning rate', logX: true, logY: true, colorTitle: 'parametrization' }),
  });
  return figs;
}

function tables(results: WidthResult[], arms: Arm[]): ReportTable[] {
  return arms.map((param) => {
    const mine = results.filter((r) => r.param === param);
    const lrs = [...new Set(mine.flatMap((r) => r.cells.map((c) => c.lr)))].sort((a, b) => a - b);
    return {
      title: `${armName(param)}: mean final validation loss, learning rate (rows) x width (columns)`,
      header: ['lr', ...mine.map((r) => `width ${r.width}`)],
      rows: [
        ...lrs.map((lr) => [fmt(lr, 3), ...mine.map((r) => {
          const c = r.cells.find((x) => x.lr === lr);
          return !c ? 'not tried' : Number.isFinite(c.loss) ? fmt(c.loss) : 'diverged/failed';
        })]),
        ['best lr', ...mine.map((r) => (r.best ? `${fmt(r.best.lr, 3)}${r.best.bracketed ? '' : ' (edge)'}` : '-'))],
      ],
    };
  });
}

function regretTable(regrets: Regret[], arms: Arm[], widths: number[]): ReportTable {
  return {
    title: 'Transfer regret: loss at the base width\'s best lr minus the width\'s own best loss',
    caption: 'Zero: the lr tuned at the base width is as good as tuning at this width. Interval: the drift\'s bootstrap.',
    header: ['arm', ...widths.map((w) => `width ${w}`)],
    rows: arms.map((a) => [armName(a), ...widths.map((w) => {
      const g = regrets.find((x) => x.param === a && x.width === w);
      return !g ? '-' : g.regret === Infinity ? 'diverged' : Number.isFinite(g.regret) ? `${fmt(g.regret, 3)}${g.ci ? ` [${fmt(g.ci[0], 3)}, ${fmt(g.ci[1], 3)}]` : ''}` : 'lr not tried';
    })]),
  };
}

export const mupTransfer: Study<TransferBudget> = {
  name: 'mup-transfer',
  title: 'muP learning-rate transfer across width, SP beside muP',
  claim,
  budgets,
  plan,
  extend: true,
  analyse,
};
