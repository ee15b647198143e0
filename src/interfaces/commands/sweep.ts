// `windtunnel sweep FILE`: expands a sweep, prints what it will cost, and runs it with the
// local runner (resumable: the same command again skips finished runs and resumes the rest).
// With --queue it enqueues the runs for `windtunnel worker`s instead (commands/queue.ts).
// Exit codes: 0 every run done; 1 some run failed (or another error); 2 a bad sweep file
// (nothing ran); 130 stopped by Ctrl-C / SIGTERM (the runs are checkpointed and interrupted).

import type { Command } from 'commander';
import { MultiBar, Presets } from 'cli-progress';
import { existsSync } from 'node:fs';
import { queryRuns } from '../../lab/results/query.js';
import { runSweep, type RunnerEvent } from '../../lab/experiments/runner.js';
import { trainerCommand } from '../../lab/experiments/trainer-process.js';
import { Store } from '../../lab/results/store.js';
import { sweepCost, expandSweep, loadSweep } from '../../lab/experiments/sweep.js';
import { enqueueCommand } from './queue.js';
import { addStoreOptions, positiveInt, storePath, table, type StoreOptions } from './lab-common.js';
import { action } from './run-common.js';
import { abortOnInterrupt } from '../../base/interrupt.js';
import { fmtCount, fmtSci } from '../../base/format.js';

interface SweepOptions extends StoreOptions {
  dryRun?: boolean;
  parallel?: string;
  threads?: string;
  retryFailed?: boolean;
  trainer?: string;
  grace: string;
  validate: boolean;
  queue?: string;
  queueName: string;
  wait?: boolean;
}

export function registerSweep(program: Command): void {
  addStoreOptions(program
    .command('sweep')
    .description('expand a sweep file, show its cost, and run it (again: skips done runs, resumes interrupted ones)')
    .argument('<file>', 'sweep file (YAML or JSON)')
    .option('--dry-run', 'list the runs and their cost; run nothing')
    .option('--parallel <n>', 'runs side by side (default: chosen from the model size and cores)')
    .option('--threads <n>', 'threads per run (WINDTUNNEL_THREADS of each trainer)')
    .option('--retry-failed', 'run failed runs again (default: skip them)')
    .option('--trainer <command>', 'command standing in for the training child process (tests, custom builds; the contract is src/training/child-protocol.ts)')
    .option('--no-validate', 'pass run configs through unchecked (for a --trainer with its own config format)')
    .option('--grace <seconds>', 'after Ctrl-C, how long a run may take to checkpoint before it is killed', '60')
    .option('--queue <url>', 'do not run here: put the runs on a queue in Redis (redis://HOST:PORT) for `windtunnel worker`s')
    .option('--queue-name <name>', 'with --queue: the queue name', 'windtunnel')
    .option('--wait', 'with --queue: gather the results into the store and show progress until every run is finished'))
    .action(action(async (file: string, o: SweepOptions) => {
      const sweep = loadSweep(file);
      const runs = expandSweep(sweep, { validate: o.validate ? undefined : false });
      const est = sweepCost(runs);
      const db = storePath(o);
      console.log(`sweep ${sweep.name}: ${runs.length} runs, ${fmtCount(est.tokens)} tokens, ${fmtSci(est.flops)} FLOPs` +
        (est.unknown ? ` (${est.unknown} runs of unknown cost: ${est.perRun.find((e) => e.note)?.note})` : ''));

      if (o.dryRun) {
        const status = new Map<string, string>();
        if (existsSync(db)) {
          const store = Store.open(db, { readonly: true });
          try { for (const r of queryRuns(store, { ids: runs.map((r) => r.id) })) status.set(r.id, r.status); } finally { store.close(); }
        }
        console.log(table(['#', 'id', 'status', 'params', 'tokens', 'FLOPs', 'name'], runs.map((r, i) => [
          String(r.index), r.id, status.get(r.id) ?? 'new', fmtCount(est.perRun[i].params), fmtCount(est.perRun[i].tokens), fmtSci(est.perRun[i].flops), r.name,
        ])));
        return;
      }

      if (o.queue) {
        if (o.parallel !== undefined || o.threads !== undefined || o.trainer !== undefined) throw new Error('with --queue, set --concurrency, --threads and --trainer on the workers');
        return enqueueCommand(sweep, runs, { ...o, queue: o.queue });
      }
      if (o.wait) throw new Error('--wait goes with --queue');

      const store = Store.open(db);
      const interrupt = abortOnInterrupt('\nkilling the runs; they resume from their last checkpoint next time');
      const view = progressView();
      try {
        const summary = await runSweep({
          store, sweep, runs, runsDir: o.runsDir, signal: interrupt.signal, onEvent: view.onEvent,
          parallel: o.parallel === undefined ? undefined : positiveInt(o.parallel, '--parallel'),
          threads: o.threads === undefined ? undefined : positiveInt(o.threads, '--threads'),
          retryFailed: o.retryFailed, graceMs: Number(o.grace) * 1000,
          trainer: o.trainer ? trainerCommand(o.trainer.split(/\s+/).filter(Boolean)) : undefined,
        });
        view.stop();
        const n = (xs: string[]): number => xs.length;
        console.log(`sweep ${sweep.name}: ${n(summary.done)} done, ${n(summary.failed)} failed, ${n(summary.interrupted)} interrupted, ${n(summary.skipped)} skipped` +
          ` (store ${db}; \`windtunnel runs list --sweep ${sweep.name}\`)`);
        if (summary.stopped) console.log('stopped: run the same command again to resume');
        process.exitCode = summary.stopped ? 130 : summary.failed.length ? 1 : 0;
      } finally {
        view.stop();
        interrupt.dispose();
        store.close();
      }
    }));
}

