// The native backend: a Node addon (native/src, built by `npm run build:native` into
// build/Release/windtunnel.node) that runs every kernel of backend.ts in C++ on all
// cores, with OpenBLAS for the matrix products. This file loads it and adapts it to the
// Backend interface. Float32 work goes to the addon; any call that involves a
// Float64Array (finite-difference gradient checks) is delegated to the reference
// backend, which is the definition of every kernel anyway.
//
// The addon validates argument types and array extents itself and throws TypeError /
// RangeError (never crashes); ids and targets out of range throw a RangeError.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { AnyArray, AttentionShape, Backend, FloatArray, RecurrenceShape } from './backend.js';
import type { LowRankShape } from './sequence-kernels.js';

/** The raw addon exports (flat arguments; see native/src/addon.cc). */
interface Addon {
  copyStrided(src: AnyArray, srcOff: number, srcStrides: number[], dst: AnyArray, dstOff: number, dstStrides: number[], shape: number[]): void;
  fill(dst: Float32Array | Int32Array, value: number): void;
  axpy(alpha: number, x: Float32Array, acc: Float32Array): void;
  sumSquares(x: Float32Array): number;
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void;
  binary(op: string, a: Float32Array, aStrides: number[], b: Float32Array, bStrides: number[], out: Float32Array, shape: number[]): void;
  unary(op: string, x: Float32Array, out: Float32Array): void;
  biasUnary(op: string, x: Float32Array, bias: Float32Array, pre: Float32Array, out: Float32Array, N: number, C: number): void;
  unaryBackward(op: string, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void;
  where(cond: Float32Array, cStrides: number[], a: Float32Array, aStrides: number[], b: Float32Array, bStrides: number[], out: Float32Array, shape: number[]): void;
  reduce(op: string, x: Float32Array, out: Float32Array, outer: number, n: number, inner: number): void;
  argmax(x: Float32Array, out: Int32Array, outer: number, n: number, inner: number): void;
  softmax(x: Float32Array, out: Float32Array, N: number, C: number): void;
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, N: number, C: number): void;
  logSoftmax(x: Float32Array, out: Float32Array, N: number, C: number): void;
  logSoftmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, N: number, C: number): void;
  layerNorm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, out: Float32Array, mean: Float32Array, rstd: Float32Array, N: number, C: number, eps: number): void;
  layerNormBackward(x: Float32Array, w: Float32Array | null, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, N: number, C: number): void;
  rmsNorm(x: Float32Array, w: Float32Array | null, out: Float32Array, rstd: Float32Array, N: number, C: number, eps: number): void;
  rmsNormBackward(x: Float32Array, w: Float32Array | null, rstd: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array | null, N: number, C: number): void;
  embedding(ids: Int32Array, table: Float32Array, out: Float32Array, N: number, C: number): void;
  embeddingBackward(ids: Int32Array, dout: Float32Array, accTable: Float32Array, N: number, C: number): void;
  crossEntropy(logits: Float32Array, targets: Int32Array, weights: Float32Array | null, ignoreIndex: number,
    loss: Float32Array, lse: Float32Array, N: number, V: number): void;
  crossEntropyBackward(logits: Float32Array, targets: Int32Array, weights: Float32Array | null, ignoreIndex: number,
    lse: Float32Array, dloss: Float32Array, dlogits: Float32Array, N: number, V: number): void;
  attention(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, ...shape: FlatShape): void;
  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, dout: Float32Array,
    dq: Float32Array, dk: Float32Array, dv: Float32Array, ...shape: FlatShape): void;
  rope(x: Float32Array, cos: Float32Array, sin: Float32Array, out: Float32Array, B: number, T: number, H: number, D: number, pos0: number, inverse: boolean): void;
  selectiveScan(x: FloatArray, dt: FloatArray, A: FloatArray, Bm: FloatArray, Cm: FloatArray, h0: FloatArray | null,
    y: FloatArray, hT: FloatArray, B: number, T: number, C: number, N: number): void;
  selectiveScanBackward(x: FloatArray, dt: FloatArray, A: FloatArray, Bm: FloatArray, Cm: FloatArray, h0: FloatArray | null,
    dy: FloatArray, dx: FloatArray, ddt: FloatArray, dA: FloatArray, dBm: FloatArray, dCm: FloatArray,
    B: number, T: number, C: number, N: number): void;
  rwkv6(r: FloatArray, k: FloatArray, v: FloatArray, w: FloatArray, u: FloatArray, s0: FloatArray | null,
    out: FloatArray, sT: FloatArray, B: number, T: number, H: number, D: number): void;
  rwkv6Backward(r: FloatArray, k: FloatArray, v: FloatArray, w: FloatArray, u: FloatArray, s0: FloatArray | null,
    dout: FloatArray, dr: FloatArray, dk: FloatArray, dv: FloatArray, dw: FloatArray, du: FloatArray,
    B: number, T: number, H: number, D: number): void;
  lowrankAttention(q: FloatArray, k: FloatArray, v: FloatArray, kc: FloatArray, vc: FloatArray,
    out: FloatArray, lse: FloatArray, ...shape: LowRankFlat): void;
  lowrankAttentionBackward(q: FloatArray, k: FloatArray, v: FloatArray, kc: FloatArray, vc: FloatArray,
    out: FloatArray, lse: FloatArray, dout: FloatArray, dq: FloatArray, dk: FloatArray, dv: FloatArray,
    dkc: FloatArray, dvc: FloatArray, ...shape: LowRankFlat): void;
  gatedRecurrence(q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array, s0: Float32Array | null, out: Float32Array, sOut: Float32Array | null, ...shape: RecFlatShape): void;
  gatedRecurrenceBackward(q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array, s0: Float32Array | null, dout: Float32Array,
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dg: Float32Array, ...shape: RecFlatShape): void;
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, bc1: number, bc2: number, gradScale: number): void;
  adamwMulti(p: Float32Array[], g: Float32Array[], m: Float32Array[], v: Float32Array[], lrs: Float64Array, weightDecays: Float64Array,
    beta1: number, beta2: number, eps: number, bc1: number, bc2: number, gradScale: number): void;
  sgd(p: Float32Array, g: Float32Array, buf: Float32Array, lr: number, momentum: number, weightDecay: number, nesterov: boolean, gradScale: number): void;
  threads(): number;
  setThreads(n: number): number;
  blas(): string;
  info(): NativeInfo;
  rawSgemm(M: number, N: number, K: number, transA: boolean, transB: boolean, reps: number, best: boolean): number;
  memcpyBandwidth(bytes: number, reps: number): number;
  setGemmStrategy(s: 'split' | 'blas'): string;
  setIsa(isa: NativeIsa): NativeIsa;
}

