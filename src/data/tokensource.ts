// What the samplers read from: a flat token stream with document boundaries. TokenFile (on disk)
// and MemoryTokens (in memory, for tests and small experiments) both implement it.

export interface TokenSource {
  /** Number of tokens. */
  readonly length: number;
  readonly numDocs: number;
  /** numDocs + 1 non-decreasing offsets; document d is [docBounds[d], docBounds[d + 1]). */
  readonly docBounds: ArrayLike<number>;
  /** UTF-8 bytes of the text these tokens encode (for bits per byte), if known. */
  readonly totalBytes?: number;
  /** Copies tokens [start, start + len) into out at outOffset. */
  read(start: number, len: number, out: Int32Array, outOffset?: number): void;
}

export function checkRange(src: TokenSource, start: number, len: number, out: Int32Array, outOffset: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(len) || start < 0 || len < 0 || start + len > src.length)
    throw new RangeError(`read(${start}, ${len}) out of range for ${src.length} tokens`);
  if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset + len > out.length)
    throw new RangeError(`read: output of length ${out.length} too small for ${len} tokens at ${outOffset}`);
}

/** Index of the document containing position pos (for empty documents, the last one starting there). */
export function docIndexAt(bounds: ArrayLike<number>, pos: number): number {
  let lo = 0, hi = bounds.length - 2; // answer in [0, numDocs - 1]
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (bounds[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export class MemoryTokens implements TokenSource {
  readonly tokens: Int32Array;
  readonly docBounds: Float64Array;
  readonly totalBytes?: number;

  constructor(docs: readonly ArrayLike<number>[], opts: { totalBytes?: number } = {}) {
    this.docBounds = new Float64Array(docs.length + 1);
    docs.forEach((d, i) => (this.docBounds[i + 1] = this.docBounds[i] + d.length));
    this.tokens = new Int32Array(this.docBounds[docs.length]);
    docs.forEach((d, i) => this.tokens.set(d, this.docBounds[i]));
    this.totalBytes = opts.totalBytes;
  }

  get length(): number {
    return this.tokens.length;
  }

  get numDocs(): number {
    return this.docBounds.length - 1;
  }

  read(start: number, len: number, out: Int32Array, outOffset = 0): void {
    checkRange(this, start, len, out, outOffset);
    out.set(this.tokens.subarray(start, start + len), outOffset);
  }
}

/**
 * The source with separatorId appended after every document (GPT-style end-of-text), without copying.
 * The separator counts as the last token of its document, so "predict the end" stays in-document.
 */
export class SeparatedTokens implements TokenSource {
  readonly docBounds: Float64Array;

  constructor(readonly base: TokenSource, readonly separatorId: number) {
    if (!Number.isInteger(separatorId) || separatorId < 0) throw new Error(`bad separator id ${separatorId}`);
    this.docBounds = new Float64Array(base.numDocs + 1);
    for (let d = 0; d <= base.numDocs; d++) this.docBounds[d] = base.docBounds[d] + d;
  }

  get length(): number {
    return this.base.length + this.base.numDocs;
  }

  get numDocs(): number {
    return this.base.numDocs;
  }

  get totalBytes(): number | undefined {
    return this.base.totalBytes;
  }

  read(start: number, len: number, out: Int32Array, outOffset = 0): void {
    checkRange(this, start, len, out, outOffset);
    let pos = start, o = outOffset;
    const end = start + len;
    let d = docIndexAt(this.docBounds, pos);
    while (pos < end) {
      const docEnd = this.docBounds[d + 1]; // exclusive; separator sits at docEnd - 1
      if (pos >= docEnd) {
        d++;
        continue;
      }
      const textEnd = docEnd - 1;
      if (pos < textEnd) {
        const n = Math.min(end, textEnd) - pos;
        this.base.read(pos - d, n, out, o); // d separators precede this document
        pos += n;
        o += n;
      } else {
        out[o++] = this.separatorId;
        pos++;
      }
    }
  }
}
