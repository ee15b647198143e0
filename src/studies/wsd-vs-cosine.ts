// `study wsd-vs-cosine`: does one WSD run, decayed from its stable phase at several lengths,
// replace a family of cosine runs trained to those lengths?
//
// Plan, per seed: a cosine run to each length L (warm-up, then cosine to 0); ONE WSD run (the
// trunk: the longest length with the shortest decay planned there, 1-sqrt by default) whose
// stable-phase checkpoints are branched (branchWsd) into a decay of ~10% of each length L,
// ending at L. The trunk checkpoints at the gcd of all branch points and keeps them all. At
// small and full budgets the longest length also gets decays of 2.5/5/10/20% of its steps and
// the decay shapes at 10% (linear, cosine, 1-sqrt, "exponential" = geometric to 1% of the peak,
// and MiniCPM's half-life form 0.5^((s-S)/T) with T = D/5), each branched from the same trunk.
// Peak lr: both schedules are swept over the budget's lr grid (a cosine family and a WSD trunk
// with its main decays per lr), and each length compares each schedule at its own best lr (tuned
// against tuned, as Hägele et al. 2024 do); the decay sweep runs at the reference lr only.
//
// Verdict, per length, on the seed-paired difference WSD - cosine of the final validation loss
// (same seed = same init and data order, so pairing removes most of the seed noise):
//   holds         upper end of its 95% t-interval <= margin (WSD at or below cosine, "at" meaning
//                 within margin = 0.5% of the cosine loss)
//   fails         lower end > margin (WSD above cosine by more than the margin, beyond noise)
//   inconclusive  otherwise, and always with one seed (no spread to compare with)
// The cost half of the claim is arithmetic, not evidence: with decays of a fraction f of each
// length, the family trains Lmax (1 - f) stable steps once plus f sum(L) decay steps, which is at
// most 1.5 Lmax for these plans by construction; the report states the sum and checks it, and the
// verdict rests on the losses. Supported when every length holds; not supported when any fails
// (or the arithmetic does); otherwise inconclusive.
//
// Cost: `windtunnel study list` (the lr sweep multiplies the cosine and main WSD runs by the
// number of peak lrs).

import type { Figure } from '../lab/presentation/plots.js';
import { curveChart, type CurveRow } from '../lab/presentation/plots.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import type { DecayShape } from '../training/schedules.js';
import { intervalChart, runCurve, type IntervalRow } from './figures.js';
import { compareAtOrBelow, estimate, finalOf, fmt, fmtEstimate, fmtInterval, groupBy, v, type Comparison, type Estimate } from './stats.js';
import { gcd, planSweep, studyBase, type Analysis, type Budget, type PlannedRun, type Study, type StudyRun, type Verdict } from './study.js';
import { fmtCount, fmtSci } from '../base/format.js';

export interface WsdBudget {
  model: { dModel: number; nLayer: number; nHead: number };
  batchSize: number;
  context: number;
  /** The reference peak lr: the decay sweep's, and the one the cost is counted at. */
  lr: number;
  /** Peak lrs both schedules are swept over (includes lr). */
  lrs: number[];
  warmupSteps: number;
  evalBatches: number;
  /** Training lengths in steps, ascending. */
  lengths: number[];
  seeds: number[];
  /** Extra decay fractions and shapes at the longest length (besides 10% 1-sqrt). */
  fractions: number[];
  shapes: DecayShape[];
  categories?: string[];
}

/** The decay of the comparison with cosine: 10% of the steps, 1-sqrt (Hägele et al. 2024's best). */
export const mainFraction = 0.1;
export const mainShape: DecayShape = '1-sqrt';
/** How close counts as "at": 0.5% of the cosine run's final loss. */
export const marginFraction = 0.005;
/** "About one run": the WSD family may cost at most this many runs of the longest length. */
export const maxFamilyRuns = 1.5;
/** Exponential decay cannot reach 0; it ends at this fraction of the peak lr (the others at 0). */
export const exponentialFloor = 0.01;
/** MiniCPM's half-life decay: the half-life as a fraction of the decay length (it ends at 0.5^5 ~ 3% of the peak, then 0). */
export const halfLifeFraction = 0.2;

