// Damage on disk is caught when tensor data is loaded: every file we write carries a CRC-32 per
// tensor in its metadata, verified on read; NaN/Inf weights are refused whatever wrote them;
// both errors name the file and the tensor. Files written before checksums (or by other tools)
// still load, with the finite check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../../src/engine/index.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/models/safetensors.js';

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'wt-sti-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** A file as a writer without checksums lays it out (F32 tensors, in order). */
function legacy(tensors: Record<string, number[]>): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  const datas: Float32Array[] = [];
  for (const [name, vs] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: [vs.length], data_offsets: [off, off + 4 * vs.length] };
    off += 4 * vs.length;
    datas.push(Float32Array.from(vs));
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const d of datas) { out.set(new Uint8Array(d.buffer), pos); pos += d.byteLength; }
  return out;
}

test('a flipped bit in tensor data fails the checksum, naming the file and the tensor', () => {
  withTmp((dir) => {
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, { 'blocks.0.attn.w': tensor([1, 2, 3, 4]), 'ln.w': tensor([0.5, 0.25]) }, { step: '3' });
    assert.deepEqual(readSafetensors(path).metadata, { step: '3' }, 'the checksums are not user metadata');
    const bytes = new Uint8Array(readFileSync(path));
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    const [b0] = header['ln.w'].data_offsets as [number, number];
    bytes[8 + headerLen + b0 + 1] ^= 0x04; // a low mantissa bit: still a finite number
    writeFileSync(path, bytes);
    assert.throws(() => readSafetensors(path), (e: Error) => e.message.includes(path) && /"ln\.w"/.test(e.message) && /checksum/.test(e.message));
  });
});

test('NaN or Inf weights are refused naming the file and the tensor, even with a matching checksum', () => {
  withTmp((dir) => {
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, { good: tensor([1, 2]), bad: tensor([0, NaN, 1]) });
    assert.throws(() => readSafetensors(path), (e: Error) => e.message.includes(path) && /"bad"/.test(e.message) && /NaN/.test(e.message) && /index 1/.test(e.message));
    const old = join(dir, 'old.safetensors');
    writeFileSync(old, legacy({ w: [1, -Infinity] }));
    assert.throws(() => readSafetensors(old), (e: Error) => e.message.includes(old) && /"w"/.test(e.message) && /-Infinity/.test(e.message));
    // Decoding bytes in memory for inspection (no file) does not refuse them.
    assert.ok(Number.isNaN(decodeSafetensors(encodeSafetensors({ bad: tensor([NaN]) })).tensors.get('bad')!.toArray()[0] as number));
  });
});

test('a file without checksums (an older windtunnel, another tool) still loads', () => {
  withTmp((dir) => {
    const path = join(dir, 'old.safetensors');
    writeFileSync(path, legacy({ a: [1, 2, 3], b: [4] }));
    const r = readSafetensors(path);
    assert.deepEqual(r.tensors.get('a')!.toArray(), [1, 2, 3]);
    assert.deepEqual(r.metadata, {});
  });
});
