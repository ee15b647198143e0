// Primitive ops: elementwise arithmetic with broadcasting, reductions, matrix products
// and shape movement. Each validates its inputs (an error names the op and the shapes),
// runs one backend kernel, and records a graph node; the gradient rules live in
// gradients.ts. Fused neural-network ops are in nn.ts.

import type { BinaryOp, FloatArray, UnaryOp } from './backend.js';
import { record } from './autograd.js';
import { backend } from './runtime.js';
import { Tensor, allocOut, fmtShape, sizeOf, stridesOf, type DType, type Shape } from './tensor.js';

export type Scalar = number;

// ---- validation helpers -----------------------------------------------------------

export function assertFloat(op: string, ...ts: Tensor[]): DType {
  const dt = ts[0].dtype;
  for (const t of ts) {
    if (t.dtype === 'int32') throw new Error(`${op}: expected float tensors, got int32 ${fmtShape(t.shape)}${t.name ? ` (${t.name})` : ''}`);
    if (t.dtype !== dt) throw new Error(`${op}: dtype mismatch, ${ts.map((x) => `${x.dtype} ${fmtShape(x.shape)}`).join(' vs ')}`);
  }
  return dt;
}

export function normAxis(op: string, axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) throw new Error(`${op}: axis ${axis} out of range for ${ndim}-d tensor`);
  return a;
}

function scalarLike(v: number, like: Tensor): Tensor {
  return new Tensor(like.dtype === 'float64' ? new Float64Array([v]) : new Float32Array([v]), []);
}

function asTensor(x: Tensor | Scalar, like: Tensor): Tensor {
  return typeof x === 'number' ? scalarLike(x, like) : x;
}

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1, db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `target` (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const st = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const t = target.length - shape.length + i;
    out[t] = shape[i] === 1 ? 0 : st[i];
  }
  return out;
}

// ---- elementwise ----------------------------------------------------------------

function binary(op: BinaryOp, a: Tensor | Scalar, b: Tensor | Scalar, recordAs?: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'): Tensor {
  const A = typeof a === 'number' ? scalarLike(a, b as Tensor) : a;
  const B = asTensor(b, A);
  const dt = assertFloat(op, A, B);
  const shape = broadcastShapes(op, A.shape, B.shape);
  const out = allocOut(dt, sizeOf(shape));
  backend().binary(op, A.f, broadcastStrides(A.shape, shape), B.f, broadcastStrides(B.shape, shape), out, shape);
  const t = new Tensor(out, shape);
  return recordAs ? record(t, recordAs, [A, B]) : t;
}

export const add = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('add', a, b, 'add');
export const sub = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('sub', a, b, 'sub');
export const mul = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('mul', a, b, 'mul');
export const div = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('div', a, b, 'div');
export const pow = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('pow', a, b, 'pow');
export const maximum = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('maximum', a, b, 'maximum');
export const minimum = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('minimum', a, b, 'minimum');
/** Comparisons give 1/0 float tensors and carry no gradient. */
export const eq = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('eq', a, b);
export const lt = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('lt', a, b);
export const gt = (a: Tensor | Scalar, b: Tensor | Scalar) => binary('gt', a, b);

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const dt = assertFloat(op, x);
  const out = allocOut(dt, x.size);
  backend().unary(op, x.f, out);
  return record(new Tensor(out, x.shape), 'unary', [x], { op });
}

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const relu = (x: Tensor) => unary('relu', x);
/** GELU; `approximate: 'tanh'` is GPT-2's form, 'none' the exact erf form (PyTorch's names). */
export const gelu = (x: Tensor, approximate: 'tanh' | 'none' = 'none') => unary(approximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf', x);
export const silu = (x: Tensor) => unary('silu', x);
export const abs = (x: Tensor) => unary('abs', x);
export const square = (x: Tensor) => unary('square', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);

/** cond ? a : b with broadcasting; cond is a float 0/1 tensor and gets no gradient. */
export function where(cond: Tensor, a: Tensor | Scalar, b: Tensor | Scalar): Tensor {
  const A = typeof a === 'number' ? scalarLike(a, typeof b === 'number' ? cond : b) : a;
  const Bt = asTensor(b, A);
  const dt = assertFloat('where', A, Bt);
  if (cond.dtype === 'int32') throw new Error(`where: condition must be a float 0/1 tensor, got int32 ${fmtShape(cond.shape)}`);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, A.shape), Bt.shape);
  const out = allocOut(dt, sizeOf(shape));
  const c = cond.dtype === dt ? cond.f : (dt === 'float64' ? Float64Array.from(cond.f) : Float32Array.from(cond.f));
  backend().where(c, broadcastStrides(cond.shape, shape), A.f, broadcastStrides(A.shape, shape), Bt.f, broadcastStrides(Bt.shape, shape), out, shape);
  return record(new Tensor(out, shape), 'where', [A, Bt], { cond });
}

