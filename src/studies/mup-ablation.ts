// `study mup-ablation`: which muP choice decides whether a wider muP model is better?
//
// Why: at the small budget, mup-transfer's earlier muP arm (a tied head with muP's 1/m readout,
// no zero-inits) reached the same best loss at widths 32..256 while SP improved with width. A
// careful muP user would not run that setup; this study trains the narrowest and a wider width
// under several setups, each over its own lr grid, and compares the best loss each reaches:
//   sp                  reference: SP, constant std 0.02, untied head
//   tied                muP, tied head (muP's 1/m readout on the shared embedding), no zero-init
//   untied              muP, untied head, no zero-init
//   untied-zero-readout muP, untied head starting at zero
//   careful             muP, untied zero readout and query rows at zero (Tensor Programs V's advice; mup-transfer's default)
//   careful-fan-in      careful, with the base model initialised 1/fan-in (TP5's SP at the base width) instead of std 0.02
//   careful-base64      careful, base width 64 instead of the narrowest (the width the multipliers are 1 at)
//   careful-3x-steps    careful, three times the steps (and warm-up)
// Every run: no gradient clipping, cosine to 10%, the same tokens per step. Each setup's lr grid
// is extended past an edge optimum as in mup-transfer (gridOf), so "best" is a bracketed optimum
// where the budget allows.
//
// Per setup: the gain of width = the narrowest width's best loss minus the widest's (positive:
// wider is better), per seed (each seed's own best over the grid), with a t-interval over seeds.
// Claim: under the careful setup a wider model reaches a lower best loss. Supported when the
// careful gain's 95% interval lies above 0, not supported when at or below 0, inconclusive
// otherwise (one seed: always). The other setups are the finding: which choice makes the gain
// vanish, reported with their numbers whatever the verdict.
//
// Measured (small budget, one seed, 50 runs after two grid extensions; `windtunnel study
// mup-ablation --budget small` on the loaded shared two-core VM, 2026-12-03): best loss at width
// 32 -> 128 and the gain of width: sp 2.508 -> 2.497 (+0.011), careful-fan-in 2.662 -> 2.652
// (+0.011), careful 2.699 -> 2.690 (+0.008), untied 2.508 -> 2.504 (+0.004), tied 2.627 -> 2.640
// (-0.013), untied-zero-readout 2.671 -> 2.718 (-0.047). Single-seed loss-vs-lr curves are jagged
// (e.g. sp width 32: 2.561, 2.597, 2.508, 2.587 at lr 4e-3..3.2e-2), so gains of +-0.01 are within
// noise. What it shows: at 300 steps, without clipping and with an untied head, even SP gains little
// from width 32 -> 128 (the earlier 2.619 -> 2.397 was with a tied head and clipping at 1), so the
// flat muP curve is not evidence against muP by itself; the tied 1/m readout and the zero readout
// without zero queries are the setups that came out worse with width. Needs seeds (full budget).

