// Fused neural-network ops: each is one kernel forward and one backward, where the
// composition of primitives would make several passes over memory. Their gradients are
// checked by finite differences (test/engine/gradcheck.test.ts over op-cases.ts; not dropout,
// a multiply by a random mask), the native kernels against the reference ones
// (test/engine/native.test.ts), and the results against PyTorch (test/engine/torch-parity.test.ts).
//
// Legend: B batch, T tokens, H heads, D head size, C channels, V vocabulary.

import { BIAS_ACT_OPS, type AttentionMask, type BiasActOp } from './backend.js';
import { record } from './autograd.js';
import { add, assertFloat, matmul, mul, reshape } from './ops.js';
import { Rng } from '../base/random.js';
import { backend } from './runtime.js';
import { Tensor, allocOut, fmtShape, type Shape } from './tensor.js';

function lastDim(op: string, x: Tensor): { N: number; C: number } {
  if (x.ndim < 1) throw new Error(`${op}: needs at least a 1-d tensor, got a scalar`);
  const C = x.shape[x.ndim - 1];
  return { N: C === 0 ? 0 : x.size / C, C };
}

function checkVector(op: string, name: string, w: Tensor | null | undefined, C: number, x: Tensor): void {
  if (w && (w.ndim !== 1 || w.shape[0] !== C)) throw new Error(`${op}: ${name} has shape ${fmtShape(w.shape)}, expected [${C}] for input ${fmtShape(x.shape)}`);
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const dt = assertFloat('softmax', x);
  const { N, C } = lastDim('softmax', x);
  const out = allocOut(dt, x.size);
  backend().softmax(x.f, out, N, C);
  return record(new Tensor(out, x.shape), 'softmax', [x]);
}

export function logSoftmax(x: Tensor): Tensor {
  const dt = assertFloat('logSoftmax', x);
  const { N, C } = lastDim('logSoftmax', x);
  const out = allocOut(dt, x.size);
  backend().logSoftmax(x.f, out, N, C);
  return record(new Tensor(out, x.shape), 'logSoftmax', [x]);
}

/** y = x w^T + b, with w [out, in] as in PyTorch's nn.Linear (so checkpoints map by name). */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  const y = matmul(x, w, { transB: true });
  return b ? add(y, b) : y;
}

/**
 * act(x + b) for an activation of BIAS_ACT_OPS, with b [C] over the last axis, as one
 * kernel pass; the gradient is the composition's. The pre-activation x + b is kept for the
 * backward (written over x's own buffer when `overwriteInput`, which only a caller that owns
 * x and never reads it again may ask for: linearAct).
 */
export function biasAct(x: Tensor, b: Tensor, op: BiasActOp, overwriteInput = false): Tensor {
  const dt = assertFloat('biasAct', x, b);
  const { N, C } = lastDim('biasAct', x);
  checkVector('biasAct', 'bias', b, C, x);
  if (!(BIAS_ACT_OPS as readonly string[]).includes(op)) throw new Error(`biasAct: op must be one of ${BIAS_ACT_OPS.join(', ')}, got ${op}`);
  const pre = overwriteInput ? x.f : allocOut(dt, x.size);
  const out = allocOut(dt, x.size);
  backend().biasUnary(op, x.f, b.f, pre, out, N, C);
  return record(new Tensor(out, x.shape), 'biasAct', [x, b], { op, pre });
}

/**
 * act(x w^T + b): linear followed by an activation, with the bias add fused into the
 * activation's pass (one read and two writes of the [.., out] activations fewer than
 * linear then act). Same values and gradients as act(linear(x, w, b)).
 */
export function linearAct(x: Tensor, w: Tensor, b: Tensor, op: BiasActOp): Tensor {
  return biasAct(matmul(x, w, { transB: true }), b, op, true);
}

/** Layer norm over the last axis; weight and bias optional. */
export function layerNorm(x: Tensor, w: Tensor | null, b: Tensor | null, eps = 1e-5): Tensor {
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  const dt = assertFloat('layerNorm', ...inputs);
  const { N, C } = lastDim('layerNorm', x);
  checkVector('layerNorm', 'weight', w, C, x);
  checkVector('layerNorm', 'bias', b, C, x);
  const out = allocOut(dt, x.size), meanv = allocOut(dt, N), rstd = allocOut(dt, N);
  backend().layerNorm(x.f, w ? w.f : null, b ? b.f : null, out, meanv, rstd, N, C, eps);
  return record(new Tensor(out, x.shape), 'layerNorm', inputs, { w, b, mean: meanv, rstd, N, C });
}

