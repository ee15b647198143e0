import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenFile, writeTokenFile } from '../../src/data/tokenfile.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'wt-tokfile-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const docs = [
  { tokens: [1, 2, 3], bytes: 7 },
  { tokens: [], bytes: 0 },
  { tokens: Int32Array.from({ length: 100_000 }, (_, i) => i % 60000), bytes: 300_000 },
  { tokens: [65535], bytes: 4 },
];

test('writes and reads back windows, bounds and byte counts (uint16)', () =>
  withDir((dir) => {
    const path = join(dir, 'a.tok');
    const info = writeTokenFile(path, docs, { vocabSize: 65536 });
    assert.deepEqual(info, { numTokens: 100_004, numDocs: 4, totalBytes: 300_011, vocabSize: 65536, dtype: 'uint16' });
    assert.deepEqual(readdirSync(dir), ['a.tok'], 'no temp file left behind');
    const f = new TokenFile(path);
    try {
      assert.equal(f.length, 100_004);
      assert.equal(f.numDocs, 4);
      assert.equal(f.dtype, 'uint16');
      assert.deepEqual(Array.from(f.docBounds), [0, 3, 3, 100_003, 100_004]);
      assert.equal(f.bytesPerToken, 300_011 / 100_004);
      const out = new Int32Array(6);
      f.read(0, 6, out);
      assert.deepEqual(Array.from(out), [1, 2, 3, 0, 1, 2]);
      f.read(100_000, 4, out, 2);
      assert.deepEqual(Array.from(out.subarray(2)), [39997, 39998, 39999, 65535]); // doc 2 starts at 3: (99997 + i) % 60000
      assert.throws(() => f.read(100_001, 4, out), RangeError);
    } finally {
      f.close();
    }
  }));

test('int32 tokens above 65536 vocab; out-of-vocab tokens rejected', () =>
  withDir((dir) => {
    const path = join(dir, 'b.tok');
    writeTokenFile(path, [{ tokens: [70000, 5], bytes: 2 }], { vocabSize: 100_000 });
    const f = new TokenFile(path);
    const out = new Int32Array(2);
    f.read(0, 2, out);
    f.close();
    assert.equal(f.dtype, 'int32');
    assert.deepEqual(Array.from(out), [70000, 5]);
    assert.throws(() => writeTokenFile(join(dir, 'c.tok'), [{ tokens: [256], bytes: 1 }], { vocabSize: 256 }), /outside vocab/);
    assert.deepEqual(readdirSync(dir), ['b.tok'], 'failed write leaves nothing behind');
  }));

test('truncated or corrupt files give a clear error naming the path', () =>
  withDir((dir) => {
    const path = join(dir, 'bad.tok');
    writeTokenFile(path, docs, { vocabSize: 65536 });
    const good = readFileSync(path);

    truncateSync(path, good.length - 10);
    assert.throws(() => new TokenFile(path), (e: Error) => e.message.includes(path) && /truncated/.test(e.message) && /header implies/.test(e.message));

    truncateSync(path, 20);
    assert.throws(() => new TokenFile(path), (e: Error) => e.message.includes(path) && /shorter than/.test(e.message));

    const badMagic = Buffer.from(good);
    badMagic.write('NOTTOKEN', 0, 'latin1');
    writeFileSync(path, badMagic);
    assert.throws(() => new TokenFile(path), (e: Error) => e.message.includes(path) && /bad magic/.test(e.message));

    const badBounds = Buffer.from(good);
    badBounds.writeBigUInt64LE(5n, good.length - 8 * 4); // second offset 3 -> 5 > the next one
    writeFileSync(path, badBounds);
    assert.throws(() => new TokenFile(path), (e: Error) => e.message.includes(path) && /offsets are inconsistent/.test(e.message));
  }));
