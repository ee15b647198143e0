// Every gradient rule, in one table keyed by op name. The table's type is
// Record<OpName, GradRule>, so an op without a rule does not compile.
// A rule gets the output's gradient g, the node and the output, and returns one
// gradient per input (null where an input needs none). Rules run under noGrad.

import type { AttentionShape, FloatArray, RecurrenceShape, UnaryOp } from './backend.js';
import type { OpName } from './autograd.js';
import type { LowRankShape, Rwkv6Shape, SelectiveScanShape } from './sequence-kernels.js';
import { add, div, eq, expand, gt, log, matmulInto, mul, neg, pow, reshape, sumTo, where } from './ops.js';
import { backend } from './runtime.js';
import { Tensor, allocFloat, allocOut, sizeOf, stridesOf, type GraphNode, type Shape } from './tensor.js';

type GradRule = (g: Tensor, node: GraphNode, out: Tensor) => (Tensor | null)[];

/** An output buffer shaped like t, contents unspecified (the kernel writes all of it). */
function like(t: Tensor): FloatArray { return allocOut(t.dtype, t.size); }

/** A zero-filled buffer shaped like t, for gradients written only in part or accumulated. */
function zerosLike(t: Tensor): FloatArray { return allocFloat(t.dtype, t.size); }

function wrap(data: FloatArray, shape: Shape): Tensor { return new Tensor(data, shape); }

/** Gradients of C = op(A) op(B), for the batched/broadcast forms matmul allows. */
function matmulGrad(g: Tensor, node: GraphNode): (Tensor | null)[] {
  const [a, b] = node.inputs;
  const { transA, transB } = node.saved as { transA: boolean; transB: boolean };
  const M = g.shape[g.ndim - 2], N = g.shape[g.ndim - 1];
  const K = transA ? a.shape[a.ndim - 2] : a.shape[a.ndim - 1];
  const batch = sizeOf(g.shape.slice(0, -2));
  const aBatched = a.ndim > 2, bBatched = b.ndim > 2;
  const sA = aBatched ? M * K : 0, sB = bBatched ? K * N : 0, sG = M * N;
  let da: Tensor | null = null, db: Tensor | null = null;
  if (a.requiresGrad) {
    const out = like(a);
    // dA is op(B)-shaped products of g; a shared A sums its gradient over the batch.
    const acc = !aBatched && batch > 1;
    if (!transA) {
      // dA [M,K] = g [M,N] . op(B)^T
      gemmGrad(g.f, b.f, out, batch, M, K, N, false, !transB, sG, sB, aBatched ? M * K : 0, acc);
    } else {
      // dA [K,M] = op(B) . g^T
      gemmGrad(b.f, g.f, out, batch, K, M, N, transB, true, sB, sG, aBatched ? M * K : 0, acc);
    }
    da = wrap(out, a.shape);
  }
  if (b.requiresGrad) {
    const out = like(b);
    const acc = !bBatched && batch > 1;
    if (!transB) {
      // dB [K,N] = op(A)^T . g
      gemmGrad(a.f, g.f, out, batch, K, N, M, !transA, false, sA, sG, bBatched ? K * N : 0, acc);
    } else {
      // dB [N,K] = g^T . op(A)
      gemmGrad(g.f, a.f, out, batch, N, K, M, true, transA, sG, sA, bBatched ? K * N : 0, acc);
    }
    db = wrap(out, b.shape);
  }
  return [da, db];
}

/**
 * out_b = X_b . Y_b over the batch; when the output is shared (sumOver), all products
 * add into one matrix. A shared output whose batched operands stack contiguously along
 * the reduced dimension is one GEMM with a longer K.
 */
