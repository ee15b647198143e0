// Studies: the experiments the lab exists for. A study is a claim, a plan of runs for each budget
// (a sweep, so the runner resumes it, spreads it over local cores or Redis workers, and records
// it in the store) and an analysis that turns the stored results into a verdict with its
// evidence. This file is the contract and what plans share; run.ts executes a study and writes
// its report; index.ts lists the studies; each study is one file beside them.
//
// Budgets: smoke (under a minute; what the tests run: the plumbing, never a finding), small
// (under thirty minutes on two cores; shows the effect where it can), full (the experiment).
//
// A plan is a sweep of explicit runs (`list` entries), each with sweep variables the analysis
// reads back from the run's point in the store:
//   $run    a unique readable name: the run's folder name and label
//   $from   branches only: the $run of the WSD run whose stable phase this run decays from
//   $at     branches only: the step it branches at
//   others  whatever the study needs to group runs ($role, $length, $seed, ...)
// A branch's config is that of the equivalent fresh WSD run (at + D steps, decaySteps D), which
// branchWsd (src/training/branch.ts) makes it equal to bit for bit; run.ts trains it by
// branching the finished source and resuming, so only its D decay steps cost compute.

import type { Figure } from '../lab/presentation/plots.js';
import type { RunRecord } from '../lab/results/query.js';
import type { ReportTable } from '../lab/presentation/report.js';
import type { Store } from '../lab/results/store.js';
import { runCost, expandSweep, getPath, parseSweep, type Config, type ExpandedRun, type Sweep } from '../lab/experiments/sweep.js';
import { decayStart, ScheduleConfig } from '../training/schedules.js';

export const budgets = ['smoke', 'small', 'full'] as const;
export type Budget = (typeof budgets)[number];

export type Verdict = 'supported' | 'not supported' | 'inconclusive';

/** What an analysis concludes, and everything the report shows. */
export interface Analysis {
  verdict: Verdict;
  /** One or two sentences: why this verdict, naming the numbers that decided it. */
  reason: string;
  /** The evidence, one line each, every number with its uncertainty (or why it has none). */
  evidence: string[];
  /** What this scale or design cannot show. */
  caveats: string[];
  figures: Figure[];
  /** The figure that shows the verdict best (STUDIES.md shows it); default the first. */
  keyFigure?: string;
  tables: ReportTable[];
  /** The numbers behind the verdict (written to verdict.json beside the report). */
  data: Record<string, unknown>;
}

/** A run of a study as the analysis sees it: the store's record and the plan's variables. */
export interface StudyRun {
  id: string;
  /** The plan's $run. */
  name: string;
  /** The sweep point: the $variables (with their "$") and the config overrides. */
  point: Record<string, unknown>;
  record: RunRecord;
}

/**
 * The contract every study keeps. P is the study's own description of a budget (sizes, lengths,
 * seeds...); plan(budget) turns it into a sweep; analyse reads only the store and the runs, so it
 * can be fed a synthetic store (that is how the tests check that a false claim is reported false).
 */
export interface Study<P = unknown> {
  name: string;
  /** A short title for the report. */
  title: string;
  /** The claim under test, one or two sentences. */
  claim: string;
  budgets: Record<Budget, P>;
  /**
   * The runs of a budget. An adaptive study (extend: true) is called again with the results so
   * far and may return a larger plan (the same runs plus more, e.g. a grid extended past an
   * optimum at its edge); run.ts trains the additions and asks again until nothing is added.
   */
  plan(budget: Budget, results?: StudyRun[]): Sweep;
  /** The plan grows with the results (see plan). */
  extend?: boolean;
  analyse(store: Store, runs: StudyRun[]): Analysis | Promise<Analysis>;
}

/** The sweep name of a study at a budget (also its runs folder under --runs-dir). */
export const sweepName = (study: Pick<Study, 'name'>, budget: Budget): string => `${study.name}-${budget}`;

// ---- plans -----------------------------------------------------------------------------------

/** One run of a plan: its name, config overrides (dotted keys), variables, and branch source. */
export interface PlannedRun {
  run: string;
  /** Overrides of the base config, by dotted key. */
  set: Record<string, unknown>;
  /** Sweep variables for the analysis (stored as "$" + key). */
  vars?: Record<string, string | number | boolean>;
  /** Branches: the source's `run` and the step. */
  from?: { run: string; at: number };
}

