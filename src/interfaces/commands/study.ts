// `windtunnel study <name> --budget smoke|small|full`: plans a study's runs as a sweep, trains
// them (here, or on Redis workers with --queue), analyses them and writes a report whose first
// lines are the claim and the verdict. Run it again to resume. `windtunnel study list` names
// the studies and what each budget costs.
// Exit codes: 0 report written (whatever the verdict); 1 some run failed (the report is still
// written) or another error; 2 a bad argument; 130 stopped by Ctrl-C / SIGTERM (run it again).

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { DEFAULT_QUEUE_NAME, queueTarget } from '../../lab/experiments/queue.js';
import { queryRuns } from '../../lab/results/query.js';
import { trainerCommand } from '../../lab/experiments/trainer-process.js';
import { Store } from '../../lab/results/store.js';
import { budgets, planCost, runStudy, studies, sweepName, type Budget, type StudyEvent } from '../../studies/index.js';
import { expandStudy, trainedSteps } from '../../studies/study.js';
import { writeStudiesSummary } from '../../studies/summary.js';
import { join } from 'node:path';
import { addStoreOptions, positiveInt, storePath, table, type StoreOptions } from './lab-common.js';
import { action } from './run-common.js';
import { abortOnInterrupt } from '../../base/interrupt.js';
import { fmtCount, fmtMinutes, fmtSci } from '../../base/format.js';

interface StudyFlags extends StoreOptions {
  budget: string;
  out?: string;
  queue?: string;
  queueName: string;
  parallel?: string;
  threads?: string;
  trainer?: string;
  retryFailed?: boolean;
  dryRun?: boolean;
  analyseOnly?: boolean;
  reports?: string[];
  figuresDir?: string;
}

export function registerStudy(program: Command): void {
  addStoreOptions(program
    .command('study')
    .description(`run a study (plan its runs, train them, analyse, report the verdict); \`study list\` names them (${Object.keys(studies).join(', ')})`)
    .argument('<name>', 'a study, "list", or "summary" (write STUDIES.md from the reports\' verdict files)')
    .option('--budget <budget>', `${budgets.join(' | ')}: smoke checks the plumbing in under a minute, small shows the effect in under 30 minutes on two cores, full is the experiment`, 'smoke')
    .option('--out <dir>', 'report folder (default <runs-dir>/reports/<study>-<budget>)')
    .option('--queue <url>', 'train on `windtunnel worker`s through Redis (redis://HOST:PORT) instead of here; --runs-dir must be the folder the workers share')
    .option('--queue-name <name>', 'with --queue: the queue name', DEFAULT_QUEUE_NAME)
    .option('--parallel <n>', 'runs side by side (default: chosen from the model size and cores)')
    .option('--threads <n>', 'threads per run')
    .option('--trainer <command>', 'command standing in for the training child process (src/training/child-protocol.ts)')
    .option('--retry-failed', 'train failed runs again')
    .option('--dry-run', 'list the planned runs and their cost; train nothing')
    .option('--analyse-only', 'train nothing: analyse and report what the store holds')
    .option('--reports <dirs...>', 'summary: report folders to read verdict.json files from (default <runs-dir>/reports)')
    .option('--figures-dir <dir>', 'summary: where key figures are copied (default docs/studies beside the page)'))
    .action(action(async (name: string, o: StudyFlags) => {
      if (name === 'list') return listStudies();
      if (name === 'summary') return summarise(o);
      const study = studies[name];
      if (!study) throw new Error(`no study "${name}" (known: ${Object.keys(studies).join(', ')}; \`windtunnel study list\` describes them)`);
      if (!(budgets as readonly string[]).includes(o.budget)) throw new Error(`--budget must be one of ${budgets.join(', ')}, got "${o.budget}"`);
      const budget = o.budget as Budget;
      const db = storePath(o);
      if (o.dryRun) return dryRun(name, budget, db);
      if (o.queue && (o.parallel !== undefined || o.threads !== undefined || o.trainer !== undefined)) throw new Error('with --queue, set --concurrency, --threads and --trainer on the workers');

      const cost = planCost(study.plan(budget));
      console.log(`study ${name} (${budget}): ${cost.runs} runs, ${fmtCount(cost.tokens)} tokens, ${fmtSci(cost.flops)} FLOPs, about ${fmtMinutes(cost.minutes)} on two cores`);
      console.log(`claim: ${study.claim}`);
      const interrupt = abortOnInterrupt('\nkilling the runs; they resume from their last checkpoint next time');
      try {
        const r = await runStudy(study, {
          budget, runsDir: o.runsDir, db, out: o.out, signal: interrupt.signal, onEvent: logEvent, retryFailed: o.retryFailed, analyseOnly: o.analyseOnly,
          queue: o.queue ? queueTarget(o.queue, o.queueName) : undefined,
          parallel: o.parallel === undefined ? undefined : positiveInt(o.parallel, '--parallel'),
          threads: o.threads === undefined ? undefined : positiveInt(o.threads, '--threads'),
          trainer: o.trainer ? trainerCommand(o.trainer.split(/\s+/).filter(Boolean)) : undefined,
        });
        if (r.stopped) {
          console.log(`stopped: run the same command again to resume (store ${db})`);
          process.exitCode = 130;
          return;
        }
        const a = r.analysis!;
        console.log(`\nverdict: ${a.verdict.toUpperCase()}. ${a.reason}`);
        for (const e of a.evidence) console.log(`  - ${e}`);
        console.log(`\nreport: ${r.report!.html}\n        ${r.report!.markdown}\n        ${r.verdictFile}`);
        console.log(`dashboard: npx windtunnel ui --db ${db}`);
        const failed = r.unfinished.filter((u) => u.status === 'failed');
        if (r.unfinished.length) console.log(`${r.unfinished.length} run(s) not done (${failed.length} failed${failed.length ? '; --retry-failed trains them again' : ''}): ${r.unfinished.slice(0, 5).map((u) => `${u.name} ${u.status}`).join(', ')}${r.unfinished.length > 5 ? ', ...' : ''}`);
        process.exitCode = failed.length ? 1 : 0;
      } finally {
        interrupt.dispose();
      }
    }));
}