function gemmGrad(x: FloatArray, y: FloatArray, out: FloatArray, batch: number, M: number, N: number, K: number,
  tx: boolean, ty: boolean, sx: number, sy: number, sOut: number, sumOver: boolean): void {
  if (!sumOver) {
    if (sOut === 0 && batch > 1) throw new Error('internal: unbatched gradient without summation');
    matmulInto(x, y, out, batch, M, N, K, tx, ty, sx, sy, false);
    return;
  }
  // X_b^T Y_b summed over b, with X and Y stacked [batch*K, M] and [batch*K, N]: one GEMM.
  if (tx && !ty && sx === K * M && sy === K * N) {
    backend().matmul(x, y, out, 1, M, N, batch * K, true, false, 0, 0, false);
    return;
  }
  for (let bi = 0; bi < batch; bi++) {
    backend().matmul(x.subarray(bi * sx), y.subarray(bi * sy), out, 1, M, N, K, tx, ty, 0, 0, bi > 0);
  }
}

function unbroadcast2(g: Tensor, node: GraphNode, ga: Tensor | null, gb: Tensor | null): (Tensor | null)[] {
  const [a, b] = node.inputs;
  return [ga && a.requiresGrad ? sumTo(ga, a.shape) : null, gb && b.requiresGrad ? sumTo(gb, b.shape) : null];
}

