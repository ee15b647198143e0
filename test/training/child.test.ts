// The training child process (src/training/child.ts) against its contract
// (src/training/child-protocol.ts): a real tiny run, started as the lab starts it. Every stdout
// line is a protocol message; exit codes and the run folder are as the contract says.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childArgs, childCommand, parseChildMessage, type ChildMessage, type ChildMode } from '../../src/training/child-protocol.js';
import { RunFolder } from '../../src/training/run-folder.js';
import { latestStep } from '../../src/training/checkpoint.js';
import { readMetrics } from '../../src/training/metrics.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), 'wt-child-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const config = (steps: number, extra: Record<string, unknown> = {}) => ({
  ...JSON.parse(readFileSync(join(root, 'configs/tiny-smoke.json'), 'utf8')),
  data: { corpus: { kind: 'brown', categories: ['news'] }, cacheDir: join(tmp, 'cache') },
  batchSize: 4, context: 32, evalBatches: 2, steps, checkpointInterval: 4, evalInterval: 4, ...extra,
});

interface Ran { code: number | null; messages: ChildMessage[]; stderr: string }

function runChild(mode: ChildMode, dir: string, onMessage?: (m: ChildMessage, kill: (s: NodeJS.Signals) => void) => void): Promise<Ran> {
  const [cmd, ...pre] = childCommand();
  const child = spawn(cmd, [...pre, ...childArgs(mode, dir)], { cwd: tmp, env: { ...process.env, WINDTUNNEL_THREADS: '1', WINDTUNNEL_QUIET_FALLBACK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: ChildMessage[] = [];
  let stdout = '', stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    const lines = stdout.split('\n');
    stdout = lines.pop()!;
    for (const line of lines) {
      const m = parseChildMessage(line);
      assert.ok(m, `stdout carries only protocol messages, got ${JSON.stringify(line)}`);
      messages.push(m);
      onMessage?.(m, (s) => child.kill(s));
    }
  });
  return new Promise((done) => child.on('close', (code) => done({ code, messages, stderr })));
}

test('train: start, one progress message per step, end; the run folder holds the run; resume of a finished run ends at once', async () => {
  const dir = join(tmp, 'fresh');
  assert.equal(new RunFolder(dir).prepareForTrainer(config(6)), 'train');
  const r = await runChild('train', dir);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.messages[0], { type: 'start', mode: 'train', step: 0, totalSteps: 6 });
  assert.deepEqual(r.messages.filter((m) => m.type === 'progress').map((m) => m.type === 'progress' && m.step), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(r.messages.at(-1), { type: 'end', status: 'completed', step: 6 });
  assert.equal(latestStep(dir), 6);
  assert.equal(readMetrics(new RunFolder(dir).metricsPath).filter((l) => l.type === 'train').length, 6);
  assert.equal(new RunFolder(dir).lockHolder(), null, 'the lock is released');

  const again = await runChild('resume', dir);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(again.messages.at(-1), { type: 'end', status: 'completed', step: 6 });
});

test('SIGINT stops with a checkpoint and exit 130; resume continues from it', async () => {
  const dir = join(tmp, 'stopped');
  new RunFolder(dir).prepareForTrainer(config(200));
  let sent = false;
  const r = await runChild('train', dir, (m, kill) => { if (!sent && m.type === 'progress' && m.step >= 2) { sent = true; kill('SIGINT'); } });
  assert.equal(r.code, 130, r.stderr);
  const end = r.messages.at(-1)!;
  assert.equal(end.type === 'end' && end.status, 'stopped');
  assert.equal(latestStep(dir), end.type === 'end' ? end.step : -1);

  assert.equal(new RunFolder(dir).prepareForTrainer(config(200)), 'resume');
  let resumedAt = -1;
  const again = await runChild('resume', dir, (m, kill) => { if (m.type === 'start') { resumedAt = m.step; kill('SIGINT'); } });
  assert.equal(again.code, 130, again.stderr);
  assert.equal(resumedAt, end.type === 'end' ? end.step : -2);
});

test('a bad run config: exit 2, an error message naming the field, nothing trained', async () => {
  const dir = join(tmp, 'bad');
  new RunFolder(dir).prepareForTrainer(config(3, { lr: -1 }));
  const r = await runChild('train', dir);
  assert.equal(r.code, 2);
  const last = r.messages.at(-1)!;
  assert.equal(last.type, 'error');
  assert.match(last.type === 'error' ? last.message : '', /\blr: /);
  assert.match(r.stderr, /error: invalid training config/);
  assert.equal(latestStep(dir), null);
});
