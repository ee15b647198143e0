// Deterministic evaluation over a validation source: non-overlapping windows in order (window k has
// inputs [kT, kT+T) and targets [kT+1, kT+T]), so every token after the first is scored at most once.

import { allocBatch, emitRow, readSpan, type Batch } from './batching.js';
import { SeparatedTokens, type TokenSource } from './tokensource.js';

export interface EvalOptions {
  B: number;
  T: number;
  /** Stop after this many batches (the windows used are always the first ones). */
  maxBatches?: number;
  separatorId?: number;
  keepInDocument?: boolean;
}

/** Number of full windows; the tail after the last one (fewer than T targets) is not evaluated. */
export function countEvalWindows(length: number, T: number): number {
  return length > T ? Math.floor((length - 1) / T) : 0;
}

export function countEvalBatches(source: TokenSource, opts: EvalOptions): number {
  const len = source.length + (opts.separatorId === undefined ? 0 : source.numDocs);
  const n = Math.ceil(countEvalWindows(len, opts.T) / opts.B);
  return opts.maxBatches === undefined ? n : Math.min(n, opts.maxBatches);
}

/** Yields batches of B windows (the last batch may have fewer rows; its B says how many). */
export function* evalBatches(source: TokenSource, opts: EvalOptions): Generator<Batch> {
  const { B, T } = opts;
  if (!Number.isInteger(B) || B <= 0 || !Number.isInteger(T) || T <= 0) throw new Error(`bad batch shape B=${B} T=${T}`);
  const src = opts.separatorId === undefined ? source : new SeparatedTokens(source, opts.separatorId);
  const windows = countEvalWindows(src.length, T);
  const maxBatches = opts.maxBatches ?? Infinity;
  const tok = new Int32Array(T + 1);
  const seg = opts.keepInDocument ? new Int32Array(T + 1) : null;
  for (let w = 0, b = 0; w < windows && b < maxBatches; b++) {
    const rows = Math.min(B, windows - w);
    const batch = allocBatch(rows, T, seg !== null);
    for (let r = 0; r < rows; r++, w++) {
      readSpan(src, w * T, tok, seg);
      emitRow(batch, r, tok, seg);
    }
    yield batch;
  }
}

/** Average UTF-8 bytes per token of a source (separators count as tokens with no bytes). */
export function bytesPerToken(source: TokenSource, separatorId?: number): number {
  if (source.totalBytes === undefined) throw new Error('bytesPerToken: the source does not record its byte count');
  const n = source.length + (separatorId === undefined ? 0 : source.numDocs);
  return n === 0 ? 0 : source.totalBytes / n;
}

/**
 * Bits per byte from a mean cross-entropy in nats per token. Exact when the evaluated tokens are the
 * whole source; over a subset it assumes the subset has the source's average bytes per token.
 */
export function bitsPerByte(meanLossNats: number, bytesPerTok: number): number {
  return meanLossNats / Math.LN2 / bytesPerTok;
}
