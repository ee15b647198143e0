// Sweeps on many machines (src/lab/experiments/queue.ts, src/lab/experiments/worker.ts):
//   windtunnel sweep FILE --queue redis://HOST:PORT [--wait]   enqueue (sweep.ts calls enqueueCommand)
//   windtunnel worker --queue redis://HOST:PORT                 on each machine: take and train runs
//   windtunnel collect --queue redis://HOST:PORT                gather workers' results into the store
// Exit codes of `sweep --queue`: 0 all done (or, without --wait, all queued); 1 some run failed
// or was lost, or another error; 2 a bad sweep file; 130 stopped waiting (Ctrl-C / SIGTERM).
// `worker` and `collect` run until Ctrl-C / SIGTERM and then exit 0 (1 on an error).

import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { availableParallelism } from 'node:os';
import { Collector, connectRedis, DEFAULT_QUEUE_NAME, DirectSink, enqueueSweep, openQueue, queueTarget, RedisSink, sleep, waitForRuns, type ResultEvent, type WaitEvent } from '../../lab/experiments/queue.js';
import { planParallelism } from '../../lab/experiments/runner.js';
import { trainerCommand } from '../../lab/experiments/trainer-process.js';
import { Store } from '../../lab/results/store.js';
import type { ExpandedRun, Sweep } from '../../lab/experiments/sweep.js';
import { runWorker, type WorkerEvent } from '../../lab/experiments/worker.js';
import { positiveInt, storePath, type StoreOptions } from './lab-common.js';
import { action } from './run-common.js';
import { onInterrupt } from '../../base/interrupt.js';

export interface EnqueueOptions extends StoreOptions {
  queue: string;
  queueName: string;
  wait?: boolean;
  retryFailed?: boolean;
}

const describeResult = (e: ResultEvent): string =>
  e.type === 'start' ? `start ${e.name} (${e.id}, ${e.mode}, attempt ${e.attempt}) on ${e.worker}`
    : e.type === 'end' ? `${e.status} ${e.name} (${e.id}) on ${e.worker}${e.error ? `: ${e.error.split('\n').slice(-3).join(' | ')}` : ''}`
      : `warning: ${e.message}`;

