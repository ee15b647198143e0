// Task instances as training batches: each instance is tokenized as prompt + completion +
// <|endoftext|>, and whole instances are packed into each row (never cut: an answer trained
// without its prompt would teach noise), with document ids so no token attends across
// instances. Only the completion is scored: a target is kept where the token it predicts lies
// in the same instance's completion (or is its <|endoftext|>, so the model learns to stop);
// prompt tokens, the first token of each instance and padding are IGNORE_INDEX. The row's
// leftover slots are padding (end-of-text tokens in a segment of their own).

import { IGNORE_INDEX, allocBatch, type Batch } from '../batching.js';
import { Rng, isRngState, type RngState } from '../../base/random.js';
import { completionText, type TaskFormat, type TaskInstance } from './format.js';

export interface EncodedTasks {
  /** All documents back to back. */
  tokens: Int32Array;
  /** numDocs + 1 offsets into tokens. */
  bounds: Int32Array;
  /** Per document, the offset (absolute) of its first completion token. */
  completionStart: Int32Array;
  /** The padding / end-of-text token id. */
  endId: number;
}

export function encodeTasks(instances: readonly TaskInstance[], format: TaskFormat, encode: (text: string) => number[], endId: number): EncodedTasks {
  const docs = instances.map((inst) => ({ prompt: encode(inst.prompt), completion: [...encode(completionText(inst, format)), endId] }));
  const bounds = new Int32Array(docs.length + 1), completionStart = new Int32Array(docs.length);
  docs.forEach((d, i) => {
    completionStart[i] = bounds[i] + d.prompt.length;
    bounds[i + 1] = bounds[i] + d.prompt.length + d.completion.length;
  });
  const tokens = new Int32Array(bounds[docs.length]);
  docs.forEach((d, i) => {
    tokens.set(d.prompt, bounds[i]);
    tokens.set(d.completion, completionStart[i]);
  });
  return { tokens, bounds, completionStart, endId };
}

export const numDocs = (e: EncodedTasks): number => e.bounds.length - 1;

/** The longest document, in tokens: a row of T + 1 tokens must hold it. */
export function longestDoc(e: EncodedTasks): number {
  let m = 0;
  for (let d = 0; d < numDocs(e); d++) m = Math.max(m, e.bounds[d + 1] - e.bounds[d]);
  return m;
}

/** Tokens that are scored (completion tokens, end-of-text included). */
export function scoredTokens(e: EncodedTasks): number {
  let n = 0;
  for (let d = 0; d < numDocs(e); d++) n += e.bounds[d + 1] - e.completionStart[d];
  return n;
}

function checkFits(e: EncodedTasks, T: number): void {
  const longest = longestDoc(e);
  if (longest > T + 1) throw new Error(`a task instance is ${longest} tokens long, more than context + 1 = ${T + 1}; raise the context or use smaller sizes`);
}

/** Writes documents order[from..] into row r while they fit; returns the next index into order. */
function fillRow(e: EncodedTasks, batch: Batch, r: number, order: ArrayLike<number>, from: number): number {
  const { T } = batch;
  const o = r * T;
  batch.inputs.fill(e.endId, o, o + T);
  batch.targets.fill(IGNORE_INDEX, o, o + T);
  let at = 0, seg = 0, k = from;
  while (k < order.length) {
    const d = order[k], start = e.bounds[d], len = e.bounds[d + 1] - start;
    if (at + len > T + 1) break;
    for (let j = 0; j < len; j++) {
      const pos = at + j; // slot in the row's T + 1 tokens
      if (pos < T) {
        batch.inputs[o + pos] = e.tokens[start + j];
        batch.docIds![o + pos] = seg;
      }
      // slot pos predicts token pos + 1: scored when that token is in this document's completion
      if (pos < T && j + 1 < len && start + j + 1 >= e.completionStart[d]) batch.targets[o + pos] = e.tokens[start + j + 1];
    }
    at += len;
    seg++;
    k++;
  }
  for (let pos = at; pos < T; pos++) batch.docIds![o + pos] = seg; // padding: a segment of its own
  return k;
}

