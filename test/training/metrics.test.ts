import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsWriter, readMetrics, type TrainMetrics } from '../../src/training/metrics.js';

const train = (step: number): TrainMetrics => ({
  type: 'train', step, tokens: step * 32, loss: 5 - step * 0.1, lr: 1e-3, grad_norm: 1, clipped: false, time: step, tokens_per_s: 32,
});

test('lines are appended and readable as they go', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-metrics-'));
  try {
    const path = join(dir, 'run', 'metrics.jsonl');
    const w = new MetricsWriter(path, null);
    w.log(train(1));
    assert.deepEqual(readMetrics(path), [train(1)]); // visible before close
    w.log({ type: 'eval', step: 1, tokens: 32, loss: 4, perplexity: Math.exp(4), bits_per_byte: 1.2, time: 1 });
    w.log({ ...train(2), grad_norm: NaN });
    w.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[2], /"grad_norm":"NaN"/);
    assert.throws(() => w.log(train(3)), /closed/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('resume truncates lines past the resumed step (and a torn last line); fresh start clears', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-metrics-'));
  try {
    const path = join(dir, 'metrics.jsonl');
    const w = new MetricsWriter(path, null);
    for (let s = 1; s <= 6; s++) w.log(train(s));
    w.log({ type: 'eval', step: 4, tokens: 128, loss: 4, perplexity: Math.exp(4), time: 4 });
    w.close();
    appendFileSync(path, '{"type":"train","step":7,"tok');

    const r = new MetricsWriter(path, 4);
    for (let s = 5; s <= 6; s++) r.log(train(s));
    r.close();
    const steps = readMetrics(path).map((l) => `${l.type}:${l.step}`);
    assert.deepEqual(steps, ['train:1', 'train:2', 'train:3', 'train:4', 'eval:4', 'train:5', 'train:6']);

    new MetricsWriter(path, null).close();
    assert.deepEqual(readMetrics(path), []);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
