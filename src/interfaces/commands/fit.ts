// `windtunnel fit scaling`: fits scaling laws to a table (--input FILE, CSV or JSON) or to a
// sweep in the results store (--sweep NAME), with Chinchilla's three approaches side by side.
// --json prints the whole result (src/lab/fit/scaling.ts ScalingFit); otherwise a short table.
// --figure FILE draws the fit (.svg or .html). Exit codes: 0 fitted; 1 an error; 3 the data
// cannot identify the law (E collapsed, an exponent above 2 or not positive) and
// --allow-unidentified was not given: the reasons go to stderr first, the fit still follows.

import type { Command } from 'commander';
import {
  chinchillaGrid, coarseGrid, filterPoints, fitScaling, flopConventions, isFlopConvention, pointsFromStore, readTable,
  type BootstrapBy, type BootstrapMethod, type BootstrapStarts, type FlopConvention, type ScalingFit, type ScalingPoint,
} from '../../lab/fit/index.js';
import { scalingFitRows } from '../../lab/fit/figure-rows.js';
import { writeScalingFitFigure } from '../../lab/presentation/fit-figure.js';
import { toJson } from '../../lab/results/query.js';
import { runStatuses, type RunStatus } from '../../lab/results/store.js';
import { addStoreOptions, openStoreForReading, positiveInt, table, type StoreOptions } from './lab-common.js';
import { action } from './run-common.js';

interface FitScalingOptions extends StoreOptions {
  input?: string;
  sweep?: string;
  split: string;
  metric: string;
  status: string;
  finalOnly?: boolean;
  excludeWarmup?: string | true;
  minTokens?: string;
  compute?: string[];
  bootstrap: string;
  bootstrapBy: string;
  bootstrapMethod: string;
  bootstrapStarts: string;
  bootstrapGrid?: boolean;
  flops?: string;
  seedNoise?: string;
  seed: string;
  grid: string;
  isoflopTol: string;
  isoflopWindow?: string;
  levels?: string;
  paramsColumn: string;
  tokensColumn: string;
  lossColumn: string;
  json?: boolean;
  figure?: string;
  allowUnidentified?: boolean;
}

const positiveNumber = (v: string, name: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
};
const nonNegInt = (v: string, name: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
};