/** x where mask is 0, `value` where mask is 1 (attention masks, padding). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}

// ---- reductions -------------------------------------------------------------------

function normAxes(op: string, axes: number | number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(op, a, ndim));
  if (new Set(list).size !== list.length) throw new Error(`${op}: repeated axis in [${list.join(', ')}]`);
  return list.sort((p, q) => p - q);
}

/** Sums over `axes` (all by default). */
export function sum(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const dt = assertFloat('sum', x);
  const ax = normAxes('sum', axes, x.ndim);
  const keptShape = x.shape.map((s, i) => (ax.includes(i) ? 1 : s));
  let data = x.f;
  let cur = [...x.shape];
  // Reduce one axis at a time, last first, so each is a simple [outer, n, inner] pass.
  for (let k = ax.length - 1; k >= 0; k--) {
    const a = ax[k];
    const outer = sizeOf(cur.slice(0, a)), n = cur[a], inner = sizeOf(cur.slice(a + 1));
    const out = allocOut(dt, outer * inner);
    backend().reduce('sum', data, out, outer, n, inner);
    data = out;
    cur[a] = 1;
  }
  if (ax.length === 0) data = data.slice();
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !ax.includes(i));
  return record(new Tensor(data, outShape), 'sum', [x], { keptShape });
}

export function mean(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const ax = normAxes('mean', axes, x.ndim);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  return mul(sum(x, ax, keepdim), 1 / n);
}

/** Population variance (divides by n), as layer norm uses. */
export function variance(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const m = mean(x, axes, true);
  return mean(square(sub(x, m)), axes, keepdim);
}

/** Maximum along one axis; the gradient goes to the first maximal element, as in PyTorch. */
export function max(x: Tensor, axis: number, keepdim = false): Tensor {
  const dt = assertFloat('max', x);
  const a = normAxis('max', axis, x.ndim);
  const outer = sizeOf(x.shape.slice(0, a)), n = x.shape[a], inner = sizeOf(x.shape.slice(a + 1));
  if (n === 0) throw new Error(`max: axis ${axis} of ${fmtShape(x.shape)} is empty`);
  const out = allocOut(dt, outer * inner);
  backend().reduce('max', x.f, out, outer, n, inner);
  const outShape = keepdim ? x.shape.map((s, i) => (i === a ? 1 : s)) : x.shape.filter((_, i) => i !== a);
  return record(new Tensor(out, outShape), 'max', [x], { axis: a, outer, n, inner });
}

export function argmax(x: Tensor, axis: number): Tensor {
  assertFloat('argmax', x);
  const a = normAxis('argmax', axis, x.ndim);
  const outer = sizeOf(x.shape.slice(0, a)), n = x.shape[a], inner = sizeOf(x.shape.slice(a + 1));
  const out = new Int32Array(outer * inner);
  backend().argmax(x.f, out, outer, n, inner);
  return new Tensor(out, x.shape.filter((_, i) => i !== a));
}

// ---- matrix products --------------------------------------------------------------

