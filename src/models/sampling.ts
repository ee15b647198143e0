// Autoregressive sampling with a KV cache: the prompt is run once (prefill), then each step
// feeds only the newest token and attends to the cached keys and values. Temperature, top-k
// and top-p (nucleus) filtering, applied in that order as Hugging Face does. Deterministic for
// a seed: one Rng draws one uniform number per sequence per step.
//
// Past nCtx tokens the context is cropped to the last nCtx, as nanoGPT does; with the cache
// that means re-running the cropped window (positions restart at 0), so cached and uncached
// decoding give the same tokens everywhere. With attention sinks (StreamingLLM) nothing is
// cropped: the cache keeps the first tokens and a recent window, so text runs on far past nCtx
// at a bounded cache size; `streamingLoss` evaluates a long text the same way.

import { Rng, Tensor, fmtShape, logSoftmax, noGrad, tensor } from '../engine/index.js';
import type { SinkCacheOptions } from './mixers/index.js';
import { KVCache, type Transformer } from './transformer.js';

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only tokens whose logit is at least the k-th largest (ties kept). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP (at least one). */
  topP?: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Default 0. */
  seed?: number;
  /** Default true; false recomputes the whole context each step (the definition the cache must match). */
  useKVCache?: boolean;
  /** Stop once every sequence has produced this token (finished ones are padded with it). */
  stopToken?: number;
  /** Attention sinks: keep the first `keep` tokens and the last ones, keep + window in all, and never crop (needs the cache). */
  sinks?: SinkCacheOptions;
}

/** Feeds rows [B, T] through a cache in calls of at most `chunk` tokens; returns the last call's logits. */
function feed(model: Transformer, rows: number[][], cache: KVCache, chunk: number, lastLogitsOnly: boolean, each?: (logits: Tensor, from: number) => void): Tensor {
  let logits: Tensor | null = null;
  for (let from = 0; from < rows[0].length; from += chunk) {
    const part = rows.map((r) => r.slice(from, from + chunk));
    logits = model.forward(batch(part), { kvCache: cache, lastLogitsOnly }).logits;
    each?.(logits, from);
  }
  return logits!;
}

function checkSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature >= 0)) throw new Error(`sampling: temperature must be >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1)) throw new Error(`sampling: topK must be a positive integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`sampling: topP must be in (0, 1], got ${o.topP}`);
}

/** The distribution a token is drawn from (float64, sums to 1), after temperature, top-k and top-p. */
export function samplingDistribution(logits: ArrayLike<number>, o: SamplingOptions = {}): Float64Array {
  checkSampling(o);
  const V = logits.length;
  const probs = new Float64Array(V);
  const temperature = o.temperature ?? 1;
  if (temperature === 0) {
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[j] > logits[best]) best = j;
    probs[best] = 1;
    return probs;
  }
  const z = Float64Array.from(logits, (x) => x / temperature);
  if (o.topK !== undefined && o.topK < V) {
    const kth = Float64Array.from(z).sort().reverse()[o.topK - 1];
    for (let j = 0; j < V; j++) if (z[j] < kth) z[j] = -Infinity;
  }
  let mx = -Infinity;
  for (let j = 0; j < V; j++) if (z[j] > mx) mx = z[j];
  let total = 0;
  for (let j = 0; j < V; j++) { probs[j] = Math.exp(z[j] - mx); total += probs[j]; }
  for (let j = 0; j < V; j++) probs[j] /= total;
  if (o.topP !== undefined && o.topP < 1) {
    const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => probs[b] - probs[a] || a - b);
    let cum = 0, kept = 0;
    for (const j of order) {
      if (cum >= o.topP) probs[j] = 0;
      else { cum += probs[j]; kept += probs[j]; }
    }
    for (let j = 0; j < V; j++) probs[j] /= kept;
  }
  return probs;
}

/** Draws one token from the filtered distribution with a single uniform draw. */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, rng: Rng): number {
  const probs = samplingDistribution(logits, o);
  const u = rng.uniform();
  let cum = 0, last = 0;
  for (let j = 0; j < probs.length; j++) {
    if (probs[j] === 0) continue;
    cum += probs[j];
    last = j;
    if (u < cum) return j;
  }
  return last; // u within rounding of 1
}

function toRows(prompt: Tensor | number[] | number[][]): number[][] {
  if (prompt instanceof Tensor) {
    if (prompt.dtype !== 'int32' || prompt.ndim !== 2) throw new Error(`generate: prompt must be int32 [B, T], got ${prompt.dtype} ${fmtShape(prompt.shape)}`);
    const [B, T] = prompt.shape;
    return Array.from({ length: B }, (_, b) => Array.from(prompt.i.subarray(b * T, (b + 1) * T)));
  }
  const rows = prompt.length > 0 && Array.isArray(prompt[0]) ? (prompt as number[][]) : [prompt as number[]];
  return rows.map((r) => [...r]);
}

const batch = (rows: number[][]) => tensor(Int32Array.from(rows.flat()), [rows.length, rows[0].length], { dtype: 'int32' });

/** Continues each prompt by up to maxNewTokens tokens; returns int32 [B, T + generated] (prompts of one length). */
export function generate(model: Transformer, prompt: Tensor | number[] | number[][], o: GenerateOptions): Tensor {
  const seqs = toRows(prompt);
  if (seqs.some((r) => r.length !== seqs[0].length)) throw new Error('generate: prompts in a batch must have the same length (generateRagged takes unequal ones)');
  return batch(decode(model, seqs, o));
}

