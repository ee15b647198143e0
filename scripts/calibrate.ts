// Calibration of a study's decision rule (src/studies/calibrate.ts): the rate of each verdict in
// simulated worlds where the claim is true, exactly at the margin, and false.
//
//   node --import tsx scripts/calibrate.ts scaling-law [--replicates 20] [--seed 0] [--budget small]
//        [--bootstrap 40] [--seed-noise 0.005] [--point-noise 0.002] [--json]
//
//   node --import tsx scripts/calibrate.ts wsd-vs-cosine [--replicates 40] [--seed 0] [--budget small]
//        [--seed-noise 0.01] [--trunk-noise 0.002] [--run-noise 0.002] [--json]
//
// Worlds exist for scaling-law and wsd-vs-cosine (src/studies/calibrate.ts).

import { Command } from 'commander';
import { cpus, loadavg } from 'node:os';
import { calibrateScalingLaw, calibrateWsdVsCosine, type WorldRates } from '../src/studies/calibrate.js';
import { coarseGrid } from '../src/lab/fit/index.js';
import type { Budget } from '../src/studies/study.js';

const program = new Command()
  .argument('<study>', 'the study whose rule to calibrate (scaling-law, wsd-vs-cosine)')
  .option('--replicates <n>', 'simulated studies per world', '20')
  .option('--seed <s>', 'seed of the worlds', '0')
  .option('--budget <b>', 'the plan the worlds follow', 'small')
  .option('--bootstrap <n>', 'bootstrap replicates per refit', '40')
  .option('--seed-noise <sd>', 'seed effect (sd of log loss; scaling-law: per model size, default 0.005; wsd-vs-cosine: per seed, default 0.01)')
  .option('--point-noise <sd>', 'scaling-law: independent noise per point (sd of log loss)', '0.002')
  .option('--trunk-noise <sd>', 'wsd-vs-cosine: effect of a seed\'s WSD trunk on its branches (sd of log loss)', '0.002')
  .option('--run-noise <sd>', 'wsd-vs-cosine: independent noise per run (sd of log loss)', '0.002')
  .option('--json', 'print the rates as JSON')
  .parse();
const o = program.opts<{ replicates: string; seed: string; budget: string; bootstrap: string; seedNoise?: string; pointNoise: string; trunkNoise: string; runNoise: string; json?: boolean }>();
const study = program.args[0];
const started = Date.now();
const onReplicate = (w: string, i: number, v: string) => process.stderr.write(`${w} ${i + 1}/${o.replicates}: ${v}\n`);
let rates: WorldRates[], setting: string;
if (study === 'scaling-law') {
  rates = calibrateScalingLaw({
    budget: o.budget as Budget, replicates: Number(o.replicates), seed: Number(o.seed), seedNoise: Number(o.seedNoise ?? 0.005), pointNoise: Number(o.pointNoise),
    settings: { grid: coarseGrid, bootstrap: Number(o.bootstrap), loso: false }, onReplicate,
  });
  setting = `bootstrap ${o.bootstrap}, seed noise ${o.seedNoise ?? 0.005}, point noise ${o.pointNoise}`;
} else if (study === 'wsd-vs-cosine') {
  rates = await calibrateWsdVsCosine({
    budget: o.budget as Budget, replicates: Number(o.replicates), seed: Number(o.seed), seedNoise: Number(o.seedNoise ?? 0.01), trunkNoise: Number(o.trunkNoise), runNoise: Number(o.runNoise), onReplicate,
  });
  setting = `seed noise ${o.seedNoise ?? 0.01}, trunk noise ${o.trunkNoise}, run noise ${o.runNoise}`;
} else throw new Error(`no calibration worlds for "${study}" yet (scaling-law, wsd-vs-cosine)`);
if (o.json) console.log(JSON.stringify(rates, null, 2));
else {
  const pct = (r: { rate: number; ci: [number, number] }) => `${(100 * r.rate).toFixed(0)}% [${(100 * r.ci[0]).toFixed(0)}, ${(100 * r.ci[1]).toFixed(0)}]`;
  console.log(`${study} (${o.budget} plan), ${o.replicates} replicates per world, seed ${o.seed}, ${setting}`);
  console.log(`| world | ${study === 'scaling-law' ? 'held-out miss' : 'WSD gap'} | SUPPORTED | NOT SUPPORTED | INCONCLUSIVE |\n|---|---|---|---|---|`);
  for (const r of rates) console.log(`| ${r.world} | ${(100 * r.miss).toFixed(1)}% | ${pct(r.rates.supported)} | ${pct(r.rates['not supported'])} | ${pct(r.rates.inconclusive)} |`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s on ${cpus()[0]?.model}, load ${loadavg()[0].toFixed(1)})`);
}
