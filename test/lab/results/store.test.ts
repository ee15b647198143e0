import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, type NewRun } from '../../../src/lab/results/store.js';
import { ingestFile, JsonlTail, parseMetricsLine } from '../../../src/lab/results/ingest.js';
import { metricSeries, runSamples, runTaskEvals } from '../../../src/lab/results/query.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-store-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

const run = (i: number, extra: Partial<NewRun> = {}): NewRun => ({ id: `id${i}`, name: `run${i}`, config: { i }, index: i, ...extra });
const count = (s: Store, sql: string, ...p: unknown[]): number => s.db.prepare(sql).pluck().get(...p) as number;

function withStore(fn: (s: Store) => void): void {
  const s = Store.open(join(tempDir(), 'sub', 'w.db'));
  try { fn(s); } finally { s.close(); }
}

test('opens in WAL mode with the schema; readonly needs an existing file', () => {
  const dir = tempDir();
  const s = Store.open(join(dir, 'a', 'b.db'));
  assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.ok((s.db.pragma('busy_timeout', { simple: true }) as number) >= 10_000);
  const tables = s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
  assert.deepEqual(tables, ['evals', 'metrics', 'run_tags', 'runs', 'samples', 'sweep_runs', 'sweeps', 'task_evals']);
  s.close();
  assert.throws(() => Store.open(join(dir, 'none.db'), { readonly: true }));
  const r = Store.open(join(dir, 'a', 'b.db'), { readonly: true });
  r.close();
});

test('addRuns is idempotent; membership follows the latest expansion; a run can belong to two sweeps', () => withStore((s) => {
  s.saveSweep({ name: 'a', spec: { v: 1 } });
  assert.deepEqual(s.addRuns('a', [run(0, { tags: ['x'] }), run(1)]), { added: 2, existing: 0 });
  assert.deepEqual(s.addRuns('a', [run(0, { tags: ['x'] }), run(1)]), { added: 0, existing: 2 });
  assert.equal(count(s, 'SELECT count(*) FROM runs'), 2);
  assert.equal(count(s, 'SELECT count(*) FROM run_tags'), 1);
  // A status survives re-registration.
  assert.ok(s.claim('id0', 'w'));
  s.finish('id0', { loss: 1 });
  s.addRuns('a', [run(0), run(2)]);
  assert.equal(count(s, "SELECT status = 'done' FROM runs WHERE id = 'id0'"), 1);
  assert.deepEqual(s.db.prepare("SELECT run FROM sweep_runs WHERE sweep = 'a' ORDER BY run").pluck().all(), ['id0', 'id2']);
  assert.equal(count(s, 'SELECT count(*) FROM runs'), 3, 'a run dropped from the sweep stays in the store');
  s.saveSweep({ name: 'b', spec: {} });
  s.addRuns('b', [run(0, { name: 'other-name', dir: '/x' })]);
  assert.equal(count(s, "SELECT count(*) FROM sweep_runs WHERE run = 'id0'"), 2);
  assert.equal(s.db.prepare("SELECT name FROM runs WHERE id = 'id0'").pluck().get(), 'run0', 'the first name stays');
  assert.equal(s.db.prepare("SELECT dir FROM runs WHERE id = 'id0'").pluck().get(), '/x', 'a missing dir is filled in');
}));

test('metric upserts keyed by (run, key, step): re-logging never duplicates; final metrics', () => withStore((s) => {
  s.saveSweep({ name: 'a', spec: {} });
  s.addRuns('a', [run(0)]);
  s.logMetrics('id0', [{ step: 0, values: { loss: 5, lr: 0.1 } }, { step: 1, values: { loss: 4, lr: 0.1 } }]);
  s.logMetrics('id0', [{ step: 1, values: { loss: 3.5, lr: 0.1 } }, { step: 2, values: { loss: 3, lr: null } }]);
  s.logMetrics('id0', [{ step: 1, values: { loss: 3.5, lr: 0.1 } }]);
  assert.equal(count(s, 'SELECT count(*) FROM metrics'), 6);
  assert.equal(count(s, "SELECT value FROM metrics WHERE run = 'id0' AND key = 'loss' AND step = 1"), 3.5);
  s.logEvals('id0', [{ step: 2, split: 'val', values: { loss: 3.2 } }, { step: 2, split: 'val', values: { loss: 3.1 } }]);
  assert.equal(count(s, 'SELECT count(*) FROM evals'), 1);
  assert.deepEqual(s.finalMetrics('id0'), { loss: 3, lr: null, val_loss: 3.1, step: 2 });
  s.clearMetrics('id0');
  assert.deepEqual(s.finalMetrics('id0'), {});
}));

