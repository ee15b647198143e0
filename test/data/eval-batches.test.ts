import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bitsPerByte, bytesPerToken, countEvalBatches, countEvalWindows, evalBatches } from '../../src/data/eval-batches.js';
import { MemoryTokens } from '../../src/data/tokensource.js';

const src = new MemoryTokens([Array.from({ length: 30 }, (_, i) => i), Array.from({ length: 13 }, (_, i) => 30 + i)], { totalBytes: 86 });

test('eval windows are sequential, non-overlapping, and stop at the last full window', () => {
  const batches = [...evalBatches(src, { B: 4, T: 5 })];
  assert.equal(countEvalWindows(43, 5), 8); // targets 1..40; tokens 41, 42 would need a partial window
  assert.deepEqual(batches.map((b) => b.B), [4, 4]);
  assert.equal(countEvalBatches(src, { B: 4, T: 5 }), 2);
  const inputs = batches.flatMap((b) => Array.from(b.inputs));
  const targets = batches.flatMap((b) => Array.from(b.targets));
  assert.deepEqual(inputs, Array.from({ length: 40 }, (_, i) => i));
  assert.deepEqual(targets, Array.from({ length: 40 }, (_, i) => i + 1));
  // Same again: deterministic.
  assert.deepEqual([...evalBatches(src, { B: 4, T: 5 })], batches);
});

test('eval: partial last batch, maxBatches, masking, separators', () => {
  const three = [...evalBatches(src, { B: 3, T: 5 })];
  assert.deepEqual(three.map((b) => b.B), [3, 3, 2]);
  assert.equal(three[2].inputs.length, 2 * 5);
  assert.equal([...evalBatches(src, { B: 3, T: 5, maxBatches: 1 })].length, 1);
  assert.equal(countEvalBatches(src, { B: 3, T: 5, maxBatches: 1 }), 1);

  const [m] = [...evalBatches(src, { B: 8, T: 5, keepInDocument: true })];
  // Window 5 covers tokens 25..30: target 30 starts document 1.
  assert.deepEqual(Array.from(m.targets.subarray(25, 30)), [26, 27, 28, 29, -1]);
  assert.deepEqual(Array.from(m.docIds!.subarray(30, 35)), [0, 0, 0, 0, 0]);

  const withSep = [...evalBatches(src, { B: 16, T: 5, separatorId: 99 })];
  assert.equal(countEvalBatches(src, { B: 16, T: 5, separatorId: 99 }), 1);
  assert.deepEqual(Array.from(withSep[0].inputs.subarray(29, 32)), [29, 99, 30]);
  assert.equal(withSep[0].B, 8); // 45 tokens with separators -> 8 windows
});

test('bits per byte', () => {
  assert.equal(bitsPerByte(Math.LN2, 1), 1);
  assert.ok(Math.abs(bitsPerByte(2 * Math.LN2, 4) - 0.5) < 1e-12);
  assert.equal(bytesPerToken(src), 2);
  assert.equal(bytesPerToken(src, 99), 86 / 45);
  assert.throws(() => bytesPerToken(new MemoryTokens([[1]])), /byte count/);
});