export const gradRules: Record<OpName, GradRule> = {
  add: (g, n) => unbroadcast2(g, n, g, g),
  sub: (g, n) => unbroadcast2(g, n, g, n.inputs[1].requiresGrad ? neg(g) : null),
  mul: (g, n) => {
    const [a, b] = n.inputs;
    return unbroadcast2(g, n, a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null);
  },
  div: (g, n) => {
    const [a, b] = n.inputs;
    const ga = div(g, b);
    return unbroadcast2(g, n, ga, b.requiresGrad ? neg(div(mul(ga, a), b)) : null);
  },
  pow: (g, n, out) => {
    const [a, b] = n.inputs;
    // b * out / a would divide by zero at a = 0, so a^(b-1) is recomputed.
    const ga = a.requiresGrad ? mul(g, mul(b, pow(a, add(b, -1)))) : null;
    const gb = b.requiresGrad ? mul(g, mul(out, log(a))) : null;
    return unbroadcast2(g, n, ga, gb);
  },
  maximum: (g, n) => {
    const [a, b] = n.inputs;
    // Ties split the gradient evenly, as PyTorch does.
    const wa = add(gt(a, b), mul(eq(a, b), 0.5));
    return unbroadcast2(g, n, mul(g, wa), mul(g, add(mul(wa, -1), 1)));
  },
  minimum: (g, n) => {
    const [a, b] = n.inputs;
    const wa = add(gt(b, a), mul(eq(a, b), 0.5));
    return unbroadcast2(g, n, mul(g, wa), mul(g, add(mul(wa, -1), 1)));
  },
  unary: (g, n, out) => {
    const x = n.inputs[0];
    const dx = like(x);
    backend().unaryBackward(n.saved.op as UnaryOp, x.f, out.f, g.f, dx);
    return [wrap(dx, x.shape)];
  },
  biasAct: (g, n, out) => {
    const [x, b] = n.inputs;
    const dx = like(x);
    backend().unaryBackward(n.saved.op as UnaryOp, n.saved.pre as FloatArray, out.f, g.f, dx);
    const dxt = wrap(dx, x.shape);
    return [dxt, b.requiresGrad ? sumTo(dxt, b.shape) : null];
  },
  where: (g, n) => {
    const cond = n.saved.cond as Tensor;
    const [a, b] = n.inputs;
    return unbroadcast2(g, n, a.requiresGrad ? where(cond, g, 0) : null, b.requiresGrad ? where(cond, 0, g) : null);
  },
  sum: (g, n) => {
    const x = n.inputs[0];
    return [expand(reshape(g, [...(n.saved.keptShape as number[])]), [...x.shape])];
  },
  max: (g, n) => {
    const x = n.inputs[0];
    const { outer, n: len, inner } = n.saved as { outer: number; n: number; inner: number };
    const idx = new Int32Array(outer * inner);
    backend().argmax(x.f, idx, outer, len, inner);
    const dx = zerosLike(x), gv = g.f;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      dx[(o * len + idx[o * inner + i]) * inner + i] = gv[o * inner + i];
    }
    return [wrap(dx, x.shape)];
  },
  matmul: matmulGrad,
  reshape: (g, n) => [reshape(g, [...(n.saved.from as Shape)])],
  permute: (g, n) => {
    const perm = n.saved.perm as number[];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => { inv[p] = i; });
    const shape = inv.map((p) => g.shape[p]);
    const st = stridesOf(g.shape);
    const out = like(g);
    backend().copyStrided(g.f, 0, inv.map((p) => st[p]), out, 0, stridesOf(shape), shape);
    return [wrap(out, shape)];
  },
  slice: (g, n) => {
    const x = n.inputs[0];
    const { axis, start } = n.saved as { axis: number; start: number };
    const out = zerosLike(x);
    const st = stridesOf(x.shape);
    backend().copyStrided(g.f, 0, stridesOf(g.shape), out, start * st[axis], st, [...g.shape]);
    return [wrap(out, x.shape)];
  },
  concat: (g, n) => {
    const { axis, sizes } = n.saved as { axis: number; sizes: number[] };
    const gst = stridesOf(g.shape);
    let off = 0;
    return n.inputs.map((x, i) => {
      const o = off;
      off += sizes[i];
      if (!x.requiresGrad) return null;
      const out = like(x);
      backend().copyStrided(g.f, o * gst[axis], gst, out, 0, stridesOf(x.shape), [...x.shape]);
      return wrap(out, x.shape);
    });
  },
  expand: (g, n) => [sumTo(g, n.inputs[0].shape)],
  softmax: (g, n, out) => {
    const x = n.inputs[0];
    const C = x.shape[x.ndim - 1];
    const dx = like(x);
    backend().softmaxBackward(out.f, g.f, dx, x.size / C, C);
    return [wrap(dx, x.shape)];
  },
  logSoftmax: (g, n, out) => {
    const x = n.inputs[0];
    const C = x.shape[x.ndim - 1];
    const dx = like(x);
    backend().logSoftmaxBackward(out.f, g.f, dx, x.size / C, C);
    return [wrap(dx, x.shape)];
  },
  layerNorm: (g, n) => {
    const [x] = n.inputs;
    const { w, b, mean, rstd, N, C } = n.saved as { w: Tensor | null; b: Tensor | null; mean: FloatArray; rstd: FloatArray; N: number; C: number };
    const dx = like(x);
    const dw = w?.requiresGrad ? like(w) : null, db = b?.requiresGrad ? like(b) : null;
    backend().layerNormBackward(x.f, w ? w.f : null, mean, rstd, g.f, dx, dw, db, N, C);
    const res: (Tensor | null)[] = [wrap(dx, x.shape)];
    if (w) res.push(dw ? wrap(dw, w.shape) : null);
    if (b) res.push(db ? wrap(db, b.shape) : null);
    return res;
  },
  rmsNorm: (g, n) => {
    const [x] = n.inputs;
    const { w, rstd, N, C } = n.saved as { w: Tensor | null; rstd: FloatArray; N: number; C: number };
    const dx = like(x);
    const dw = w?.requiresGrad ? like(w) : null;
    backend().rmsNormBackward(x.f, w ? w.f : null, rstd, g.f, dx, dw, N, C);
    const res: (Tensor | null)[] = [wrap(dx, x.shape)];
    if (w) res.push(dw ? wrap(dw, w.shape) : null);
    return res;
  },
  embedding: (g, n) => {
    const table = n.inputs[0];
    const { ids, C } = n.saved as { ids: Int32Array; C: number };
    const dt = zerosLike(table);
    backend().embeddingBackward(ids, g.f, dt, ids.length, C);
    return [wrap(dt, table.shape)];
  },
  crossEntropy: (g, n) => {
    const logits = n.inputs[0];
    const s = n.saved as { targets: Int32Array; weights: FloatArray | null; ignoreIndex: number; lse: FloatArray; N: number; V: number; reduction: string; denom: number };
    const dloss = allocOut(logits.dtype, s.N);
    if (s.reduction === 'none') dloss.set(g.f);
    else dloss.fill(s.denom === 0 ? 0 : g.f[0] / s.denom);
    const dl = like(logits);
    backend().crossEntropyBackward(logits.f, s.targets, s.weights, s.ignoreIndex, s.lse, dloss, dl, s.N, s.V);
    return [wrap(dl, logits.shape)];
  },
  dropout: (g, n) => [mul(g, wrap(n.saved.mask as FloatArray, g.shape))],
  attention: (g, n, out) => {
    const [q, k, v] = n.inputs;
    const { lse, shape } = n.saved as { lse: FloatArray; shape: AttentionShape };
    const dq = like(q), dk = like(k), dv = like(v);
    backend().attentionBackward(q.f, k.f, v.f, out.f, lse, g.f, dq, dk, dv, shape);
    return [wrap(dq, q.shape), wrap(dk, k.shape), wrap(dv, v.shape)];
  },
  gatedRecurrence: (g, n) => {
    const [q, k, v, gate] = n.inputs;
    const { s0, shape } = n.saved as { s0: FloatArray | null; shape: RecurrenceShape };
    const dq = like(q), dk = like(k), dv = like(v), dg = like(gate);
    backend().gatedRecurrenceBackward(q.f, k.f, v.f, gate.f, s0, g.f, dq, dk, dv, dg, shape);
    return [wrap(dq, q.shape), wrap(dk, k.shape), wrap(dv, v.shape), wrap(dg, gate.shape)];
  },
  rope: (g, n) => {
    const x = n.inputs[0];
    const { tables, pos0 } = n.saved as { tables: { cos: Tensor; sin: Tensor }; pos0: number };
    const [B, T, H, D] = x.shape;
    const dx = like(x);
    // A rotation's transpose is the rotation by minus the angle.
    backend().rope(g.f, tables.cos.f, tables.sin.f, dx, B, T, H, D, pos0, true);
    return [wrap(dx, x.shape)];
  },
  selectiveScan: (g, n) => {
    const [x, dt, A, Bm, Cm] = n.inputs;
    const { h0, shape } = n.saved as { h0: Tensor | null; shape: SelectiveScanShape };
    const dx = like(x), ddt = like(dt), dA = like(A), dB = like(Bm), dC = like(Cm);
    backend().selectiveScanBackward(x.f, dt.f, A.f, Bm.f, Cm.f, h0 ? h0.f : null, g.f, dx, ddt, dA, dB, dC, shape);
    return [wrap(dx, x.shape), wrap(ddt, dt.shape), wrap(dA, A.shape), wrap(dB, Bm.shape), wrap(dC, Cm.shape)];
  },
  rwkv6: (g, n) => {
    const [r, k, v, w, u] = n.inputs;
    const { s0, shape } = n.saved as { s0: Tensor | null; shape: Rwkv6Shape };
    const dr = like(r), dk = like(k), dv = like(v), dw = like(w), du = like(u);
    backend().rwkv6Backward(r.f, k.f, v.f, w.f, u.f, s0 ? s0.f : null, g.f, dr, dk, dv, dw, du, shape);
    return [wrap(dr, r.shape), wrap(dk, k.shape), wrap(dv, v.shape), wrap(dw, w.shape), wrap(du, u.shape)];
  },
  lowrankAttention: (g, n, out) => {
    const [q, k, v, kc, vc] = n.inputs;
    const { lse, shape } = n.saved as { lse: FloatArray; shape: LowRankShape };
    const dq = like(q), dk = like(k), dv = like(v), dkc = like(kc), dvc = like(vc);
    backend().lowrankAttentionBackward(q.f, k.f, v.f, kc.f, vc.f, out.f, lse, g.f, dq, dk, dv, dkc, dvc, shape);
    return [wrap(dq, q.shape), wrap(dk, k.shape), wrap(dv, v.shape), wrap(dkc, kc.shape), wrap(dvc, vc.shape)];
  },
};