export interface MatmulOptions { transA?: boolean; transB?: boolean }

/**
 * a [..., M, K] @ b [..., K, N] (either transposed on request). Batch dims must match,
 * or one side is a plain matrix shared across the other's batch (a linear layer).
 */
export function matmul(a: Tensor, b: Tensor, o: MatmulOptions = {}): Tensor {
  const dt = assertFloat('matmul', a, b);
  const transA = !!o.transA, transB = !!o.transB;
  if (a.ndim < 2 || b.ndim < 2) throw new Error(`matmul: needs at least 2-d operands, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const M = transA ? a.shape[a.ndim - 1] : a.shape[a.ndim - 2];
  const Ka = transA ? a.shape[a.ndim - 2] : a.shape[a.ndim - 1];
  const Kb = transB ? b.shape[b.ndim - 1] : b.shape[b.ndim - 2];
  const N = transB ? b.shape[b.ndim - 2] : b.shape[b.ndim - 1];
  if (Ka !== Kb) throw new Error(`matmul: inner sizes differ, a ${fmtShape(a.shape)}${transA ? '^T' : ''} vs b ${fmtShape(b.shape)}${transB ? '^T' : ''}`);
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  let batchShape: number[];
  if (batchB.length === 0) batchShape = [...batchA];
  else if (batchA.length === 0) batchShape = [...batchB];
  else if (batchA.length === batchB.length && batchA.every((s, i) => s === batchB[i])) batchShape = [...batchA];
  else throw new Error(`matmul: batch dims differ, a ${fmtShape(a.shape)} vs b ${fmtShape(b.shape)}`);
  const batch = sizeOf(batchShape);
  const out = allocOut(dt, batch * M * N);
  matmulInto(a.f, b.f, out, batch, M, N, Ka, transA, transB, batchA.length ? M * Ka : 0, batchB.length ? Ka * N : 0, false);
  return record(new Tensor(out, [...batchShape, M, N]), 'matmul', [a, b], { transA, transB });
}

/**
 * The kernel call, with one rewrite: a batch of untransposed A against one shared B is
 * a single tall GEMM (one big BLAS call beats many small ones).
 */
export function matmulInto(a: FloatArray, b: FloatArray, c: FloatArray, batch: number, M: number, N: number, K: number,
  transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
  if (batch > 1 && strideB === 0 && strideA !== 0 && !transA) {
    backend().matmul(a, b, c, 1, batch * M, N, K, false, transB, 0, 0, accumulate);
  } else {
    backend().matmul(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
  }
}

// ---- shape movement ---------------------------------------------------------------

/** Same buffer, new shape; one dim may be -1. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const neg = shape.filter((s) => s === -1).length;
  if (neg > 1) throw new Error(`reshape: more than one -1 in ${fmtShape(shape)}`);
  let resolved = shape;
  if (neg === 1) {
    const known = shape.filter((s) => s !== -1).reduce((p, s) => p * s, 1);
    if (known === 0 || x.size % known !== 0) throw new Error(`reshape: cannot reshape ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    resolved = shape.map((s) => (s === -1 ? x.size / known : s));
  }
  if (sizeOf(resolved) !== x.size) throw new Error(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`);
  return record(new Tensor(x.data, resolved), 'reshape', [x], { from: x.shape });
}

export function flatten(x: Tensor, startAxis = 0): Tensor {
  const a = normAxis('flatten', startAxis, x.ndim);
  return reshape(x, [...x.shape.slice(0, a), -1]);
}

export function permute(x: Tensor, perm: number[]): Tensor {
  if (perm.length !== x.ndim || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of ${x.ndim} axes (tensor ${fmtShape(x.shape)})`);
  }
  const st = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]);
  const out = x.dtype === 'int32' ? new Int32Array(x.size) : allocOut(x.dtype, x.size);
  backend().copyStrided(x.data, 0, perm.map((p) => st[p]), out, 0, stridesOf(shape), shape);
  return record(new Tensor(out, shape), 'permute', [x], { perm });
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const p = Array.from({ length: x.ndim }, (_, i) => i);
  const ia = normAxis('transpose', a, x.ndim), ib = normAxis('transpose', b, x.ndim);
  [p[ia], p[ib]] = [p[ib], p[ia]];
  return permute(x, p);
}