/** Builds a study's sweep (named <study>-<budget>) from explicit runs; checks names and branch sources. */
export function planSweep(o: { study: string; budget: Budget; base: Config; runs: PlannedRun[] }): Sweep {
  const name = `${o.study}-${o.budget}`;
  const names = new Set<string>();
  for (const r of o.runs) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._=+,-]*$/.test(r.run)) throw new Error(`plan ${name}: run name "${r.run}" is not folder-safe`);
    if (names.has(r.run)) throw new Error(`plan ${name}: two runs are named ${r.run}`);
    names.add(r.run);
  }
  const list = o.runs.map((r) => {
    const entry: Record<string, unknown> = { $run: r.run, ...r.set };
    for (const [k, v] of Object.entries(r.vars ?? {})) entry[`$${k}`] = v;
    if (r.from) { entry.$from = r.from.run; entry.$at = r.from.at; }
    return entry;
  });
  const description = `The runs of \`windtunnel study ${o.study} --budget ${o.budget}\`; run it again to resume, or to rewrite the report.`;
  const sweep = parseSweep({ name, description, base: o.base, list, tags: ['study', o.study, o.budget] });
  checkBranches(expandStudy(sweep));
  return sweep;
}

/** The sweep's runs, named by their $run (the sweep's own names would string every override together). */
export function expandStudy(sweep: Sweep): ExpandedRun[] {
  return expandSweep(sweep).map((r) => ({ ...r, name: typeof r.point.$run === 'string' ? r.point.$run : r.name }));
}

/** A branch run's source and step, or null for a run trained from scratch. */
export function branchOf(point: Record<string, unknown>): { from: string; at: number } | null {
  return typeof point.$from === 'string' && typeof point.$at === 'number' ? { from: point.$from, at: point.$at } : null;
}

interface ScheduleFields { steps?: number; schedule?: unknown; checkpointInterval?: number; keepCheckpoints?: number; warmupSteps?: number }

/**
 * Plan-time checks of every branch, so a planning mistake fails before anything trains: the
 * source exists and is WSD; the step lies in its stable phase and has a checkpoint that is kept;
 * the branch's own config is the source's with a WSD decay of (steps - at) steps.
 */
export function checkBranches(runs: ExpandedRun[]): void {
  const byName = new Map(runs.map((r) => [r.name, r]));
  for (const r of runs) {
    const b = branchOf(r.point);
    if (!b) continue;
    const fail = (m: string): never => { throw new Error(`branch ${r.name} from ${b.from} at step ${b.at}: ${m}`); };
    const src = byName.get(b.from) ?? fail('no run of that name in the plan');
    if (branchOf(src.point)) fail('the source is itself a branch');
    const sc = src.config as ScheduleFields, bc = r.config as ScheduleFields;
    const s = ScheduleConfig.parse(sc.schedule), own = ScheduleConfig.parse(bc.schedule);
    if (s.kind !== 'wsd' || own.kind !== 'wsd') fail('source and branch must both be WSD runs');
    if (typeof sc.steps !== 'number' || typeof bc.steps !== 'number') fail('plans give steps, not token budgets');
    const start = decayStart(s, sc.steps!);
    if (b.at < s.warmupSteps || b.at > start) fail(`outside the source's stable phase (steps ${s.warmupSteps}..${start})`);
    const every = sc.checkpointInterval ?? 0;
    if (b.at !== sc.steps && !(every > 0 && b.at % every === 0)) fail(`the source checkpoints every ${every} steps, not at ${b.at}`);
    if ((sc.keepCheckpoints ?? 3) !== 0) fail('the source must keep all its checkpoints (keepCheckpoints 0)');
    if (own.kind === 'wsd' && own.decaySteps !== bc.steps! - b.at) fail(`its config must decay over steps - at = ${bc.steps! - b.at} steps (decaySteps), got ${own.decaySteps}`);
    for (const k of ['model', 'data', 'lr', 'batchSize', 'context', 'seed', 'optimizer', 'weightDecay']) {
      if (JSON.stringify(getPath(src.config, k)) !== JSON.stringify(getPath(r.config, k))) fail(`its ${k} differs from the source's`);
    }
  }
}

/** Greatest common divisor, for a trunk's checkpoint interval that hits every branch step. */
export function gcd(...xs: number[]): number {
  const g2 = (a: number, b: number): number => (b === 0 ? a : g2(b, a % b));
  return xs.reduce((a, b) => g2(a, b), 0);
}

// ---- cost ------------------------------------------------------------------------------------

export interface PlanCost {
  runs: number;
  /** Optimizer steps actually trained (a branch counts only its decay). */
  steps: number;
  /** Tokens actually trained (the shared stable phase counted once). */
  tokens: number;
  flops: number;
  /** Estimated wall-clock minutes on this machine (two cores; see estimateMinutes). */
  minutes: number;
}

/** Steps a run trains: all of them, or for a branch those after its branch point. */
export function trainedSteps(config: Config, point: Record<string, unknown>): number {
  const steps = (config as ScheduleFields).steps ?? 0;
  return steps - (branchOf(point)?.at ?? 0);
}