const allShapes: DecayShape[] = ['linear', 'cosine', 'exponential', 'half-life', '1-sqrt'];

/** A decay shape's name in reports, saying which exponential form. */
export function shapeLabel(shape: DecayShape): string {
  if (shape === 'exponential') return 'exponential (geometric to 1% of the peak)';
  if (shape === 'half-life') return `half-life (MiniCPM, 0.5^((s-S)/T), T = ${pct(halfLifeFraction)}% of the decay)`;
  return shape;
}

const budgets: Record<Budget, WsdBudget> = {
  smoke: {
    model: { dModel: 16, nLayer: 1, nHead: 2 }, batchSize: 4, context: 32, lr: 3e-3, lrs: [3e-3, 6e-3], warmupSteps: 2, evalBatches: 2,
    lengths: [20, 40], seeds: [0], fractions: [], shapes: [], categories: ['news'],
  },
  small: {
    model: { dModel: 64, nLayer: 2, nHead: 4 }, batchSize: 16, context: 64, lr: 3e-3, lrs: [1.5e-3, 3e-3, 6e-3], warmupSteps: 20, evalBatches: 16,
    lengths: [200, 400, 600, 800], seeds: [0, 1, 2], fractions: [0.025, 0.05, 0.2], shapes: ['linear', 'cosine', 'exponential', 'half-life'],
  },
  full: {
    model: { dModel: 128, nLayer: 4, nHead: 4 }, batchSize: 16, context: 128, lr: 2e-3, lrs: [1e-3, 2e-3, 4e-3], warmupSteps: 50, evalBatches: 32,
    lengths: [600, 1200, 1800, 2400], seeds: [0, 1, 2, 3], fractions: [0.025, 0.05, 0.2], shapes: ['linear', 'cosine', 'exponential', 'half-life'],
  },
};

const pct = (f: number): string => `${+(f * 100).toPrecision(3)}`;
const decaySteps = (L: number, f: number): number => Math.max(1, Math.round(f * L));

function plan(budget: Budget): ReturnType<typeof planSweep> {
  const b = budgets[budget];
  if (!b.lrs.includes(b.lr)) throw new Error(`wsd-vs-cosine ${budget}: the reference lr ${b.lr} is not in the lr grid`);
  const Lmax = b.lengths[b.lengths.length - 1];
  const base = { ...studyBase({ ...b.model, batchSize: b.batchSize, context: b.context, lr: b.lr, evalBatches: b.evalBatches, categories: b.categories }) };
  const runs: PlannedRun[] = [];
  for (const seed of b.seeds) {
    for (const lr of b.lrs) {
      const ref = lr === b.lr;
      // Names at the reference lr stay as they were; the others say their lr.
      const tag = ref ? '' : `-lr${lr}`;
      // Every WSD run of the family: the main decay at each length; at the reference lr also the extra fractions and shapes at the longest.
      const members: { L: number; f: number; shape: DecayShape }[] = b.lengths.map((L) => ({ L, f: mainFraction, shape: mainShape }));
      if (ref) {
        for (const f of b.fractions) members.push({ L: Lmax, f, shape: mainShape });
        for (const shape of b.shapes) members.push({ L: Lmax, f: mainFraction, shape });
      }
      // The trunk: the longest length with the shortest decay there (its stable phase reaches every branch point).
      const fTrunk = Math.min(...members.filter((m) => m.L === Lmax && m.shape === mainShape).map((m) => m.f));
      const at = (m: { L: number; f: number }): number => m.L - decaySteps(m.L, m.f);
      const isTrunk = (m: { L: number; f: number; shape: DecayShape }): boolean => m.L === Lmax && m.f === fTrunk && m.shape === mainShape;
      const every = gcd(...members.filter((m) => !isTrunk(m)).map(at)) || Lmax;
      const wsdSchedule = (m: { L: number; f: number; shape: DecayShape }) => ({
        kind: 'wsd', warmupSteps: b.warmupSteps, decayShape: m.shape, decaySteps: decaySteps(m.L, m.f), minLrRatio: m.shape === 'exponential' ? exponentialFloor : 0,
        ...(m.shape === 'half-life' ? { halfLife: halfLifeFraction * decaySteps(m.L, m.f) } : {}),
      });
      for (const L of b.lengths) {
        runs.push({
          run: `cos-L${L}${tag}-s${seed}`,
          set: { seed, lr, steps: L, schedule: { kind: 'cosine', warmupSteps: b.warmupSteps, minLrRatio: 0 }, checkpointInterval: Math.max(50, Math.round(L / 4)) },
          vars: { role: 'cosine', length: L, seed, lr, ref },
        });
      }
      const name = (m: { L: number; f: number; shape: DecayShape }): string => `wsd-L${m.L}-d${pct(m.f)}-${m.shape}${tag}-s${seed}`;
      const trunk = members.find(isTrunk)!;
      for (const m of [trunk, ...members.filter((x) => !isTrunk(x))]) {
        runs.push({
          run: name(m),
          set: { seed, lr, steps: m.L, schedule: wsdSchedule(m), checkpointInterval: every, keepCheckpoints: 0 },
          vars: { role: 'wsd', length: m.L, fraction: m.f, shape: m.shape, seed, lr, ref, main: m.f === mainFraction && m.shape === mainShape, trunk: isTrunk(m) },
          from: isTrunk(m) ? undefined : { run: name(trunk), at: at(m) },
        });
      }
    }
  }
  return planSweep({ study: 'wsd-vs-cosine', budget, base, runs });
}

