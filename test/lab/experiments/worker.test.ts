// Distributed sweeps for real: the test starts its own redis-server on a free port, enqueues
// sweeps with `windtunnel sweep --queue`, runs several `windtunnel worker` processes (with the
// fake trainer, fake-trainer.mjs), SIGKILLs one mid-run and SIGTERMs another, and checks that
// every run finished exactly once in the store, resumed from its checkpoint. Skipped, saying
// why, only when redis-server is not installed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { applyResult, connectRedis, queueTarget } from '../../../src/lab/experiments/queue.js';
import { metricSeries, evalSeries, queryRuns, type RunRecord } from '../../../src/lab/results/query.js';
import { recordSweep } from '../../../src/lab/experiments/runner.js';
import { Store } from '../../../src/lab/results/store.js';
import { expandSweep, parseSweep } from '../../../src/lab/experiments/sweep.js';

const redisBin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
// CI (WINDTUNNEL_WITH_REDIS=1) promises redis-server, so there its absence is a failure, not a skip.
const required = process.env.WINDTUNNEL_WITH_REDIS === '1';
const skip = redisBin || required ? false : 'redis-server is not installed (apt-get install redis-server; .ci/run installs it through scripts/setup.sh with WINDTUNNEL_WITH_REDIS=1)';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-worker-')); tempDirs.push(d); return d; };
const children: ChildProcess[] = [];
let redisServer: ChildProcess | null = null;
let url = '';
let redis: Redis | null = null;

const freePort = (): Promise<number> => new Promise((res, rej) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => res(port));
  }).on('error', rej);
});

