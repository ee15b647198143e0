// A local sweep as a process: killing it (even with SIGKILL, which it cannot handle) takes its
// trainers with it; running it again while it still has failed runs exits non-zero, so a script
// does not take "nothing left to do" for success.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Store } from '../../../src/lab/results/store.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-sweep-proc-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

const fakeRun = ['--trainer', `${process.execPath} test/lab/fake-trainer.mjs`, '--no-validate'];
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function until<T>(what: string, fn: () => T | null | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Trainer pids the store records for running runs. */
function trainerPids(db: string): number[] | null {
  if (!existsSync(db)) return null;
  const s = Store.open(db, { readonly: true });
  try {
    const pids = s.db.prepare("SELECT pid FROM runs WHERE status = 'running' AND pid IS NOT NULL").pluck().all() as number[];
    return pids.length === 2 ? pids : null;
  } catch { return null; } finally { s.close(); }
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`a local sweep killed with ${signal} leaves no trainer running`, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'hang.json'), JSON.stringify({ lr: 0.05, steps: 1000, fake: { stepMs: 20, hangAt: 3 } }));
    writeFileSync(join(dir, 'hang.yaml'), 'name: hang\nbase: hang.json\ngrid:\n  lr: [0.05, 0.1]\n');
    const sweep = spawn(process.execPath, ['bin/windtunnel.js', 'sweep', join(dir, 'hang.yaml'), ...fakeRun, '--parallel', '2', '--grace', '2', '--runs-dir', join(dir, 'runs')],
      { stdio: 'ignore', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
    const exited = new Promise<void>((ok) => sweep.on('close', () => ok()));
    const pids = await until('both trainers', () => trainerPids(join(dir, 'runs', 'windtunnel.db')));
    // Wait until both hang (they write nothing more, so a closed pipe cannot be what ends them).
    const runDirs = ['lr=0.05', 'lr=0.1'].map((n) => join(dir, 'runs', 'hang', readdirSync(join(dir, 'runs', 'hang')).find((d) => d.startsWith(n + '-'))!));
    await until('both trainers to hang at step 3', () => (runDirs.every((d) => existsSync(join(d, 'metrics.jsonl')) && readFileSync(join(d, 'metrics.jsonl'), 'utf8').split('\n').length > 2) ? true : null));
    await sleep(300);
    assert.ok(pids.every(alive));
    sweep.kill(signal);
    await exited;
    try {
      await until('the trainers to die', () => (pids.some(alive) ? null : true), 15_000);
    } finally {
      for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL'); // do not leave them behind when the check fails
    }
  });
}

test('running a sweep again while some of its runs failed exits 1 and says so', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'fail.json'), JSON.stringify({ lr: 0.05, steps: 10, fake: { stepMs: 1 } }));
  writeFileSync(join(dir, 'fail.yaml'), 'name: fail\nbase: fail.json\nlist:\n  - { lr: 0.05 }\n  - { lr: 0.1, fake: { stepMs: 1, failAt: 4 } }\n');
  const cli = () => spawnSync(process.execPath, ['bin/windtunnel.js', 'sweep', join(dir, 'fail.yaml'), ...fakeRun, '--runs-dir', join(dir, 'runs')], { encoding: 'utf8' });
  const first = cli();
  assert.equal(first.status, 1, first.stderr);
  const again = cli();
  assert.equal(again.status, 1, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout + again.stderr, /1 failed earlier.*--retry-failed/s);
});
