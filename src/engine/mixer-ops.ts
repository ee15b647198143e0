// Fused ops of the recurrent and compressed token mixers: Mamba-1's selective scan,
// RWKV-6's time-mix recurrence and causal low-rank attention. Each is one kernel forward
// and one backward (sequence-kernels.ts); the recurrent ones also take and return their
// state so that generation can run them a token at a time. Gradients are checked by
// finite differences (test/engine/gradcheck.test.ts), the native kernels against the
// reference (test/engine/native.test.ts), and the scans against a naive step-by-step
// recurrence (test/engine/mixer-ops.test.ts).
//
// States are outputs without gradient (training starts every sequence from zeros), and
// an initial state given as input gets no gradient either.

import { record } from './autograd.js';
import { assertFloat } from './ops.js';
import { backend } from './runtime.js';
import { Tensor, allocOut, fmtShape, type DType } from './tensor.js';
import type { LowRankShape } from './sequence-kernels.js';

function expectShape(op: string, name: string, t: Tensor, shape: number[]): void {
  if (t.ndim !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new Error(`${op}: ${name} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
  }
}

/** A buffer that outlives the step (states carried through generation): never from the step pool. */
function persistent(dtype: DType, n: number): Float32Array | Float64Array {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

export interface ScanResult {
  /** The output, with gradient. */
  y: Tensor;
  /** The state after the last token (no gradient), to continue the sequence. */
  state: Tensor;
}

/**
 * Mamba-1 selective scan: x, dt [B, T, C], A [C, N] (negative for decay), Bm, Cm [B, T, N].
 * delta = softplus(dt); h_t = exp(delta_t A) h_{t-1} + delta_t Bm_t x_t per channel (a
 * diagonal state of N per channel); y_t = Cm_t . h_t. Returns y [B, T, C] and the state
 * [B, C, N]; `h0` [B, C, N] continues from a previous call (T = 1 is the recurrent step).
 */
export function selectiveScan(x: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, o: { h0?: Tensor | null } = {}): ScanResult {
  const op = 'selectiveScan';
  const dtype = assertFloat(op, x, dt, A, Bm, Cm, ...(o.h0 ? [o.h0] : []));
  if (x.ndim !== 3) throw new Error(`${op}: x must be [B, T, C], got ${fmtShape(x.shape)}`);
  const [B, T, C] = x.shape;
  if (A.ndim !== 2 || A.shape[0] !== C) throw new Error(`${op}: A must be [${C}, N], got ${fmtShape(A.shape)}`);
  const N = A.shape[1];
  expectShape(op, 'dt', dt, [B, T, C]);
  expectShape(op, 'Bm', Bm, [B, T, N]);
  expectShape(op, 'Cm', Cm, [B, T, N]);
  if (o.h0) expectShape(op, 'h0', o.h0, [B, C, N]);
  const s = { B, T, C, N };
  const y = allocOut(dtype, B * T * C), hT = persistent(dtype, B * C * N);
  backend().selectiveScan(x.f, dt.f, A.f, Bm.f, Cm.f, o.h0 ? o.h0.f : null, y, hT, s);
  const out = record(new Tensor(y, [B, T, C]), 'selectiveScan', [x, dt, A, Bm, Cm], { h0: o.h0 ?? null, shape: s });
  return { y: out, state: new Tensor(hT, [B, C, N]) };
}

/**
 * RWKV-6 time-mix recurrence: r, k, v, w [B, T, H, D], u [H, D]; decay = exp(-exp(w)).
 * out_t = r_t (S_{t-1} + diag(u) k_t v_t^T); S_t = diag(decay_t) S_{t-1} + k_t v_t^T.
 * Returns out [B, T, H, D] and the state [B, H, D, D] (key index first); `s0` continues.
 */
export function rwkv6(r: Tensor, k: Tensor, v: Tensor, w: Tensor, u: Tensor, o: { s0?: Tensor | null } = {}): ScanResult {
  const op = 'rwkv6';
  const dtype = assertFloat(op, r, k, v, w, u, ...(o.s0 ? [o.s0] : []));
  if (r.ndim !== 4) throw new Error(`${op}: r must be [B, T, H, D], got ${fmtShape(r.shape)}`);
  const [B, T, H, D] = r.shape;
  for (const [name, t] of [['k', k], ['v', v], ['w', w]] as const) expectShape(op, name, t, [B, T, H, D]);
  expectShape(op, 'u', u, [H, D]);
  if (o.s0) expectShape(op, 's0', o.s0, [B, H, D, D]);
  const s = { B, T, H, D };
  const out = allocOut(dtype, B * T * H * D), sT = persistent(dtype, B * H * D * D);
  backend().rwkv6(r.f, k.f, v.f, w.f, u.f, o.s0 ? o.s0.f : null, out, sT, s);
  const y = record(new Tensor(out, [B, T, H, D]), 'rwkv6', [r, k, v, w, u], { s0: o.s0 ?? null, shape: s });
  return { y, state: new Tensor(sT, [B, H, D, D]) };
}

export interface LowRankAttentionOptions {
  /** Block length L: a query sees its own block's keys exactly and earlier blocks only compressed. */
  blockSize: number;
  /** Compressed rows per complete block. */
  rank: number;
  /** Defaults to 1/sqrt(D). */
  scale?: number;
  /** Absolute position of k's first row (decoding from a cache that dropped older raw keys). */
  pos0?: number;
}

/**
 * Causal low-rank attention (sequence-kernels.ts LowRankShape): q [B, Tq, H, D], k, v
 * [B, Tk, H, D], compressed kc, vc [B, nc * rank, H, D] summarising complete blocks.
 * A query in block b attends to the compressed rows of blocks before b and to the raw
 * keys of block b up to itself.
 */
export function lowrankAttention(q: Tensor, k: Tensor, v: Tensor, kc: Tensor, vc: Tensor, o: LowRankAttentionOptions): Tensor {
  const op = 'lowrankAttention';
  const dtype = assertFloat(op, q, k, v, kc, vc);
  if (q.ndim !== 4) throw new Error(`${op}: q must be [B, Tq, H, D], got ${fmtShape(q.shape)}`);
  const [B, Tq, H, D] = q.shape;
  if (k.ndim !== 4) throw new Error(`${op}: k must be [B, Tk, H, D], got ${fmtShape(k.shape)}`);
  const Tk = k.shape[1];
  expectShape(op, 'k', k, [B, Tk, H, D]);
  expectShape(op, 'v', v, [B, Tk, H, D]);
  const { blockSize, rank } = o;
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`${op}: blockSize must be a positive integer, got ${blockSize}`);
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`${op}: rank must be a positive integer, got ${rank}`);
  if (kc.ndim !== 4 || kc.shape[1] % rank !== 0) throw new Error(`${op}: kc must be [B, nc * ${rank}, H, D], got ${fmtShape(kc.shape)}`);
  const nc = kc.shape[1] / rank;
  expectShape(op, 'kc', kc, [B, nc * rank, H, D]);
  expectShape(op, 'vc', vc, [B, nc * rank, H, D]);
  if (Tq > Tk) throw new Error(`${op}: more queries (${Tq}) than keys (${Tk})`);
  const pos0 = o.pos0 ?? 0;
  if (!Number.isInteger(pos0) || pos0 < 0) throw new Error(`${op}: pos0 must be a non-negative integer, got ${pos0}`);
  // Every query's own block must be in k: its first raw key may not lie before pos0.
  const firstQuery = pos0 + Tk - Tq;
  if (Tq > 0 && Math.floor(firstQuery / blockSize) * blockSize < pos0) {
    throw new Error(`${op}: the query at position ${firstQuery} needs the raw keys of its block from ${Math.floor(firstQuery / blockSize) * blockSize}, but k starts at ${pos0}`);
  }
  const s: LowRankShape = { B, H, Tq, Tk, D, blockSize, rank, nc, scale: o.scale ?? 1 / Math.sqrt(D), pos0 };
  const out = allocOut(dtype, B * Tq * H * D), lse = allocOut(dtype, B * H * Tq);
  backend().lowrankAttention(q.f, k.f, v.f, kc.f, vc.f, out, lse, s);
  return record(new Tensor(out, [B, Tq, H, D]), 'lowrankAttention', [q, k, v, kc, vc], { lse, shape: s });
}