export function registerFit(program: Command): void {
  const fit = program.command('fit').description('fit laws to results');
  addStoreOptions(fit.command('scaling')
    .description('fit L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3) beside approaches 1 (lowest loss per compute) and 2 (IsoFLOP parabolas)')
    .option('--input <file>', 'a table (CSV or JSON array of objects) with columns params (non-embedding N), tokens (D), loss; optional flops, step, run')
    .option('--sweep <name>', 'read the runs of this sweep from the results store instead')
    .option('--split <name>', 'with --sweep: the evaluation split', 'val')
    .option('--metric <key>', 'with --sweep: the evaluation metric used as the loss', 'loss')
    .option('--status <list>', `with --sweep: runs with these statuses (${runStatuses.join(',')})`, 'done')
    .option('--final-only', 'with --sweep: one point per run (its last evaluation) instead of one per evaluation')
    .option('--exclude-warmup [steps]', 'drop points at or before this step (with --sweep and no value: each run\'s own warm-up)')
    .option('--min-tokens <D>', 'drop points with fewer tokens')
    .option('--compute <C...>', 'compute budgets in FLOPs for the compute-optimal allocation (default: the largest 6ND in the data)')
    .option('--bootstrap <n>', 'bootstrap resamples for the intervals (0: none)', '200')
    .option('--bootstrap-by <unit>', 'bootstrap clusters: auto (runs when the table has a run column or the points come from a sweep, else points), points, runs, or sizes (a model size\'s points together)', 'auto')
    .option('--bootstrap-method <m>', 'auto (wild cluster bootstrap with fewer than 10 clusters, else resampling), resample, or wild', 'auto')
    .option('--bootstrap-starts <s>', 'where refits start: restart (the full fit\'s optima and a small grid), warm (the optima only), grid (the whole grid; slow)', 'restart')
    .option('--bootstrap-grid', 'the same as --bootstrap-starts grid')
    .option('--flops <convention>', `the FLOP convention for compute: ${flopConventions.join(', ')} (default: attention when every point carries its attention FLOPs, as from --sweep or an attention_flops_per_token column; else non-embedding)`)
    .option('--seed-noise <sd>', 'a measured seed-to-seed standard deviation of log loss, added to the prediction noise')
    .option('--seed <s>', 'bootstrap seed', '0')
    .option('--grid <name>', 'starting grid of approach 3: chinchilla (4500 starts) or coarse (243)', 'chinchilla')
    .option('--isoflop-tol <r>', 'approach 2: relative compute tolerance within an IsoFLOP level', '0.1')
    .option('--isoflop-window <decades>', 'approach 2: fit each parabola to points within this many decades of N of the level\'s best')
    .option('--levels <k>', 'approach 1: compute levels on the envelope (runs) or bins (a table without runs)')
    .option('--params-column <name>', 'table column holding N', 'params')
    .option('--tokens-column <name>', 'table column holding D', 'tokens')
    .option('--loss-column <name>', 'table column holding the loss', 'loss')
    .option('--json', 'print the whole result as JSON')
    .option('--figure <file>', 'draw the fit into FILE (.svg, or .html with the printed fit): loss against compute with the fitted law and frontier, and the residuals')
    .option('--allow-unidentified', 'exit 0 even when the data cannot identify the law (E collapsed towards 0, an exponent above 2); otherwise such a fit exits with code 3, its warnings first on stderr'))
    .action(action(async (o: FitScalingOptions) => {
      if ((o.input === undefined) === (o.sweep === undefined)) throw new Error('give exactly one of --input FILE or --sweep NAME');
      const { points, notes } = loadPoints(o);
      if (!['auto', 'points', 'runs', 'sizes'].includes(o.bootstrapBy)) throw new Error(`--bootstrap-by must be auto, points, runs or sizes, got "${o.bootstrapBy}"`);
      if (!['auto', 'resample', 'wild'].includes(o.bootstrapMethod)) throw new Error(`--bootstrap-method must be auto, resample or wild, got "${o.bootstrapMethod}"`);
      if (!['restart', 'warm', 'grid'].includes(o.bootstrapStarts)) throw new Error(`--bootstrap-starts must be restart, warm or grid, got "${o.bootstrapStarts}"`);
      if (o.flops !== undefined && !isFlopConvention(o.flops)) throw new Error(`--flops must be one of ${flopConventions.join(', ')}, got "${o.flops}"`);
      if (o.grid !== 'chinchilla' && o.grid !== 'coarse') throw new Error(`--grid must be chinchilla or coarse, got "${o.grid}"`);
      const result = fitScaling(points, {
        computes: o.compute?.map((c) => positiveNumber(c, '--compute')),
        bootstrap: nonNegInt(o.bootstrap, '--bootstrap'),
        seed: nonNegInt(o.seed, '--seed'),
        bootstrapBy: o.bootstrapBy as BootstrapBy,
        bootstrapMethod: o.bootstrapMethod as 'auto' | BootstrapMethod,
        bootstrapStarts: o.bootstrapGrid ? 'grid' : o.bootstrapStarts as BootstrapStarts,
        flops: o.flops as FlopConvention | undefined,
        seedNoise: o.seedNoise === undefined ? undefined : positiveNumber(o.seedNoise, '--seed-noise'),
        grid: o.grid === 'coarse' ? coarseGrid : chinchillaGrid,
        approach1: { levels: o.levels === undefined ? undefined : positiveInt(o.levels, '--levels') },
        approach2: { tolerance: positiveNumber(o.isoflopTol, '--isoflop-tol'), window: o.isoflopWindow === undefined ? undefined : positiveNumber(o.isoflopWindow, '--isoflop-window') },
      }, notes);
      const unidentified = result.approach3.unidentified.length > 0 && !o.allowUnidentified;
      if (unidentified) {
        // the reasons first, before any number a reader might take for a result
        console.error('the data cannot identify the scaling law:');
        for (const w of result.approach3.unidentified) console.error(`  - ${w}`);
        console.error('(the fit follows for inspection; --allow-unidentified exits 0)');
      }
      const text = formatFit(result);
      process.stdout.write(o.json ? toJson(result) : text);
      if (o.figure) {
        await writeScalingFitFigure(scalingFitRows(result), result.warnings, o.figure, text);
        console.error(`figure: ${o.figure}`);
      }
      if (unidentified) process.exitCode = 3;
    }));
}

function loadPoints(o: FitScalingOptions): { points: ScalingPoint[]; notes: string[] } {
  const minTokens = o.minTokens === undefined ? undefined : positiveNumber(o.minTokens, '--min-tokens');
  if (o.input !== undefined) {
    if (o.finalOnly) throw new Error('--final-only is for --sweep; a table is used as given');
    if (o.excludeWarmup === true) throw new Error('with --input, give the warm-up length: --exclude-warmup STEPS (the table needs a step column)');
    const points = readTable(o.input, { params: o.paramsColumn, tokens: o.tokensColumn, loss: o.lossColumn });
    const { kept, notes } = filterPoints(points, { excludeWarmupSteps: o.excludeWarmup === undefined ? undefined : nonNegInt(o.excludeWarmup, '--exclude-warmup'), minTokens });
    return { points: kept, notes: [`from ${o.input}: ${points.length} point(s)`, ...notes] };
  }
  const status = o.status.split(',').filter(Boolean);
  for (const s of status) if (!runStatuses.includes(s as RunStatus)) throw new Error(`unknown status "${s}" (known: ${runStatuses.join(', ')})`);
  const store = openStoreForReading(o);
  try {
    return pointsFromStore(store, {
      sweep: o.sweep!, split: o.split, key: o.metric, finalOnly: o.finalOnly, minTokens, status: status as RunStatus[],
      excludeWarmup: o.excludeWarmup === undefined ? undefined : o.excludeWarmup === true ? 'config' : nonNegInt(o.excludeWarmup, '--exclude-warmup'),
    });
  } finally {
    store.close();
  }
}