const claim = 'Each WSD decay, branched from one stable run at a given length, ends at or below the validation loss of a cosine run trained to that length, ' +
  'and the whole WSD family costs about one run (at most 1.5 runs of the longest length) instead of one run per length.';

// ---- analysis --------------------------------------------------------------------------------

interface LengthResult {
  length: number;
  tokens: number;
  /** Each schedule's best peak lr at this length (lowest mean final loss over the grid), and whether it lies at an end of the grid. */
  cosineLr: number;
  wsdLr: number;
  edges: string[];
  cosine: Estimate;
  wsd: Estimate;
  diff: Estimate;
  margin: number;
  result: Comparison;
  seeds: number[];
}

interface FamilyCost {
  /** Per seed, averaged over the seeds whose runs are all done. */
  steps: number;
  tokens: number;
  flops: number;
  /** In runs of the longest length. */
  runs: number;
}

/** Steps a run trained (its last logged step, less its branch point), its tokens per step and FLOPs per step. */
function spent(r: StudyRun): { steps: number; perStep: number; flopsPerStep: number } | null {
  if (r.record.status !== 'done') return null;
  const c = r.record.config as { steps?: number; batchSize?: number; context?: number; gradAccum?: number };
  const last = r.record.final?.step;
  if (typeof last !== 'number' || !c.steps) return null;
  const at = typeof r.point.$at === 'number' ? r.point.$at : 0;
  const perStep = (c.batchSize ?? 0) * (c.context ?? 0) * (c.gradAccum ?? 1);
  return { steps: last - at, perStep, flopsPerStep: (r.record.flops ?? 0) / c.steps };
}

