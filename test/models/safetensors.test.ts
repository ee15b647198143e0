import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../../src/engine/index.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/models/safetensors.js';

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'wt-st-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** A file built by hand: header JSON and data bytes, as another writer would lay them out. */
function handmade(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('encode/decode round-trips F32, F64, I32, scalars, empty tensors and metadata', () => {
  const tensors = new Map([
    ['a.weight', tensor([[1.5, -2], [3, 4.25]])],
    ['ids', tensor([1, -7, 2147483647], [3], { dtype: 'int32' })],
    ['f64', tensor([Math.PI, 1e-300], [2], { dtype: 'float64' })],
    ['scalar', tensor(3)],
    ['empty', tensor(new Float32Array(0), [0, 4])],
  ]);
  const bytes = encodeSafetensors(tensors, { format: 'pt', note: 'x' });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0, 'data area starts 8-byte aligned');
  const { tensors: back, metadata } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, { format: 'pt', note: 'x' });
  assert.deepEqual([...back.keys()], ['f64', 'a.weight', 'ids', 'scalar', 'empty'], 'wider dtypes first, then given order');
  for (const [name, t] of tensors) {
    const u = back.get(name)!;
    assert.equal(u.dtype, t.dtype, name);
    assert.deepEqual(u.shape, t.shape, name);
    assert.deepEqual(u.toArray(), t.toArray(), name);
  }
});

test('a Record works as input, and a reshaped view writes only its own bytes', () => {
  const big = new Float32Array([9, 9, 1, 2, 3, 4]);
  const view = tensor(big.subarray(2), [2, 2]);
  const { tensors } = decodeSafetensors(encodeSafetensors({ w: view }));
  assert.deepEqual(tensors.get('w')!.toArray(), [1, 2, 3, 4]);
});

test('decodes F16, BF16 and I64 written by another writer', () => {
  // F16: 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), +inf
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00]);
  // BF16: 1, -2, 3.140625 (0x4049), 1e-40-ish subnormal kept as bits
  const bf16 = new Uint16Array([0x3f80, 0xc000, 0x4049]);
  const i64 = new BigInt64Array([5n, -3n]);
  const data = new Uint8Array(16 + 12 + 6);
  data.set(new Uint8Array(i64.buffer), 0);
  data.set(new Uint8Array(f16.buffer), 16);
  data.set(new Uint8Array(bf16.buffer), 28);
  const file = handmade({
    h: { dtype: 'F16', shape: [6], data_offsets: [16, 28] },
    b: { dtype: 'BF16', shape: [3], data_offsets: [28, 34] },
    n: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
  }, data);
  const { tensors, metadata } = decodeSafetensors(file);
  assert.deepEqual(metadata, {});
  assert.deepEqual(tensors.get('h')!.toArray(), [1, -2, 0.5, 65504, 2 ** -24, Infinity]);
  assert.equal(tensors.get('h')!.dtype, 'float32');
  assert.deepEqual(tensors.get('b')!.toArray(), [1, -2, 3.140625]);
  assert.deepEqual(tensors.get('n')!.toArray(), [5, -3]);
  assert.equal(tensors.get('n')!.dtype, 'int32');
});

test('malformed files are refused with a message naming the problem', () => {
  const ok = new Uint8Array(8);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(3), /too short/],
    [handmade({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)), /"x".*outside/],
    [handmade({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, ok), /"x".*needs 12 bytes/],
    [handmade({ x: { dtype: 'U8', shape: [8], data_offsets: [0, 8] } }, ok), /"x" has dtype U8/],
    [handmade({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, ok), /"x" starts at byte 4/],
    [handmade({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, ok), /cover 4 bytes but the data area has 8/],
    [handmade({ __metadata__: { k: 1 } }, new Uint8Array(0)), /__metadata__\["k"\] must be a string/],
  ];
  for (const [bytes, re] of cases) assert.throws(() => decodeSafetensors(bytes), re);
  assert.throws(() => encodeSafetensors({ __metadata__: tensor([1]) }), /reserved/);
});

test('writeSafetensors is atomic: replaces the file whole and leaves no temp file', () => {
  withTmp((dir) => {
    const path = join(dir, 'ckpt.safetensors');
    writeFileSync(path, 'old contents');
    writeSafetensors(path, { w: tensor([1, 2, 3]) }, { step: '10' });
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
    const r = readSafetensors(path);
    assert.deepEqual(r.tensors.get('w')!.toArray(), [1, 2, 3]);
    assert.deepEqual(r.metadata, { step: '10' });
    assert.deepEqual(new Uint8Array(readFileSync(path)), encodeSafetensors({ w: tensor([1, 2, 3]) }, { step: '10' }));
    // A failing write (bad metadata) leaves the previous file untouched and no temp file behind.
    assert.throws(() => writeSafetensors(path, { w: tensor([4]) }, { step: 11 as unknown as string }), /must be a string/);
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
    assert.deepEqual(readSafetensors(path).tensors.get('w')!.toArray(), [1, 2, 3]);
  });
});

test('read errors name the file', () => {
  withTmp((dir) => {
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, 'xy');
    assert.throws(() => readSafetensors(path), new RegExp(`${path.replace(/[.]/g, '\\.')}: file is 2 bytes`));
  });
});
