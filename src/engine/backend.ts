// The kernel contract every backend implements. Kernels work on raw typed arrays
// and sizes, never on Tensors: the engine (tensor.ts, ops.ts) owns shapes, validation
// and autograd, so a backend is only arithmetic. All inputs are validated in
// TypeScript before a kernel sees them; kernels may assume sizes are consistent.
//
// Legend: B batch, H heads, T tokens (Tq queries, Tk keys), D head size,
// C channels (row length), V vocabulary, N rows.
// Conventions: outputs come after inputs; every output array is fully written
// (overwritten, never accumulated) unless the argument is named `acc*`.
// Float kernels accept Float32Array (both backends) or Float64Array (the
// reference backend only; used by finite-difference gradient checks).

import type { SequenceMixerKernels } from './sequence-kernels.js';

export type FloatArray = Float32Array | Float64Array;
export type IntArray = Int32Array;
export type AnyArray = FloatArray | IntArray;

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'lt' | 'gt';
export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'tanh' | 'sigmoid' | 'relu'
  | 'gelu_tanh' | 'gelu_erf' | 'silu' | 'abs' | 'square' | 'reciprocal' | 'sin' | 'cos';
/** Activations Backend.biasUnary fuses with a bias add. */
export const BIAS_ACT_OPS = ['gelu_tanh', 'gelu_erf', 'silu', 'relu'] as const;
export type BiasActOp = (typeof BIAS_ACT_OPS)[number];
export type ReduceOp = 'sum' | 'max';

/** Which keys a query may see. Positions are absolute: query i of Tq sits at position (Tk - Tq + i). */
export type AttentionMask =
  | { kind: 'causal' }
  | { kind: 'none' }
  /** causal, and only the last `window` keys (key j visible to query at position p iff p - window < j <= p). */
  | { kind: 'sliding'; window: number }
  /** causal, and block-sparse: layout[qb * nKeyBlocks + kb] != 0 lets query block qb see key block kb. */
  | { kind: 'block'; blockSize: number; layout: Uint8Array; nKeyBlocks: number };

/** Sizes of a gated linear recurrence (recurrence.ts defines it): q, k [B, T, H, Dk], v [B, T, H, Dv]. */
export interface RecurrenceShape {
  B: number; T: number; H: number; Dk: number; Dv: number;
  /** Tokens per chunk (parallel inside, recurrent across). */
  chunk: number;
  /** g is [B, T, H] (one log-decay per head) instead of [B, T, H, Dk]. */
  scalarDecay: boolean;
}

/** One parameter of a multi-tensor AdamW step (Backend.adamwMulti). */
export interface AdamwParam {
  p: Float32Array; g: Float32Array; m: Float32Array; v: Float32Array;
  lr: number; weightDecay: number;
}

export interface AttentionShape {
  B: number; H: number; Tq: number; Tk: number; D: number;
  scale: number;
  mask: AttentionMask;
  /** Optional segment ids: docQ [B*Tq], docK [B*Tk]; a query sees only keys with the same id (sequence packing). */
  docQ?: IntArray | null;
  docK?: IntArray | null;
}

export interface Backend extends SequenceMixerKernels {
  readonly name: 'reference' | 'native';
  /** Threads used by fused kernels and BLAS. */
  threads(): number;
  /** Human-readable BLAS description, e.g. "OpenBLAS 0.3.21 (pthreads)" or "none (TypeScript loops)". */
  blas(): string;
  /** Instruction set the kernels run with, e.g. "avx2 (best: avx512)" or "none (TypeScript loops)". */
  isa(): string;

  // ---- memory movement -------------------------------------------------
  /** dst[dstOff + sum(i_k*dstStrides_k)] = src[srcOff + sum(i_k*srcStrides_k)] over all indices of `shape`. */
  copyStrided(src: AnyArray, srcOff: number, srcStrides: number[], dst: AnyArray, dstOff: number, dstStrides: number[], shape: number[]): void;
  fill(dst: AnyArray, value: number): void;
  /** acc[i] += alpha * x[i]. */
  axpy(alpha: number, x: FloatArray, acc: FloatArray): void;
  /** Sum of squares of x (computed in float64). */
  sumSquares(x: FloatArray): number;