/** What a plan costs: runs, trained steps, tokens, FLOPs and an estimate of minutes on two cores. */
export function planCost(sweep: Sweep, cores = 2): PlanCost {
  const runs = expandStudy(sweep);
  let steps = 0, tokens = 0, flops = 0, seconds = 0;
  for (const r of runs) {
    const e = runCost(r.config);
    const total = (r.config as ScheduleFields).steps ?? 0;
    const trained = trainedSteps(r.config, r.point);
    const f = total > 0 ? trained / total : 1;
    steps += trained;
    tokens += (e.tokens ?? 0) * f;
    flops += (e.flops ?? 0) * f;
    seconds += runSeconds(trained, total > 0 ? (e.flops ?? 0) / total : 0, r.config);
  }
  return { runs: runs.length, steps, tokens, flops, minutes: seconds / Math.max(1, cores) / 60 };
}

/**
 * A rough model of one run's wall-clock seconds on one core of the development machine (a
 * shared two-core VM), fitted to the small budgets' measured times (wsd-vs-cosine 5 min,
 * scaling-law 5.4, batch-lr about 13, mup-transfer 24; the model says 2.8, 6.3, 11, 25.5):
 * process start-up and data loading, a per-step overhead that dominates tiny models, the FLOPs
 * at the throughput the native backend reaches on them, and evaluations.
 */
export function runSeconds(steps: number, flopsPerStep: number, config: Config): number {
  const c = config as { evalInterval?: number; evalBatches?: number; steps?: number; checkpointInterval?: number };
  const evals = 1 + (c.evalInterval ? Math.floor((c.steps ?? steps) / c.evalInterval) * (steps / Math.max(1, c.steps ?? steps)) : 0);
  const evalFlops = (flopsPerStep / 3) * (c.evalBatches ?? 20) * evals;
  return startupSeconds + steps * stepOverheadSeconds + (flopsPerStep * steps + evalFlops) / flopsPerSecond;
}

/** Calibration of runSeconds (see there). */
export const startupSeconds = 2.5;
export const stepOverheadSeconds = 0.004;
export const flopsPerSecond = 45e9;

// ---- verdict text ----------------------------------------------------------------------------

/**
 * A smoke budget is plumbing (a few steps of tiny models): whatever its numbers say, its verdict
 * is inconclusive. The analysis's own verdict is kept in data.smoke for debugging the plumbing.
 */
export function smokeAnalysis(a: Analysis): Analysis {
  return {
    ...a,
    verdict: 'inconclusive',
    reason: `Smoke budget: it checks that the study runs end to end, so the verdict is INCONCLUSIVE (smoke) whatever the numbers (taken alone they would say ${a.verdict}: ${a.reason})`,
    data: { ...a.data, smoke: { analysisVerdict: a.verdict } },
  };
}

/** The verdict as a report names it: "NOT SUPPORTED", or "INCONCLUSIVE (smoke)" for any smoke run. */
export function verdictLabel(verdict: Verdict, budget: Budget): string {
  return budget === 'smoke' ? 'INCONCLUSIVE (smoke)' : verdict.toUpperCase();
}

/** The verdict block at the top of a report: verdict and reason, then evidence and caveats. */
export function verdictMarkdown(study: Pick<Study, 'claim'>, budget: Budget, a: Analysis): string {
  const out = [
    `**Claim.** ${study.claim}`,
    '',
    `**Verdict: ${verdictLabel(a.verdict, budget)}**${a.verdict === 'inconclusive' && budget !== 'smoke' ? ' at this scale' : ''} (${budget} budget). ${a.reason}`,
    '',
    '**Evidence.**',
    '',
    ...a.evidence.map((e) => `- ${e}`),
  ];
  const caveats = budget === 'smoke' ? ['The smoke budget only checks that the study runs end to end; its verdict says nothing about the claim.', ...a.caveats] : a.caveats;
  if (caveats.length) out.push('', '**Caveats.**', '', ...caveats.map((c) => `- ${c}`));
  return out.join('\n');
}

// ---- shared bases ----------------------------------------------------------------------------

export interface BaseOptions {
  dModel: number;
  nLayer: number;
  nHead: number;
  batchSize: number;
  context: number;
  lr: number;
  evalBatches: number;
  /** Brown categories (default: the whole corpus). */
  categories?: string[];
  /** Extra model fields (mup, ...). */
  model?: Record<string, unknown>;
}

/**
 * The run config studies start from: a GPT-2-layout model on the Brown corpus, byte-level (a
 * 257-token vocabulary keeps the embedding small next to the blocks, which is what scaling
 * studies of small models need), no dropout, AdamW with the training layer's defaults.
 */
export function studyBase(o: BaseOptions): Config {
  return {
    model: { preset: 'gpt2', dModel: o.dModel, nLayer: o.nLayer, nHead: o.nHead, ...o.model },
    data: {
      corpus: o.categories ? { kind: 'brown', categories: o.categories } : { kind: 'brown' },
      tokenizer: { kind: 'byte' },
      sampler: { kind: 'windows' },
    },
    lr: o.lr,
    batchSize: o.batchSize,
    context: o.context,
    evalBatches: o.evalBatches,
    logInterval: 1,
    seed: 0,
  };
}
