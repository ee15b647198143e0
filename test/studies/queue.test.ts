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
import { connectRedis, queueTarget } from '../../src/lab/queue.js';
import { queryRuns } from '../../src/lab/query.js';
import { Store } from '../../src/lab/store.js';
import { runStudy } from '../../src/studies/run.js';
import { wsdVsCosine } from '../../src/studies/wsd-vs-cosine.js';

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

test('wsd-vs-cosine (smoke) through a Redis queue: the worker trains both rounds, the study branches between them', { skip }, async () => {
  const runsDir = join(dir, 'runs');
  const worker = spawn(process.execPath, ['bin/windtunnel.js', 'worker', '--queue', url, '--runs-dir', runsDir, '--concurrency', '2', '--threads', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  children.push(worker);
  let log = '';
  worker.stdout!.on('data', (d) => { log += d; });
  worker.stderr!.on('data', (d) => { log += d; });
  const rounds: number[] = [];
  const db = join(dir, 'windtunnel.db');
  const r = await runStudy(wsdVsCosine, {
    budget: 'smoke', runsDir, db, queue: queueTarget(url),
    onEvent: (e) => { if (e.type === 'round') rounds.push(e.toTrain); },
  });
  worker.kill('SIGINT');
  assert.deepEqual(rounds, [3, 1], log);
  assert.deepEqual(r.unfinished, [], log);
  assert.ok(['supported', 'not supported', 'inconclusive'].includes(r.analysis!.verdict));
  const store = Store.open(db, { readonly: true });
  try {
    const runs = queryRuns(store, { sweep: 'wsd-vs-cosine-smoke' });
    assert.ok(runs.every((x) => x.status === 'done' && x.worker?.startsWith('queue:')), JSON.stringify(runs.map((x) => [x.name, x.status, x.worker])));
    const branch = runs.find((x) => x.name === 'wsd-L20-d10-1-sqrt-s0')!;
    assert.equal(JSON.parse(readFileSync(join(branch.dir!, 'ckpt-18', 'state.json'), 'utf8')).branchedFrom.step, 18);
  } finally { store.close(); }
  assert.match(log, /resume/, 'the worker resumed the branch from its checkpoint');
});
