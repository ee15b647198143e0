// Binary token files: written once, then read in windows with positioned reads so a training run
// never holds the whole corpus in memory.
//
// Layout (little-endian):
//   0  magic "WTTOKENS"         8 bytes
//   8  version u32 (= 1)        12 dtype u32 (1 = uint16, 2 = int32)
//   16 vocabSize u32            20 reserved u32
//   24 numTokens u64            32 numDocs u64
//   40 totalBytes u64 (UTF-8 bytes of the source text, for bits per byte)
//   48 reserved (16 bytes)
//   64 tokens: numTokens x dtype
//   then docBounds: (numDocs + 1) x u64 token offsets

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { checkRange, type TokenSource } from './tokensource.js';
import { writeAll, writeFileAtomic } from '../base/durable.js';

const MAGIC = 'WTTOKENS';
const VERSION = 1;
export const HEADER_BYTES = 64;

export type TokenDtype = 'uint16' | 'int32';
const DTYPE_CODE: Record<TokenDtype, number> = { uint16: 1, int32: 2 };
const DTYPE_WIDTH: Record<TokenDtype, number> = { uint16: 2, int32: 4 };

export function dtypeForVocab(vocabSize: number): TokenDtype {
  return vocabSize <= 65536 ? 'uint16' : 'int32';
}

export interface TokenFileInfo {
  numTokens: number;
  numDocs: number;
  totalBytes: number;
  vocabSize: number;
  dtype: TokenDtype;
}

export interface DocTokens {
  tokens: ArrayLike<number>;
  /** UTF-8 byte length of the document's text. */
  bytes: number;
}

/**
 * Streams documents into a token file at path, atomically (base/durable.ts writeFileAtomic):
 * readers never see a partial file.
 */
export function writeTokenFile(path: string, docs: Iterable<DocTokens>, opts: { vocabSize: number }): TokenFileInfo {
  const { vocabSize } = opts;
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new Error(`writeTokenFile: bad vocabSize ${vocabSize}`);
  const dtype = dtypeForVocab(vocabSize);
  const width = DTYPE_WIDTH[dtype];
  return writeFileAtomic(path, (fd) => {
    const CHUNK = 1 << 16;
    const buf = Buffer.alloc(CHUNK * width);
    let filled = 0;
    let pos = HEADER_BYTES;
    const flush = () => {
      writeAll(fd, buf.subarray(0, filled * width), pos);
      pos += filled * width;
      filled = 0;
    };
    const bounds: number[] = [0];
    let numTokens = 0, totalBytes = 0;
    for (const doc of docs) {
      const t = doc.tokens;
      for (let i = 0; i < t.length; i++) {
        const id = t[i];
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
          throw new Error(`writeTokenFile: token ${id} in document ${bounds.length - 1} outside vocab 0..${vocabSize - 1}`);
        if (dtype === 'uint16') buf.writeUInt16LE(id, filled * 2);
        else buf.writeInt32LE(id, filled * 4);
        if (++filled === CHUNK) flush();
      }
      numTokens += t.length;
      totalBytes += doc.bytes;
      bounds.push(numTokens);
    }
    flush();

    const b = Buffer.alloc(bounds.length * 8);
    bounds.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), i * 8));
    writeAll(fd, b, pos);

    const h = Buffer.alloc(HEADER_BYTES);
    h.write(MAGIC, 0, 'latin1');
    h.writeUInt32LE(VERSION, 8);
    h.writeUInt32LE(DTYPE_CODE[dtype], 12);
    h.writeUInt32LE(vocabSize, 16);
    h.writeBigUInt64LE(BigInt(numTokens), 24);
    h.writeBigUInt64LE(BigInt(bounds.length - 1), 32);
    h.writeBigUInt64LE(BigInt(totalBytes), 40);
    writeAll(fd, h, 0);
    return { numTokens, numDocs: bounds.length - 1, totalBytes, vocabSize, dtype };
  });
}

export class TokenFile implements TokenSource, TokenFileInfo {
  readonly numTokens: number;
  readonly numDocs: number;
  readonly totalBytes: number;
  readonly vocabSize: number;
  readonly dtype: TokenDtype;
  readonly docBounds: Float64Array;
  private fd: number | null;
  private scratch = Buffer.alloc(0);

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      const bad = (why: string) => new Error(`token file ${path} is corrupt or truncated: ${why}`);
      const size = fstatSync(this.fd).size;
      if (size < HEADER_BYTES) throw bad(`${size} bytes, shorter than the ${HEADER_BYTES}-byte header`);
      const h = this.readAt(0, HEADER_BYTES);
      if (h.toString('latin1', 0, 8) !== MAGIC) throw bad('bad magic (not a windtunnel token file)');
      const version = h.readUInt32LE(8);
      if (version !== VERSION) throw new Error(`token file ${path}: unsupported version ${version} (expected ${VERSION})`);
      const code = h.readUInt32LE(12);
      const dtype = (Object.keys(DTYPE_CODE) as TokenDtype[]).find((k) => DTYPE_CODE[k] === code);
      if (!dtype) throw bad(`unknown dtype code ${code}`);
      this.dtype = dtype;
      this.vocabSize = h.readUInt32LE(16);
      this.numTokens = Number(h.readBigUInt64LE(24));
      this.numDocs = Number(h.readBigUInt64LE(32));
      this.totalBytes = Number(h.readBigUInt64LE(40));
      const expected = HEADER_BYTES + this.numTokens * DTYPE_WIDTH[dtype] + (this.numDocs + 1) * 8;
      if (size !== expected) throw bad(`size is ${size} bytes, header implies ${expected}`);
      const b = this.readAt(HEADER_BYTES + this.numTokens * DTYPE_WIDTH[dtype], (this.numDocs + 1) * 8);
      this.docBounds = new Float64Array(this.numDocs + 1);
      for (let d = 0; d <= this.numDocs; d++) {
        const v = Number(b.readBigUInt64LE(d * 8));
        if ((d === 0 && v !== 0) || (d > 0 && v < this.docBounds[d - 1]) || v > this.numTokens)
          throw bad(`document offsets are inconsistent at document ${d}`);
        this.docBounds[d] = v;
      }
      if (this.docBounds[this.numDocs] !== this.numTokens) throw bad('document offsets do not end at the token count');
    } catch (e) {
      this.close();
      throw e;
    }
  }

  get length(): number {
    return this.numTokens;
  }

  /** Average UTF-8 bytes per token over the whole file (0 for an empty file). */
  get bytesPerToken(): number {
    return this.numTokens === 0 ? 0 : this.totalBytes / this.numTokens;
  }

  private readAt(position: number, n: number): Buffer {
    if (this.fd === null) throw new Error(`token file ${this.path} is closed`);
    if (this.scratch.length < n) this.scratch = Buffer.alloc(Math.max(n, this.scratch.length * 2));
    let done = 0;
    while (done < n) {
      const got = readSync(this.fd, this.scratch, done, n - done, position + done);
      if (got === 0) throw new Error(`token file ${this.path}: unexpected end of file at byte ${position + done}`);
      done += got;
    }
    return this.scratch.subarray(0, n);
  }

  read(start: number, len: number, out: Int32Array, outOffset = 0): void {
    checkRange(this, start, len, out, outOffset);
    const width = DTYPE_WIDTH[this.dtype];
    const buf = this.readAt(HEADER_BYTES + start * width, len * width);
    if (this.dtype === 'uint16') for (let i = 0; i < len; i++) out[outOffset + i] = buf.readUInt16LE(i * 2);
    else for (let i = 0; i < len; i++) out[outOffset + i] = buf.readInt32LE(i * 4);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