function listStudies(): void {
  const rows: string[][] = [];
  for (const s of Object.values(studies)) {
    for (const b of budgets) {
      const c = planCost(s.plan(b));
      rows.push([b === 'smoke' ? s.name : '', b, String(c.runs), fmtCount(c.tokens), fmtSci(c.flops), fmtMinutes(c.minutes)]);
    }
  }
  console.log(table(['study', 'budget', 'runs', 'tokens', 'FLOPs', 'est. time (2 cores)'], rows));
  console.log('\ntokens and FLOPs are what is trained (a branched decay counts only its own steps); times are estimates for this two-core machine.');
  for (const s of Object.values(studies)) console.log(`\n${s.name}: ${s.title}.\n  claim: ${s.claim}`);
}

function summarise(o: StudyFlags): void {
  const r = writeStudiesSummary({ studies, reportDirs: o.reports ?? [join(o.runsDir, 'reports')], out: o.out ?? 'STUDIES.md', figuresDir: o.figuresDir });
  console.log(`wrote ${r.path}: ${r.studiesRun} of ${Object.keys(studies).length} studies have results${r.figures.length ? `, ${r.figures.length} key figure(s)` : ''}`);
  for (const u of r.unreadable) console.error(`warning: skipped ${u.error}`);
}

function dryRun(name: string, budget: Budget, db: string): void {
  const study = studies[name];
  const sweep = study.plan(budget);
  const runs = expandStudy(sweep);
  const status = new Map<string, string>();
  if (existsSync(db)) {
    const store = Store.open(db, { readonly: true });
    try { for (const r of queryRuns(store, { ids: runs.map((r) => r.id) })) status.set(r.id, r.status); } finally { store.close(); }
  }
  const c = planCost(sweep);
  console.log(`study ${name} (${budget}), sweep ${sweepName(study, budget)}: ${c.runs} runs, ${fmtCount(c.tokens)} tokens, ${fmtSci(c.flops)} FLOPs, about ${fmtMinutes(c.minutes)} on two cores`);
  console.log(table(['#', 'id', 'status', 'steps trained', 'branches from', 'name'], runs.map((r, i) => [
    String(i), r.id, status.get(r.id) ?? 'new', String(trainedSteps(r.config, r.point)),
    typeof r.point.$from === 'string' ? `${r.point.$from}@${r.point.$at}` : '-', r.name,
  ])));
}


/** One line per event on stderr. */
function logEvent(e: StudyEvent): void {
  const log = (s: string): void => console.error(s);
  switch (e.type) {
    case 'round': log(`round ${e.round}: ${e.toTrain} of ${e.runs} ready runs to train${e.branched ? ` (${e.branched} branched from finished WSD runs)` : ''}`); break;
    case 'log': log(e.message); break;
    case 'runner': {
      const r = e.event;
      if (r.type === 'plan') log(`  ${r.toRun.length} runs, ${r.parallel} side by side with ${r.threads} thread(s) each (${r.reason}); ${r.skipped.done} already done`);
      else if (r.type === 'start') log(`  start ${r.run.name} (${r.mode})`);
      else if (r.type === 'end') log(`  ${r.status} ${r.run.name} in ${r.seconds.toFixed(1)}s${r.error ? `: ${r.error.split('\n').slice(-2).join(' | ')}` : ''}`);
      else if (r.type === 'stopping') log(`  stopping: asking ${r.running} run(s) to checkpoint (Ctrl-C again to kill them)`);
      else if (r.type === 'warning') log(`  warning: ${r.message}`);
      break;
    }
    case 'queue': {
      const q = e.event;
      if (q.type === 'progress') log(`  ${q.done}/${q.total} done, ${q.running} running, ${q.failed} failed, ${q.lost} lost`);
      else if (q.type === 'end') log(`  ${q.status} ${q.name} on ${q.worker}${q.error ? `: ${q.error.split('\n').slice(-2).join(' | ')}` : ''}`);
      else if (q.type === 'lost') log(`  lost ${q.id}: ${q.reason}`);
      else if (q.type === 'warning') log(`  warning: ${q.message}`);
      break;
    }
  }
}