function analyse(store: Store, runs: StudyRun[]): Analysis {
  const cos = runs.filter((r) => v(r, 'role') === 'cosine');
  const wsd = runs.filter((r) => v(r, 'role') === 'wsd');
  const main = wsd.filter((r) => v(r, 'main') === true);
  const lengths = [...new Set([...cos, ...main].map((r) => v<number>(r, 'length')!))].sort((a, b) => a - b);
  const lrs = [...new Set(runs.map((r) => v<number>(r, 'lr')!).filter((x) => x !== undefined))].sort((a, b) => a - b);
  // Runs without an lr variable (older plans) count as the reference lr.
  const isRef = (r: StudyRun): boolean => v(r, 'ref') !== false;
  /** The lr with the lowest mean final loss among `rs` (a cell with a failed seed is out: past the edge). */
  const bestOf = (rs: StudyRun[]): number => {
    let best = NaN, bestLoss = Infinity;
    for (const [lr, g] of groupBy(rs, (r) => v<number>(r, 'lr') ?? NaN)) {
      const xs = g.map((r) => finalOf(r));
      if (xs.some((x) => x === null)) continue;
      const m = (xs as number[]).reduce((a, b) => a + b, 0) / xs.length;
      if (m < bestLoss) { bestLoss = m; best = lr; }
    }
    return best;
  };
  const perStep = (() => {
    const c = (runs[0]?.record.config ?? {}) as { batchSize?: number; context?: number; gradAccum?: number };
    return (c.batchSize ?? 0) * (c.context ?? 0) * (c.gradAccum ?? 1);
  })();

  // End losses per length, paired by seed.
  const results: LengthResult[] = lengths.map((L) => {
    // Tuned against tuned: each schedule at its own best peak lr for this length.
    const cosL = cos.filter((r) => v(r, 'length') === L), wsdL = main.filter((r) => v(r, 'length') === L);
    const cosineLr = bestOf(cosL), wsdLr = bestOf(wsdL);
    const atLr = (lr: number) => (r: StudyRun): boolean => (v<number>(r, 'lr') ?? NaN) === lr || (Number.isNaN(lr) && v(r, 'lr') === undefined);
    const edges = lrs.length > 1 ? [['cosine', cosineLr], ['WSD', wsdLr]].filter(([, x]) => x === lrs[0] || x === lrs[lrs.length - 1]).map(([n, x]) => `${n} at ${fmt(x as number, 3)}`) : [];
    const c = new Map(cosL.filter(atLr(cosineLr)).map((r) => [v<number>(r, 'seed')!, finalOf(r)]));
    const w = new Map(wsdL.filter(atLr(wsdLr)).map((r) => [v<number>(r, 'seed')!, finalOf(r)]));
    const seeds = [...c.keys()].filter((s) => c.get(s) !== null && w.get(s) !== null && w.get(s) !== undefined).sort((a, b) => a - b);
    const cosine = estimate(seeds.map((s) => c.get(s)!)), wsdE = estimate(seeds.map((s) => w.get(s)!));
    const diff = estimate(seeds.map((s) => w.get(s)! - c.get(s)!));
    const margin = marginFraction * cosine.mean;
    return { length: L, tokens: L * perStep, cosineLr, wsdLr, edges, cosine, wsd: wsdE, diff, margin: Number.isFinite(margin) ? margin : 0, result: seeds.length ? compareAtOrBelow(diff, margin) : 'inconclusive', seeds };
  });

  // Compute: the WSD family shares its stable phase; the cosine family trains every length from scratch.
  const seedsAll = [...new Set(runs.map((r) => v<number>(r, 'seed')!))].sort((a, b) => a - b);
  const Lmax = lengths[lengths.length - 1] ?? 0;
  // The families at the reference lr (one family per lr; each costs the same).
  const costs = seedsAll.map((seed) => {
    const fam = main.filter((r) => v(r, 'seed') === seed && isRef(r)), cs = cos.filter((r) => v(r, 'seed') === seed && isRef(r));
    const sp = fam.map(spent), cp = cs.map(spent);
    if (fam.length === 0 || cs.length === 0 || sp.some((x) => x === null) || cp.some((x) => x === null)) return null;
    // Each member's decay starts at its branch point (the trunk: where its own decay starts); the
    // stable phase up to the last of them is trained once, then each decay on its own.
    const starts = fam.map((r) => {
      const c = r.record.config as { steps: number; schedule: { decaySteps: number } };
      return typeof r.point.$at === 'number' ? r.point.$at : c.steps - c.schedule.decaySteps;
    });
    const stable = Math.max(...starts);
    const decays = fam.reduce((a, r, i) => a + (sp[i]!.steps + (typeof r.point.$at === 'number' ? r.point.$at : 0) - starts[i]), 0);
    const wsdSteps = stable + decays, cosSteps = cp.reduce((a, x) => a + x!.steps, 0);
    return {
      wsd: { steps: wsdSteps, tokens: wsdSteps * perStep, flops: wsdSteps * sp[0]!.flopsPerStep, runs: wsdSteps / Lmax },
      cosine: { steps: cosSteps, tokens: cosSteps * perStep, flops: cp.reduce((a, x) => a + x!.steps * x!.flopsPerStep, 0), runs: cosSteps / Lmax },
    };
  }).filter((x): x is NonNullable<typeof x> => x !== null);
  const avg = (get: (c: (typeof costs)[number]) => FamilyCost): FamilyCost | null => costs.length === 0 ? null : {
    steps: costs.reduce((a, c) => a + get(c).steps, 0) / costs.length, tokens: costs.reduce((a, c) => a + get(c).tokens, 0) / costs.length,
    flops: costs.reduce((a, c) => a + get(c).flops, 0) / costs.length, runs: costs.reduce((a, c) => a + get(c).runs, 0) / costs.length,
  };
  const wsdCost = avg((c) => c.wsd), cosCost = avg((c) => c.cosine);
  const costHolds: Comparison = wsdCost === null ? 'inconclusive' : wsdCost.runs <= maxFamilyRuns ? 'holds' : 'fails';

  // Verdict.
  const fails = results.filter((r) => r.result === 'fails'), holds = results.filter((r) => r.result === 'holds');
  let verdict: Verdict, reason: string;
  const nSeeds = Math.max(0, ...results.map((r) => r.seeds.length));
  if (fails.length || costHolds === 'fails') {
    verdict = 'not supported';
    reason = [
      ...fails.map((r) => `At ${r.length} steps WSD ends above cosine by ${fmtInterval(r.diff)}, beyond the margin ${fmt(r.margin, 2)}.`),
      ...(costHolds === 'fails' ? [`By arithmetic, the planned WSD family costs ${fmt(wsdCost!.runs, 3)} runs of the longest length, more than ${maxFamilyRuns}.`] : []),
    ].join(' ');
  } else if (results.length > 0 && holds.length === results.length && costHolds === 'holds') {
    verdict = 'supported';
    reason = `WSD ends at or below cosine (within ${pct(marginFraction)}% of its loss, 95% intervals over ${nSeeds} paired seeds) at all ${results.length} lengths, ` +
      `each schedule at its own best peak lr; the cost half is arithmetic (the family trains ${fmt(wsdCost!.runs, 3)} runs of the longest length, cosine ${fmt(cosCost!.runs, 3)}).`;
  } else {
    verdict = 'inconclusive';
    const open = results.filter((r) => r.result === 'inconclusive');
    reason = nSeeds < 2
      ? `One seed per length: there is no seed spread to tell the differences (${results.map((r) => `${r.length} steps ${fmtInterval(r.diff)}`).join(', ')}) from noise.`
      : `At ${open.map((r) => `${r.length}`).join(', ')} steps the 95% interval of WSD - cosine straddles the margin (${open.map((r) => fmtInterval(r.diff)).join('; ')}): within noise at this scale.`;
    if (costHolds !== 'holds') reason += ' The cost could not be counted (runs missing).';
  }

  const evidence = results.map((r) => `${r.length} steps (${fmtCount(r.tokens)} tokens), each at its best peak lr (WSD ${fmt(r.wsdLr, 3)}, cosine ${fmt(r.cosineLr, 3)}): WSD ${fmtEstimate(r.wsd)} vs cosine ${fmtEstimate(r.cosine)}; ` +
    `WSD - cosine ${fmtInterval(r.diff)}, margin ${fmt(r.margin, 2)}: ${describe(r)}.`);
  if (lrs.length > 1) evidence.push(`Peak lrs swept for both schedules: ${lrs.map((x) => fmt(x, 3)).join(', ')}; each length compares each schedule at its own best (tuned against tuned).`);
  if (wsdCost && cosCost) {
    const fs = [...new Set(main.map((r) => v<number>(r, 'fraction')!))];
    evidence.push(`Arithmetic, not evidence (true by construction of the plan): with decays of ${fs.map((f) => `${pct(f)}%`).join(', ')} of each length, the family trains the stable phase of the longest length once plus each decay, ` +
      `(1 - f) Lmax + f sum(L) = ${fmt(wsdCost.steps)} steps against sum(L) = ${fmt(cosCost.steps)} for the cosine family, ${fmt(wsdCost.runs, 3)} runs of the longest length (at most ${maxFamilyRuns} by the claim). Per seed and peak lr, the WSD family trained ${fmt(wsdCost.steps)} steps (${fmtCount(wsdCost.tokens)} tokens, ${fmtSci(wsdCost.flops)} FLOPs; ` +
      `${fmt(wsdCost.runs, 3)} runs of the longest length), the cosine family ${fmt(cosCost.steps)} steps (${fmtCount(cosCost.tokens)} tokens, ${fmtSci(cosCost.flops)} FLOPs; ${fmt(cosCost.runs, 3)} runs): ` +
      `${fmt(cosCost.steps / wsdCost.steps, 3)}x less for WSD.`);
  }
  const sweep = decaySweep(wsd.filter(isRef), Lmax);
  if (sweep.rows.length > 1) evidence.push(sweep.summary);

  const caveats = [
    `Losses are the final validation loss over a fixed set of held-out windows; "at" means within ${pct(marginFraction)}% of the cosine loss.`,
    `Cosine decays to 0 (minLrRatio 0), as do the WSD decays except ${shapeLabel('exponential')} and ${shapeLabel('half-life')} (then 0 after the last step); both share the warm-up.`,
    ...(lrs.length > 1 ? ['Each schedule\'s best lr is picked on the same seeds it is then compared on, which flatters both a little (the same for both, at the same grid).'] : ['One peak lr: neither schedule is tuned.']),
    ...results.filter((r) => r.edges.length).map((r) => `At ${r.length} steps the best lr lies at an end of the grid (${r.edges.join(', ')}): that schedule may do better still beyond it.`),
    ...(nSeeds < 2 ? ['A single seed: the smoke budget checks the plumbing, not the claim.'] : []),
  ];
  const missing = runs.filter((r) => r.record.status !== 'done');
  if (missing.length) caveats.push(`${missing.length} run(s) did not finish (${missing.slice(0, 5).map((r) => `${r.name}: ${r.record.status}`).join(', ')}${missing.length > 5 ? ', ...' : ''}); they are left out.`);

  return {
    verdict, reason, evidence, caveats,
    figures: figures(store, runs, results, sweep.rows),
    tables: tables(results, wsdCost, cosCost, sweep.rows, runs),
    data: { lengths: results, cost: { wsd: wsdCost, cosine: cosCost, maxFamilyRuns, perSeed: costs }, decaySweep: sweep.rows, marginFraction },
  };
}

