// `windtunnel tasks list|sample|make`, training on a task file with `train --config`, and
// `eval RUN --tasks`, end to end through the command line.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lisTable } from '../../src/data/tasks/index.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'bin', 'windtunnel.js');
let tmp = '';
before(() => { tmp = mkdtempSync(join(tmpdir(), 'wt-tasks-cli-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

test('tasks sample --json prints prompt, answer, cot and data exactly', async () => {
  const r = await cli('tasks', 'sample', 'lis', '--n', '3', '--size', '5', '--seed', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l), ['prompt', 'answer', 'cot', 'data']);
    assert.deepEqual(Object.keys(l.data), ['sequence']);
    assert.equal(l.data.sequence.length, 5);
    assert.equal(l.answer, Math.max(...lisTable(l.data.sequence)));
  }
  const direct = await cli('tasks', 'sample', 'edit-distance', '--n', '2', '--format', 'direct', '--json');
  for (const l of direct.stdout.trim().split('\n').map((x) => JSON.parse(x))) {
    assert.deepEqual(Object.keys(l), ['prompt', 'answer', 'data']);
    assert.deepEqual(Object.keys(l.data), ['a', 'b']);
    assert.equal(typeof l.answer, 'number');
  }
  const list = await cli('tasks', 'list', '--json');
  assert.deepEqual(list.stdout.trim().split('\n').map((l) => JSON.parse(l).name), ['arithmetic', 'equations', 'lis', 'edit-distance', 'recall']);
  const bad = await cli('tasks', 'sample', 'sorting');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown task "sorting"/);
});

test('tasks make writes a file that train --config trains on, and eval --tasks scores the run', async () => {
  const file = join(tmp, 'lis.jsonl');
  const made = await cli('tasks', 'make', 'lis', '--out', file, '--sizes', '3-4', '--test-sizes', '4,5', '--train', '200', '--test', '20');
  assert.equal(made.code, 0, made.stderr);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1 + 400 + 40);
  const config = join(tmp, 'run.json');
  writeFileSync(config, JSON.stringify({
    model: { preset: 'gpt2', positions: 'rotary', dModel: 16, nLayer: 1, nHead: 2 },
    data: { corpus: { kind: 'task-file', path: file, format: 'cot' } },
    lr: 3e-3, batchSize: 4, context: 32, steps: 3, evalBatches: 2,
  }));
  const runDir = join(tmp, 'run');
  const trained = await cli('train', '--config', config, '--run-dir', runDir);
  assert.equal(trained.code, 0, trained.stderr);
  const ev = await cli('eval', runDir, '--tasks', 'lis:4,lis:6', '--n', '10', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const rows = ev.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.task, r.size, r.format, r.items]), [['lis', 4, 'cot', 10], ['lis', 6, 'cot', 10]]);
  for (const r of rows) for (const k of ['exact_match', 'token_accuracy', 'forced_exact_match']) assert.ok(r[k] >= 0 && r[k] <= 1, `${k} ${r[k]}`);
  const bad = await cli('eval', runDir, '--tasks', 'lis:0');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--tasks: lis: size/);
});
