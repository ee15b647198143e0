// The run folder's lock: one writer at a time. A second writer (in this process, in another
// process, or a `windtunnel resume` beside a holder) gets an error naming the holder; a lock left
// by a killed process is recovered; the lab's preparation step is refused while a trainer holds it.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FOREIGN_STALE_MS, HEARTBEAT_MS, LockedError } from '../../src/base/lockfile.js';
import { RunFolder } from '../../src/training/run-folder.js';
import { latestStep } from '../../src/training/checkpoint.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), 'wt-runfolder-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts a process that takes the folder's lock and keeps it; resolves once it holds it. */
async function startHolder(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/training/lock-holder.ts'), dir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  await new Promise<void>((ok, fail) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { if (d.includes('locked')) ok(); });
    child.on('exit', (code) => fail(new Error(`lock holder exited ${code}: ${err}`)));
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((done) => { child.on('exit', () => done()); child.kill('SIGKILL'); });
}

/** A pid that ran on this host and has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('a second lock in the same process is refused, naming the holder; release frees it', () => {
  const f = new RunFolder(join(tmp, 'same'));
  const lock = f.lock('first');
  assert.equal(f.lockHolder()?.pid, process.pid);
  assert.throws(() => f.lock('second'), (e: unknown) => e instanceof LockedError && e.message.includes(`pid ${process.pid}`) && e.message.includes(hostname()) && e.message.includes('(first)'));
  lock.release();
  assert.equal(existsSync(f.lockPath), false);
  f.lock('again').release();
  lock.release(); // idempotent: must not remove a lock someone else took meanwhile
});

test('a lock held by another live process is refused; once that process is killed, its stale lock is recovered', async () => {
  const f = new RunFolder(join(tmp, 'other'));
  const holder = await startHolder(f.dir);
  try {
    assert.throws(() => f.lock(), (e: unknown) => e instanceof LockedError && e.message.includes(`pid ${holder.pid}`) && /lock-holder/.test(e.message));
    assert.throws(() => f.prepareForTrainer({ steps: 1 }), LockedError, 'the lab must not touch a folder a trainer holds');
    assert.equal(existsSync(f.requestedConfigPath), false);
  } finally {
    await killed(holder);
  }
  assert.equal(f.lockHolder()?.pid, holder.pid, 'a killed holder leaves its lock behind');
  const lock = f.lock('recovering');
  assert.equal(f.lockHolder()?.pid, process.pid);
  lock.release();
});

test('a stale lock of an exited pid, a stale breaker, and a foreign lock no longer refreshed are taken over; a fresh foreign lock or one naming no holder is not', () => {
  const f = new RunFolder(join(tmp, 'stale'));
  mkdirSync(f.dir, { recursive: true });
  const pid = deadPid();
  writeFileSync(f.lockPath, JSON.stringify({ pid, host: hostname(), command: 'windtunnel resume x', since: '2026-01-01T00:00:00Z' }));
  writeFileSync(f.lockPath + '.break', JSON.stringify({ pid, host: hostname(), command: 'breaking a stale lock', since: '2026-01-01T00:00:00Z' }));
  const lock = f.lock('taking over');
  assert.equal(JSON.parse(readFileSync(f.lockPath, 'utf8')).pid, process.pid);
  assert.equal(existsSync(f.lockPath + '.break'), false);
  lock.release();

  writeFileSync(f.lockPath, JSON.stringify({ pid, host: 'some-other-host', command: 'windtunnel worker', since: '2026-01-01T00:00:00Z' }));
  assert.throws(() => f.lock(), /in use by pid \d+ on some-other-host \(windtunnel worker\).*taken over after 2 minutes/);
  const old = new Date(Date.now() - FOREIGN_STALE_MS - 5000);
  utimesSync(f.lockPath, old, old);
  const taken = f.lock('taking over from a dead machine');
  assert.equal(f.lockHolder()?.host, hostname());
  taken.release();
  writeFileSync(f.lockPath, '');
  assert.throws(() => f.lock(), /names no holder/);
});

test('`windtunnel resume` beside a process holding the run folder fails clearly and changes nothing; after the holder is killed it resumes', async () => {
  const bin = join(root, 'bin', 'windtunnel.js');
  const dir = join(tmp, 'run');
  const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  const sets = [`data.cacheDir=${join(tmp, 'cache')}`, 'batchSize=4', 'context=32', 'evalBatches=2', 'steps=6', 'checkpointInterval=3', 'evalInterval=3'];
  const trained = cli('train', '--config', join(root, 'configs/tiny-smoke.json'), '--run-dir', dir, ...sets.flatMap((s) => ['--set', s]));
  assert.equal(trained.status, 0, trained.stderr);
  // Back to step 3, as if stopped there, so a resume has steps to train.
  writeFileSync(join(dir, 'latest'), 'ckpt-3\n');
  const metricsBefore = readFileSync(join(dir, 'metrics.jsonl'), 'utf8');

  const holder = await startHolder(dir);
  let refused;
  try {
    refused = cli('resume', dir);
  } finally {
    await killed(holder);
  }
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, new RegExp(`run folder .* is in use by pid ${holder.pid} on ${hostname()}`));
  assert.equal(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), metricsBefore, 'the refused resume wrote nothing');
  assert.equal(latestStep(dir), 3);

  const resumed = cli('resume', dir);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(latestStep(dir), 6);
  assert.equal(existsSync(join(dir, 'lock')), false, 'the lock is released when the run ends');
});

test('a holder refreshes its lock (the heartbeat other machines judge staleness by)', async () => {
  const f = new RunFolder(join(tmp, 'heartbeat'));
  const lock = f.lock('beating');
  const old = new Date(Date.now() - FOREIGN_STALE_MS - 5000);
  utimesSync(f.lockPath, old, old);
  await new Promise((done) => setTimeout(done, HEARTBEAT_MS + 1500));
  const age = Date.now() - statSync(f.lockPath).mtimeMs;
  lock.release();
  assert.ok(age < HEARTBEAT_MS + 1500, `the lock was last refreshed ${age} ms ago`);
});
