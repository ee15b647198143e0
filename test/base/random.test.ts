import { test } from 'node:test';
import assert from 'node:assert/strict';
// The one seeded RNG (src/base/random.ts): the xoshiro reference, its two seedings, exact state
// round trips, and streams pinned to the values the two classes it replaced (engine/random.ts,
// data/rng.ts) produced, so model init, dropout, bootstraps and batch sampling are unchanged.
import { Rng } from '../../src/base/random.js';

test('xoshiro128** matches reference outputs for state [1,2,3,4]', () => {
  const r = Rng.fromWords([1, 2, 3, 4]);
  // Values from an independent Python transcription of the reference C code.
  assert.deepEqual(Array.from({ length: 6 }, () => r.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('same seed gives the same stream; different seeds differ', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 10 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 10 }, () => b.nextU32()), sa);
  assert.notDeepEqual(Array.from({ length: 10 }, () => c.nextU32()), sa);
  assert.deepEqual(Rng.fromKey('run-a').words(), Rng.fromKey('run-a').words());
  assert.notDeepEqual(Rng.fromKey('run-a').words(), Rng.fromKey('run-b').words());
});

test('state survives JSON and resumes the exact stream', () => {
  const r = new Rng(7);
  for (let i = 0; i < 5; i++) r.nextU32();
  const saved = JSON.parse(JSON.stringify(r.words()));
  const expected = Array.from({ length: 8 }, () => r.int(1000));
  const restored = Rng.fromWords(saved);
  assert.deepEqual(Array.from({ length: 8 }, () => restored.int(1000)), expected);
});

test('int stays in range and is roughly uniform; uniform53 in [0,1)', () => {
  const r = new Rng(1);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) counts[r.int(10)]++;
  for (const c of counts) assert.ok(c > 1800 && c < 2200, `bucket count ${c}`);
  for (let i = 0; i < 1000; i++) {
    const f = r.uniform53();
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

test('seeded streams are the ones the former engine and data generators produced', () => {
  // Values recorded from engine/random.ts and data/rng.ts just before they were merged.
  const e = new Rng(123);
  assert.deepEqual([e.nextU32(), e.nextU32(), e.nextU32()], [3146710351, 1913850085, 2160143029]);
  assert.deepEqual([e.normal(), e.normal(), e.normal()], [1.2945927118059293, -0.153141924682129, 1.2964782040674965]);
  const e7 = new Rng(7);
  assert.deepEqual(Array.from({ length: 6 }, () => e7.scaledInt(1000)), [233, 512, 448, 172, 565, 473]);
  const d = Rng.fromKey('train:0');
  assert.deepEqual(d.words(), [2775326902, 760201174, 129187487, 757759433]);
  assert.deepEqual(Array.from({ length: 6 }, () => d.int(1000)), [633, 518, 690, 577, 126, 274]);
  assert.deepEqual(Array.from(Rng.fromKey(5).permutation(10)), [2, 7, 5, 0, 1, 9, 6, 4, 3, 8]);
  assert.deepEqual(Rng.fromKey(2 ** 33 + 5).words(), [1934339255, 499903234, 1682352522, 2628757368]);
  assert.deepEqual(new Rng(42).words(), Rng.fromKey(42).words(), 'the two seedings agree below 2^32');
});

test('the full state (with the cached normal) round-trips through JSON mid-pair', () => {
  const r = new Rng(9);
  r.normal();
  const saved = JSON.parse(JSON.stringify(r.state()));
  const next = [r.normal(), r.normal(), r.normal()];
  const back = new Rng(0);
  back.setState(saved);
  assert.deepEqual([back.normal(), back.normal(), back.normal()], next);
  assert.deepEqual(r.clone().state(), r.state());
});