export function rmsNorm(x: Tensor, w: Tensor | null, eps = 1e-6): Tensor {
  const inputs = [x, ...(w ? [w] : [])];
  const dt = assertFloat('rmsNorm', ...inputs);
  const { N, C } = lastDim('rmsNorm', x);
  checkVector('rmsNorm', 'weight', w, C, x);
  const out = allocOut(dt, x.size), rstd = allocOut(dt, N);
  backend().rmsNorm(x.f, w ? w.f : null, out, rstd, N, C, eps);
  return record(new Tensor(out, x.shape), 'rmsNorm', inputs, { w, rstd, N, C });
}

/** Group norm on x [N, C, ...]: normalise each of G channel groups, then a per-channel affine. */
export function groupNorm(x: Tensor, groups: number, w: Tensor | null, b: Tensor | null, eps = 1e-5): Tensor {
  if (x.ndim < 2) throw new Error(`groupNorm: expected [N, C, ...], got ${fmtShape(x.shape)}`);
  const [n, c] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) throw new Error(`groupNorm: ${c} channels do not split into ${groups} groups`);
  checkVector('groupNorm', 'weight', w, c, x);
  checkVector('groupNorm', 'bias', b, c, x);
  // A group of a sample is one contiguous row, so plain layer norm does the statistics.
  const normed = reshape(layerNorm(reshape(x, [n * groups, -1]), null, null, eps), [...x.shape]);
  const chan: Shape = [c, ...x.shape.slice(2).map(() => 1)];
  let y = normed;
  if (w) y = mul(y, reshape(w, [...chan]));
  if (b) y = add(y, reshape(b, [...chan]));
  return y;
}

/** Rows of `table` [V, C] picked by integer ids of any shape: out [...ids.shape, C]. */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  const dt = assertFloat('embedding', table);
  if (ids.dtype !== 'int32') throw new Error(`embedding: ids must be int32, got ${ids.dtype} ${fmtShape(ids.shape)}`);
  if (table.ndim !== 2) throw new Error(`embedding: table must be [V, C], got ${fmtShape(table.shape)}`);
  const [V, C] = table.shape;
  const idv = ids.i;
  for (let i = 0; i < idv.length; i++) {
    if (idv[i] < 0 || idv[i] >= V) throw new Error(`embedding: id ${idv[i]} at position ${i} is outside the table's ${V} rows`);
  }
  const out = allocOut(dt, idv.length * C);
  backend().embedding(idv, table.f, out, idv.length, C);
  return record(new Tensor(out, [...ids.shape, C]), 'embedding', [table], { ids: idv, V, C });
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (PyTorch's default is -100). */
  ignoreIndex?: number;
  /** Per-token weights, same shape as targets. */
  weights?: Tensor | null;
  /** 'mean' divides by the summed weight of non-ignored tokens; 'none' returns the per-token losses. */
  reduction?: 'mean' | 'sum' | 'none';
}

/** Softmax cross-entropy of logits [..., V] against int32 targets [...], fused with its backward. */
export function crossEntropy(logits: Tensor, targets: Tensor, o: CrossEntropyOptions = {}): Tensor {
  const dt = assertFloat('crossEntropy', logits);
  const ignoreIndex = o.ignoreIndex ?? -100;
  const reduction = o.reduction ?? 'mean';
  const { N, C: V } = lastDim('crossEntropy', logits);
  if (targets.dtype !== 'int32') throw new Error(`crossEntropy: targets must be int32, got ${targets.dtype}`);
  if (targets.size !== N) throw new Error(`crossEntropy: logits ${fmtShape(logits.shape)} need ${N} targets, got ${fmtShape(targets.shape)}`);
  const t = targets.i;
  let active = 0;
  for (let i = 0; i < N; i++) {
    if (t[i] === ignoreIndex) continue;
    if (t[i] < 0 || t[i] >= V) throw new Error(`crossEntropy: target ${t[i]} at position ${i} is outside [0, ${V}) and is not the ignore index ${ignoreIndex}`);
    active++;
  }
  let w: Float32Array | Float64Array | null = null;
  if (o.weights) {
    if (o.weights.size !== N) throw new Error(`crossEntropy: weights ${fmtShape(o.weights.shape)} must match targets ${fmtShape(targets.shape)}`);
    assertFloat('crossEntropy', logits, o.weights);
    w = o.weights.f;
  }
  const loss = allocOut(dt, N), lse = allocOut(dt, N);
  backend().crossEntropy(logits.f, t, w, ignoreIndex, loss, lse, N, V);
  let denom = 1;
  if (reduction === 'mean') {
    if (w) { denom = 0; for (let i = 0; i < N; i++) if (t[i] !== ignoreIndex) denom += w[i]; }
    else denom = active;
  }
  let out: Tensor;
  if (reduction === 'none') out = new Tensor(loss, targets.shape);
  else {
    let s = 0;
    for (let i = 0; i < N; i++) s += loss[i];
    const r = allocOut(dt, 1);
    r[0] = denom === 0 ? 0 : s / denom;
    out = new Tensor(r, []);
  }
  return record(out, 'crossEntropy', [logits], { targets: t, weights: w, ignoreIndex, lse, N, V, reduction, denom });
}