function describe(r: LengthResult): string {
  if (r.result === 'holds') return r.diff.ci && r.diff.ci[1] < 0 ? 'below' : 'at (within the margin)';
  if (r.result === 'fails') return 'ABOVE';
  return r.diff.ci ? 'within noise' : 'one seed, no interval';
}

interface DecayRow { fraction: number; shape: DecayShape; loss: Estimate; vsMain: Estimate }

/** The decay-length and shape sweep at the longest length: end loss per (fraction, shape), paired against the main decay. */
function decaySweep(wsd: StudyRun[], Lmax: number): { rows: DecayRow[]; summary: string } {
  const atMax = wsd.filter((r) => v(r, 'length') === Lmax);
  const key = (r: StudyRun): string => `${v(r, 'fraction')}|${v(r, 'shape')}`;
  const mainBySeed = new Map(atMax.filter((r) => v(r, 'main') === true).map((r) => [v<number>(r, 'seed')!, finalOf(r)]));
  const rows: DecayRow[] = [...groupBy(atMax, key).values()].map((g) => {
    const vals = g.map((r) => ({ seed: v<number>(r, 'seed')!, loss: finalOf(r) })).filter((x) => x.loss !== null);
    const paired = vals.filter((x) => typeof mainBySeed.get(x.seed) === 'number');
    return {
      fraction: v<number>(g[0], 'fraction')!, shape: v<DecayShape>(g[0], 'shape')!,
      loss: estimate(vals.map((x) => x.loss!)), vsMain: estimate(paired.map((x) => x.loss! - mainBySeed.get(x.seed)!)),
    };
  }).sort((a, b) => allShapes.indexOf(a.shape) - allShapes.indexOf(b.shape) || a.fraction - b.fraction);
  const scored = rows.filter((r) => Number.isFinite(r.loss.mean)).sort((a, b) => a.loss.mean - b.loss.mean);
  const best = scored[0];
  const summary = best
    ? `Decay length and shape at ${Lmax} steps (reference lr): best ${pct(best.fraction)}% ${shapeLabel(best.shape)} at ${fmtEstimate(best.loss)}` +
      (best.fraction === mainFraction && best.shape === mainShape ? ' (the default).' : `, ${fmtInterval(best.vsMain)} against the default ${pct(mainFraction)}% ${mainShape}.`) +
      ` Worst: ${pct(scored[scored.length - 1].fraction)}% ${shapeLabel(scored[scored.length - 1].shape)}, ${fmtInterval(scored[scored.length - 1].vsMain)} against the default.`
    : 'Decay length and shape: no finished runs.';
  return { rows, summary };
}

