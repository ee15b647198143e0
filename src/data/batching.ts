// Deterministic training batch samplers. Every random choice comes from one Rng whose state is part
// of state(), so a run restored with setState() produces exactly the batches it would have produced.
// Shapes: inputs/targets/docIds are row-major [B * T]; a target of IGNORE_INDEX is excluded from the loss.

import { Rng, isRngState, type RngState } from '../base/random.js';
import { SeparatedTokens, docIndexAt, type TokenSource } from './tokensource.js';

export const IGNORE_INDEX = -1;

export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  /** Per input token, a segment id within its row (0, 1, ...): equal ids = same document. */
  docIds?: Int32Array;
  B: number;
  T: number;
}

export interface SamplerOptions {
  B: number;
  T: number;
  seed?: number | string;
  /** Token id appended after every document (e.g. the tokenizer's <|endoftext|>). */
  separatorId?: number;
  /** Emit docIds and mask targets that lie in a different document than their input. */
  keepInDocument?: boolean;
}

export interface Sampler {
  next(): Batch;
  state(): SamplerState;
  setState(state: SamplerState): void;
}

export interface WindowsState {
  kind: 'windows';
  version: 1;
  B: number;
  T: number;
  length: number;
  rng: RngState;
  step: number;
}

export interface PackingState {
  kind: 'packing';
  version: 1;
  B: number;
  T: number;
  length: number;
  numDocs: number;
  shuffle: boolean;
  step: number;
  epoch: number;
  /** Rng state before the current epoch's shuffle: the permutation is recomputed from it. */
  epochRng: RngState;
  /** Position within the epoch: index into the permutation, and offset into that document. */
  doc: number;
  offset: number;
}

export type SamplerState = WindowsState | PackingState;

function checkShape(B: number, T: number): void {
  if (!Number.isInteger(B) || B <= 0 || !Number.isInteger(T) || T <= 0) throw new Error(`bad batch shape B=${B} T=${T}`);
}

export function allocBatch(B: number, T: number, withDocIds: boolean): Batch {
  const batch: Batch = { inputs: new Int32Array(B * T), targets: new Int32Array(B * T), B, T };
  if (withDocIds) batch.docIds = new Int32Array(B * T);
  return batch;
}

/**
 * Writes row r of a batch from T + 1 consecutive tokens (and their segment ids, if masking):
 * inputs = tok[0..T), targets = tok[1..T], masked where the target starts a new segment.
 */
export function emitRow(batch: Batch, r: number, tok: Int32Array, seg: Int32Array | null): void {
  const T = batch.T, o = r * T;
  for (let i = 0; i < T; i++) {
    batch.inputs[o + i] = tok[i];
    batch.targets[o + i] = seg && seg[i + 1] !== seg[i] ? IGNORE_INDEX : tok[i + 1];
  }
  if (seg && batch.docIds) batch.docIds.set(seg.subarray(0, T), o);
}

/** Reads n tokens at start of a flat source, and row-local segment ids from its document bounds. */
export function readSpan(src: TokenSource, start: number, tok: Int32Array, seg: Int32Array | null): void {
  src.read(start, tok.length, tok);
  if (!seg) return;
  const bounds = src.docBounds;
  let d = docIndexAt(bounds, start);
  let id = 0;
  for (let i = 0; i < tok.length; i++) {
    if (start + i >= bounds[d + 1]) {
      while (start + i >= bounds[d + 1]) d++; // also steps over empty documents
      id++;
    }
    seg[i] = id;
  }
}

function withSeparator(src: TokenSource, separatorId: number | undefined): TokenSource {
  return separatorId === undefined ? src : new SeparatedTokens(src, separatorId);
}

