// A study on Redis workers: `runStudy` with a queue enqueues each round for a `windtunnel worker`
// (a real child process), collects the results, branches the WSD decays in the shared runs
// folder between rounds, and reports as it does locally. Skipped without redis-server (CI
// installs it and sets WINDTUNNEL_WITH_REDIS=1, which turns the skip into a failure).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, queueTarget } from '../../src/lab/experiments/queue.js';
import { queryRuns } from '../../src/lab/results/query.js';
import { Store } from '../../src/lab/results/store.js';
import { runStudy } from '../../src/studies/run.js';
import { planSweep, studyBase, type Study } from '../../src/studies/study.js';

const redisBin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
const required = process.env.WINDTUNNEL_WITH_REDIS === '1';
const skip = redisBin || required ? false : 'redis-server is not installed (apt-get install redis-server)';

let dir = '', url = '';
const children: ChildProcess[] = [];

const freePort = (): Promise<number> => new Promise((res, rej) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => res(port));
  }).on('error', rej);
});

before(async () => {
  if (skip) return;
  if (!redisBin) throw new Error('WINDTUNNEL_WITH_REDIS=1 but redis-server is not installed');
  dir = mkdtempSync(join(tmpdir(), 'wt-study-queue-'));
  const port = await freePort();
  children.push(spawn(redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
  url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { (await connectRedis(url, 1000)).disconnect(); break; } catch (e) { if (i > 50) throw e; await new Promise((r) => setTimeout(r, 100)); }
  }
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The smallest study with a branch: one WSD run and one decay branched from its stable phase. */
const tiny: Study<null> = {
  name: 'queue-demo', title: 'a WSD run and one branch', claim: 'none', budgets: { smoke: null, small: null, full: null },
  plan: (budget) => planSweep({
    study: 'queue-demo', budget,
    base: studyBase({ dModel: 16, nLayer: 1, nHead: 2, batchSize: 4, context: 32, lr: 3e-3, evalBatches: 2, categories: ['news'] }),
    runs: [
      { run: 'trunk', set: { steps: 12, schedule: { kind: 'wsd', warmupSteps: 2, decaySteps: 2, minLrRatio: 0 }, checkpointInterval: 8, keepCheckpoints: 0 } },
      { run: 'branch', set: { steps: 10, schedule: { kind: 'wsd', warmupSteps: 2, decaySteps: 2, minLrRatio: 0 }, checkpointInterval: 8, keepCheckpoints: 0 }, from: { run: 'trunk', at: 8 } },
    ],
  }),
  analyse: (_store, runs) => ({
    verdict: 'inconclusive', reason: `${runs.filter((r) => r.record.status === 'done').length} runs done.`, evidence: [], caveats: [], figures: [], tables: [], data: {},
  }),
};

test('a study through a Redis queue: the worker trains both rounds, the study branches between them, the report is written', { skip }, async () => {
  const runsDir = join(dir, 'runs');
  const worker = spawn(process.execPath, ['bin/windtunnel.js', 'worker', '--queue', url, '--runs-dir', runsDir, '--concurrency', '2', '--threads', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  children.push(worker);
  let log = '';
  worker.stdout!.on('data', (d) => { log += d; });
  worker.stderr!.on('data', (d) => { log += d; });
  const rounds: number[] = [];
  const db = join(dir, 'windtunnel.db');
  const r = await runStudy(tiny, {
    budget: 'smoke', runsDir, db, queue: queueTarget(url),
    onEvent: (e) => { if (e.type === 'round') rounds.push(e.toTrain); },
  });
  worker.kill('SIGINT');
  assert.deepEqual(rounds, [1, 1], log);
  assert.deepEqual(r.unfinished, [], log);
  assert.match(r.analysis!.reason, /^Smoke budget: .*INCONCLUSIVE \(smoke\) whatever the numbers \(taken alone they would say inconclusive: 2 runs done\.\)$/);
  assert.match(readFileSync(r.report!.markdown, 'utf8'), /\*\*Verdict: INCONCLUSIVE \(smoke\)\*\*/);
  const store = Store.open(db, { readonly: true });
  try {
    const runs = queryRuns(store, { sweep: 'queue-demo-smoke' });
    assert.ok(runs.every((x) => x.status === 'done' && x.worker?.startsWith('queue:')), JSON.stringify(runs.map((x) => [x.name, x.status, x.worker])));
    const branch = runs.find((x) => x.name === 'branch')!;
    assert.equal(JSON.parse(readFileSync(join(branch.dir!, 'ckpt-8', 'state.json'), 'utf8')).branchedFrom.step, 8);
  } finally { store.close(); }
  assert.match(log, /start branch \(\w+, resume/, 'the worker resumed the branch from its checkpoint');
});