function figures(store: Store, runs: StudyRun[], results: LengthResult[], sweep: DecayRow[]): Figure[] {
  const figs: Figure[] = [];
  const band = (e: Estimate): { lo: number; hi: number } => e.ci ? { lo: e.ci[0], hi: e.ci[1] } : { lo: e.mean, hi: e.mean };
  const endRows: IntervalRow[] = results.flatMap((r) => [
    ...(r.cosine.n ? [{ series: 'cosine', x: r.tokens, y: r.cosine.mean, ...band(r.cosine), label: `cosine ${r.length} steps` }] : []),
    ...(r.wsd.n ? [{ series: `WSD (${pct(mainFraction)}% ${mainShape} decay, branched)`, x: r.tokens, y: r.wsd.mean, ...band(r.wsd), label: `WSD ${r.length} steps` }] : []),
  ]);
  if (endRows.length) {
    figs.push({
      id: 'end-loss', title: 'Final validation loss against training length',
      caption: 'Mean over seeds with 95% t-intervals (a single seed has none). WSD decays branch from one stable run per seed.',
      spec: intervalChart(endRows, { xTitle: 'training tokens', yTitle: 'final validation loss', colorTitle: 'schedule', logX: true }),
    });
  }
  const diffRows: IntervalRow[] = results.filter((r) => r.diff.n).map((r) => ({ series: 'WSD - cosine', x: r.tokens, y: r.diff.mean, ...band(r.diff), label: `${r.length} steps` }));
  const marginRows: IntervalRow[] = results.filter((r) => r.diff.n).map((r) => ({ series: 'margin ("at")', x: r.tokens, y: r.margin, lo: r.margin, hi: r.margin }));
  if (diffRows.length) {
    figs.push({
      id: 'difference', title: 'WSD minus cosine, paired by seed',
      caption: 'Below the margin line with the whole interval: the claim holds at that length; above it with the whole interval: it fails.',
      spec: intervalChart([...diffRows, ...marginRows], { xTitle: 'training tokens', yTitle: 'final loss difference', colorTitle: '', logX: true }),
    });
  }
  // Curves of the first seed: every cosine run, the trunk, and each branch from its branch point.
  const seed = Math.min(...runs.map((r) => v<number>(r, 'seed')!));
  const shown = runs.filter((r) => v(r, 'seed') === seed && (v(r, 'role') === 'cosine' || v(r, 'main') === true || v(r, 'trunk') === true));
  const label = (r: StudyRun): string => v(r, 'role') === 'cosine' ? `cosine ${v(r, 'length')}` : `WSD ${v(r, 'length')} (${pct(v<number>(r, 'fraction')!)}% ${v(r, 'shape')})`;
  const lossRows: CurveRow[] = [], lrRows: CurveRow[] = [];
  for (const r of shown) {
    const from = typeof r.point.$at === 'number' ? r.point.$at - 1 : -1;
    for (const p of runCurve(store, r.id, { from, smoothing: 0.8 })) lossRows.push({ run: r.id, series: label(r), x: p.x, y: p.y });
    for (const p of runCurve(store, r.id, { key: 'lr', from })) lrRows.push({ run: r.id, series: label(r), x: p.x, y: p.y });
  }
  if (lossRows.length) {
    figs.push({
      id: 'loss-curves', title: `Training loss, seed ${seed}`, caption: 'Smoothed (debiased EMA 0.8). Each WSD branch is drawn from its branch point; before it, it is the trunk.',
      spec: curveChart(lossRows, { xTitle: 'step', yTitle: 'training loss', logY: true, colorTitle: 'run' }),
    });
    figs.push({ id: 'lr', title: `Learning rate, seed ${seed}`, spec: curveChart(lrRows, { xTitle: 'step', yTitle: 'learning rate', colorTitle: 'run' }) });
  }
  const fr = sweep.filter((r) => r.shape === mainShape && r.loss.n), sh = sweep.filter((r) => r.fraction === mainFraction && r.loss.n);
  if (fr.length > 1) {
    figs.push({
      id: 'decay-fraction', title: 'Decay length at the longest length', caption: `${mainShape} decays; mean final validation loss with 95% intervals.`,
      spec: intervalChart(fr.map((r) => ({ series: mainShape, x: r.fraction * 100, y: r.loss.mean, ...band(r.loss) })), { xTitle: 'decay length (% of steps)', yTitle: 'final validation loss', colorTitle: 'shape' }),
    });
  }
  if (sh.length > 1) {
    figs.push({
      id: 'decay-shape', title: 'Decay shape at the longest length', caption: `${pct(mainFraction)}% decays; mean final validation loss with 95% intervals.`,
      spec: intervalChart(sh.map((r) => ({ series: 'shape', x: shapeLabel(r.shape), y: r.loss.mean, ...band(r.loss) })), { xTitle: 'decay shape', yTitle: 'final validation loss', colorTitle: '', connect: false }),
    });
  }
  return figs;
}

