// `windtunnel edit RUN --method NAME --requests FILE [--out RUN2]`: knowledge editing on a run
// (src/editing/). Scores the edits before and after (reliability, generality, locality,
// portability, each teacher-forced and by generation; fluency; held-out Brown loss) and saves
// the edited weights as a new run with --out. `--make N` writes N requests drawn from the fact
// world the run was trained on to the --requests file instead.

import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { UsageError } from '../../base/errors.js';
import { editorNames, type EditorName } from '../../editing/editors.js';
import { factWorldOfCorpus, readEditRequests, requestsForWorld, writeEditRequests } from '../../editing/requests.js';
import { editRun, type EditRunResult } from '../../editing/run.js';
import { metricNames } from '../../editing/metrics.js';
import { loadRun } from '../../training/assemble.js';
import { action, intOption, usageExits } from './run-common.js';

function methodOption(v: string): EditorName {
  if (!(editorNames as readonly string[]).includes(v)) throw new InvalidArgumentError(`--method must be one of ${editorNames.join(', ')}.`);
  return v as EditorName;
}

function table(r: EditRunResult): string {
  const f = (x: number) => x.toFixed(3);
  const lines = [`${r.method} at layer ${r.layer}: ${r.edits} edits in ${r.seconds.toFixed(1)} s${r.out ? `, saved as ${r.out}` : ''}`, '', 'metric        teacher-forced (before -> after)   generation exact match (before -> after)'];
  for (const m of metricNames) {
    const b = r.before[m], a = r.after[m];
    if (!b || !a) { lines.push(`${m.padEnd(13)} (no prompts)`); continue; }
    lines.push(`${m.padEnd(13)} ${f(b.teacherForced)} -> ${f(a.teacherForced)}                   ${f(b.generation)} -> ${f(a.generation)}`);
  }
  lines.push(`fluency       ${f(r.before.fluency)} -> ${f(r.after.fluency)} bits (bigram/trigram entropy)`);
  if (r.before.validLoss !== null && r.after.validLoss !== null) lines.push(`Brown valid   ${f(r.before.validLoss)} -> ${f(r.after.validLoss)} nats/token`);
  return lines.join('\n');
}

export function registerEdit(program: Command): void {
  usageExits(program
    .command('edit')
    .description("edit facts in a run's model (ft-l, lora, rome, memit, grace), score the edits, save the edited model as a new run")
    .argument('<run>', 'run folder (trained on a facts or mix corpus)')
    .requiredOption('--requests <file>', 'edit requests, one JSON object per line (CounterFact/ZsRE shape)')
    .option('--method <name>', `editor: ${editorNames.join(', ')}`, methodOption, 'rome')
    .option('--out <run>', 'save the edited model here as a new run (weight editors)')
    .option('--layer <l>', 'layer to edit (default: located by causal tracing)', intOption('--layer'))
    .option('--batch <n>', 'requests per editor call (memit: the batch; default 1, sequential)', intOption('--batch', 1), 1)
    .option('--make <n>', "write n requests drawn from the run's fact world to --requests and stop", intOption('--make', 1))
    .option('--seed <s>', 'seed of --make', intOption('--seed'))
    .option('--json', 'print the result as JSON'))
    .action(action((runDir: string, o: { requests: string; method: EditorName; out?: string; layer?: number; batch: number; make?: number; seed?: number; json?: boolean }) => {
      if (o.make !== undefined) {
        const world = factWorldOfCorpus(loadRun(runDir).config.data.corpus);
        if (!world) throw new UsageError(`${runDir} was not trained on a facts corpus (alone or in a mix); write requests by hand`);
        if (existsSync(o.requests)) throw new UsageError(`${o.requests} exists; remove it or choose another --requests file`);
        writeEditRequests(o.requests, requestsForWorld(world, o.make, o.seed));
        console.log(`wrote ${o.make} edit requests to ${o.requests}`);
        return;
      }
      const requests = readEditRequests(o.requests);
      const r = editRun({ runDir, method: o.method, requests, out: o.out, layer: o.layer, batch: o.batch, log: o.json ? undefined : (msg) => console.error(msg) });
      console.log(o.json ? JSON.stringify(r) : table(r));
    }));
}