/** A progress bar over the whole sweep on a terminal; one line per event otherwise. */
function progressView(): { onEvent: (e: RunnerEvent) => void; stop: () => void } {
  const tty = process.stderr.isTTY === true;
  const multi = tty ? new MultiBar({
    format: '{bar} {percentage}% | {finished}/{runs} runs | {running} running | {failed} failed | ETA {eta_formatted}',
    hideCursor: true, clearOnComplete: false, etaBuffer: 50,
  }, Presets.shades_classic) : null;
  let bar: ReturnType<MultiBar['create']> | null = null;
  const frac = new Map<string, number>();
  let runs = 0, finished = 0, failed = 0;
  const log = (line: string): void => { if (multi) multi.log(line + '\n'); else console.error(line); };
  const update = (): void => {
    const value = finished + [...frac.values()].reduce((a, b) => a + b, 0);
    bar?.update(Math.round(value * 100), { finished, runs, running: frac.size, failed });
  };
  return {
    onEvent(e) {
      switch (e.type) {
        case 'plan':
          runs = e.toRun.length;
          log(`running ${runs} runs, ${e.parallel} side by side with ${e.threads} thread(s) each (${e.reason}); skipped: ${e.skipped.done} done, ${e.skipped.failed} failed${e.skipped.failed ? ' (--retry-failed runs them)' : ''}, ${e.skipped.busy} running elsewhere` +
            (e.recovered ? `; ${e.recovered} orphaned runs recovered as interrupted` : ''));
          if (multi && runs) bar = multi.create(runs * 100, 0, { finished, runs, running: 0, failed });
          break;
        case 'start':
          frac.set(e.run.id, 0);
          if (!multi) log(`start ${e.run.name} (${e.run.id}, ${e.mode}, attempt ${e.attempt})`);
          update();
          break;
        case 'progress':
          if (e.totalSteps) frac.set(e.run.id, Math.min(1, e.step / e.totalSteps));
          update();
          break;
        case 'end':
          frac.delete(e.run.id);
          if (e.status !== 'interrupted') finished++;
          if (e.status === 'failed') failed++;
          log(`${e.status} ${e.run.name} (${e.run.id}) in ${e.seconds.toFixed(1)}s${e.error ? `: ${e.error.split('\n').slice(-3).join(' | ')}` : ''}`);
          update();
          break;
        case 'stopping':
          log(`stopping: asking ${e.running} run(s) to checkpoint (Ctrl-C again to kill them)`);
          break;
        case 'warning':
          log(`warning: ${e.message}`);
          break;
      }
    },
    stop() { if (multi?.isActive) { multi.update(); multi.stop(); } },
  };
}