function tables(results: LengthResult[], wsdCost: FamilyCost | null, cosCost: FamilyCost | null, sweep: DecayRow[], runs: StudyRun[]): ReportTable[] {
  const out: ReportTable[] = [{
    title: 'Final validation loss per length',
    caption: `Mean ± half the 95% t-interval over seeds; the difference is paired by seed. Margin: ${pct(marginFraction)}% of the cosine loss.`,
    header: ['steps', 'tokens', 'seeds', 'cosine', 'WSD', 'WSD - cosine [95% CI]', 'margin', 'result'],
    rows: results.map((r) => [String(r.length), fmtCount(r.tokens), String(r.seeds.length), fmtEstimate(r.cosine), fmtEstimate(r.wsd), fmtInterval(r.diff), fmt(r.margin, 2), describe(r)]),
  }];
  if (wsdCost && cosCost) {
    out.push({
      title: 'Compute spent per seed',
      caption: 'Counted from the steps each run trained: the WSD stable phase once, then each decay; every cosine run from scratch.',
      header: ['approach', 'steps', 'tokens', 'FLOPs', 'runs of the longest length'],
      rows: [
        ['WSD family (branched decays)', fmt(wsdCost.steps), fmtCount(wsdCost.tokens), fmtSci(wsdCost.flops), fmt(wsdCost.runs, 3)],
        ['cosine family', fmt(cosCost.steps), fmtCount(cosCost.tokens), fmtSci(cosCost.flops), fmt(cosCost.runs, 3)],
      ],
    });
  }
  if (sweep.length > 1) {
    out.push({
      title: 'Decay length and shape at the longest length',
      caption: `Against the default ${pct(mainFraction)}% ${mainShape} decay, paired by seed (negative: better than the default).`,
      header: ['decay', 'shape', 'final validation loss', 'vs default [95% CI]'],
      rows: sweep.map((r) => [`${pct(r.fraction)}%`, shapeLabel(r.shape), fmtEstimate(r.loss), r.fraction === mainFraction && r.shape === mainShape ? '(default)' : fmtInterval(r.vsMain)]),
    });
  }
  out.push({
    title: 'Study runs',
    header: ['run', 'schedule', 'steps', 'branched at', 'seed', 'status', 'final val loss'],
    rows: runs.map((r) => [r.name, v(r, 'role') === 'cosine' ? 'cosine' : `WSD ${pct(v<number>(r, 'fraction')!)}% ${v(r, 'shape')}${v(r, 'trunk') === true ? ' (trunk)' : ''}`,
      String(v(r, 'length')), typeof r.point.$at === 'number' ? String(r.point.$at) : '-', String(v(r, 'seed')), r.record.status, finalOf(r) === null ? '-' : fmt(finalOf(r)!)]),
  });
  return out;
}


export const wsdVsCosine: Study<WsdBudget> = {
  name: 'wsd-vs-cosine',
  title: 'WSD decays branched from one run against cosine runs',
  claim,
  budgets,
  plan,
  analyse,
};
