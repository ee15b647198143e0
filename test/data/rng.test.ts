import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/data/rng.js';

test('xoshiro128** matches reference outputs for state [1,2,3,4]', () => {
  const r = Rng.fromState([1, 2, 3, 4]);
  // Values from an independent Python transcription of the reference C code.
  assert.deepEqual(Array.from({ length: 6 }, () => r.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('same seed gives the same stream; different seeds differ', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 10 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 10 }, () => b.nextU32()), sa);
  assert.notDeepEqual(Array.from({ length: 10 }, () => c.nextU32()), sa);
  assert.deepEqual(new Rng('run-a').state(), new Rng('run-a').state());
  assert.notDeepEqual(new Rng('run-a').state(), new Rng('run-b').state());
});

test('state survives JSON and resumes the exact stream', () => {
  const r = new Rng(7);
  for (let i = 0; i < 5; i++) r.nextU32();
  const saved = JSON.parse(JSON.stringify(r.state()));
  const expected = Array.from({ length: 8 }, () => r.int(1000));
  const restored = Rng.fromState(saved);
  assert.deepEqual(Array.from({ length: 8 }, () => restored.int(1000)), expected);
});

test('int stays in range and is roughly uniform; float in [0,1)', () => {
  const r = new Rng(1);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) counts[r.int(10)]++;
  for (const c of counts) assert.ok(c > 1800 && c < 2200, `bucket count ${c}`);
  for (let i = 0; i < 1000; i++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
  }
  const big = r.int(2 ** 40);
  assert.ok(Number.isInteger(big) && big >= 0 && big < 2 ** 40);
  assert.throws(() => r.int(0), /positive integer/);
});

test('permutation is a permutation', () => {
  const p = new Rng(3).permutation(100);
  assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(Array.from(p), Array.from({ length: 100 }, (_, i) => i));
});

test('invalid states are rejected', () => {
  const r = new Rng(0);
  assert.throws(() => r.setState([0, 0, 0, 0]), /invalid state/);
  assert.throws(() => r.setState([1, 2, 3] as never), /invalid state/);
  assert.throws(() => r.setState([1, 2, 3, 2 ** 32]), /invalid state/);
});