before(async () => {
  if (skip) return;
  if (!redisBin) throw new Error('WINDTUNNEL_WITH_REDIS=1 but redis-server is not installed (scripts/setup.sh installs it)');
  const port = await freePort();
  redisServer = spawn(redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { redis = await connectRedis(url, 1000); break; } catch (e) { if (i > 50) throw e; await sleep(100); }
  }
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  redis?.disconnect();
  redisServer?.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const fakeTrainer = `${process.execPath} test/lab/fake-trainer.mjs`;
/** Short locks so that a dead worker's job is handed on within about 3 s. */
const fastLocks = ['--lock-duration', '2000', '--stalled-interval', '1000'];

interface Proc { proc: ChildProcess; out: string[]; exited: Promise<number | null> }

function startCli(args: string[]): Proc {
  const proc = spawn(process.execPath, ['bin/windtunnel.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  children.push(proc);
  const out: string[] = [];
  let rest = '';
  const take = (d: string): void => { const lines = (rest + d).split('\n'); rest = lines.pop()!; out.push(...lines); };
  proc.stdout!.setEncoding('utf8').on('data', take);
  proc.stderr!.setEncoding('utf8').on('data', take);
  const exited = new Promise<number | null>((res) => proc.on('close', (code) => { if (rest) out.push(rest); res(code); }));
  return { proc, out, exited };
}

async function exitCode(p: Proc, what: string, timeoutMs = 90_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} did not exit in time; output:\n${p.out.join('\n')}`)), timeoutMs); });
  try { return await Promise.race([p.exited, timeout]); } finally { clearTimeout(timer); }
}

function workspace(queueName: string, base: Record<string, unknown>, sweepYaml: string) {
  const dir = tempDir();
  const runsDir = join(dir, 'runs');
  writeFileSync(join(dir, 'fake.json'), JSON.stringify(base));
  writeFileSync(join(dir, 'sweep.yaml'), `base: fake.json\n${sweepYaml}`);
  const queueArgs = ['--queue', url, '--queue-name', queueName];
  const sweepArgs = ['sweep', join(dir, 'sweep.yaml'), ...queueArgs, '--no-validate', '--runs-dir', runsDir];
  const enqueue = (...extra: string[]) => {
    const r = spawnSync(process.execPath, ['bin/windtunnel.js', ...sweepArgs, ...extra], { encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const worker = (...extra: string[]) => startCli(['worker', ...queueArgs, '--runs-dir', runsDir, '--trainer', fakeTrainer, ...fastLocks, ...extra]);
  const store = (): Store => Store.open(join(runsDir, 'windtunnel.db'), { readonly: true });
  const runs = (s: Store): RunRecord[] => queryRuns(s, {});
  const invocations = (r: RunRecord): string[] => readFileSync(join(r.dir!, 'invocations.log'), 'utf8').trim().split('\n');
  const queue = new Queue(queueName, { connection: redis! });
  return { dir, runsDir, enqueue, worker, sweepArgs, store, runs, invocations, queue, db: join(runsDir, 'windtunnel.db') };
}

/** The run a worker is training, from its "start NAME (ID, MODE, attempt N, pid P)" lines. */
function started(p: Proc): { id: string; pid: number }[] {
  return p.out.flatMap((l) => {
    const m = /^start \S+ \((\w+), \w+, attempt \d+, pid (\d+)\)/.exec(l);
    return m ? [{ id: m[1], pid: Number(m[2]) }] : [];
  });
}

const latest = (dir: string): number => {
  try { return Number(/ckpt-(\d+)/.exec(readFileSync(join(dir, 'latest'), 'utf8'))?.[1] ?? 0); } catch { return 0; }
};

/** Gone, or a zombie nobody has reaped yet: either way it runs no more. */
function notRunning(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true; } catch { return true; }
}

const steps = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

test('applyResult: a re-applied start counts once, and only the delivery that holds a run may log to it or end it', () => {
  const store = Store.open(':memory:');
  const sweep = parseSweep({ name: 's', base: { lr: 0.1, steps: 3 } });
  const [run] = expandSweep(sweep, { validate: false });
  recordSweep(store, sweep, [run], tempDir());
  const get = (): RunRecord => queryRuns(store, { ids: [run.id] })[0];
  const start = { t: 'start', run: run.id, worker: 'w1#1', mode: 'train', attempt: 1, pid: 7 } as const;
  assert.equal(applyResult(store, start)?.type, 'start');
  assert.equal(applyResult(store, start), null, 'the same start again (a collector that re-reads) changes nothing');
  assert.deepEqual([get().status, get().attempts, get().worker], ['running', 1, 'w1#1']);
  applyResult(store, { t: 'lines', run: run.id, worker: 'w1#1', lines: ['{"step":1,"loss":2}', '{"step":2,"loss":1.5}'] });
  // The job is handed to another worker (w1 stalled); it resumes, and w1's late reports are ignored.
  assert.equal(applyResult(store, { ...start, worker: 'w2#2', mode: 'resume', attempt: 2 })?.type, 'start');
  assert.equal(applyResult(store, { t: 'end', run: run.id, worker: 'w1#1', status: 'failed', error: 'x' })?.type, 'warning');
  assert.equal(applyResult(store, { t: 'lines', run: run.id, worker: 'w1#1', lines: ['{"step":3,"loss":9}'] })?.type, 'warning');
  applyResult(store, { t: 'lines', run: run.id, worker: 'w2#2', lines: ['{"step":2,"loss":1.5}', '{"step":3,"loss":1.2}'] });
  assert.equal(applyResult(store, { t: 'end', run: run.id, worker: 'w2#2', status: 'done' })?.type, 'end');
  assert.deepEqual([get().status, get().attempts, get().final?.loss], ['done', 2, 1.2]);
  assert.deepEqual(metricSeries(store, { runs: [run.id], keys: ['loss'] }).map((p) => [p.step, p.value]), [[1, 2], [2, 1.5], [3, 1.2]]);
  // A done run is not claimed again.
  assert.equal(applyResult(store, { ...start, worker: 'w3#3', attempt: 3 })?.type, 'warning');
  assert.deepEqual([get().status, get().attempts], ['done', 2]);
  assert.equal(applyResult(store, { ...start, run: 'nope' })?.type, 'warning');
  store.close();
});

test('queueTarget and connectRedis say what is wrong', async () => {
  assert.throws(() => queueTarget('localhost:6379'), /redis:\/\/HOST:PORT/);
  assert.throws(() => queueTarget('redis://h:1', 'a b'), /queue name/);
  await assert.rejects(connectRedis(`redis://127.0.0.1:${await freePort()}`, 2000), /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
});

test('a sweep on the queue: several workers, one SIGKILLed mid-run; every run is done exactly once, the killed one resumed from its checkpoint', { skip }, async () => {
  const w = workspace('kill', { lr: 0.05, steps: 40, fake: { stepMs: 50, checkpointEvery: 5 } }, 'name: demo\ngrid:\n  lr: [0.02, 0.04, 0.06, 0.08, 0.1]\n');
  // Enqueue twice: the second adds nothing.
  const first = w.enqueue();
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /queued 5 runs on "kill" at redis:\/\/127\.0\.0\.1:\d+; 0 already queued; skipped 0 done, 0 failed/);
  const second = w.enqueue();
  assert.match(second.out, /queued 0 runs .*; 5 already queued/);
  assert.equal((await w.queue.getJobCounts()).waiting, 5);

  const workers = [1, 2, 3].map(() => w.worker('--concurrency', '1', '--threads', '1'));
  // The collector: waits, gathering what the workers send through Redis into the store.
  const waiter = startCli([...w.sweepArgs, '--wait']);

  // The first worker to start a run is the victim, once that run has passed a checkpoint.
  const victim = await until('a worker to start a run', () => workers.find((p) => started(p).length > 0));
  const { id, pid } = started(victim)[0];
  const runDir = await until('the run folder', () => runDirOf(w.runsDir, id));
  await until('a checkpoint at step 10', () => latest(runDir) >= 10);
  victim.proc.kill('SIGKILL');
  const ckptAtKill = latest(runDir);
  await until('the trainer of the killed worker to die with it', () => notRunning(pid), 3000);

  assert.equal(await exitCode(waiter, 'sweep --wait'), 0, waiter.out.join('\n'));
  assert.match(waiter.out.join('\n'), /sweep demo: 5 done, 0 failed, 0 lost/);
  for (const p of workers.filter((x) => x !== victim)) p.proc.kill('SIGTERM');
  for (const p of workers.filter((x) => x !== victim)) assert.equal(await exitCode(p, 'a worker after SIGTERM', 15_000), 0);

  const store = w.store();
  const runs = w.runs(store);
  assert.deepEqual(runs.map((r) => r.status), ['done', 'done', 'done', 'done', 'done']);
  for (const r of runs) {
    const killed = r.id === id;
    assert.deepEqual(metricSeries(store, { runs: [r.id], keys: ['loss'] }).map((p) => p.step), steps(40), `${r.name}: every step exactly once`);
    assert.equal(evalSeries(store, { runs: [r.id], keys: ['loss'] }).length, 8);
    assert.equal(r.final?.step, 40);
    assert.equal(r.attempts, killed ? 2 : 1, r.name);
    const inv = w.invocations(r);
    if (!killed) { assert.deepEqual(inv, ['train 1 threads=1'], r.name); continue; }
    // Resumed from the checkpoint it had when its worker died (or the one right after), not from 0.
    assert.equal(inv.length, 2, inv.join('\n'));
    assert.equal(inv[0], 'train 1 threads=1');
    const from = Number(/^resume (\d+) /.exec(inv[1])?.[1]) - 1;
    assert.ok(from >= ckptAtKill && from % 5 === 0 && from < 40, `resumed after step ${from}; checkpoint at the kill: ${ckptAtKill}`);
    assert.ok(!r.worker?.startsWith(`queue:${victimName(victim)}#`), `finished by another worker, not ${r.worker}`);
  }
  store.close();
  const counts = await w.queue.getJobCounts();
  assert.deepEqual([counts.waiting, counts.active, counts.failed, counts.delayed], [0, 0, 0, 0]);
  assert.equal(await redis!.xlen('windtunnel:kill:results'), 0, 'every report collected');

  // Enqueueing the finished sweep again queues nothing.
  assert.match(w.enqueue().out, /queued 0 runs .*; 0 already queued; skipped 5 done/);
  await w.queue.close();
});

test('direct mode (--db), SIGTERM puts running runs back at a checkpoint, a failed run is recorded once, a done run is not trained again', { skip }, async () => {
  const w = workspace('term', { lr: 0.05, steps: 60, fake: { stepMs: 40, checkpointEvery: 5 } }, 'name: term\nlist:\n  - { lr: 0.05 }\n  - { lr: 0.1 }\n  - { lr: 0.2, fake.failAt: 3 }\n');
  assert.equal(w.enqueue().code, 0);
  const worker = w.worker('--concurrency', '3', '--threads', '1', '--db', w.db, '--grace', '10');
  await until('three runs started', () => started(worker).length === 3);
  await until('a failed run and two checkpoints', () => {
    const s = w.store();
    try {
      const rs = w.runs(s);
      return rs.filter((r) => r.status === 'failed').length === 1 && rs.filter((r) => r.status === 'running' && r.dir && latest(r.dir) >= 5).length === 2;
    } finally { s.close(); }
  });
  worker.proc.kill('SIGTERM');
  assert.equal(await exitCode(worker, 'the worker after SIGTERM', 15_000), 0, worker.out.join('\n'));
  assert.match(worker.out.join('\n'), /worker stopped: 0 done, 1 failed, 2 put back/);
  let store = w.store();
  const byLr = (s: Store) => Object.fromEntries(w.runs(s).map((r) => [(r.config as { lr: number }).lr, r]));
  let rs = byLr(store);
  assert.deepEqual([rs[0.05].status, rs[0.1].status, rs[0.2].status], ['interrupted', 'interrupted', 'failed']);
  assert.match(rs[0.05].error ?? '', /its worker queue:\S+ stopped; back on the queue/);
  assert.match(rs[0.2].error ?? '', /^exit code 3\n.*loss is NaN at step 3/s);
  store.close();
  assert.equal((await w.queue.getJobCounts()).waiting, 2, 'both interrupted runs are back on the queue');

  const worker2 = w.worker('--concurrency', '2', '--threads', '1', '--db', w.db);
  const waiter = startCli([...w.sweepArgs, '--wait']);
  assert.equal(await exitCode(waiter, 'sweep --wait'), 0, waiter.out.join('\n'));
  assert.match(waiter.out.join('\n'), /queued 0 runs .*; 2 already queued; skipped 0 done, 1 failed \(--retry-failed queues them\)/);
  assert.match(waiter.out.join('\n'), /sweep term: 2 done, 0 failed, 0 lost/);
  store = w.store();
  rs = byLr(store);
  for (const lr of [0.05, 0.1]) {
    const r = rs[lr];
    assert.deepEqual([r.status, r.attempts], ['done', 2]);
    assert.deepEqual(metricSeries(store, { runs: [r.id], keys: ['loss'] }).map((p) => p.step), steps(60));
    const inv = w.invocations(r);
    assert.equal(inv.length, 2);
    assert.match(inv[1], /^resume (\d+) /);
    assert.ok(Number(/^resume (\d+)/.exec(inv[1])![1]) > 5);
  }
  assert.equal(rs[0.2].attempts, 1, 'a failed run is not retried by the queue');
  // A job delivered again for a run that is done (its worker died between recording and
  // completing the job) completes without training.
  const done = rs[0.05];
  store.close();
  await w.queue.add('run', { id: done.id, name: done.name, sweep: 'term', dir: `term/${done.name}-${done.id}`, config: done.config }, { jobId: done.id });
  await until('the worker to skip the done run', () => worker2.out.some((l) => l.startsWith(`skip ${done.name} (${done.id}): already done`)));
  assert.deepEqual(w.invocations(done).length, 2);
  worker2.proc.kill('SIGTERM');
  assert.equal(await exitCode(worker2, 'worker2', 15_000), 0);
  await w.queue.close();
});

function runDirOf(runsDir: string, id: string): string | undefined {
  const s = Store.open(join(runsDir, 'windtunnel.db'), { readonly: true });
  try {
    const dir = queryRuns(s, { ids: [id] })[0]?.dir;
    return dir && existsSync(dir) ? dir : undefined;
  } finally { s.close(); }
}

/** host:pid of a worker process, as in its "worker queue:HOST:PID:" line. */
function victimName(p: Proc): string {
  return /^worker queue:(\S+):/.exec(p.out.find((l) => l.startsWith('worker queue:')) ?? '')?.[1] ?? `?:${p.proc.pid}`;
}