/** Instruction sets the kernels are compiled for (native/src/dispatch.cc): AVX-512, AVX2 + FMA, baseline x86-64. */
export const NATIVE_ISAS = ['avx512', 'avx2', 'sse2'] as const;
export type NativeIsa = (typeof NATIVE_ISAS)[number];

/** B, T, H, Dk, Dv, chunk, scalarDecay. */
type RecFlatShape = [number, number, number, number, number, number, boolean];
const recShape = (s: RecurrenceShape): RecFlatShape => [s.B, s.T, s.H, s.Dk, s.Dv, s.chunk, s.scalarDecay];

/** B, H, Tq, Tk, D, scale, maskKind, window, blockSize, layout, nKeyBlocks, docQ, docK. */
type FlatShape = [number, number, number, number, number, number, number, number, number, Uint8Array | null, number,
  Int32Array | null, Int32Array | null];

/** B, H, Tq, Tk, D, blockSize, rank, nc, scale, pos0. */
type LowRankFlat = [number, number, number, number, number, number, number, number, number, number];
const lowRankFlat = (s: LowRankShape): LowRankFlat => [s.B, s.H, s.Tq, s.Tk, s.D, s.blockSize, s.rank, s.nc, s.scale, s.pos0];

export interface NativeInfo {
  /** Threads used by the fused kernels and by the GEMM partition. */
  threads: number;
  /** Cores this process may run on. */
  cores: number;
  /** e.g. "OpenBLAS 0.3.21 (pthreads, Cooperlake)". */
  blas: string;
  /** openblas_get_config(). */
  blasConfig: string;
  /** openblas_get_corename(): the kernel set OpenBLAS picked for this CPU. */
  blasCore: string;
  /** openblas_get_num_threads() right now (1 while our pool splits the products). */
  blasThreads: number;
  /** "pool-split" (default: single-threaded sgemm per thread of our pool) or "openblas-threads". */
  gemmStrategy: string;
  compiler: string;
  flags: string;
  /** Instruction set whose kernels run now (WINDTUNNEL_ISA or setNativeIsa can lower it). */
  isa: NativeIsa;
  /** Best instruction set this CPU supports (the default). */
  isaBest: NativeIsa;
}