/** x[..., start:end, ...] along `axis` (a copy). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis('slice', axis, x.ndim);
  const n = x.shape[a];
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= n && start <= end)) {
    throw new Error(`slice: range ${start}:${end} out of bounds for axis ${axis} of ${fmtShape(x.shape)}`);
  }
  const shape = x.shape.map((s, i) => (i === a ? end - start : s));
  const st = stridesOf(x.shape);
  const out = x.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : allocOut(x.dtype, sizeOf(shape));
  backend().copyStrided(x.data, start * st[a], st, out, 0, stridesOf(shape), shape);
  return record(new Tensor(out, shape), 'slice', [x], { axis: a, start, end });
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const a = normAxis('concat', axis, xs[0].ndim);
  const dt = xs[0].dtype;
  for (const t of xs) {
    if (t.dtype !== dt || t.ndim !== xs[0].ndim || t.shape.some((s, i) => i !== a && s !== xs[0].shape[i])) {
      throw new Error(`concat: incompatible shapes along axis ${axis}: ${xs.map((u) => `${u.dtype} ${fmtShape(u.shape)}`).join(', ')}`);
    }
  }
  const shape = xs[0].shape.map((s, i) => (i === a ? xs.reduce((p, t) => p + t.shape[a], 0) : s));
  const out = dt === 'int32' ? new Int32Array(sizeOf(shape)) : allocOut(dt, sizeOf(shape));
  const ost = stridesOf(shape);
  let off = 0;
  for (const t of xs) {
    backend().copyStrided(t.data, 0, stridesOf(t.shape), out, off * ost[a], ost, [...t.shape]);
    off += t.shape[a];
  }
  return record(new Tensor(out, shape), 'concat', xs, { axis: a, sizes: xs.map((t) => t.shape[a]) });
}

/** Splits along `axis` into pieces of the given sizes (or `n` equal pieces). */
export function split(x: Tensor, sizes: number | number[], axis: number): Tensor[] {
  const a = normAxis('split', axis, x.ndim);
  let list: number[];
  if (typeof sizes === 'number') {
    if (x.shape[a] % sizes !== 0) throw new Error(`split: axis ${axis} of ${fmtShape(x.shape)} does not divide into ${sizes} pieces`);
    list = new Array(sizes).fill(x.shape[a] / sizes);
  } else list = sizes;
  if (list.reduce((p, s) => p + s, 0) !== x.shape[a]) throw new Error(`split: sizes [${list.join(', ')}] do not add up to ${x.shape[a]} (axis ${axis} of ${fmtShape(x.shape)})`);
  const out: Tensor[] = [];
  let off = 0;
  for (const s of list) { out.push(slice(x, a, off, off + s)); off += s; }
  return out;
}

/** Broadcasts x to `shape` (a copy). */
export function expand(x: Tensor, shape: number[]): Tensor {
  const target = broadcastShapes('expand', x.shape, shape);
  if (target.length !== shape.length || target.some((s, i) => s !== shape[i])) {
    throw new Error(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  const out = x.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : allocOut(x.dtype, sizeOf(shape));
  backend().copyStrided(x.data, 0, broadcastStrides(x.shape, shape), out, 0, stridesOf(shape), shape);
  return record(new Tensor(out, shape), 'expand', [x]);
}

/** Sums a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.ndim === shape.length && g.shape.every((s, i) => s === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = sum(g, axes, true);
  return reshape(s, [...shape]);
}

export function toFloat(x: Tensor, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const out = allocOut(dtype, x.size);
  for (let i = 0; i < x.size; i++) out[i] = x.data[i];
  return new Tensor(out, x.shape);
}