/** `windtunnel sweep FILE --queue URL`: registers the sweep in the store, enqueues its runs, and with --wait collects and shows progress until they are all finished. */
export async function enqueueCommand(sweep: Sweep, runs: ExpandedRun[], o: EnqueueOptions): Promise<void> {
  const target = queueTarget(o.queue, o.queueName);
  const db = storePath(o);
  const redis = await connectRedis(target.url);
  const store = Store.open(db);
  const queue = openQueue(redis, target);
  const tty = process.stderr.isTTY === true;
  let bar: SingleBar | null = null;
  const log = (line: string): void => { if (bar) { bar.stop(); console.error(line); bar.start(1000, 0); } else console.error(line); };
  const collector = new Collector(redis, target, store, (e) => log(describeResult(e)));
  try {
    await collector.drain();
    const res = await enqueueSweep({ store, sweep, runs, runsDir: o.runsDir, queue, redis, target, collector, retryFailed: o.retryFailed });
    console.log(`sweep ${sweep.name}: queued ${res.added.length} runs on "${target.name}" at ${target.url}; ${res.alreadyQueued.length} already queued; ` +
      `skipped ${res.skippedDone.length} done, ${res.skippedFailed.length} failed${res.skippedFailed.length ? ' (--retry-failed queues them)' : ''}` +
      (res.skippedLocal.length ? `, ${res.skippedLocal.length} running under a local \`windtunnel sweep\` (if it died, run it again there to recover them)` : ''));
    const ids = [...res.added, ...res.alreadyQueued];
    if (!o.wait) {
      if (ids.length) {
        console.log(`start workers with \`windtunnel worker --queue ${target.url}\`; gather their results into ${db} with \`windtunnel sweep ${sweep.file ?? sweep.name} --queue ${target.url} --wait\` ` +
          `or \`windtunnel collect --queue ${target.url}\` (workers given --db write it themselves)`);
      }
      return;
    }
    const controller = new AbortController();
    const release = onInterrupt({ first: () => controller.abort(), quitMessage: '\nstopped waiting' });
    if (tty && ids.length) {
      bar = new SingleBar({ format: '{bar} {percentage}% | {done}/{total} done | {running} running | {failed} failed | {lost} lost', hideCursor: true }, Presets.shades_classic);
      bar.start(1000, 0, { done: 0, total: ids.length, running: 0, failed: 0, lost: 0 });
    }
    let lastCounts = '';
    const onEvent = (e: WaitEvent): void => {
      if (e.type === 'progress') {
        const counts = `${e.done}/${e.total} done, ${e.running} running, ${e.failed} failed, ${e.lost} lost`;
        if (bar) bar.update(Math.round(e.fraction * 1000), e);
        else if (counts !== lastCounts) console.error(`progress: ${counts}`);
        lastCounts = counts;
      } else if (e.type === 'lost') log(`lost ${e.id}: ${e.reason}`);
      else log(describeResult(e));
    };
    try {
      const w = await waitForRuns({ store, queue, ids, collector, signal: controller.signal, onEvent });
      bar?.stop();
      bar = null;
      if (w.stopped) {
        console.log(`stopped waiting: the runs stay queued and the workers go on; wait again with the same command, or \`windtunnel collect --queue ${target.url}\``);
        process.exitCode = 130;
        return;
      }
      console.log(`sweep ${sweep.name}: ${w.done.length} done, ${w.failed.length} failed, ${w.lost.length} lost (store ${db}; \`windtunnel runs list --sweep ${sweep.name}\`)`);
      process.exitCode = w.failed.length || w.lost.length ? 1 : 0;
    } finally {
      bar?.stop();
      release();
    }
  } finally {
    await queue.close();
    redis.disconnect();
    store.close();
  }
}

interface QueueOptions {
  queue: string;
  queueName: string;
}

const addQueueOptions = (cmd: Command): Command => cmd
  .requiredOption('--queue <url>', 'the Redis server holding the queue, redis://HOST:PORT[/DB]')
  .option('--queue-name <name>', 'queue name in that Redis (the enqueuing sweep must use the same)', DEFAULT_QUEUE_NAME);

interface WorkerFlags extends QueueOptions {
  concurrency?: string;
  threads?: string;
  runsDir: string;
  db?: string;
  trainer?: string;
  grace: string;
  lockDuration: string;
  stalledInterval: string;
  maxStalled: string;
}