import type { Figure } from '../lab/presentation/plots.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import { linesAndPoints, type LineRow, type PointRow } from './figures.js';
import { gridOf, untiedHead } from './mup-transfer.js';
import { bestLr, estimate, finalOf, fmt, fmtInterval, v, type Estimate } from './stats.js';
import { planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';

export const setups = ['sp', 'tied', 'untied', 'untied-zero-readout', 'careful', 'careful-fan-in', 'careful-base64', 'careful-3x-steps'] as const;
export type Setup = (typeof setups)[number];

export interface AblationBudget {
  setups: Setup[];
  widths: number[];
  nLayer: number;
  nHead: number;
  batchSize: number;
  context: number;
  steps: number;
  warmupSteps: number;
  lrs: number[];
  maxExtend: number;
  seeds: number[];
  evalBatches: number;
  categories?: string[];
}

const budgets: Record<Budget, AblationBudget> = {
  smoke: {
    setups: ['sp', 'tied', 'careful'], widths: [16, 32], nLayer: 1, nHead: 2, batchSize: 4, context: 32, steps: 20, warmupSteps: 2,
    lrs: [8e-3, 3.2e-2], maxExtend: 0, seeds: [0], evalBatches: 2, categories: ['news'],
  },
  // Sized for a loaded two-core machine: two widths (the gap was already wide at 128), one seed.
  small: {
    setups: ['sp', 'tied', 'untied', 'untied-zero-readout', 'careful', 'careful-fan-in'], widths: [32, 128], nLayer: 2, nHead: 4, batchSize: 16, context: 64,
    steps: 300, warmupSteps: 30, lrs: [4e-3, 8e-3, 1.6e-2], maxExtend: 2, seeds: [0], evalBatches: 16,
  },
  full: {
    setups: [...setups], widths: [32, 256], nLayer: 2, nHead: 4, batchSize: 16, context: 64,
    steps: 300, warmupSteps: 30, lrs: [2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2], maxExtend: 3, seeds: [0, 1, 2], evalBatches: 16,
  },
};

const claim = 'Under a careful muP setup (untied head with zero-initialised readout, query rows at zero) a wider model reaches a lower best loss than the narrowest one.';

/** The config overrides of a setup at a width. */
function setupOverrides(setup: Setup, b: AblationBudget): Record<string, unknown> {
  const base = b.widths[0];
  const careful = { baseWidth: base, readoutZeroInit: true, queryZeroInit: true };
  switch (setup) {
    case 'sp': return { ...untiedHead };
    case 'tied': return { 'model.tiedEmbeddings': true, 'model.mup': { baseWidth: base } };
    case 'untied': return { ...untiedHead, 'model.mup': { baseWidth: base } };
    case 'untied-zero-readout': return { ...untiedHead, 'model.mup': { baseWidth: base, readoutZeroInit: true } };
    case 'careful': return { ...untiedHead, 'model.mup': careful };
    case 'careful-fan-in': return { ...untiedHead, 'model.mup': careful, 'model.initScheme': 'fan-in' };
    case 'careful-base64': return { ...untiedHead, 'model.mup': { ...careful, baseWidth: 64 } };
    case 'careful-3x-steps': return { ...untiedHead, 'model.mup': careful, steps: 3 * b.steps, schedule: { kind: 'cosine', warmupSteps: 3 * b.warmupSteps, minLrRatio: 0.1 } };
  }
}

function plan(budget: Budget, results: StudyRun[] = []): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  const base = studyBase({ dModel: b.widths[0], nLayer: b.nLayer, nHead: b.nHead, batchSize: b.batchSize, context: b.context, lr: b.lrs[0], evalBatches: b.evalBatches, categories: b.categories });
  const runs: PlannedRun[] = [];
  for (const setup of b.setups) {
    for (const width of b.widths) {
      const grid = gridOf(b, results.filter((r) => v(r, 'setup') === setup && v(r, 'width') === width));
      for (const lr of grid) {
        for (const seed of b.seeds) {
          runs.push({
            run: `${setup}-w${width}-lr${lr}-s${seed}`,
            set: {
              'model.dModel': width, lr, seed, steps: b.steps, clip: 0, schedule: { kind: 'cosine', warmupSteps: b.warmupSteps, minLrRatio: 0.1 },
              ...setupOverrides(setup, b),
            },
            vars: { setup, width, lr, seed },
          });
        }
      }
    }
  }
  return planSweep({ study: 'mup-ablation', budget, base, runs });
}

// ---- analysis --------------------------------------------------------------------------------

interface SetupResult {
  setup: Setup;
  /** Per width: the mean-over-seeds cells and their best. */
  widths: { width: number; best: ReturnType<typeof bestLr>; cells: { lr: number; loss: number }[] }[];
  /** Narrowest minus widest best loss, per seed (each seed's own best over the grid). */
  gain: Estimate;
}

const finished = (r: StudyRun): boolean => r.record.status === 'done' || r.record.status === 'failed';

function cellsOf(runs: StudyRun[], seed?: number): { lr: number; loss: number }[] {
  const lrs = [...new Set(runs.map((r) => v<number>(r, 'lr')!))].sort((a, b) => a - b);
  return lrs.map((lr) => {
    const rs = runs.filter((r) => v(r, 'lr') === lr && (seed === undefined || v(r, 'seed') === seed));
    const xs = rs.map((r) => finalOf(r));
    // a diverged seed makes the cell diverged, as in mup-transfer
    return { lr, loss: xs.length && xs.every((x) => x !== null) ? (xs as number[]).reduce((a, c) => a + c, 0) / xs.length : NaN };
  });
}