// ---- loading -------------------------------------------------------------------------

let addon: Addon | null | undefined;
let loadError = '';

function candidates(): string[] {
  // src/engine/native.ts (tsx) and dist/src/engine/native.js (tsc) both reach the repo root.
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  for (const up of ['../..', '../../..']) out.push(resolve(join(here, up, 'build', 'Release', 'windtunnel.node')));
  return out;
}

function load(): Addon | null {
  if (addon !== undefined) return addon;
  const paths = candidates();
  const found = paths.find((p) => existsSync(p));
  if (!found) {
    loadError = `addon not built (looked for ${paths.join(', ')}); run: npm run build:native`;
    addon = null;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(found) as Addon;
  } catch (e) {
    loadError = `failed to load ${found}: ${e instanceof Error ? e.message : String(e)}`;
    addon = null;
  }
  const isa = process.env.WINDTUNNEL_ISA;
  if (addon && isa) {
    if (!(NATIVE_ISAS as readonly string[]).includes(isa)) {
      throw new Error(`WINDTUNNEL_ISA=${isa}: expected one of ${NATIVE_ISAS.join(', ')}`);
    }
    try {
      addon.setIsa(isa as NativeIsa);
    } catch (e) {
      throw new Error(`WINDTUNNEL_ISA=${isa}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return addon;
}

/** Why the addon did not load ('' when it did or was never asked for). */
export function nativeLoadError(): string {
  load();
  return loadError;
}

function need(): Addon {
  const a = load();
  if (!a) throw new Error(`native backend unavailable: ${loadError}`);
  return a;
}

// ---- extras beyond the Backend interface ----------------------------------------------

/** Threads, BLAS name / version / kernel set, GEMM strategy, compiler and flags. */
export function nativeInfo(): NativeInfo {
  return need().info();
}

/** Sets the thread count of the native kernels (and OpenBLAS); returns the count in effect. */
export function setNativeThreads(n: number): number {
  return need().setThreads(n);
}

/**
 * Selects the instruction set of the native kernels ('avx512', 'avx2' or 'sse2'; the
 * default is the best the CPU supports, WINDTUNNEL_ISA overrides it at load). Throws a
 * RangeError when the CPU lacks it. Returns the ISA in effect.
 */
export function setNativeIsa(isa: NativeIsa): NativeIsa {
  return need().setIsa(isa);
}

/** The instruction set whose kernels run now. */
export function nativeIsa(): NativeIsa {
  return need().info().isa;
}

export function nativeThreads(): number {
  return need().threads();
}

/**
 * Ceiling for matrix products: seconds per call of plain cblas_sgemm (OpenBLAS's own
 * threading, nothing of ours around it) for C[M,N] = op(A) op(B), timed in C++ over
 * `reps` calls after two warm-ups; the median, or the fastest call with stat 'min'.
 * Sleeps ~0.1 s afterwards so OpenBLAS's spinning workers are asleep before anything
 * else is timed.
 */
export function rawSgemm(M: number, N: number, K: number, reps = 10, transA = false, transB = false, stat: 'median' | 'min' = 'median'): number {
  return need().rawSgemm(M, N, K, transA, transB, reps, stat === 'min');
}

/**
 * Ceiling for memory-bound kernels: a multi-threaded memcpy of `bytes` (default 256 MiB),
 * best of `reps`, in GB/s counting bytes read plus bytes written.
 */
export function copyBandwidthGBps(bytes = 256 * 1024 * 1024, reps = 5): number {
  return need().memcpyBandwidth(bytes, reps);
}

/** The raw addon (flat arguments, no Float64 delegation), for tests of its argument checking. */
export function nativeAddon(): Record<string, (...args: unknown[]) => unknown> {
  return need() as unknown as Record<string, (...args: unknown[]) => unknown>;
}

/** For benchmarks: "split" (our pool, default) or "blas" (OpenBLAS's own threads). */
export function setNativeGemmStrategy(s: 'split' | 'blas'): string {
  return need().setGemmStrategy(s);
}

/** The two ceilings in the shape bench.ts expects. */
export function nativeCeilings(): {
  sgemmSeconds(M: number, N: number, K: number, transA: boolean, transB: boolean, reps: number): number;
  copyGBps(): number;
} {
  let bw = 0;
  return {
    sgemmSeconds: (M, N, K, transA, transB, reps) => rawSgemm(M, N, K, reps, transA, transB),
    copyGBps: () => (bw ||= copyBandwidthGBps()),
  };
}

// ---- the backend ----------------------------------------------------------------------

const MASK_KIND = { none: 0, causal: 1, sliding: 2, block: 3 } as const;

function flatShape(s: AttentionShape): FlatShape {
  const m = s.mask;
  return [
    s.B, s.H, s.Tq, s.Tk, s.D, s.scale, MASK_KIND[m.kind],
    m.kind === 'sliding' ? m.window : 0,
    m.kind === 'block' ? m.blockSize : 1,
    m.kind === 'block' ? m.layout : null,
    m.kind === 'block' ? m.nKeyBlocks : 0,
    s.docQ ?? null, s.docK ?? null,
  ];
}

const isF32 = (x: unknown): x is Float32Array => x instanceof Float32Array;
/** Every argument a Float32Array (the addon also checks each one's type). */
const allF32 = (...xs: FloatArray[]): boolean => xs.every((x) => x instanceof Float32Array);
/** null or Float32Array (optional weights). */
const optF32 = (x: FloatArray | null): boolean => x === null || x instanceof Float32Array;

/** Below this many elements a JS fill is as fast as crossing into the addon. */
const SMALL_FILL = 1 << 16;

/**
 * The native backend, or null when the addon is not built (see nativeLoadError()).
 * `reference` handles every call that involves a Float64Array.
 */
export function loadNativeBackend(reference: Backend): Backend | null {
  const n = load();
  if (!n) return null;
  const blasName = n.blas();
  const backend: Backend = {
    name: 'native',
    threads: () => n.threads(),
    blas: () => blasName,
    isa: () => {
      const i = n.info();
      return i.isa === i.isaBest ? i.isa : `${i.isa} (best: ${i.isaBest})`;
    },

    copyStrided(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape) {
      // Same element type only (a Float32 -> Int32 copy must convert values, not bits), and
      // distinct buffers (the threaded copy does not define an order for overlapping views).
      if (src.constructor === dst.constructor && src.buffer !== dst.buffer) n.copyStrided(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape);
      else reference.copyStrided(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape);
    },
    fill(dst, value) {
      if (dst.length < SMALL_FILL || dst instanceof Float64Array) dst.fill(value);
      else if (dst instanceof Int32Array) n.fill(dst, value | 0);
      else n.fill(dst, value);
    },
    axpy(alpha, x, acc) {
      if (isF32(x) && isF32(acc)) n.axpy(alpha, x, acc);
      else reference.axpy(alpha, x, acc);
    },
    sumSquares(x) {
      return isF32(x) ? n.sumSquares(x) : reference.sumSquares(x);
    },

    matmul(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, accumulate) {
      if (isF32(a) && isF32(b) && isF32(c)) n.matmul(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
      else reference.matmul(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
    },

    binary(op, a, aStrides, b, bStrides, out, shape) {
      if (isF32(a) && isF32(b) && isF32(out)) n.binary(op, a, aStrides, b, bStrides, out, shape);
      else reference.binary(op, a, aStrides, b, bStrides, out, shape);
    },
    unary(op, x, out) {
      if (isF32(x) && isF32(out)) n.unary(op, x, out);
      else reference.unary(op, x, out);
    },
    biasUnary(op, x, bias, pre, out, N, C) {
      if (isF32(x) && isF32(bias) && isF32(pre) && isF32(out)) n.biasUnary(op, x, bias, pre, out, N, C);
      else reference.biasUnary(op, x, bias, pre, out, N, C);
    },
    unaryBackward(op, x, y, dy, dx) {
      if (isF32(x) && isF32(y) && isF32(dy) && isF32(dx)) n.unaryBackward(op, x, y, dy, dx);
      else reference.unaryBackward(op, x, y, dy, dx);
    },
    where(cond, cStrides, a, aStrides, b, bStrides, out, shape) {
      if (isF32(cond) && isF32(a) && isF32(b) && isF32(out)) n.where(cond, cStrides, a, aStrides, b, bStrides, out, shape);
      else reference.where(cond, cStrides, a, aStrides, b, bStrides, out, shape);
    },

    reduce(op, x, out, outer, len, inner) {
      if (isF32(x) && isF32(out)) n.reduce(op, x, out, outer, len, inner);
      else reference.reduce(op, x, out, outer, len, inner);
    },
    argmax(x, out, outer, len, inner) {
      if (isF32(x)) n.argmax(x, out, outer, len, inner);
      else reference.argmax(x, out, outer, len, inner);
    },

    softmax(x, out, N, C) {
      if (isF32(x) && isF32(out)) n.softmax(x, out, N, C);
      else reference.softmax(x, out, N, C);
    },
    softmaxBackward(y, dy, dx, N, C) {
      if (isF32(y) && isF32(dy) && isF32(dx)) n.softmaxBackward(y, dy, dx, N, C);
      else reference.softmaxBackward(y, dy, dx, N, C);
    },
    logSoftmax(x, out, N, C) {
      if (isF32(x) && isF32(out)) n.logSoftmax(x, out, N, C);
      else reference.logSoftmax(x, out, N, C);
    },
    logSoftmaxBackward(y, dy, dx, N, C) {
      if (isF32(y) && isF32(dy) && isF32(dx)) n.logSoftmaxBackward(y, dy, dx, N, C);
      else reference.logSoftmaxBackward(y, dy, dx, N, C);
    },

    layerNorm(x, w, b, out, mean, rstd, N, C, eps) {
      if (isF32(x) && optF32(w) && optF32(b) && isF32(out) && isF32(mean) && isF32(rstd)) {
        n.layerNorm(x, w as Float32Array | null, b as Float32Array | null, out, mean, rstd, N, C, eps);
      } else reference.layerNorm(x, w, b, out, mean, rstd, N, C, eps);
    },
    layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, N, C) {
      if (isF32(x) && optF32(w) && isF32(mean) && isF32(rstd) && isF32(dy) && isF32(dx) && optF32(dw) && optF32(db)) {
        n.layerNormBackward(x, w as Float32Array | null, mean, rstd, dy, dx, dw as Float32Array | null, db as Float32Array | null, N, C);
      } else reference.layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, N, C);
    },
    rmsNorm(x, w, out, rstd, N, C, eps) {
      if (isF32(x) && optF32(w) && isF32(out) && isF32(rstd)) n.rmsNorm(x, w as Float32Array | null, out, rstd, N, C, eps);
      else reference.rmsNorm(x, w, out, rstd, N, C, eps);
    },
    rmsNormBackward(x, w, rstd, dy, dx, dw, N, C) {
      if (isF32(x) && optF32(w) && isF32(rstd) && isF32(dy) && isF32(dx) && optF32(dw)) {
        n.rmsNormBackward(x, w as Float32Array | null, rstd, dy, dx, dw as Float32Array | null, N, C);
      } else reference.rmsNormBackward(x, w, rstd, dy, dx, dw, N, C);
    },

    embedding(ids, table, out, N, C) {
      if (isF32(table) && isF32(out)) n.embedding(ids, table, out, N, C);
      else reference.embedding(ids, table, out, N, C);
    },
    embeddingBackward(ids, dout, accTable, N, C) {
      if (isF32(dout) && isF32(accTable)) n.embeddingBackward(ids, dout, accTable, N, C);
      else reference.embeddingBackward(ids, dout, accTable, N, C);
    },
    crossEntropy(logits, targets, weights, ignoreIndex, loss, lse, N, V) {
      if (isF32(logits) && optF32(weights) && isF32(loss) && isF32(lse)) {
        n.crossEntropy(logits, targets, weights as Float32Array | null, ignoreIndex, loss, lse, N, V);
      } else reference.crossEntropy(logits, targets, weights, ignoreIndex, loss, lse, N, V);
    },
    crossEntropyBackward(logits, targets, weights, ignoreIndex, lse, dloss, dlogits, N, V) {
      if (isF32(logits) && optF32(weights) && isF32(lse) && isF32(dloss) && isF32(dlogits)) {
        n.crossEntropyBackward(logits, targets, weights as Float32Array | null, ignoreIndex, lse, dloss, dlogits, N, V);
      } else reference.crossEntropyBackward(logits, targets, weights, ignoreIndex, lse, dloss, dlogits, N, V);
    },

    gatedRecurrence(q, k, v, g, s0, out, sOut, s) {
      if (isF32(q) && isF32(k) && isF32(v) && isF32(g) && isF32(out) && (s0 === null || isF32(s0)) && (sOut === null || isF32(sOut))) {
        n.gatedRecurrence(q, k, v, g, s0, out, sOut, ...recShape(s));
      } else reference.gatedRecurrence(q, k, v, g, s0, out, sOut, s);
    },
    gatedRecurrenceBackward(q, k, v, g, s0, dout, dq, dk, dv, dg, s) {
      if (isF32(q) && isF32(k) && isF32(v) && isF32(g) && isF32(dout) && isF32(dq) && isF32(dk) && isF32(dv) && isF32(dg) && (s0 === null || isF32(s0))) {
        n.gatedRecurrenceBackward(q, k, v, g, s0, dout, dq, dk, dv, dg, ...recShape(s));
      } else reference.gatedRecurrenceBackward(q, k, v, g, s0, dout, dq, dk, dv, dg, s);
    },
    attention(q, k, v, out, lse, s) {
      if (isF32(q) && isF32(k) && isF32(v) && isF32(out) && isF32(lse)) n.attention(q, k, v, out, lse, ...flatShape(s));
      else reference.attention(q, k, v, out, lse, s);
    },
    attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, s) {
      if (isF32(q) && isF32(k) && isF32(v) && isF32(out) && isF32(lse) && isF32(dout) && isF32(dq) && isF32(dk) && isF32(dv)) {
        n.attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, ...flatShape(s));
      } else reference.attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, s);
    },

    rope(x, cos, sin, out, B, T, H, D, pos0, inverse) {
      if (isF32(x) && isF32(cos) && isF32(sin) && isF32(out)) n.rope(x, cos, sin, out, B, T, H, D, pos0, inverse);
      else reference.rope(x, cos, sin, out, B, T, H, D, pos0, inverse);
    },

    selectiveScan(x, dt, A, Bm, Cm, h0, y, hT, s) {
      if (allF32(x, dt, A, Bm, Cm, y, hT) && optF32(h0)) n.selectiveScan(x, dt, A, Bm, Cm, h0, y, hT, s.B, s.T, s.C, s.N);
      else reference.selectiveScan(x, dt, A, Bm, Cm, h0, y, hT, s);
    },
    selectiveScanBackward(x, dt, A, Bm, Cm, h0, dy, dx, ddt, dA, dBm, dCm, s) {
      if (allF32(x, dt, A, Bm, Cm, dy, dx, ddt, dA, dBm, dCm) && optF32(h0)) {
        n.selectiveScanBackward(x, dt, A, Bm, Cm, h0, dy, dx, ddt, dA, dBm, dCm, s.B, s.T, s.C, s.N);
      } else reference.selectiveScanBackward(x, dt, A, Bm, Cm, h0, dy, dx, ddt, dA, dBm, dCm, s);
    },
    rwkv6(r, k, v, w, u, s0, out, sT, s) {
      if (allF32(r, k, v, w, u, out, sT) && optF32(s0)) n.rwkv6(r, k, v, w, u, s0, out, sT, s.B, s.T, s.H, s.D);
      else reference.rwkv6(r, k, v, w, u, s0, out, sT, s);
    },
    rwkv6Backward(r, k, v, w, u, s0, dout, dr, dk, dv, dw, du, s) {
      if (allF32(r, k, v, w, u, dout, dr, dk, dv, dw, du) && optF32(s0)) {
        n.rwkv6Backward(r, k, v, w, u, s0, dout, dr, dk, dv, dw, du, s.B, s.T, s.H, s.D);
      } else reference.rwkv6Backward(r, k, v, w, u, s0, dout, dr, dk, dv, dw, du, s);
    },
    lowrankAttention(q, k, v, kc, vc, out, lse, s) {
      if (allF32(q, k, v, kc, vc, out, lse)) n.lowrankAttention(q, k, v, kc, vc, out, lse, ...lowRankFlat(s));
      else reference.lowrankAttention(q, k, v, kc, vc, out, lse, s);
    },
    lowrankAttentionBackward(q, k, v, kc, vc, out, lse, dout, dq, dk, dv, dkc, dvc, s) {
      if (allF32(q, k, v, kc, vc, out, lse, dout, dq, dk, dv, dkc, dvc)) {
        n.lowrankAttentionBackward(q, k, v, kc, vc, out, lse, dout, dq, dk, dv, dkc, dvc, ...lowRankFlat(s));
      } else reference.lowrankAttentionBackward(q, k, v, kc, vc, out, lse, dout, dq, dk, dv, dkc, dvc, s);
    },

    adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale) {
      n.adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale);
    },
    adamwMulti(params, beta1, beta2, eps, bc1, bc2, gradScale) {
      const k = params.length;
      const ps = new Array<Float32Array>(k), gs = new Array<Float32Array>(k), ms = new Array<Float32Array>(k), vs = new Array<Float32Array>(k);
      const lrs = new Float64Array(k), wds = new Float64Array(k);
      for (let i = 0; i < k; i++) {
        const q = params[i];
        ps[i] = q.p; gs[i] = q.g; ms[i] = q.m; vs[i] = q.v; lrs[i] = q.lr; wds[i] = q.weightDecay;
      }
      n.adamwMulti(ps, gs, ms, vs, lrs, wds, beta1, beta2, eps, bc1, bc2, gradScale);
    },
    sgd(p, g, buf, lr, momentum, weightDecay, nesterov, gradScale) {
      n.sgd(p, g, buf, lr, momentum, weightDecay, nesterov, gradScale);
    },
  };
  return backend;
}
