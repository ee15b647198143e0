import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTokens, SeparatedTokens, docIndexAt } from '../../src/data/tokensource.js';

test('docIndexAt finds the containing document, skipping empty ones', () => {
  const bounds = [0, 3, 3, 5, 9]; // doc 1 is empty
  assert.deepEqual([0, 1, 2, 3, 4, 5, 8].map((p) => docIndexAt(bounds, p)), [0, 0, 0, 2, 2, 3, 3]);
});

test('MemoryTokens reads windows and checks ranges', () => {
  const m = new MemoryTokens([[1, 2, 3], [], [4, 5]], { totalBytes: 10 });
  assert.equal(m.length, 5);
  assert.equal(m.numDocs, 3);
  assert.deepEqual(Array.from(m.docBounds), [0, 3, 3, 5]);
  const out = new Int32Array(4);
  m.read(2, 3, out, 1);
  assert.deepEqual(Array.from(out), [0, 3, 4, 5]);
  assert.throws(() => m.read(3, 3, out), RangeError);
  assert.throws(() => m.read(0, 5, out), /too small/);
});

test('SeparatedTokens appends the separator after every document without copying', () => {
  const s = new SeparatedTokens(new MemoryTokens([[1, 2, 3], [], [4, 5]]), 9);
  assert.equal(s.length, 8);
  assert.deepEqual(Array.from(s.docBounds), [0, 4, 5, 8]);
  const all = new Int32Array(8);
  s.read(0, 8, all);
  assert.deepEqual(Array.from(all), [1, 2, 3, 9, 9, 4, 5, 9]);
  for (let a = 0; a < 8; a++)
    for (let n = 0; a + n <= 8; n++) {
      const w = new Int32Array(n);
      s.read(a, n, w);
      assert.deepEqual(Array.from(w), Array.from(all.subarray(a, a + n)), `read(${a}, ${n})`);
    }
});