  // ---- matrix products -------------------------------------------------
  /**
   * Batched GEMM: for b in [0, batch): C_b (M x N) = op(A_b) op(B_b) (+ C_b if accumulate).
   * A_b = a[b*strideA ...] is M x K row-major (K x M when transA); B_b = b[b*strideB ...] is K x N (N x K when transB).
   * A stride of 0 broadcasts that operand over the batch. C is contiguous [batch, M, N].
   */
  matmul(a: FloatArray, b: FloatArray, c: FloatArray, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void;

  // ---- elementwise -----------------------------------------------------
  /** out (contiguous, `shape`) = a op b, with a and b read through strides (0 = broadcast). Comparisons give 1 or 0. */
  binary(op: BinaryOp, a: FloatArray, aStrides: number[], b: FloatArray, bStrides: number[], out: FloatArray, shape: number[]): void;
  unary(op: UnaryOp, x: FloatArray, out: FloatArray): void;
  /**
   * The MLP's bias add and activation in one pass: pre = x + bias (bias [C] added to each
   * of N rows), out = op(pre). pre may be x itself (in place). op is one of BIAS_ACT_OPS.
   */
  biasUnary(op: BiasActOp, x: FloatArray, bias: FloatArray, pre: FloatArray, out: FloatArray, N: number, C: number): void;
  /** dx = dy * f'(x); y = f(x) is passed for ops whose derivative is cheaper from the output. */
  unaryBackward(op: UnaryOp, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray): void;
  /** out = cond != 0 ? a : b, all read through strides (0 = broadcast) into contiguous `shape`. */
  where(cond: FloatArray, cStrides: number[], a: FloatArray, aStrides: number[], b: FloatArray, bStrides: number[], out: FloatArray, shape: number[]): void;

  // ---- reductions (x viewed as [outer, n, inner], reduce over n) ----------
  reduce(op: ReduceOp, x: FloatArray, out: FloatArray, outer: number, n: number, inner: number): void;
  /** Index of the first maximum along n, as [outer, inner]. */
  argmax(x: FloatArray, out: IntArray, outer: number, n: number, inner: number): void;

  // ---- fused row kernels (x is [N, C] row-major) --------------------------
  softmax(x: FloatArray, out: FloatArray, N: number, C: number): void;
  /** dx = y * (dy - sum(dy * y)). */
  softmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, N: number, C: number): void;
  logSoftmax(x: FloatArray, out: FloatArray, N: number, C: number): void;
  /** dx = dy - exp(y) * sum(dy). */
  logSoftmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, N: number, C: number): void;

  /** out = (x - mean) * rstd * w + b; w and b may be null (no affine). Saves mean and rstd [N]. */
  layerNorm(x: FloatArray, w: FloatArray | null, b: FloatArray | null, out: FloatArray, mean: FloatArray, rstd: FloatArray, N: number, C: number, eps: number): void;
  /** Writes dx; dw and db (if not null) get the sums over rows. */
  layerNormBackward(x: FloatArray, w: FloatArray | null, mean: FloatArray, rstd: FloatArray, dy: FloatArray,
    dx: FloatArray, dw: FloatArray | null, db: FloatArray | null, N: number, C: number): void;
  /** out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps); w may be null. */
  rmsNorm(x: FloatArray, w: FloatArray | null, out: FloatArray, rstd: FloatArray, N: number, C: number, eps: number): void;
  rmsNormBackward(x: FloatArray, w: FloatArray | null, rstd: FloatArray, dy: FloatArray, dx: FloatArray, dw: FloatArray | null, N: number, C: number): void;

  // ---- embeddings and losses ----------------------------------------------
  /** out[i, :] = table[ids[i], :] for i < N; table is [V, C]. */
  embedding(ids: IntArray, table: FloatArray, out: FloatArray, N: number, C: number): void;
  /** accTable[ids[i], :] += dout[i, :] (scatter-add, deterministic order). */
  embeddingBackward(ids: IntArray, dout: FloatArray, accTable: FloatArray, N: number, C: number): void;
  /**
   * Per-row cross-entropy over logits [N, V]: loss[i] = w_i * (lse_i - logits[i, t_i]), 0 where t_i == ignoreIndex.
   * weights may be null (all ones). Saves lse [N].
   */
  crossEntropy(logits: FloatArray, targets: IntArray, weights: FloatArray | null, ignoreIndex: number,
    loss: FloatArray, lse: FloatArray, N: number, V: number): void;
  /** dlogits[i, :] = dloss[i] * w_i * (softmax(logits[i]) - onehot(t_i)); zero rows where ignored. */
  crossEntropyBackward(logits: FloatArray, targets: IntArray, weights: FloatArray | null, ignoreIndex: number,
    lse: FloatArray, dloss: FloatArray, dlogits: FloatArray, N: number, V: number): void;

  // ---- attention (q [B, Tq, H, D], k and v [B, Tk, H, D], out [B, Tq, H, D]) ----
  /** out = softmax(q k^T * scale + mask) v per (batch, head); saves the log-sum-exp [B, H, Tq]. Fully masked rows give 0. */
  attention(q: FloatArray, k: FloatArray, v: FloatArray, out: FloatArray, lse: FloatArray, s: AttentionShape): void;
  attentionBackward(q: FloatArray, k: FloatArray, v: FloatArray, out: FloatArray, lse: FloatArray, dout: FloatArray,
    dq: FloatArray, dk: FloatArray, dv: FloatArray, s: AttentionShape): void;

  /**
   * Rotary embedding on x [B, T, H, D] (pairs (i, i + D/2), the LLaMA / GPT-NeoX layout), position of token t = pos0 + t;
   * cos and sin are tables [maxPos, D/2]. `inverse` rotates by the negative angle (the backward pass).
   */
  rope(x: FloatArray, cos: FloatArray, sin: FloatArray, out: FloatArray, B: number, T: number, H: number, D: number, pos0: number, inverse: boolean): void;

  // ---- gated linear recurrence (definition and chunked algorithm: recurrence.ts) ----
  /**
   * S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T, o_t = S_t^T q_t per (batch, head), from s0 [B, H, Dk, Dv]
   * (null: zeros); writes out [B, T, H, Dv] and, when sOut is given, the final state [B, H, Dk, Dv].
   */
  gatedRecurrence(q: FloatArray, k: FloatArray, v: FloatArray, g: FloatArray, s0: FloatArray | null, out: FloatArray, sOut: FloatArray | null, s: RecurrenceShape): void;
  /** Gradients of q, k, v and g (the states carry none). */
  gatedRecurrenceBackward(q: FloatArray, k: FloatArray, v: FloatArray, g: FloatArray, s0: FloatArray | null, dout: FloatArray,
    dq: FloatArray, dk: FloatArray, dv: FloatArray, dg: FloatArray, s: RecurrenceShape): void;

  // ---- optimizer updates (in place on param, m, v) --------------------------
  /**
   * Decoupled-weight-decay Adam: p -= lr * (wd * p + mhat / (sqrt(vhat) + eps)), with bias corrections
   * bc1 = 1 - beta1^t, bc2 = 1 - beta2^t supplied by the caller; g is scaled by gradScale first (clipping).
   */
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, bc1: number, bc2: number, gradScale: number): void;
  /**
   * adamw on many parameters in one call, each with its own lr and weight decay: bitwise
   * the same as calling adamw on each in turn (the native backend makes one crossing and
   * one parallel pass over all of them).
   */
  adamwMulti(params: readonly AdamwParam[], beta1: number, beta2: number, eps: number, bc1: number, bc2: number, gradScale: number): void;
  /** buf = momentum * buf + g*gradScale + wd * p; p -= lr * (nesterov ? g' + momentum * buf : buf). */
  sgd(p: Float32Array, g: Float32Array, buf: Float32Array, lr: number, momentum: number, weightDecay: number,
    nesterov: boolean, gradScale: number): void;
}
