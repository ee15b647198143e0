// The safetensors file format (https://github.com/huggingface/safetensors), read and written
// without dependencies: an 8-byte little-endian header length N, N bytes of JSON
//   { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ...,
//     "__metadata__": { "<key>": "<string value>" } }
// then the raw little-endian tensor bytes; offsets are relative to the end of the header and
// the tensors tile the data area without gaps or overlaps.
//
// Writes: F32, F64, I32 (our tensor dtypes). Reads: those, plus F16 and BF16 (converted to
// float32) and I64 (converted to int32 when every value fits). Tensors are written widest
// dtype first (8-byte before 4-byte, as the reference implementation does, so memory-mapped
// readers see aligned data), otherwise in the caller's order; a read returns them in file order.
// File writes are atomic: a temporary file in the target's directory, fsync, rename, fsync of
// the directory. A crash leaves either the old file or the new one, never half of one.

import { readFileSync } from 'node:fs';
import { writeFileDurable } from '../base/durable.js';
import { Tensor, fmtShape, sizeOf } from '../engine/index.js';

export type TensorMap = Map<string, Tensor> | Record<string, Tensor>;
export type Metadata = Record<string, string>;

export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Metadata;
}

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

const WRITE_DTYPE = { float32: 'F32', float64: 'F64', int32: 'I32' } as const;
const BYTES_PER_ELEMENT: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2 };

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors: this module assumes a little-endian host');
}

interface HeaderEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

interface Layout { header: Uint8Array; entries: [string, Tensor][]; dataBytes: number }

function entriesOf(tensors: TensorMap): [string, Tensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

function layout(tensors: TensorMap, metadata: Metadata | undefined): Layout {
  const given = entriesOf(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors: metadata value for "${k}" must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  for (const [name] of given) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
  }
  // Stable sort, 8-byte dtypes first.
  const entries = given.map((e, i) => [e, i] as const)
    .sort((a, b) => (b[0][1].data.BYTES_PER_ELEMENT - a[0][1].data.BYTES_PER_ELEMENT) || (a[1] - b[1]))
    .map(([e]) => e);
  let offset = 0;
  for (const [name, t] of entries) {
    const bytes = t.data.byteLength;
    const entry: HeaderEntry = { dtype: WRITE_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    header[name] = entry;
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data area starts 8-byte aligned (as the reference writer does).
  const rawLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + rawLen) % 8)) % 8);
  return { header: new TextEncoder().encode(json), entries, dataBytes: offset };
}

function lengthPrefix(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The whole file as one buffer. */
export function encodeSafetensors(tensors: TensorMap, metadata?: Metadata): Uint8Array {
  const { header, entries, dataBytes } = layout(tensors, metadata);
  const out = new Uint8Array(8 + header.length + dataBytes);
  out.set(lengthPrefix(header.length), 0);
  out.set(header, 8);
  let pos = 8 + header.length;
  for (const [, t] of entries) { out.set(bytesOf(t), pos); pos += t.data.byteLength; }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsContents {
  const fail = (msg: string): never => { throw new Error(`${source}: ${msg}`); };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    return fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;

  const metadata: Metadata = {};
  const raw = header.__metadata__;
  if (raw !== undefined) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ must be an object of strings');
    for (const [k, v] of Object.entries(raw as object)) {
      if (typeof v !== 'string') fail(`__metadata__["${k}"] must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v as string;
    }
  }

  const entries: [string, HeaderEntry][] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const h = e as Partial<HeaderEntry>;
    if (!h || typeof h.dtype !== 'string' || !Array.isArray(h.shape) || !Array.isArray(h.data_offsets) || h.data_offsets.length !== 2) {
      fail(`tensor "${name}" needs dtype, shape and data_offsets [begin, end], got ${JSON.stringify(e)}`);
    }
    if (!h.shape!.every((s) => Number.isInteger(s) && s >= 0)) fail(`tensor "${name}" has an invalid shape ${JSON.stringify(h.shape)}`);
    const width = BYTES_PER_ELEMENT[h.dtype!];
    if (!width) fail(`tensor "${name}" has dtype ${h.dtype}; supported: ${Object.keys(BYTES_PER_ELEMENT).join(', ')}`);
    const [b0, b1] = h.data_offsets!;
    if (!Number.isInteger(b0) || !Number.isInteger(b1) || b0 < 0 || b1 < b0 || b1 > dataLen) {
      fail(`tensor "${name}" has data_offsets [${b0}, ${b1}] outside the ${dataLen}-byte data area`);
    }
    const want = sizeOf(h.shape!) * width;
    if (b1 - b0 !== want) fail(`tensor "${name}" (${h.dtype} ${fmtShape(h.shape!)}) needs ${want} bytes but data_offsets span ${b1 - b0}`);
    entries.push([name, h as HeaderEntry]);
  }
  entries.sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
  let expected = 0;
  for (const [name, h] of entries) {
    if (h.data_offsets[0] !== expected) fail(`tensor "${name}" starts at byte ${h.data_offsets[0]}, expected ${expected} (gap or overlap)`);
    expected = h.data_offsets[1];
  }
  if (expected !== dataLen) fail(`tensors cover ${expected} bytes but the data area has ${dataLen}`);

  const tensors = new Map<string, Tensor>();
  for (const [name, h] of entries) {
    // Copy into a fresh, aligned ArrayBuffer: typed arrays need alignment, and a tensor must not
    // keep the whole file alive. (Not bytes.slice(): on a Node Buffer that returns a view.)
    const copy = new Uint8Array(h.data_offsets[1] - h.data_offsets[0]);
    copy.set(bytes.subarray(dataStart + h.data_offsets[0], dataStart + h.data_offsets[1]));
    const buf = copy.buffer;
    tensors.set(name, new Tensor(convert(h.dtype, buf, name, fail), h.shape));
  }
  return { tensors, metadata };
}

function convert(dtype: string, buf: ArrayBuffer, name: string, fail: (m: string) => never): Float32Array | Float64Array | Int32Array {
  switch (dtype) {
    case 'F32': return new Float32Array(buf);
    case 'F64': return new Float64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'F16': return Float32Array.from(new Uint16Array(buf), halfToFloat);
    case 'BF16': {
      const src = new Uint16Array(buf);
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64': {
      const src = new BigInt64Array(buf);
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v < -2147483648n || v > 2147483647n) fail(`tensor "${name}" (I64) holds ${v} at index ${i}, which does not fit in int32`);
        out[i] = Number(v);
      }
      return out;
    }
    default: return fail(`tensor "${name}" has unsupported dtype ${dtype}`);
  }
}

/** IEEE 754 binary16 bits to a number (subnormals, infinities and NaN included). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Writes atomically: temp file beside `path`, fsync, rename over `path`, fsync the directory. */
export function writeSafetensors(path: string, tensors: TensorMap, metadata?: Metadata): void {
  const { header, entries } = layout(tensors, metadata);
  writeFileDurable(path, [lengthPrefix(header.length), header, ...entries.map(([, t]) => bytesOf(t))]);
}

export function readSafetensors(path: string): SafetensorsContents {
  return decodeSafetensors(readFileSync(path), path);
}