/** Inverted dropout: zeroes with probability p and scales survivors by 1/(1-p). Identity when p = 0. */
export function dropout(x: Tensor, p: number, rng: Rng, training = true): Tensor {
  const dt = assertFloat('dropout', x);
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = allocOut(dt, x.size);
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() >= p ? keep : 0;
  const out = allocOut(dt, x.size);
  const xs = x.f;
  for (let i = 0; i < out.length; i++) out[i] = xs[i] * mask[i];
  return record(new Tensor(out, x.shape), 'dropout', [x], { mask });
}

export interface AttentionOptions {
  mask?: AttentionMask;
  /** Defaults to 1/sqrt(D). */
  scale?: number;
  /** Segment ids [B, Tq] and [B, Tk]: attention stays inside a document (sequence packing). */
  docQ?: Tensor | null;
  docK?: Tensor | null;
}

/**
 * Fused attention: softmax(q k^T * scale + mask) v, per batch and head.
 * q [B, Tq, H, D], k and v [B, Tk, H, D] -> [B, Tq, H, D]. With Tq < Tk the queries are
 * the last Tq positions (decoding with a KV cache).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  const dt = assertFloat('attention', q, k, v);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) throw new Error(`attention: expected 4-d [B, T, H, D] tensors, got q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);
  const [B, Tq, H, D] = q.shape;
  const Tk = k.shape[1];
  if (k.shape[0] !== B || k.shape[2] !== H || k.shape[3] !== D || v.shape.some((s, i) => s !== k.shape[i])) {
    throw new Error(`attention: shapes disagree, q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);
  }
  if (Tq > Tk) throw new Error(`attention: more queries (${Tq}) than keys (${Tk})`);
  const mask = o.mask ?? { kind: 'causal' };
  if (mask.kind === 'sliding' && !(Number.isInteger(mask.window) && mask.window >= 1)) throw new Error(`attention: sliding window must be a positive integer, got ${mask.window}`);
  if (mask.kind === 'block') {
    const nq = Math.ceil(Tk / mask.blockSize);
    if (!(mask.blockSize >= 1) || mask.nKeyBlocks < nq || mask.layout.length < nq * mask.nKeyBlocks) {
      throw new Error(`attention: block layout (${mask.layout.length} entries, ${mask.nKeyBlocks} key blocks of ${mask.blockSize}) does not cover ${Tk} positions`);
    }
  }
  for (const [name, d, T] of [['docQ', o.docQ, Tq], ['docK', o.docK, Tk]] as const) {
    if (d && (d.dtype !== 'int32' || d.size !== B * T)) throw new Error(`attention: ${name} must be int32 [${B}, ${T}], got ${d.dtype} ${fmtShape(d.shape)}`);
  }
  if (!o.docQ !== !o.docK) throw new Error('attention: give both docQ and docK, or neither');
  const shape = { B, H, Tq, Tk, D, scale: o.scale ?? 1 / Math.sqrt(D), mask, docQ: o.docQ?.i ?? null, docK: o.docK?.i ?? null };
  const out = allocOut(dt, q.size), lse = allocOut(dt, B * H * Tq);
  backend().attention(q.f, k.f, v.f, out, lse, shape);
  const t = new Tensor(out, q.shape);
  return record(t, 'attention', [q, k, v], { lse, shape });
}

/** Rotary position tables [maxPos, D/2] for head size D (theta as in LLaMA). */
export function ropeTables(maxPos: number, D: number, theta = 10000, dtype: 'float32' | 'float64' = 'float32'): { cos: Tensor; sin: Tensor } {
  if (D % 2 !== 0) throw new Error(`ropeTables: head size ${D} must be even`);
  const half = D / 2;
  // Long-lived tables: allocated directly, never from a step's buffer pool.
  const make = () => (dtype === 'float64' ? new Float64Array(maxPos * half) : new Float32Array(maxPos * half));
  const c = make(), s = make();
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      const ang = p * Math.pow(theta, (-2 * i) / D);
      c[p * half + i] = Math.cos(ang);
      s[p * half + i] = Math.sin(ang);
    }
  }
  return { cos: new Tensor(c, [maxPos, half]), sin: new Tensor(s, [maxPos, half]) };
}