test('claim: exactly one of two racing workers wins; lifecycle fields', () => withStore((s) => {
  s.saveSweep({ name: 'a', spec: {} });
  s.addRuns('a', [run(0)]);
  assert.equal(s.claim('id0', 'w1'), true);
  assert.equal(s.claim('id0', 'w2'), false);
  s.logMetrics('id0', [{ step: 3, values: { loss: 2 } }]);
  s.fail('id0', 'boom');
  const row = s.db.prepare("SELECT status, error, attempts, worker, final FROM runs WHERE id = 'id0'").get();
  assert.deepEqual(row, { status: 'failed', error: 'boom', attempts: 1, worker: 'w1', final: '{"loss":2,"step":3}' });
  assert.equal(s.claim('id0', 'w2'), false, 'failed runs are not claimed by default');
  assert.equal(s.claim('id0', 'w2', ['failed']), true);
  s.interrupt('id0', 'stopped');
  assert.equal(s.db.prepare("SELECT status || ' ' || attempts FROM runs WHERE id = 'id0'").pluck().get(), 'interrupted 2');
  assert.equal(s.claim('id0', 'w3'), true);
  s.reset('id0');
  assert.equal(s.db.prepare("SELECT status FROM runs WHERE id = 'id0'").pluck().get(), 'pending');
}));

