// Tensor: a contiguous row-major buffer with a shape, a dtype and, when it takes part
// in autograd, the graph node that made it. Tensors are always contiguous: reshape
// shares the buffer, every other view (transpose, slice, concat) copies. That keeps
// every kernel simple and the copies are cheap next to the matrix products.

import type { AnyArray, FloatArray } from './backend.js';
import { backward, type BackwardOptions } from './autograd.js';
import { isGradEnabled } from './runtime.js';

export type DType = 'float32' | 'float64' | 'int32';
export type Shape = readonly number[];

/** One recorded op application: how `output` was made, kept for the backward pass. */
export interface GraphNode {
  op: string;
  inputs: Tensor[];
  /** Whatever the op's gradient rule needs (saved tensors, sizes, flags). */
  saved: Record<string, unknown>;
}

export type GradHook = (grad: Tensor) => Tensor | void;

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  data: AnyArray;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  node: GraphNode | null = null;
  /** Optional label (parameter path or hook name), used in error messages and debugging. */
  name: string | undefined;
  /** Keep .grad on this non-leaf tensor after backward (activations a probe wants to read). */
  retainsGrad = false;
  /** Set when backward cut this tensor's graph node; a second pass through it is an error. */
  graphFreed = false;
  gradHooks: GradHook[] | null = null;

  constructor(data: AnyArray, shape: Shape, requiresGrad = false) {
    const n = sizeOf(shape);
    if (data.length !== n) throw new Error(`Tensor: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = data instanceof Int32Array ? 'int32' : data instanceof Float64Array ? 'float64' : 'float32';
    if (requiresGrad && this.dtype === 'int32') throw new Error('Tensor: an int32 tensor cannot require gradients');
    this.requiresGrad = requiresGrad;
  }

  get size(): number { return this.data.length; }
  get ndim(): number { return this.shape.length; }
  get isLeaf(): boolean { return this.node === null; }

  /** The float buffer (throws for int32 tensors, so kernels never get the wrong kind). */
  get f(): FloatArray {
    if (this.data instanceof Int32Array) throw new Error(`expected a float tensor${this.name ? ` (${this.name})` : ''}, got int32`);
    return this.data;
  }

  get i(): Int32Array {
    if (!(this.data instanceof Int32Array)) throw new Error(`expected an int32 tensor${this.name ? ` (${this.name})` : ''}, got ${this.dtype}`);
    return this.data;
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements, shape [${this.shape.join(', ')}]`);
    return this.data[0];
  }

  toArray(): number[] { return Array.from(this.data); }

  /** Marks a tensor as a leaf that accumulates .grad (parameters). Returns this. */
  requireGrad(on = true): this {
    if (on && this.dtype === 'int32') throw new Error('requireGrad: int32 tensors have no gradient');
    this.requiresGrad = on;
    return this;
  }

  retainGrad(): this { this.retainsGrad = true; return this; }

  /** Calls fn with the gradient arriving at this tensor during backward; fn may return a replacement. */
  registerGradHook(fn: GradHook): () => void {
    (this.gradHooks ??= []).push(fn);
    return () => { this.gradHooks = this.gradHooks?.filter((h) => h !== fn) ?? null; };
  }

  /** Reverse-mode pass from this tensor (a scalar loss, or pass opts.grad). */
  backward(opts?: BackwardOptions): void { backward(this, opts); }

  /** A new leaf sharing no graph with this one (same buffer). */
  detach(): Tensor {
    const t = new Tensor(this.data, this.shape);
    t.name = this.name;
    return t;
  }

  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}]${this.name ? `, ${this.name}` : ''})`;
  }
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    n *= s;
  }
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { st[d] = acc; acc *= shape[d]; }
  return st;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** A zero-filled float buffer. */
export function allocFloat(dtype: DType, n: number): FloatArray {
  if (dtype === 'int32') throw new Error('allocFloat: int32 requested');
  if (dtype === 'float64') return new Float64Array(n);
  const a = poolFor()?.take(n);
  if (a) { a.fill(0); return a; }
  return new Float32Array(n);
}

/** A float buffer whose contents are unspecified: for kernel outputs, which write every element. */
export function allocOut(dtype: DType, n: number): FloatArray {
  if (dtype === 'int32') throw new Error('allocOut: int32 requested');
  if (dtype === 'float64') return new Float64Array(n);
  return poolFor()?.take(n) ?? new Float32Array(n);
}

// ---- buffer pool ---------------------------------------------------------------------

/**
 * Recycles float32 buffers between training steps. Every buffer allocated while
 * `pool.run(fn)` runs goes back to the pool when fn returns, and the next run reuses it;
 * this spares the allocator's page faults and the garbage collector's pauses, which
 * otherwise cost a fifth of a small model's step. The contract: nothing allocated inside
 * fn may be read after a later run has started (a training step returns numbers; the
 * gradients it leaves on parameters are dropped by the next step's zeroGrad).
 */
export class BufferPool {
  /** Buffers smaller than this are left to the garbage collector (cheap, and rarely hot). */
  static readonly MIN_ELEMENTS = 1024;
  private readonly free = new Map<number, Float32Array[]>();
  private lent: Float32Array[] = [];

  take(n: number): Float32Array | undefined {
    if (n < BufferPool.MIN_ELEMENTS) return undefined;
    const a = this.free.get(n)?.pop() ?? new Float32Array(n);
    this.lent.push(a);
    return a;
  }

  run<T>(fn: () => T): T {
    const prev = activePool;
    activePool = this;
    try {
      return fn();
    } finally {
      activePool = prev;
      for (const a of this.lent) {
        let list = this.free.get(a.length);
        if (!list) this.free.set(a.length, (list = []));
        list.push(a);
      }
      this.lent = [];
    }
  }

  /** Drops every pooled buffer (after training, or when shapes change for good). */
  clear(): void { this.free.clear(); }
}

let activePool: BufferPool | null = null;

/**
 * Only the forward pass draws from the pool: its activations live until backward anyway,
 * while backward's temporaries die within the pass, and holding those to the end of the
 * step would raise peak memory. Backward runs under noGrad, so they go to the collector.
 */
function poolFor(): BufferPool | null {
  return activePool && isGradEnabled() ? activePool : null;
}

// ---- creation ------------------------------------------------------------------

export interface CreateOptions { dtype?: DType; requiresGrad?: boolean; name?: string }

function finish(t: Tensor, o: CreateOptions | undefined): Tensor {
  if (o?.requiresGrad) t.requireGrad();
  if (o?.name) t.name = o.name;
  return t;
}

/** Creation functions allocate directly, never from a step's pool: what they make may be kept. */
function alloc(dtype: DType, n: number): AnyArray {
  return dtype === 'int32' ? new Int32Array(n) : dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** From nested arrays, a flat array with a shape, or a typed array (shared, not copied). */
export function tensor(values: number[] | number[][] | number[][][] | AnyArray | number, shape?: Shape, o?: CreateOptions): Tensor {
  if (typeof values === 'number') return finish(new Tensor(fillArray(o?.dtype ?? 'float32', 1, values), shape ?? []), o);
  if (ArrayBuffer.isView(values)) {
    if (o?.dtype && o.dtype !== dtypeOf(values)) throw new Error(`tensor: typed array is ${dtypeOf(values)} but dtype ${o.dtype} was asked`);
    return finish(new Tensor(values, shape ?? [values.length]), o);
  }
  const inferred: number[] = [];
  let cur: unknown = values;
  while (Array.isArray(cur)) { inferred.push(cur.length); cur = cur[0]; }
  const flat = (values as unknown[]).flat(Infinity) as number[];
  const dtype = o?.dtype ?? 'float32';
  const data = alloc(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) data[i] = flat[i];
  return finish(new Tensor(data, shape ?? inferred), o);
}

function dtypeOf(a: AnyArray): DType {
  return a instanceof Int32Array ? 'int32' : a instanceof Float64Array ? 'float64' : 'float32';
}

function fillArray(dtype: DType, n: number, v: number): AnyArray {
  const a = alloc(dtype, n);
  if (v !== 0) a.fill(v);
  return a;
}

export function zeros(shape: Shape, o?: CreateOptions): Tensor {
  return finish(new Tensor(alloc(o?.dtype ?? 'float32', sizeOf(shape)), shape), o);
}

export function ones(shape: Shape, o?: CreateOptions): Tensor { return full(shape, 1, o); }

export function full(shape: Shape, value: number, o?: CreateOptions): Tensor {
  return finish(new Tensor(fillArray(o?.dtype ?? 'float32', sizeOf(shape), value), shape), o);
}

export function arange(n: number, o?: CreateOptions): Tensor {
  const a = alloc(o?.dtype ?? 'int32', n);
  for (let i = 0; i < n; i++) a[i] = i;
  return finish(new Tensor(a, [n]), o);
}

export function zerosLike(t: Tensor): Tensor { return zeros(t.shape, { dtype: t.dtype }); }