export function registerWorker(program: Command): void {
  addQueueOptions(program
    .command('worker')
    .description('take runs from a sweep queue in Redis and train them (one or more per machine; Ctrl-C checkpoints the running runs and puts them back)'))
    .option('--concurrency <n>', 'runs at once (default: cores / threads)')
    .option('--threads <n>', 'threads per run, WINDTUNNEL_THREADS of each trainer (default: cores / concurrency, else 1)')
    .option('--runs-dir <dir>', 'the runs folder shared by all workers (checkpoints live there), as mounted on this machine', 'runs')
    .option('--db <path>', 'write results straight into this store (workers on one machine; SQLite is not safe on network filesystems); default: send them through Redis to the collector')
    .option('--trainer <command>', 'command standing in for the training child process (tests, custom builds; the contract is src/training/child-protocol.ts)')
    .option('--grace <seconds>', 'after Ctrl-C, how long a run may take to checkpoint before it is killed', '60')
    .option('--lock-duration <ms>', 'job lock; a dead worker\'s run is handed on about this long after it died', '30000')
    .option('--stalled-interval <ms>', 'how often to look for runs whose worker died', '30000')
    .option('--max-stalled <n>', 'how often a run may lose its worker before its job is failed', '5')
    .action(action(async (o: WorkerFlags) => {
      const target = queueTarget(o.queue, o.queueName);
      const plan = planParallelism({
        cores: availableParallelism(), runs: Number.MAX_SAFE_INTEGER, params: null,
        parallel: o.concurrency === undefined ? undefined : positiveInt(o.concurrency, '--concurrency'),
        threads: o.threads === undefined ? undefined : positiveInt(o.threads, '--threads'),
      });
      const lockDurationMs = positiveInt(o.lockDuration, '--lock-duration'), stalledIntervalMs = positiveInt(o.stalledInterval, '--stalled-interval');
      const maxStalledCount = positiveInt(o.maxStalled, '--max-stalled');
      const redis = await connectRedis(target.url);
      const store = o.db ? Store.open(o.db) : null;
      const log = (line: string): void => console.log(line);
      const sink = store ? new DirectSink(store, (e) => { if (e.type === 'warning') log(`warning: ${e.message}`); }) : new RedisSink(redis, target);
      const controller = new AbortController();
      const release = onInterrupt({ first: () => controller.abort(), quitMessage: '\nkilling the runs; other workers resume them from their last checkpoints' });
      const onEvent = (e: WorkerEvent): void => {
        switch (e.type) {
          case 'ready':
            log(`worker ${e.worker}: taking runs from "${target.name}" at ${target.url}, ${e.concurrency} at once with ${e.threads} thread(s) each (${plan.reason}); ` +
              `results ${e.sink === 'direct' ? `into ${o.db}` : 'through Redis to the collector'}; runs folder ${o.runsDir}`);
            break;
          case 'start': log(`start ${e.job.name} (${e.job.id}, ${e.mode}, attempt ${e.attempt}, pid ${e.pid ?? '?'})`); break;
          case 'skip': log(`skip ${e.job.name} (${e.job.id}): ${e.reason}`); break;
          case 'end': log(`${e.status} ${e.job.name} (${e.job.id}) in ${e.seconds.toFixed(1)}s${e.error ? `: ${e.error.split('\n').slice(-3).join(' | ')}` : ''}`); break;
          case 'stopping': log(`stopping: asking ${e.running} run(s) to checkpoint; they go back on the queue (Ctrl-C again to kill them)`); break;
          case 'warning': log(`warning: ${e.message}`); break;
        }
      };
      try {
        const s = await runWorker({
          target, redis, sink, runsDir: o.runsDir, concurrency: plan.parallel, threads: plan.threads,
          trainer: o.trainer ? trainerCommand(o.trainer.split(/\s+/).filter(Boolean)) : undefined,
          graceMs: Number(o.grace) * 1000, lockDurationMs, stalledIntervalMs, maxStalledCount,
          signal: controller.signal, onEvent,
        });
        log(`worker stopped: ${s.done.length} done, ${s.failed.length} failed, ${s.interrupted.length} put back, ${s.skipped.length} skipped`);
      } finally {
        release();
        redis.disconnect();
        store?.close();
      }
    }));
}

export function registerCollect(program: Command): void {
  addQueueOptions(program
    .command('collect')
    .description('gather the results that workers send through Redis into the store, until Ctrl-C (one collector per queue)'))
    .option('--runs-dir <dir>', 'where the store lives by default', 'runs')
    .option('--db <path>', 'the results store (default <runs-dir>/windtunnel.db; the one the sweep was enqueued with)')
    .option('--poll <seconds>', 'how often to look for results', '1')
    .action(action(async (o: QueueOptions & StoreOptions & { poll: string }) => {
      const target = queueTarget(o.queue, o.queueName);
      const redis = await connectRedis(target.url);
      const db = storePath(o);
      const store = Store.open(db);
      const collector = new Collector(redis, target, store, (e) => console.log(describeResult(e)));
      const controller = new AbortController();
      const release = onInterrupt({ first: () => controller.abort(), quitMessage: '\nstopped' });
      console.log(`collecting results from "${target.name}" at ${target.url} into ${db} (Ctrl-C stops)`);
      try {
        while (!controller.signal.aborted) {
          await collector.drain();
          await sleep(Number(o.poll) * 1000, controller.signal);
        }
        await collector.drain();
      } finally {
        release();
        redis.disconnect();
        store.close();
      }
    }));
}