/**
 * Prompts of any lengths in one batch (left-padded inside, see ForwardOptions.leftPad); returns
 * each row's generated tokens alone. Each row gets the tokens it would get decoded by itself.
 */
export function generateRagged(model: Transformer, prompts: readonly (readonly number[])[], o: GenerateOptions): number[][] {
  if (prompts.length === 0) return [];
  const lengths = prompts.map((p) => p.length);
  if (model.takesLeftPadding || lengths.every((n) => n === lengths[0])) return decode(model, prompts.map((p) => [...p]), o).map((row, b) => row.slice(lengths[b]));
  // Recurrent and block-sparse mixers cannot skip padding: decode each group of equal lengths as its own batch.
  const out: number[][] = new Array(prompts.length);
  for (const n of [...new Set(lengths)]) {
    const idx = lengths.flatMap((m, b) => (m === n ? [b] : []));
    decode(model, idx.map((b) => [...prompts[b]]), o).forEach((row, j) => { out[idx[j]] = row.slice(n); });
  }
  return out;
}

/** The decoding loop; rows of unequal length are left-padded (with id 0, never attended to). */
function decode(model: Transformer, seqs: number[][], o: GenerateOptions): number[][] {
  checkSampling(o);
  if (!(Number.isInteger(o.maxNewTokens) && o.maxNewTokens >= 0)) throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${o.maxNewTokens}`);
  if (seqs.some((s) => s.length === 0)) throw new Error('generate: the prompt is empty');
  const { nCtx, nLayer, vocabSize: V } = model.config;
  const rng = new Rng(o.seed ?? 0);
  const useCache = o.useKVCache ?? true;
  if (o.sinks && !useCache) throw new Error('generate: attention sinks need the KV cache (useKVCache true)');
  const done = seqs.map(() => false);
  const width = Math.max(...seqs.map((s) => s.length));
  const ragged = seqs.some((s) => s.length !== width);
  if (ragged && o.sinks) throw new Error('generate: attention sinks take prompts of one length');
  // Rows as they enter the model: padding first, so every row ends at the same column.
  const padded = seqs.map((s) => [...new Array<number>(width - s.length).fill(0), ...s]);
  const padCount = seqs.map((s) => width - s.length);
  const padOf = (b: number, windowStart: number) => Math.max(0, padCount[b] - windowStart);
  // The window the model sees (the last nCtx columns) and its left padding per row.
  const window = () => {
    const start = Math.max(0, padded[0].length - nCtx);
    return { rows: padded.map((s) => s.slice(start)), pads: ragged ? seqs.map((_, b) => padOf(b, start)) : undefined };
  };
  let cache = new KVCache(nLayer, o.sinks ? { sinks: o.sinks } : {});
  let w = window();
  let pending = o.sinks ? seqs.map((s) => [...s]) : w.rows; // tokens not yet run through the cache
  let pads = w.pads;
  noGrad(() => {
    for (let step = 0; step < o.maxNewTokens; step++) {
      let logits: Tensor;
      if (o.sinks) {
        logits = feed(model, pending, cache, o.sinks.window, true); // [B, 1, V]
      } else if (useCache) {
        if (cache.length + pending[0].length > nCtx) { cache = new KVCache(nLayer); w = window(); pending = w.rows; pads = w.pads; }
        logits = model.forward(batch(pending), { kvCache: cache, lastLogitsOnly: true, leftPad: pads }).logits; // [B, 1, V]
      } else {
        w = window();
        logits = model.forward(batch(w.rows), { lastLogitsOnly: true, leftPad: w.pads }).logits; // [B, 1, V]
      }
      pending = seqs.map((s, b) => {
        const next = done[b] ? o.stopToken! : sampleToken(logits.f.subarray(b * V, (b + 1) * V), o, rng);
        s.push(next);
        padded[b].push(next);
        if (next === o.stopToken) done[b] = true;
        return [next];
      });
      if (done.every(Boolean)) break;
    }
  });
  return seqs;
}

export interface StreamingLossOptions {
  /** Attention sinks for the cache; without them the text must fit in nCtx. */
  sinks?: SinkCacheOptions;
  /** Tokens per forward call (default: the sink window, or the whole text). */
  chunk?: number;
}

/**
 * Negative log-likelihood (nats) of each token of `ids` after the first, predicted through a
 * KV cache fed left to right: with sinks, the way a model is evaluated past its context length.
 */
export function streamingLoss(model: Transformer, ids: number[], o: StreamingLossOptions = {}): { nll: Float64Array; mean: number } {
  if (ids.length < 2) throw new Error('streamingLoss: needs at least two tokens');
  const chunk = o.chunk ?? o.sinks?.window ?? ids.length;
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new Error(`streamingLoss: chunk must be a positive integer, got ${chunk}`);
  const cache = new KVCache(model.config.nLayer, o.sinks ? { sinks: o.sinks } : {});
  const V = model.config.vocabSize;
  const nll = new Float64Array(ids.length - 1);
  noGrad(() => feed(model, [ids], cache, chunk, false, (logits, from) => {
    const lp = logSoftmax(logits).f; // [1, t, V]
    const t = logits.shape[1];
    for (let i = 0; i < t; i++) if (from + i + 1 < ids.length) nll[from + i] = -lp[i * V + ids[from + i + 1]];
  }));
  return { nll, mean: nll.reduce((a, b) => a + b, 0) / nll.length };
}