function analyse(_store: Store, all: StudyRun[]): Analysis {
  const runs = all.filter(finished);
  const present = setups.filter((s) => all.some((r) => v(r, 'setup') === s));
  const widths = [...new Set(all.map((r) => v<number>(r, 'width')!))].sort((a, b) => a - b);
  const seeds = [...new Set(runs.map((r) => v<number>(r, 'seed')!))].sort((a, b) => a - b);
  const narrow = widths[0], wide = widths[widths.length - 1];
  const results: SetupResult[] = present.map((setup) => {
    const mine = runs.filter((r) => v(r, 'setup') === setup);
    const at = (w: number) => mine.filter((r) => v(r, 'width') === w);
    const perSeed = seeds.flatMap((s) => {
      const a = bestLr(cellsOf(at(narrow), s)), b = bestLr(cellsOf(at(wide), s));
      return a && b ? [a.loss - b.loss] : [];
    });
    return {
      setup,
      widths: widths.map((w) => { const cells = cellsOf(at(w)); return { width: w, cells, best: bestLr(cells) }; }),
      gain: estimate(perSeed),
    };
  });

  const careful = results.find((r) => r.setup === 'careful');
  let verdict: Verdict, reason: string;
  if (!careful || careful.gain.n === 0) {
    verdict = 'inconclusive';
    reason = 'The careful setup has no best loss at both widths.';
  } else if (!careful.gain.ci) {
    verdict = 'inconclusive';
    reason = `One seed: the careful setup's gain of width ${narrow} -> ${wide} is ${fmt(careful.gain.mean, 3)} nats with no interval; the setups' numbers below are the finding.`;
  } else if (careful.gain.ci[0] > 0) {
    verdict = 'supported';
    reason = `Under the careful setup width ${wide} beats width ${narrow} by ${fmtInterval(careful.gain, 3)} nats (95% t-interval over ${careful.gain.n} seeds).`;
  } else if (careful.gain.ci[1] <= 0) {
    verdict = 'not supported';
    reason = `Under the careful setup width ${wide} is no better than width ${narrow}: gain ${fmtInterval(careful.gain, 3)} nats (95% t-interval over ${careful.gain.n} seeds).`;
  } else {
    verdict = 'inconclusive';
    reason = `The careful setup's gain of width ${narrow} -> ${wide}, ${fmtInterval(careful.gain, 3)} nats, includes 0.`;
  }

  const showBest = (r: SetupResult, w: number): string => {
    const x = r.widths.find((y) => y.width === w)?.best;
    return x ? `${fmt(x.loss)} at lr ${fmt(x.lr, 3)}${x.bracketed ? '' : ' (grid edge)'}` : 'none';
  };
  const ranked = [...results].filter((r) => r.gain.n > 0).sort((a, b) => b.gain.mean - a.gain.mean);
  const sp = results.find((r) => r.setup === 'sp');
  const evidence = [
    ...results.map((r) => `${r.setup}: best loss width ${narrow} ${showBest(r, narrow)}, width ${wide} ${showBest(r, wide)}; gain of width ${r.gain.n ? fmtInterval(r.gain, 3) : 'n/a'}.`),
    ranked.length ? `Finding: gains of width, largest first: ${ranked.map((r) => `${r.setup} ${fmt(r.gain.mean, 3)}`).join(', ')}` +
      `${sp && sp.gain.n ? `; the SP reference gains ${fmt(sp.gain.mean, 3)}` : ''}. A setup whose gain is near 0 while SP's is clearly positive is the choice that makes wider muP models no better.` : 'Finding: no setup has a best loss at both widths.',
  ];
  const caveats = [
    `Two widths (${narrow} and ${wide}) and ${seeds.length} seed(s); the gain compares each width at its own best lr (grids extended past edge optima, up to the budget's limit).`,
    'A setup\'s gain depends on the training length: at a fixed, short step count a wider model may not yet use its width (careful-3x-steps tests this at the full budget).',
    'The embedding keeps a constant std in every setup (muP\'s rule for vector-like parameters); an embedding multiplier is not ablated here.',
    ...(all.some((r) => !finished(r)) ? [`${all.filter((r) => !finished(r)).length} planned run(s) have no result yet and are left out.`] : []),
  ];
  const lines: LineRow[] = [], pts: PointRow[] = [];
  for (const r of results) for (const w of r.widths) if (w.best) {
    lines.push({ series: r.setup, run: r.setup, x: w.width, y: w.best.loss });
    pts.push({ series: r.setup, x: w.width, y: w.best.loss });
  }
  const figures: Figure[] = [{
    id: 'best-loss-vs-width', title: 'Best loss over the lr grid against width, per setup',
    caption: 'Each width at its own best lr (mean over seeds). Falling lines: wider is better.',
    spec: linesAndPoints(lines, pts, { xTitle: 'width (dModel)', yTitle: 'best final validation loss', logX: true, colorTitle: 'setup' }),
  }];
  const tables: ReportTable[] = [{
    title: 'Best loss per setup and width, and the gain of width',
    header: ['setup', ...widths.map((w) => `width ${w}`), 'gain (narrow - wide)'],
    rows: results.map((r) => [r.setup, ...widths.map((w) => showBest(r, w)), r.gain.n ? fmtInterval(r.gain, 3) : '-']),
  }];
  return {
    verdict, reason, evidence, caveats, figures, tables,
    data: { widths, seeds: seeds.length, setups: results.map((r) => ({ setup: r.setup, gain: r.gain, best: r.widths.map((w) => ({ width: w.width, lr: w.best?.lr ?? null, loss: w.best?.loss ?? null, bracketed: w.best?.bracketed ?? false })) })) },
  };
}

export const mupAblation: Study<AblationBudget> = {
  name: 'mup-ablation',
  title: 'Which muP choice makes wider models better: head tying, zero-inits, init scale, base width, steps',
  claim,
  budgets,
  plan,
  extend: true,
  analyse,
};