test('three processes writing the same runs and metrics at once: no lock errors, no duplicates, one owner per run', async () => {
  const db = join(tempDir(), 'conc.db');
  const nRuns = 6, nSteps = 200;
  const outs = await Promise.all([0, 1, 2].map((w) => new Promise<{ code: number | null; out: string; err: string }>((done) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/lab/store-writer.ts', db, String(w), String(nRuns), String(nSteps)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => done({ code, out, err }));
  })));
  for (const o of outs) assert.equal(o.code, 0, o.err);
  const claimed = outs.flatMap((o) => (JSON.parse(o.out) as { claimed: string[] }).claimed).sort();
  assert.deepEqual(claimed, Array.from({ length: nRuns }, (_, i) => `run${i}`).sort(), 'each run claimed by exactly one writer');
  const s = Store.open(db);
  try {
    assert.equal(count(s, 'SELECT count(*) FROM runs'), nRuns);
    assert.equal(count(s, 'SELECT count(*) FROM sweep_runs'), nRuns);
    assert.equal(count(s, 'SELECT count(*) FROM run_tags'), nRuns);
    assert.equal(count(s, 'SELECT count(*) FROM metrics'), nRuns * nSteps * 2);
    assert.equal(count(s, 'SELECT count(*) FROM (SELECT DISTINCT run, key, step FROM metrics)'), nRuns * nSteps * 2);
    assert.equal(count(s, 'SELECT count(*) FROM evals'), nRuns * nSteps / 10);
    assert.equal(count(s, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1"), nRuns);
  } finally {
    s.close();
  }
});

test('metrics.jsonl lines: training and eval lines, values kept and skipped', () => {
  assert.deepEqual(parseMetricsLine('{"step":3,"loss":2.5,"clipped":true,"note":"x","lr":null}'),
    { kind: 'metric', step: 3, values: { loss: 2.5, clipped: 1, lr: null } });
  assert.deepEqual(parseMetricsLine('{"step":4,"split":"val","loss":2.7,"ppl":14.9}'), { kind: 'eval', step: 4, split: 'val', values: { loss: 2.7, ppl: 14.9 } });
  assert.deepEqual(parseMetricsLine('{"step":4,"kind":"eval","bpb":1.1}'), { kind: 'eval', step: 4, split: 'val', values: { bpb: 1.1 } });
  for (const bad of ['', 'progress 3/10', '{"loss": 1}', '{"step": 1.5}', '{"step": 1, "loss"']) assert.equal(parseMetricsLine(bad), null, bad);
});

test('tailing a growing metrics file: complete lines only, rewritten files re-read, final pass idempotent', () => withStore((s) => {
  s.saveSweep({ name: 'a', spec: {} });
  s.addRuns('a', [run(0)]);
  const f = join(tempDir(), 'metrics.jsonl');
  const tail = new JsonlTail(f);
  assert.deepEqual(tail.read(), [], 'a missing file reads as empty');
  writeFileSync(f, '{"step":0,"loss":3}\n{"step":1,"lo');
  assert.deepEqual(tail.read(), ['{"step":0,"loss":3}']);
  appendFileSync(f, 'ss":2}\n');
  assert.deepEqual(tail.read(), ['{"step":1,"loss":2}']);
  writeFileSync(f, '{"step":0,"loss":9}\n');
  assert.deepEqual(tail.read(), ['{"step":0,"loss":9}']);
  writeFileSync(f, '{"step":0,"loss":3}\n{"step":1,"loss":2}\n{"step":2,"loss":1}');
  assert.equal(ingestFile(s, 'id0', f), 3, 'the unterminated last line counts in the final pass');
  assert.equal(ingestFile(s, 'id0', f), 3);
  assert.equal(count(s, 'SELECT count(*) FROM metrics'), 3);
}));

test('samples lines: parsed, stored by step in prompt order, re-read idempotently, newest first', () => withStore((s) => {
  s.addRun(run(0));
  const file = join(tempDir(), 'metrics.jsonl');
  writeFileSync(file, [
    '{"type":"train","step":1,"loss":3}',
    '{"type":"samples","step":2,"samples":[{"prompt":"","text":"the jury"},{"prompt":"He","text":"He said"}]}',
    '{"type":"samples","step":4,"samples":[{"prompt":"","text":"the \\"grand\\" jury\\nsaid"}]}',
    '{"type":"samples","step":5,"samples":[{"prompt":"","text":7}]}',
  ].join('\n') + '\n');
  assert.equal(parseMetricsLine('{"type":"samples","step":5,"samples":[{"prompt":"","text":7}]}'), null); // malformed: skipped, not a metric
  assert.equal(ingestFile(s, 'id0', file), 3);
  assert.equal(ingestFile(s, 'id0', file), 3);
  assert.equal(count(s, 'SELECT count(*) FROM samples'), 3);
  assert.deepEqual(runSamples(s, 'id0'), [
    { step: 4, samples: [{ prompt: '', text: 'the "grand" jury\nsaid' }] },
    { step: 2, samples: [{ prompt: '', text: 'the jury' }, { prompt: 'He', text: 'He said' }] },
  ]);
  assert.deepEqual(runSamples(s, 'id0', 1).map((r) => r.step), [4]);
  assert.deepEqual(metricSeries(s, { runs: ['id0'] }).map((p) => p.key), ['loss']); // samples lines add no metric rows
  s.clearMetrics('id0');
  assert.deepEqual(runSamples(s, 'id0'), []);
}));

test('a store written before samples existed (schema 1) opens: read-only it has no samples, writable it gains the table', () => {
  const path = join(tempDir(), 'old.db');
  const s = Store.open(path);
  s.addRun(run(0));
  s.logMetrics('id0', [{ step: 1, values: { loss: 2.5 } }]);
  s.db.exec('DROP TABLE samples'); // what version 1 created: everything but this table and task_evals
  s.db.exec('DROP TABLE task_evals');
  s.db.pragma('user_version = 1');
  s.close();
  const r = Store.open(path, { readonly: true });
  try {
    assert.deepEqual(runSamples(r, 'id0'), []);
    assert.equal(metricSeries(r, { runs: ['id0'] })[0].value, 2.5);
  } finally { r.close(); }
  const w = Store.open(path);
  try {
    assert.equal(w.db.pragma('user_version', { simple: true }), 3);
    assert.equal(metricSeries(w, { runs: ['id0'] })[0].value, 2.5);
    w.logSamples('id0', [{ step: 1, samples: [{ prompt: 'a', text: 'ab' }] }]);
    assert.deepEqual(runSamples(w, 'id0'), [{ step: 1, samples: [{ prompt: 'a', text: 'ab' }] }]);
  } finally { w.close(); }
});

test('a schema-2 store (before task evaluations) opens: read-only it has no task scores, writable it gains task_evals', () => {
  const path = join(tempDir(), 'v2.db');
  const s = Store.open(path);
  s.addRun(run(0));
  s.logMetrics('id0', [{ step: 1, values: { loss: 2.5 } }]);
  s.db.exec('DROP TABLE task_evals'); // what version 2 created
  s.db.pragma('user_version = 2');
  s.close();
  const r = Store.open(path, { readonly: true });
  try {
    assert.deepEqual(runTaskEvals(r, 'id0'), []);
    assert.equal(metricSeries(r, { runs: ['id0'] })[0].value, 2.5);
  } finally { r.close(); }
  const w = Store.open(path);
  try {
    assert.equal(w.db.pragma('user_version', { simple: true }), 3);
    w.logTaskEvals('id0', [{ step: 10, task: 'addition:2', shots: 3, items: 50, seed: 0, metrics: { exact_match: 0.25, brier: 0.5 } }]);
    w.logTaskEvals('id0', [{ step: 10, task: 'addition:2', shots: 3, items: 50, seed: 0, metrics: { exact_match: 0.5 } }]); // replaces, idempotent
    w.logTaskEvals('id0', [{ step: 20, task: 'addition:2', shots: 3, items: 50, seed: 0, metrics: { exact_match: Number.NaN } }]);
    assert.deepEqual(runTaskEvals(w, 'id0'), [
      { step: 10, task: 'addition:2', shots: 3, metric: 'brier', value: 0.5, items: 50 },
      { step: 10, task: 'addition:2', shots: 3, metric: 'exact_match', value: 0.5, items: 50 },
      { step: 20, task: 'addition:2', shots: 3, metric: 'exact_match', value: null, items: 50 },
    ]);
    w.clearMetrics('id0');
    assert.deepEqual(runTaskEvals(w, 'id0'), []);
  } finally { w.close(); }
});