function checkState<S extends SamplerState>(expected: Omit<S, 'rng' | 'step' | 'epoch' | 'epochRng' | 'doc' | 'offset'>, s: SamplerState): S {
  for (const [k, v] of Object.entries(expected))
    if ((s as unknown as Record<string, unknown>)[k] !== v)
      throw new Error(`sampler state does not match this sampler: ${k} is ${JSON.stringify((s as unknown as Record<string, unknown>)[k])}, expected ${JSON.stringify(v)}`);
  return s as S;
}

/** Random windows: each row starts at a uniform position i, inputs [i, i+T), targets [i+1, i+T]. */
export class RandomWindowSampler implements Sampler {
  private readonly src: TokenSource;
  private rng: Rng;
  private step = 0;
  private readonly tok: Int32Array;
  private readonly seg: Int32Array | null;

  constructor(source: TokenSource, readonly opts: SamplerOptions) {
    checkShape(opts.B, opts.T);
    this.src = withSeparator(source, opts.separatorId);
    if (this.src.length < opts.T + 1) throw new Error(`RandomWindowSampler: ${this.src.length} tokens, need at least T + 1 = ${opts.T + 1}`);
    this.rng = Rng.fromKey(opts.seed ?? 0);
    this.tok = new Int32Array(opts.T + 1);
    this.seg = opts.keepInDocument ? new Int32Array(opts.T + 1) : null;
  }

  next(): Batch {
    const { B, T } = this.opts;
    const batch = allocBatch(B, T, this.seg !== null);
    const starts = this.src.length - T; // valid starts: 0 .. length - T - 1
    for (let r = 0; r < B; r++) {
      readSpan(this.src, this.rng.int(starts), this.tok, this.seg);
      emitRow(batch, r, this.tok, this.seg);
    }
    this.step++;
    return batch;
  }

  state(): WindowsState {
    const { B, T } = this.opts;
    return { kind: 'windows', version: 1, B, T, length: this.src.length, rng: this.rng.words(), step: this.step };
  }

  setState(state: SamplerState): void {
    const { B, T } = this.opts;
    const s = checkState<WindowsState>({ kind: 'windows', version: 1, B, T, length: this.src.length }, state);
    if (!isRngState(s.rng)) throw new Error('sampler state: bad rng');
    this.rng = Rng.fromWords(s.rng);
    this.step = s.step;
  }
}

/** Where a packing sampler is in its endless stream of shuffled epochs. */
interface Cursor {
  epoch: number;
  epochRng: RngState;
  rng: Rng; // state after this epoch's shuffle = start of the next epoch
  perm: Int32Array;
  doc: number;
  offset: number;
}

/**
 * Sequence packing: documents (each followed by the separator, if any) are concatenated in a
 * per-epoch shuffled order and cut into rows of T + 1 tokens with stride T, so every token after the
 * first is a target exactly once per epoch. Epochs flow into each other without padding.
 */
export class PackingSampler implements Sampler {
  private readonly sep: number;
  private cur: Cursor;
  private step = 0;
  private readonly tok: Int32Array;
  private readonly seg: Int32Array;

  constructor(private readonly source: TokenSource, readonly opts: SamplerOptions & { shuffle?: boolean }) {
    checkShape(opts.B, opts.T);
    this.sep = opts.separatorId ?? -1;
    if (opts.separatorId !== undefined && (!Number.isInteger(opts.separatorId) || opts.separatorId < 0))
      throw new Error(`bad separator id ${opts.separatorId}`);
    if (source.length + (this.sep >= 0 ? source.numDocs : 0) === 0) throw new Error('PackingSampler: the source has no tokens');
    this.cur = this.startEpoch(0, Rng.fromKey(opts.seed ?? 0));
    this.tok = new Int32Array(opts.T + 1);
    this.seg = new Int32Array(opts.T + 1);
  }

  private get shuffle(): boolean {
    return this.opts.shuffle ?? true;
  }

  private startEpoch(epoch: number, rng: Rng): Cursor {
    const epochRng = rng.words();
    const perm = this.shuffle ? rng.permutation(this.source.numDocs) : Int32Array.from({ length: this.source.numDocs }, (_, i) => i);
    return { epoch, epochRng, rng, perm, doc: 0, offset: 0 };
  }