/** Rotary embedding of x [B, T, H, D] at positions pos0..pos0+T-1. */
export function rope(x: Tensor, tables: { cos: Tensor; sin: Tensor }, pos0 = 0): Tensor {
  const dt = assertFloat('rope', x, tables.cos, tables.sin);
  if (x.ndim !== 4) throw new Error(`rope: expected [B, T, H, D], got ${fmtShape(x.shape)}`);
  const [B, T, H, D] = x.shape;
  if (tables.cos.shape[1] * 2 !== D) throw new Error(`rope: tables are for head size ${tables.cos.shape[1] * 2}, input has ${D}`);
  if (pos0 + T > tables.cos.shape[0]) throw new Error(`rope: positions up to ${pos0 + T} exceed the table's ${tables.cos.shape[0]}`);
  const out = allocOut(dt, x.size);
  backend().rope(x.f, tables.cos.f, tables.sin.f, out, B, T, H, D, pos0, false);
  return record(new Tensor(out, x.shape), 'rope', [x], { tables, pos0 });
}

export interface GatedRecurrenceOptions {
  /** Tokens per chunk (default 32): the result is the same for every chunk size, up to rounding. */
  chunk?: number;
  /** State before the first token, [B, H, Dk, Dv] (default zeros); it gets no gradient. */
  initialState?: Tensor | null;
  /** Receives the state after the last token, [B, H, Dk, Dv] (no gradient): generation's carry. */
  onFinalState?: (s: Tensor) => void;
}

/**
 * The gated linear recurrence (engine/recurrence.ts has the definition and the chunked algorithm):
 * S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T, o_t = S_t^T q_t per batch and head.
 * q, k [B, T, H, Dk], v [B, T, H, Dv], logDecay [B, T, H, Dk] or [B, T, H] (one per head), all <= 0
 * for a decay (not checked: a positive value is a growth) -> [B, T, H, Dv].
 */
export function gatedRecurrence(q: Tensor, k: Tensor, v: Tensor, logDecay: Tensor, o: GatedRecurrenceOptions = {}): Tensor {
  const dt = assertFloat('gatedRecurrence', q, k, v, logDecay);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) throw new Error(`gatedRecurrence: expected 4-d [B, T, H, D] q, k, v, got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  const [B, T, H, Dk] = q.shape;
  const Dv = v.shape[3];
  if (k.shape.some((n, i) => n !== q.shape[i]) || v.shape[0] !== B || v.shape[1] !== T || v.shape[2] !== H) {
    throw new Error(`gatedRecurrence: shapes disagree, q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);
  }
  const scalarDecay = logDecay.ndim === 3;
  const gShape = scalarDecay ? [B, T, H] : [B, T, H, Dk];
  if (logDecay.ndim !== gShape.length || logDecay.shape.some((n, i) => n !== gShape[i])) {
    throw new Error(`gatedRecurrence: logDecay must be [${B}, ${T}, ${H}, ${Dk}] or [${B}, ${T}, ${H}], got ${fmtShape(logDecay.shape)}`);
  }
  const chunk = o.chunk ?? 32;
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new Error(`gatedRecurrence: chunk must be a positive integer, got ${chunk}`);
  const s0 = o.initialState ?? null;
  if (s0 && (s0.dtype !== dt || s0.ndim !== 4 || s0.shape[0] !== B || s0.shape[1] !== H || s0.shape[2] !== Dk || s0.shape[3] !== Dv)) {
    throw new Error(`gatedRecurrence: initialState must be ${dt} [${B}, ${H}, ${Dk}, ${Dv}], got ${s0.dtype} ${fmtShape(s0.shape)}`);
  }
  const shape = { B, T, H, Dk, Dv, chunk, scalarDecay };
  const out = allocOut(dt, B * T * H * Dv);
  const sOut = o.onFinalState ? allocOut(dt, B * H * Dk * Dv) : null;
  backend().gatedRecurrence(q.f, k.f, v.f, logDecay.f, s0?.f ?? null, out, sOut, shape);
  if (sOut) o.onFinalState!(new Tensor(sOut, [B, H, Dk, Dv]));
  return record(new Tensor(out, [B, T, H, Dv]), 'gatedRecurrence', [q, k, v, logDecay], { s0: s0?.f ?? null, shape });
}