export interface InstanceSamplerState {
  kind: 'instances';
  version: 1;
  B: number;
  T: number;
  numDocs: number;
  step: number;
  epoch: number;
  /** Rng state before the current epoch's shuffle. */
  epochRng: RngState;
  /** Next document, as an index into the epoch's permutation. */
  doc: number;
}

/**
 * Endless shuffled epochs of whole instances, packed greedily into rows. Every instance is
 * trained once per epoch; the state is the epoch, its shuffle's Rng and the position in it.
 */
export class InstanceSampler {
  private epoch = 0;
  private epochRng: RngState;
  private rng: Rng;
  private perm: Int32Array;
  private doc = 0;
  private step = 0;

  constructor(private readonly data: EncodedTasks, readonly opts: { B: number; T: number; seed?: number | string }) {
    const { B, T } = opts;
    if (!Number.isInteger(B) || B <= 0 || !Number.isInteger(T) || T <= 0) throw new Error(`bad batch shape B=${B} T=${T}`);
    if (numDocs(data) === 0) throw new Error('InstanceSampler: no task instances');
    checkFits(data, T);
    this.rng = Rng.fromKey(opts.seed ?? 0);
    this.epochRng = this.rng.words();
    this.perm = this.rng.permutation(numDocs(data));
  }

  private nextEpoch(): void {
    this.epoch++;
    this.epochRng = this.rng.words();
    this.perm = this.rng.permutation(numDocs(this.data));
    this.doc = 0;
  }

  next(): Batch {
    const { B, T } = this.opts;
    const batch = allocBatch(B, T, true);
    for (let r = 0; r < B; r++) {
      if (this.doc === this.perm.length) this.nextEpoch();
      this.doc = fillRow(this.data, batch, r, this.perm, this.doc);
    }
    this.step++;
    return batch;
  }

  state(): InstanceSamplerState {
    const { B, T } = this.opts;
    return { kind: 'instances', version: 1, B, T, numDocs: numDocs(this.data), step: this.step, epoch: this.epoch, epochRng: this.epochRng, doc: this.doc };
  }

  setState(state: unknown): void {
    const s = state as Partial<InstanceSamplerState> | null;
    const { B, T } = this.opts;
    const expected = { kind: 'instances', version: 1, B, T, numDocs: numDocs(this.data) };
    for (const [k, v] of Object.entries(expected)) {
      if ((s as Record<string, unknown> | null)?.[k] !== v) throw new Error(`sampler state does not match this sampler: ${k} is ${JSON.stringify((s as Record<string, unknown> | null)?.[k])}, expected ${JSON.stringify(v)}`);
    }
    if (!isRngState(s!.epochRng)) throw new Error('sampler state: bad epochRng');
    if (!(Number.isInteger(s!.doc) && s!.doc! >= 0 && s!.doc! <= numDocs(this.data))) throw new Error(`sampler state: bad doc ${s!.doc}`);
    this.rng = Rng.fromWords(s!.epochRng);
    this.epochRng = s!.epochRng;
    this.perm = this.rng.permutation(numDocs(this.data));
    this.epoch = s!.epoch!;
    this.doc = s!.doc!;
    this.step = s!.step!;
  }
}

/** One pass over the instances in order, packed the same way (every completion scored once). */
export function* instanceBatches(data: EncodedTasks, o: { B: number; T: number; maxBatches?: number }): Generator<Batch> {
  checkFits(data, o.T);
  const order = Int32Array.from({ length: numDocs(data) }, (_, i) => i);
  let k = 0;
  for (let b = 0; k < order.length && b < (o.maxBatches ?? Infinity); b++) {
    const rows: Batch = allocBatch(o.B, o.T, true);
    let r = 0;
    for (; r < o.B && k < order.length; r++) k = fillRow(data, rows, r, order, k);
    yield r === o.B ? rows : { inputs: rows.inputs.slice(0, r * o.T), targets: rows.targets.slice(0, r * o.T), docIds: rows.docIds!.slice(0, r * o.T), B: r, T: o.T };
  }
}