/** 3 significant digits; scientific for large and small values; "-" for missing. */
const num = (v: number | null | undefined): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2).replace('e+', 'e') : String(+v.toPrecision(4));
};
const withCi = (v: number | null | undefined, ci: [number, number] | null | undefined): string => (ci ? `${num(v)} [${num(ci[0])}, ${num(ci[1])}]` : num(v));

export function formatFit(r: ScalingFit): string {
  const a3 = r.approach3, inp = r.input, out: string[] = [];
  out.push(`scaling fit: ${inp.points} points, ${inp.distinctN} model sizes (N ${num(inp.range.N[0])}..${num(inp.range.N[1])}), ` +
    `${inp.distinctD} token counts (D ${num(inp.range.D[0])}..${num(inp.range.D[1])})${inp.runs !== null ? `, ${inp.runs} runs` : ''}`);
  for (const n of inp.notes) out.push(`  ${n}`);
  out.push(`  compute (${r.compute.convention}): ${r.compute.description}`);
  const bs = a3.bootstrap;
  if (bs.samples > 0) {
    out.push(`  bootstrap: ${bs.method === 'wild' ? 'wild cluster' : 'resampling'} by ${bs.by} (${bs.clusters} clusters), ${bs.samples} replicates from ${bs.starts} starts: ` +
      `${bs.completed} completed (${bs.unconverged} short of convergence, kept), ${bs.failed} failed (${(100 * bs.failedFraction).toFixed(1)}%)`);
  }
  out.push(`  prediction noise: log-loss sd ${num(a3.noise.logSd)} (${a3.noise.source})`);
  out.push('', `approach 3: L(N, D) = E + A / N^alpha + B / D^beta  (Huber ${a3.huberDelta} on log loss; ${a3.starts} starts, ${a3.atBest} reached the best; ` +
    `${a3.bootstrap.completed} bootstrap refits, 95% intervals)`);
  out.push(table(['', 'fit', '95% interval'], (['E', 'A', 'B', 'alpha', 'beta'] as const).map((k) => [`  ${k}`, num(a3[k]), a3.ci ? `[${num(a3.ci[k][0])}, ${num(a3.ci[k][1])}]` : '-'])));
  out.push(`  rms log residual ${num(a3.rmsLogResidual)}, condition number ${num(a3.conditionNumber)}`);
  out.push('', 'compute-optimal frontier: N_opt ∝ C^a, D_opt ∝ C^b');
  out.push(`  intervals of approaches 1 and 2: ${r.approach1.ciMethod ?? '-'}`);
  out.push(table(['  approach', 'a', 'b', 'levels used'], [
    [`  1 lowest loss per compute (${r.approach1.method})`, withCi(r.approach1.a, r.approach1.ci.a), withCi(r.approach1.b, r.approach1.ci.b), `${r.approach1.levels.filter((l) => l.used).length}/${r.approach1.levels.length}`],
    ['  2 IsoFLOP parabolas', withCi(r.approach2.a, r.approach2.ci.a), withCi(r.approach2.b, r.approach2.ci.b), `${r.approach2.parabolas.filter((p) => p.used).length}/${r.approach2.parabolas.length}`],
    ['  3 parametric fit', withCi(a3.exponents.a, a3.exponents.ci?.a), withCi(a3.exponents.b, a3.exponents.ci?.b), '-'],
  ]));
  a3.allocation.forEach((al, i) => {
    const f1 = r.approach1.allocation[i], f2 = r.approach2.allocation[i];
    out.push('', `compute-optimal allocation at C = ${num(al.compute)} FLOPs`);
    out.push(table(['  approach', 'N*', 'D*', 'tokens/param', 'loss'], [
      ['  1', withCi(f1?.N, f1?.ci.N), withCi(f1?.D, f1?.ci.D), withCi(f1?.tokensPerParam, f1?.ci.tokensPerParam), '-'],
      ['  2', withCi(f2?.N, f2?.ci.N), withCi(f2?.D, f2?.ci.D), withCi(f2?.tokensPerParam, f2?.ci.tokensPerParam), '-'],
      ['  3', withCi(al.N, al.ci?.N), withCi(al.D, al.ci?.D), withCi(al.tokensPerParam, al.ci?.tokensPerParam), withCi(al.loss, al.ci?.loss)],
    ]));
  });
  if (r.warnings.length) out.push('', 'warnings', ...r.warnings.map((w) => `  - ${w}`));
  return out.join('\n') + '\n';
}
