// Op benchmarks: each case runs through the engine's public ops and is reported beside
// its ceiling measured in the same run: raw OpenBLAS sgemm of the same size for
// compute-bound cases, a large memory copy for memory-bound ones. Medians of repeats,
// since these machines are noisy.

import * as E from './index.js';
import { Tensor } from './tensor.js';

export interface Ceilings {
  /** Seconds for one raw sgemm C[M,N] = A[M,K] B[K,N] (transB: B given as [N,K]), median over reps. */
  sgemmSeconds(M: number, N: number, K: number, transA: boolean, transB: boolean, reps: number): number;
  /** Bandwidth of a large memory copy, counting bytes read plus bytes written, GB/s. */
  copyGBps(): number;
}

export type BenchLine =
  | { op: string; shape: string; ms: number; gflops: number; ceiling_gflops: number; ratio: number; backend: string; threads: number; isa: string }
  | { op: string; shape: string; ms: number; gbps: number; ceiling_gbps: number; ratio: number; backend: string; threads: number; isa: string };

function rand(shape: number[], seed: number, scale = 1): Tensor {
  const t = E.zeros(shape);
  new E.Rng(seed).fillUniform(t.f, -scale, scale);
  return t;
}

/** Median wall time of fn in milliseconds, after warm-up, over at least `reps` runs and ~minMs total. */
export function timeMs(fn: () => void, reps = 7, minMs = 150): number {
  fn();
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < reps || (performance.now() - start < minMs && times.length < 200)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export function* benchOps(ceil: Ceilings, opts: { quick?: boolean; only?: string } = {}): Generator<BenchLine> {
  const b = E.backend();
  // --only: skip whole sections whose op names do not contain the substring (their ceilings too).
  const want = (...ops: string[]) => !opts.only || ops.some((op) => op.includes(opts.only as string));
  // Outputs come from a buffer pool, as in a training step: otherwise every call pays the
  // page faults of a fresh output buffer, which at DRAM sizes costs more than the kernel.
  // (Inputs need no gradient, so no graph is recorded and the pool is allowed to serve.)
  const pool = new E.BufferPool();
  const pooled = (fn: () => unknown) => () => { pool.run(fn); };
  const meta = { backend: b.name, threads: b.threads(), isa: b.isa() };
  const bw = want('layer_norm', 'rms_norm', 'softmax', 'gelu', 'silu', 'cross_entropy', 'adamw') ? ceil.copyGBps() : NaN;

  function compute(op: string, shape: string, flops: number, fn: () => void, ceilingSeconds: number): BenchLine {
    const ms = timeMs(pooled(fn));
    const gflops = flops / (ms * 1e6);
    const ceiling = flops / (ceilingSeconds * 1e9);
    return { op, shape, ms: round(ms, 4), gflops: round(gflops), ceiling_gflops: round(ceiling), ratio: round(gflops / ceiling, 3), ...meta };
  }
  function memory(op: string, shape: string, bytes: number, fn: () => void): BenchLine {
    const ms = timeMs(pooled(fn));
    const gbps = bytes / (ms * 1e6);
    return { op, shape, ms: round(ms, 4), gbps: round(gbps), ceiling_gbps: round(bw), ratio: round(gbps / bw, 3), ...meta };
  }

  // Square matmuls through the engine against raw sgemm of the same size.
  for (const n of !want('matmul') ? [] : opts.quick ? [64, 256] : [64, 128, 256, 512, 1024]) {
    const a = rand([n, n], 1), w = rand([n, n], 2);
    const reps = n >= 512 ? 5 : 20;
    yield compute('matmul', `${n}x${n}x${n}`, 2 * n ** 3, () => E.matmul(a, w), ceil.sgemmSeconds(n, n, n, false, false, reps) );
  }

  // The transformer's skinny products: x[BT, C] W^T (forward), and the two backward forms.
  const skinny: [number, number, number][] = opts.quick ? [[2048, 128, 384]] : [[2048, 128, 384], [2048, 256, 1024], [2048, 1024, 256], [2048, 512, 4096]];
  for (const [M, K, N] of want('matmul_fwd', 'matmul_dx', 'matmul_dw') ? skinny : []) {
    const x = rand([M, K], 3), w = rand([N, K], 4), g = rand([M, N], 5);
    yield compute('matmul_fwd', `${M}x${K} . (${N}x${K})^T`, 2 * M * N * K, () => E.matmul(x, w, { transB: true }), ceil.sgemmSeconds(M, N, K, false, true, 5));
    yield compute('matmul_dx', `${M}x${N} . ${N}x${K}`, 2 * M * N * K, () => E.matmul(g, w), ceil.sgemmSeconds(M, K, N, false, false, 5));
    yield compute('matmul_dw', `(${M}x${N})^T . ${M}x${K}`, 2 * M * N * K, () => E.matmul(g, x, { transA: true }), ceil.sgemmSeconds(N, K, M, true, false, 5));
  }

  // Fused causal attention, forward and forward+backward. FLOPs count the causal half of
  // QK^T and PV (4 B H T^2 D / 2); the ceiling is sgemm on the same work as one T x T x D product per head.
  for (const [B, H, T, D] of (!want('attention_fwd', 'attention_fwd_bwd') ? [] : opts.quick ? [[4, 4, 64, 16]] : [[32, 4, 64, 16], [16, 4, 128, 32], [8, 8, 256, 32]]) as [number, number, number, number][]) {
    const q = rand([B, T, H, D], 6), k = rand([B, T, H, D], 7), v = rand([B, T, H, D], 8);
    const flops = 2 * B * H * T * T * D;
    const sg = ceil.sgemmSeconds(T, T, D, false, true, 20) * 2 * B * H / 2;
    yield compute('attention_fwd', `B${B} H${H} T${T} D${D}`, flops, () => E.attention(q, k, v), sg);
    const dout = rand([B, T, H, D], 9);
    const qs = [q, k, v].map((t) => t.detach().requireGrad());
    yield compute('attention_fwd_bwd', `B${B} H${H} T${T} D${D}`, flops * 3.5, () => {
      const o = E.attention(qs[0], qs[1], qs[2]);
      o.backward({ grad: dout });
      for (const t of qs) t.grad = null;
    }, sg * 3.5);
  }

  // Memory-bound fused row kernels: bytes = what must be read and written once.
  for (const [N, C] of (!want('layer_norm_fwd', 'rms_norm_fwd', 'softmax_fwd', 'log_softmax_fwd', 'gelu_erf_fwd', 'gelu_tanh_fwd', 'bias_gelu_erf_fwd', 'silu_fwd', 'layer_norm_bwd', 'rms_norm_bwd', 'softmax_bwd', 'log_softmax_bwd', 'gelu_erf_bwd') ? [] : opts.quick ? [[2048, 256]] : [[2048, 128], [2048, 512], [8192, 1024]]) as [number, number][]) {
    const x = rand([N, C], 10), w = rand([C], 11), bias = rand([C], 12);
    yield memory('layer_norm_fwd', `${N}x${C}`, 8 * N * C, () => E.layerNorm(x, w, bias));
    yield memory('rms_norm_fwd', `${N}x${C}`, 8 * N * C, () => E.rmsNorm(x, w));
    yield memory('softmax_fwd', `${N}x${C}`, 8 * N * C, () => E.softmax(x));
    yield memory('log_softmax_fwd', `${N}x${C}`, 8 * N * C, () => E.logSoftmax(x));
    yield memory('gelu_erf_fwd', `${N}x${C}`, 8 * N * C, () => E.gelu(x, 'none'));
    yield memory('gelu_tanh_fwd', `${N}x${C}`, 8 * N * C, () => E.gelu(x, 'tanh'));
    // Fused bias + GELU: reads x and the bias, writes the pre-activation and the output.
    yield memory('bias_gelu_erf_fwd', `${N}x${C}`, 12 * N * C, () => E.biasAct(x, bias, 'gelu_erf'));
    yield memory('silu_fwd', `${N}x${C}`, 8 * N * C, () => E.silu(x));
    const xs = x.detach().requireGrad(), dy = rand([N, C], 13);
    // Backwards: reads the saved input or output and dy, writes dx.
    const bwd = (op: string, f: (t: Tensor) => Tensor) => memory(op, `${N}x${C}`, 12 * N * C, (() => {
      const y = f(xs);
      return () => { y.backward({ grad: dy, retainGraph: true }); xs.grad = null; };
    })());
    yield bwd('layer_norm_bwd', (t) => E.layerNorm(t, null, null));
    yield bwd('rms_norm_bwd', (t) => E.rmsNorm(t, null));
    yield bwd('softmax_bwd', (t) => E.softmax(t));
    yield bwd('log_softmax_bwd', (t) => E.logSoftmax(t));
    yield bwd('gelu_erf_bwd', (t) => E.gelu(t, 'none'));
  }
  for (const [N, V] of (!want('cross_entropy_fwd', 'cross_entropy_fwd_bwd') ? [] : opts.quick ? [[2048, 256]] : [[2048, 256], [2048, 4096], [4096, 16384]]) as [number, number][]) {
    const logits = rand([N, V], 14, 3);
    const targets = new Tensor(Int32Array.from({ length: N }, (_, i) => (i * 7919) % V), [N]);
    yield memory('cross_entropy_fwd', `${N}x${V}`, 4 * N * V, () => E.crossEntropy(logits, targets));
    const ls = logits.detach().requireGrad();
    yield memory('cross_entropy_fwd_bwd', `${N}x${V}`, 12 * N * V, () => { E.crossEntropy(ls, targets).backward(); ls.grad = null; });
  }
  for (const n of !want('adamw') ? [] : opts.quick ? [1 << 18] : [1 << 20, 1 << 23]) {
    const p = rand([n], 15), g = rand([n], 16), m = E.zeros([n]), v = E.zeros([n]);
    // Reads p, g, m, v and writes p, m, v.
    yield memory('adamw', `${n}`, 28 * n, () => E.backend().adamw(p.f as Float32Array, g.f as Float32Array, m.f as Float32Array, v.f as Float32Array, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0.1, 0.001, 1));
  }
}