  private segmentLength(d: number): number {
    return this.source.docBounds[d + 1] - this.source.docBounds[d] + (this.sep >= 0 ? 1 : 0);
  }

  /** Moves c forward n tokens; if at is given, copies them to tok/seg from position at. */
  private walk(c: Cursor, n: number, at?: number): Cursor {
    let segId = -1, lastKey = -1;
    while (n > 0) {
      if (c.doc === c.perm.length) c = this.startEpoch(c.epoch + 1, c.rng);
      const d = c.perm[c.doc];
      const segLen = this.segmentLength(d);
      const take = Math.min(n, segLen - c.offset);
      if (take > 0 && at !== undefined) {
        const key = c.epoch * c.perm.length + c.doc;
        if (key !== lastKey) (segId++, (lastKey = key));
        const textLen = segLen - (this.sep >= 0 ? 1 : 0);
        const fromText = Math.max(0, Math.min(take, textLen - c.offset));
        if (fromText > 0) this.source.read(this.source.docBounds[d] + c.offset, fromText, this.tok, at);
        if (fromText < take) this.tok[at + fromText] = this.sep; // only the separator can follow the text
        this.seg.fill(segId, at, at + take);
        at += take;
      }
      c.offset += take;
      n -= take;
      if (c.offset === segLen) (c.doc++, (c.offset = 0));
    }
    return c;
  }

  next(): Batch {
    const { B, T } = this.opts;
    const masked = this.opts.keepInDocument ?? false;
    const batch = allocBatch(B, T, masked);
    for (let r = 0; r < B; r++) {
      // T tokens advance the stream; the (T+1)-th is peeked from a copy and starts the next row.
      this.cur = this.walk(this.cur, T, 0);
      this.walk({ ...this.cur, rng: this.cur.rng.clone() }, 1, T);
      // walk() numbers segments per call: the peeked token is in the row's last segment unless the
      // cursor sits at a segment start.
      this.seg[T] = this.cur.offset > 0 ? this.seg[T - 1] : this.seg[T - 1] + 1;
      emitRow(batch, r, this.tok, masked ? this.seg : null);
    }
    this.step++;
    return batch;
  }

  state(): PackingState {
    const { B, T } = this.opts;
    const c = this.cur;
    return {
      kind: 'packing', version: 1, B, T, length: this.source.length, numDocs: this.source.numDocs, shuffle: this.shuffle,
      step: this.step, epoch: c.epoch, epochRng: c.epochRng, doc: c.doc, offset: c.offset,
    };
  }

  setState(state: SamplerState): void {
    const { B, T } = this.opts;
    const s = checkState<PackingState>(
      { kind: 'packing', version: 1, B, T, length: this.source.length, numDocs: this.source.numDocs, shuffle: this.shuffle },
      state,
    );
    if (!isRngState(s.epochRng)) throw new Error('sampler state: bad epochRng');
    const c = this.startEpoch(s.epoch, Rng.fromWords(s.epochRng));
    if (!(Number.isInteger(s.doc) && s.doc >= 0 && s.doc <= c.perm.length)) throw new Error(`sampler state: bad doc ${s.doc}`);
    if (!(Number.isInteger(s.offset) && s.offset >= 0 && (s.doc === c.perm.length ? s.offset === 0 : s.offset < this.segmentLength(c.perm[s.doc]))))
      throw new Error(`sampler state: bad offset ${s.offset}`);
    c.doc = s.doc;
    c.offset = s.offset;
    this.cur = c;
    this.step = s.step;
  }
}

export type SamplerConfig = SamplerOptions & ({ kind: 'windows' } | { kind: 'packing'; shuffle?: boolean });

export function createSampler(source: TokenSource, config: SamplerConfig): Sampler {
  return config.kind === 'windows' ? new RandomWindowSampler(source, config) : new PackingSampler(source, config);
}
