// Calibration of a study's decision rule (src/studies/calibrate.ts): the rate of each verdict in
// simulated worlds where the claim is true, exactly at the margin, and false.
//
//   node --import tsx scripts/calibrate.ts scaling-law [--replicates 20] [--seed 0] [--budget small]
//        [--bootstrap 40] [--seed-noise 0.005] [--point-noise 0.002] [--json]
//
// Only scaling-law has worlds so far.

import { Command } from 'commander';
import { cpus, loadavg } from 'node:os';
import { calibrateScalingLaw } from '../src/studies/calibrate.js';
import { coarseGrid } from '../src/lab/fit/index.js';
import type { Budget } from '../src/studies/study.js';

const program = new Command()
  .argument('<study>', 'the study whose rule to calibrate (scaling-law)')
  .option('--replicates <n>', 'simulated studies per world', '20')
  .option('--seed <s>', 'seed of the worlds', '0')
  .option('--budget <b>', 'the plan the worlds follow', 'small')
  .option('--bootstrap <n>', 'bootstrap replicates per refit', '40')
  .option('--seed-noise <sd>', 'seed effect per model size (sd of log loss)', '0.005')
  .option('--point-noise <sd>', 'independent noise per point (sd of log loss)', '0.002')
  .option('--json', 'print the rates as JSON')
  .parse();
const o = program.opts<{ replicates: string; seed: string; budget: string; bootstrap: string; seedNoise: string; pointNoise: string; json?: boolean }>();
const study = program.args[0];
if (study !== 'scaling-law') throw new Error(`no calibration worlds for "${study}" yet (scaling-law only)`);
const started = Date.now();
const rates = calibrateScalingLaw({
  budget: o.budget as Budget, replicates: Number(o.replicates), seed: Number(o.seed), seedNoise: Number(o.seedNoise), pointNoise: Number(o.pointNoise),
  settings: { grid: coarseGrid, bootstrap: Number(o.bootstrap), loso: false },
  onReplicate: (w, i, v) => process.stderr.write(`${w} ${i + 1}/${o.replicates}: ${v}\n`),
});
if (o.json) console.log(JSON.stringify(rates, null, 2));
else {
  const pct = (r: { rate: number; ci: [number, number] }) => `${(100 * r.rate).toFixed(0)}% [${(100 * r.ci[0]).toFixed(0)}, ${(100 * r.ci[1]).toFixed(0)}]`;
  console.log(`scaling-law (${o.budget} plan), ${o.replicates} replicates per world, seed ${o.seed}, bootstrap ${o.bootstrap}, seed noise ${o.seedNoise}, point noise ${o.pointNoise}`);
  console.log('| world | held-out miss | SUPPORTED | NOT SUPPORTED | INCONCLUSIVE |\n|---|---|---|---|---|');
  for (const r of rates) console.log(`| ${r.world} | ${(100 * r.miss).toFixed(0)}% | ${pct(r.rates.supported)} | ${pct(r.rates['not supported'])} | ${pct(r.rates.inconclusive)} |`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s on ${cpus()[0]?.model}, load ${loadavg()[0].toFixed(1)})`);
}
