// The native backend against the reference backend (the oracle), kernel by kernel, on
// fresh random inputs with awkward sizes (1, 3, 7, 129), broadcasting, every attention
// mask kind, doc ids and ignore indices; plus determinism and argument checking.
// Skipped, visibly, when the addon is not built.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import type { AttentionMask, AttentionShape, Backend, BinaryOp, UnaryOp } from '../../src/engine/backend.js';
import { loadNativeBackend, nativeAddon, nativeInfo, nativeLoadError, NATIVE_ISAS, setNativeIsa, setNativeThreads, nativeThreads } from '../../src/engine/native.js';
import { referenceBackend as ref } from '../../src/engine/reference.js';

const nat = loadNativeBackend(ref);

// ---- helpers ------------------------------------------------------------------------

let seed = 12345;
/** mulberry32: a fresh stream per call site, reproducible run to run. */
function rnd(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function uniform(n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rnd();
  return a;
}
function ints(n: number, lo: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + Math.floor(rnd() * (hi - lo));
  return a;
}
const copy = <T extends Float32Array | Int32Array>(a: T): T => a.slice() as T;

/** |got - want| <= atol + rtol * |want| everywhere; NaN matches NaN, inf matches the same inf. */
function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (g === w) continue;
      assert.fail(`${what}[${i}]: got ${g}, want ${w}`);
    }
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) assert.fail(`${what}[${i}]: got ${g}, want ${w} (|diff| ${Math.abs(g - w)})`);
  }
}
function bitwise(what: string, a: Float32Array | Int32Array, b: Float32Array | Int32Array): void {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  assert.equal(x.length, y.length, `${what}: length`);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${what}: not bitwise equal at ${i}: ${a[i]} vs ${b[i]}`);
}
const contiguous = (shape: number[]): number[] => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
  return s;
};
const prod = (s: number[]): number => s.reduce((p, x) => p * x, 1);

if (!nat) {
  const why = nativeLoadError();
  test('native backend', { skip: why.startsWith('addon not built') ? why : `addon not built: ${why}` }, () => {});
} else {
  const N: Backend = nat;

  test('identity and info', () => {
    assert.equal(N.name, 'native');
    assert.ok(N.threads() >= 1);
    assert.match(N.blas(), /OpenBLAS/);
  });

  // Every kernel test runs once per instruction set this CPU supports (native/src/dispatch.cc
  // compiles the kernels for AVX-512, AVX2 and SSE2), each against the same reference.
  const best = nativeInfo().isaBest;
  const isas = NATIVE_ISAS.slice(NATIVE_ISAS.indexOf(best));
  for (const isa of isas) {
    // ---- memory movement ----------------------------------------------------------------

    test(`[${isa}] copyStrided: permutes, offsets, negative and zero strides, int32, float64`, () => {
      setNativeIsa(isa);
      for (const shape of [[1], [7], [3, 7], [2, 3, 129], [4, 1, 5, 3]]) {
        const n = prod(shape);
        const src = uniform(n + 5);
        // reverse the dims of the source view: a full transpose
        const cs = contiguous(shape);
        const srcStrides = cs; // read contiguous
        const perm = shape.map((_, i) => shape.length - 1 - i);
        const outShape = perm.map((p) => shape[p]);
        const oc = contiguous(outShape);
        const dstStrides = shape.map((_, d) => oc[perm.indexOf(d)]);
        const a = new Float32Array(n + 3), b = new Float32Array(n + 3);
        N.copyStrided(src, 5, srcStrides, a, 3, dstStrides, shape);
        ref.copyStrided(src, 5, srcStrides, b, 3, dstStrides, shape);
        bitwise(`transpose ${shape}`, a, b);
      }
      // negative stride (flip) and broadcast (stride 0) source
      const src = uniform(129);
      const a = new Float32Array(3 * 129), b = new Float32Array(3 * 129);
      N.copyStrided(src, 128, [0, -1], a, 0, [129, 1], [3, 129]);
      ref.copyStrided(src, 128, [0, -1], b, 0, [129, 1], [3, 129]);
      bitwise('flip+broadcast', a, b);
      // large enough to be split over threads, inner stride != 1
      const big = uniform(300 * 257);
      const c = new Float32Array(300 * 257), d = new Float32Array(300 * 257);
      N.copyStrided(big, 0, [1, 300], c, 0, [257, 1], [300, 257]);
      ref.copyStrided(big, 0, [1, 300], d, 0, [257, 1], [300, 257]);
      bitwise('big transpose', c, d);
      // int32 and float64 (delegated) copies
      const si = ints(7 * 9, -1000, 1000), di = new Int32Array(63), ri = new Int32Array(63);
      N.copyStrided(si, 0, [1, 7], di, 0, [9, 1], [7, 9]);
      ref.copyStrided(si, 0, [1, 7], ri, 0, [9, 1], [7, 9]);
      assert.deepEqual(di, ri);
      const s64 = Float64Array.from(uniform(12)), d64 = new Float64Array(12), r64 = new Float64Array(12);
      N.copyStrided(s64, 0, [1, 3], d64, 0, [4, 1], [3, 4]);
      ref.copyStrided(s64, 0, [1, 3], r64, 0, [4, 1], [3, 4]);
      assert.deepEqual(d64, r64);
      // head split [B,T,H,D] -> [B,H,T,D]: contiguous runs of D (short, odd and long runs)
      for (const D of [1, 7, 33, 300]) {
        const [B, T, H] = [2, 5, 3], n = B * T * H * D;
        const x = uniform(n), a = new Float32Array(n), b = new Float32Array(n);
        const src = [T * H * D, D, H * D, 1], dst = [H * T * D, T * D, D, 1];
        N.copyStrided(x, 0, src, a, 0, dst, [B, H, T, D]);
        ref.copyStrided(x, 0, src, b, 0, dst, [B, H, T, D]);
        bitwise(`head split D=${D}`, a, b);
        const x8 = Float64Array.from(x), a8 = new Float64Array(n), b8 = new Float64Array(n);
        N.copyStrided(x8, 0, src, a8, 0, dst, [B, H, T, D]);
        ref.copyStrided(x8, 0, src, b8, 0, dst, [B, H, T, D]);
        assert.deepEqual(a8, b8);
      }
      // tiled transposes of 8-byte and 4-byte elements, with an outer batch dim and offsets
      for (const [B, R, C] of [[1, 9, 33], [3, 17, 130], [2, 64, 8]]) {
        const s8 = Float64Array.from(uniform(B * R * C + 2)), e8 = new Float64Array(B * R * C + 1), r8 = new Float64Array(B * R * C + 1);
        N.copyStrided(s8, 2, [R * C, 1, R], e8, 1, [R * C, C, 1], [B, R, C]);
        ref.copyStrided(s8, 2, [R * C, 1, R], r8, 1, [R * C, C, 1], [B, R, C]);
        assert.deepEqual(e8, r8);
        const s4 = ints(B * R * C, -99, 99), e4 = new Int32Array(B * R * C), r4 = new Int32Array(B * R * C);
        N.copyStrided(s4, 0, [R * C, 1, R], e4, 0, [R * C, C, 1], [B, R, C]);
        ref.copyStrided(s4, 0, [R * C, 1, R], r4, 0, [R * C, C, 1], [B, R, C]);
        assert.deepEqual(e4, r4);
      }
      // mixed element types convert values (delegated), never reinterpret bits
      const f = Float32Array.from([1.5, -2.5, 3]), i = new Int32Array(3);
      N.copyStrided(f, 0, [1], i, 0, [1], [3]);
      assert.deepEqual([...i], [1, -2, 3]);
      // empty shape dims are a no-op
      N.copyStrided(src, 0, [1, 1], a, 0, [1, 1], [0, 5]);
    });

    test(`[${isa}] fill, axpy, sumSquares`, () => {
      setNativeIsa(isa);
      for (const n of [1, 7, 129, 100_003]) {
        const f = new Float32Array(n);
        N.fill(f, 0.1);
        assert.ok(f.every((v) => v === Math.fround(0.1)));
        const i = new Int32Array(n);
        N.fill(i, -7);
        assert.ok(i.every((v) => v === -7));
        const x = uniform(n), acc = uniform(n), acc2 = copy(acc);
        N.axpy(-0.37, x, acc);
        ref.axpy(-0.37, x, acc2);
        close(`axpy ${n}`, acc, acc2, 0, 0);
        const s = N.sumSquares(x), r = ref.sumSquares(x);
        assert.ok(Math.abs(s - r) <= 1e-12 * r + 1e-300, `sumSquares ${n}: ${s} vs ${r}`);
      }
      assert.equal(N.sumSquares(new Float32Array(0)), 0);
      const big = new Float32Array(200_000);
      N.fill(big, 1e9 + 0.5);
      assert.equal(big[199_999], Math.fround(1e9 + 0.5));
    });

    // ---- matmul ---------------------------------------------------------------------------

    test(`[${isa}] matmul: transposes, batches, broadcast strides, accumulate, awkward and large sizes`, () => {
      setNativeIsa(isa);
      const sizes: [number, number, number][] = [[1, 1, 1], [3, 7, 129], [129, 3, 7], [7, 129, 3], [64, 65, 66], [300, 257, 129], [17, 520, 40]];
      for (const [M, Nn, K] of sizes) {
        for (const batch of [1, 3]) {
          for (const [sa, sb] of [[M * K, K * Nn], [0, K * Nn], [M * K, 0]]) {
            if (batch === 1 && (sa === 0 || sb === 0)) continue;
            for (const ta of [false, true]) for (const tb of [false, true]) {
              if (M * Nn * K > 1e6 && (ta || tb) && batch > 1) continue; // keep the JS oracle quick
              const a = uniform(Math.max(1, (batch - 1) * sa + M * K)), b = uniform(Math.max(1, (batch - 1) * sb + K * Nn));
              for (const accumulate of [false, true]) {
                const c0 = uniform(batch * M * Nn);
                const c1 = copy(c0), c2 = copy(c0);
                N.matmul(a, b, c1, batch, M, Nn, K, ta, tb, sa, sb, accumulate);
                ref.matmul(a, b, c2, batch, M, Nn, K, ta, tb, sa, sb, accumulate);
                close(`matmul ${M}x${Nn}x${K} b${batch} s${sa},${sb} t${+ta}${+tb} acc${+accumulate}`, c1, c2, 1e-5, 2e-5 * Math.sqrt(K));
              }
            }
          }
        }
      }
      // K = 0: C = 0, or unchanged when accumulating
      const c = uniform(6), c2 = copy(c);
      N.matmul(new Float32Array(0), new Float32Array(0), c, 1, 2, 3, 0, false, false, 0, 0, false);
      assert.ok(c.every((v) => v === 0));
      N.matmul(new Float32Array(0), new Float32Array(0), c2, 1, 2, 3, 0, false, false, 0, 0, true);
      bitwise('K=0 accumulate', c2, c2.slice());
      // many small products (the batch-parallel path)
      const B = 37, a = uniform(B * 16 * 8), b = uniform(B * 8 * 16), x = new Float32Array(B * 256), y = new Float32Array(B * 256);
      N.matmul(a, b, x, B, 16, 16, 8, false, true, 128, 128, false);
      ref.matmul(a, b, y, B, 16, 16, 8, false, true, 128, 128, false);
      close('batched small', x, y, 1e-5, 1e-5);
    });

    // ---- elementwise ----------------------------------------------------------------------

    const binOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'lt', 'gt'];

    test(`[${isa}] binary: every op, same-shape, row/column/scalar broadcast, strided views`, () => {
      setNativeIsa(isa);
      type Case = { shape: number[]; aShape: number[]; bShape: number[]; aStr?: number[] };
      const cases: Case[] = [
        { shape: [1], aShape: [1], bShape: [1] },
        { shape: [7, 129], aShape: [7, 129], bShape: [7, 129] },
        { shape: [7, 129], aShape: [7, 129], bShape: [1, 129] }, // bias add
        { shape: [129, 3], aShape: [129, 3], bShape: [129, 1] }, // per-row scale
        { shape: [3, 7], aShape: [1, 1], bShape: [3, 7] }, // scalar a
        { shape: [3, 4, 5], aShape: [3, 1, 5], bShape: [1, 4, 5] },
        { shape: [2, 3, 1, 7], aShape: [2, 1, 1, 7], bShape: [1, 3, 1, 1] },
        { shape: [64, 520], aShape: [64, 520], bShape: [1, 520] }, // big enough to thread
        { shape: [5, 3], aShape: [3, 5], bShape: [5, 3], aStr: [1, 5] }, // a is a transposed view
      ];
      for (const op of binOps) {
        for (const c of cases) {
          const strides = (s: number[]) => { const cs = contiguous(s); return s.map((d, i) => (d === 1 ? 0 : cs[i])); };
          const aStr = c.aStr ?? strides(c.aShape), bStr = strides(c.bShape);
          const lo = op === 'pow' ? 0.1 : -2;
          const a = uniform(prod(c.aShape), lo, 2), b = uniform(prod(c.bShape), op === 'pow' ? -2 : -2, 2);
          if (op === 'eq') for (let i = 0; i < Math.min(a.length, b.length); i += 2) a[i] = b[i];
          const o1 = new Float32Array(prod(c.shape)), o2 = new Float32Array(prod(c.shape));
          N.binary(op, a, aStr, b, bStr, o1, c.shape);
          ref.binary(op, a, aStr, b, bStr, o2, c.shape);
          close(`${op} ${c.shape} a${c.aShape} b${c.bShape}`, o1, o2, 1e-6, 1e-6);
        }
      }
      // NaN propagation of maximum / minimum, as in the reference
      const a = Float32Array.from([NaN, 1, 2]), b = Float32Array.from([0, NaN, 1]);
      for (const op of ['maximum', 'minimum'] as BinaryOp[]) {
        const o1 = new Float32Array(3), o2 = new Float32Array(3);
        N.binary(op, a, [1], b, [1], o1, [3]);
        ref.binary(op, a, [1], b, [1], o2, [3]);
        close(op, o1, o2, 0, 0);
      }
    });

    const unOps: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'relu', 'gelu_tanh', 'gelu_erf', 'silu', 'abs', 'square', 'reciprocal', 'sin', 'cos'];
    const positive = new Set<UnaryOp>(['log', 'sqrt', 'rsqrt']);

    test(`[${isa}] unary and unaryBackward: every op, awkward sizes`, () => {
      setNativeIsa(isa);
      for (const op of unOps) {
        for (const n of [1, 3, 7, 129, 40_001]) {
          const x = positive.has(op) ? uniform(n, 0.05, 4) : uniform(n, -6, 6);
          if (!positive.has(op) && n > 3) { x[0] = 0; x[1] = -20; x[2] = 20; }
          const y1 = new Float32Array(n), y2 = new Float32Array(n);
          N.unary(op, x, y1);
          ref.unary(op, x, y2);
          close(`${op} ${n}`, y1, y2, 3e-6, 1e-6);
          const dy = uniform(n), d1 = new Float32Array(n), d2 = new Float32Array(n);
          N.unaryBackward(op, x, y2, dy, d1);
          ref.unaryBackward(op, x, y2, dy, d2);
          close(`${op}' ${n}`, d1, d2, 3e-6, 2e-6);
        }
      }
      // special values
      const x = Float32Array.from([-Infinity, Infinity, NaN, -100, 100, -87.5, 88.5]);
      for (const op of ['exp', 'sigmoid', 'silu', 'gelu_tanh', 'gelu_erf', 'tanh'] as UnaryOp[]) {
        const y1 = new Float32Array(x.length), y2 = new Float32Array(x.length);
        N.unary(op, x, y1);
        ref.unary(op, x, y2);
        close(`${op} special`, y1, y2, 3e-6, 1e-37);
      }
    });

    test(`[${isa}] where: broadcasting condition and operands`, () => {
      setNativeIsa(isa);
      for (const [shape, cS, aS, bS] of [
        [[7], [7], [7], [7]],
        [[3, 129], [3, 1], [1, 129], [3, 129]],
        [[2, 3, 7], [1, 3, 7], [2, 3, 7], [1, 1, 1]],
        [[64, 300], [64, 300], [64, 300], [64, 300]],
      ] as number[][][]) {
        const strides = (s: number[]) => { const cs = contiguous(s); return s.map((d, i) => (d === 1 ? 0 : cs[i])); };
        const cond = uniform(prod(cS)).map((v) => (v > 0 ? 1 : 0));
        const a = uniform(prod(aS)), b = uniform(prod(bS));
        const o1 = new Float32Array(prod(shape)), o2 = new Float32Array(prod(shape));
        N.where(cond, strides(cS), a, strides(aS), b, strides(bS), o1, shape);
        ref.where(cond, strides(cS), a, strides(aS), b, strides(bS), o2, shape);
        bitwise(`where ${shape}`, o1, o2);
      }
    });

    // ---- reductions -----------------------------------------------------------------------

    test(`[${isa}] reduce (sum, max) and argmax over [outer, n, inner]`, () => {
      setNativeIsa(isa);
      const shapes = [[1, 1, 1], [3, 7, 1], [2, 129, 3], [1, 100_003, 1], [5, 1, 7], [4, 0, 3], [3, 50_000, 1], [2, 7, 700], [1, 3, 129]];
      for (const [outer, n, inner] of shapes) {
        const x = uniform(outer * n * inner, -3, 3);
        for (const op of ['sum', 'max'] as const) {
          const o1 = new Float32Array(outer * inner), o2 = new Float32Array(outer * inner);
          N.reduce(op, x, o1, outer, n, inner);
          ref.reduce(op, x, o2, outer, n, inner);
          close(`${op} ${outer},${n},${inner}`, o1, o2, 1e-6, 1e-6);
        }
        if (n > 0) {
          if (n > 2) for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) x[(o * n + n - 1) * inner + i] = x[(o * n + 1) * inner + i] = 9; // ties
          const i1 = new Int32Array(outer * inner), i2 = new Int32Array(outer * inner);
          N.argmax(x, i1, outer, n, inner);
          ref.argmax(x, i2, outer, n, inner);
          assert.deepEqual(i1, i2, `argmax ${outer},${n},${inner}`);
        }
      }
      // argmax with NaN (never wins, except at element 0) and -inf, as in the reference
      for (const row of [[NaN, 1, 2], [1, NaN, 3, 3], [-Infinity, -Infinity], [2, NaN], ...[5, 40].map((k) => Array.from({ length: 45 }, (_, i) => (i === k ? NaN : i % 7)))]) {
        const x = Float32Array.from(row), i1 = new Int32Array(1), i2 = new Int32Array(1);
        N.argmax(x, i1, 1, row.length, 1);
        ref.argmax(x, i2, 1, row.length, 1);
        assert.equal(i1[0], i2[0], `argmax [${row}]`);
      }
      // max propagates NaN like the reference, in the vector body and in the tail
      for (const pos of [3, 40]) {
        const x = uniform(45);
        x[pos] = NaN;
        const o = new Float32Array(1);
        N.reduce('max', x, o, 1, 45, 1);
        assert.ok(Number.isNaN(o[0]), `max with NaN at ${pos}`);
        const o3 = new Float32Array(3);
        N.reduce('max', x.subarray(0, 45), o3.subarray(0, 1), 1, 45, 1);
      }
    });

    // ---- row kernels ------------------------------------------------------------------------

    const rowShapes: [number, number][] = [[1, 1], [3, 7], [7, 129], [64, 1000], [1000, 48], [2, 5003]];

    test(`[${isa}] softmax, logSoftmax and their backwards`, () => {
      setNativeIsa(isa);
      for (const [n, c] of rowShapes) {
        const x = uniform(n * c, -8, 8), dy = uniform(n * c);
        const a = new Float32Array(n * c), b = new Float32Array(n * c);
        N.softmax(x, a, n, c); ref.softmax(x, b, n, c);
        close(`softmax ${n}x${c}`, a, b, 1e-5, 1e-7);
        const da = new Float32Array(n * c), db = new Float32Array(n * c);
        N.softmaxBackward(b, dy, da, n, c); ref.softmaxBackward(b, dy, db, n, c);
        close(`softmaxBackward ${n}x${c}`, da, db, 1e-5, 1e-7);
        N.logSoftmax(x, a, n, c); ref.logSoftmax(x, b, n, c);
        close(`logSoftmax ${n}x${c}`, a, b, 1e-6, 1e-5);
        N.logSoftmaxBackward(b, dy, da, n, c); ref.logSoftmaxBackward(b, dy, db, n, c);
        close(`logSoftmaxBackward ${n}x${c}`, da, db, 1e-5, 1e-5);
      }
      // -inf entries (masked logits) are fine
      const x = Float32Array.from([-Infinity, 1, 2, -Infinity, 0, 0, 0]);
      const a = new Float32Array(7), b = new Float32Array(7);
      N.softmax(x, a, 1, 7); ref.softmax(x, b, 1, 7);
      close('softmax -inf', a, b, 1e-6, 1e-7);
    });

    test(`[${isa}] layerNorm and rmsNorm, forward and backward, with and without affine`, () => {
      setNativeIsa(isa);
      for (const [n, c] of [...rowShapes, [3000, 7] as [number, number]]) {
        const x = uniform(n * c, -3, 3).map((v, i) => v + (i % c === 0 ? 5 : 0));
        const w = uniform(c, 0.5, 1.5), b = uniform(c), dy = uniform(n * c);
        for (const [ww, bb] of [[w, b], [null, null], [w, null], [null, b]] as [Float32Array | null, Float32Array | null][]) {
          const o1 = new Float32Array(n * c), o2 = new Float32Array(n * c);
          const m1 = new Float32Array(n), m2 = new Float32Array(n), r1 = new Float32Array(n), r2 = new Float32Array(n);
          N.layerNorm(x, ww, bb, o1, m1, r1, n, c, 1e-5);
          ref.layerNorm(x, ww, bb, o2, m2, r2, n, c, 1e-5);
          const tag = `${n}x${c} w${+!!ww} b${+!!bb}`;
          close(`layerNorm out ${tag}`, o1, o2, 2e-5, 2e-5);
          close(`layerNorm mean ${tag}`, m1, m2, 1e-6, 1e-7);
          close(`layerNorm rstd ${tag}`, r1, r2, 1e-5, 0);
          const dx1 = new Float32Array(n * c), dx2 = new Float32Array(n * c);
          const dw1 = ww ? uniform(c) : null, dw2 = ww ? new Float32Array(c) : null; // dw/db are overwritten
          const db1 = bb ? uniform(c) : null, db2 = bb ? new Float32Array(c) : null;
          N.layerNormBackward(x, ww, m2, r2, dy, dx1, dw1, db1, n, c);
          ref.layerNormBackward(x, ww, m2, r2, dy, dx2, dw2, db2, n, c);
          close(`layerNormBackward dx ${tag}`, dx1, dx2, 1e-4, 1e-4);
          if (dw1 && dw2) close(`layerNormBackward dw ${tag}`, dw1, dw2, 1e-4, 1e-4 * Math.sqrt(n));
          if (db1 && db2) close(`layerNormBackward db ${tag}`, db1, db2, 1e-4, 1e-4 * Math.sqrt(n));
        }
        for (const ww of [w, null]) {
          const o1 = new Float32Array(n * c), o2 = new Float32Array(n * c), r1 = new Float32Array(n), r2 = new Float32Array(n);
          N.rmsNorm(x, ww, o1, r1, n, c, 1e-6);
          ref.rmsNorm(x, ww, o2, r2, n, c, 1e-6);
          close(`rmsNorm ${n}x${c}`, o1, o2, 2e-5, 1e-6);
          close(`rmsNorm rstd ${n}x${c}`, r1, r2, 1e-5, 0);
          const dx1 = new Float32Array(n * c), dx2 = new Float32Array(n * c);
          const dw1 = ww ? uniform(c) : null, dw2 = ww ? new Float32Array(c) : null;
          N.rmsNormBackward(x, ww, r2, dy, dx1, dw1, n, c);
          ref.rmsNormBackward(x, ww, r2, dy, dx2, dw2, n, c);
          close(`rmsNormBackward dx ${n}x${c}`, dx1, dx2, 1e-4, 1e-5);
          if (dw1 && dw2) close(`rmsNormBackward dw ${n}x${c}`, dw1, dw2, 1e-4, 1e-4 * Math.sqrt(n));
        }
      }
    });

    // ---- embeddings and losses --------------------------------------------------------------

    test(`[${isa}] embedding and its deterministic scatter-add backward`, () => {
      setNativeIsa(isa);
      for (const [n, c, v] of [[1, 1, 1], [7, 3, 5], [129, 7, 11], [2000, 300, 50], [5000, 16, 1000], [3, 129, 2]]) {
        const ids = ints(n, 0, v), table = uniform(v * c);
        const o1 = new Float32Array(n * c), o2 = new Float32Array(n * c);
        N.embedding(ids, table, o1, n, c);
        ref.embedding(ids, table, o2, n, c);
        bitwise(`embedding ${n},${c}`, o1, o2);
        const dout = uniform(n * c), acc = uniform(v * c), a1 = copy(acc), a2 = copy(acc);
        N.embeddingBackward(ids, dout, a1, n, c);
        ref.embeddingBackward(ids, dout, a2, n, c);
        close(`embeddingBackward ${n},${c}`, a1, a2, 1e-6, 1e-6);
        // same order of additions as the serial loop: bitwise equal in float32
        const a3 = copy(acc);
        for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) a3[ids[i] * c + j] += dout[i * c + j];
        bitwise(`embeddingBackward order ${n},${c}`, a1, a3);
      }
    });

    test(`[${isa}] crossEntropy forward and backward: weights, ignore index, awkward V`, () => {
      setNativeIsa(isa);
      for (const [n, v] of [[1, 1], [3, 7], [7, 129], [64, 5003], [300, 65]]) {
        for (const ignoreIndex of [-100, 0]) {
          for (const withW of [false, true]) {
            const logits = uniform(n * v, -6, 6);
            const targets = ints(n, 0, v);
            if (n > 2) targets[1] = ignoreIndex < 0 ? ignoreIndex : targets[1];
            const weights = withW ? uniform(n, 0, 2) : null;
            const l1 = new Float32Array(n), l2 = new Float32Array(n), s1 = new Float32Array(n), s2 = new Float32Array(n);
            N.crossEntropy(logits, targets, weights, ignoreIndex, l1, s1, n, v);
            ref.crossEntropy(logits, targets, weights, ignoreIndex, l2, s2, n, v);
            const tag = `${n}x${v} ignore${ignoreIndex} w${+withW}`;
            close(`crossEntropy loss ${tag}`, l1, l2, 1e-5, 1e-5);
            close(`crossEntropy lse ${tag}`, s1, s2, 1e-6, 1e-6);
            const dloss = uniform(n), g1 = uniform(n * v), g2 = new Float32Array(n * v);
            N.crossEntropyBackward(logits, targets, weights, ignoreIndex, s2, dloss, g1, n, v);
            ref.crossEntropyBackward(logits, targets, weights, ignoreIndex, s2, dloss, g2, n, v);
            close(`crossEntropyBackward ${tag}`, g1, g2, 2e-5, 1e-7);
          }
        }
      }
    });

    // ---- attention and rope -----------------------------------------------------------------

    function blockMask(T: number, blockSize: number): AttentionMask {
      const nKeyBlocks = Math.ceil(T / blockSize);
      const layout = new Uint8Array(nKeyBlocks * nKeyBlocks);
      for (let q = 0; q < nKeyBlocks; q++) for (let k = 0; k <= q; k++) layout[q * nKeyBlocks + k] = k === q || k === 0 || rnd() < 0.4 ? 1 : 0;
      if (nKeyBlocks > 2) layout[2 * nKeyBlocks + 2] = layout[2 * nKeyBlocks + 0] = layout[2 * nKeyBlocks + 1] = 0; // a fully masked block row
      return { kind: 'block', blockSize, layout, nKeyBlocks };
    }

    function checkAttention(B: number, H: number, Tq: number, Tk: number, D: number, mask: AttentionMask, docs: boolean, tag: string): void {
      let docQ: Int32Array | null = null, docK: Int32Array | null = null;
      if (docs) {
        docK = new Int32Array(B * Tk);
        for (let b = 0; b < B; b++) { let d = 0; for (let j = 0; j < Tk; j++) { if (rnd() < 0.08) d++; docK[b * Tk + j] = d; } }
        docQ = new Int32Array(B * Tq);
        for (let b = 0; b < B; b++) for (let i = 0; i < Tq; i++) docQ[b * Tq + i] = docK[b * Tk + Tk - Tq + i] + (i % 5 === 4 ? 100 : 0); // some rows see nothing
      }
      const s: AttentionShape = { B, H, Tq, Tk, D, scale: 1 / Math.sqrt(Math.max(D, 1)), mask, docQ, docK };
      const q = uniform(B * Tq * H * D, -2, 2), k = uniform(B * Tk * H * D, -2, 2), v = uniform(B * Tk * H * D);
      const o1 = new Float32Array(q.length), o2 = new Float32Array(q.length);
      const l1 = new Float32Array(B * H * Tq), l2 = new Float32Array(B * H * Tq);
      N.attention(q, k, v, o1, l1, s);
      ref.attention(q, k, v, o2, l2, s);
      close(`attention out ${tag}`, o1, o2, 2e-5, 2e-6);
      close(`attention lse ${tag}`, l1, l2, 2e-6, 2e-6);
      const dout = uniform(q.length);
      const g1 = [uniform(q.length), uniform(k.length), uniform(v.length)]; // outputs are overwritten
      const g2 = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)];
      N.attentionBackward(q, k, v, o2, l2, dout, g1[0], g1[1], g1[2], s);
      ref.attentionBackward(q, k, v, o2, l2, dout, g2[0], g2[1], g2[2], s);
      for (let i = 0; i < 3; i++) close(`attention d${'qkv'[i]} ${tag}`, g1[i], g2[i], 1e-4, 2e-5);
    }

    test(`[${isa}] attention forward/backward: every mask kind, doc ids, decode shapes, awkward sizes`, () => {
      setNativeIsa(isa);
      const masks = (T: number): [string, AttentionMask][] => [
        ['none', { kind: 'none' }], ['causal', { kind: 'causal' }],
        ['sliding1', { kind: 'sliding', window: 1 }], ['sliding5', { kind: 'sliding', window: 5 }],
        ['block4', blockMask(T, 4)], ['block3', blockMask(T, 3)],
      ];
      // B*H >= 16 takes the backward's one-pass-per-head path, fewer heads the dQ and dK/dV passes.
      const shapes: [number, number, number, number, number][] = [
        [1, 1, 1, 1, 1], [2, 3, 7, 7, 3], [1, 2, 129, 129, 16], [2, 1, 1, 65, 8], [1, 2, 5, 70, 7], [1, 1, 130, 130, 33],
        [4, 4, 70, 70, 20],
      ];
      for (const [B, H, Tq, Tk, D] of shapes) {
        for (const [name, mask] of masks(Tk)) {
          for (const docs of [false, true]) checkAttention(B, H, Tq, Tk, D, mask, docs, `${B},${H},${Tq},${Tk},${D} ${name} docs${+docs}`);
        }
      }
    });

    test(`[${isa}] attention: long sequences with sliding windows and sparse blocks (tiles skipped)`, () => {
      setNativeIsa(isa);
      for (const [B, H] of [[1, 2], [4, 4]]) {
        checkAttention(B, H, 300, 300, 16, { kind: 'sliding', window: 20 }, false, `${B}x${H} T300 sliding20`);
        checkAttention(B, H, 300, 300, 16, { kind: 'sliding', window: 70 }, true, `${B}x${H} T300 sliding70 docs`);
        checkAttention(B, H, 300, 300, 16, blockMask(300, 32), false, `${B}x${H} T300 block32`);
        checkAttention(B, H, 200, 300, 24, blockMask(300, 64), false, `${B}x${H} Tq200 Tk300 block64`);
      }
    });

    test(`[${isa}] attention on q, k, v read in place from one [B, T, 3C] tensor (row strides)`, () => {
      setNativeIsa(isa);
      for (const [B, H, T, D, mask] of [[2, 3, 37, 8, { kind: 'causal' }], [4, 4, 70, 20, { kind: 'sliding', window: 9 }], [1, 2, 129, 16, blockMask(129, 32)]] as [number, number, number, number, AttentionMask][]) {
        const C = H * D, n = B * T * C;
        const qkv = uniform(3 * n, -2, 2), dout = uniform(n);
        const strided: AttentionShape = { B, H, Tq: T, Tk: T, D, scale: 0.3, mask, qRowStride: 3 * C, kvRowStride: 3 * C };
        const parts = [0, 1, 2].map((p) => { const x = new Float32Array(n); for (let r = 0; r < B * T; r++) x.set(qkv.subarray(r * 3 * C + p * C, r * 3 * C + (p + 1) * C), r * C); return x; });
        const contiguous: AttentionShape = { ...strided, qRowStride: undefined, kvRowStride: undefined };
        const o1 = new Float32Array(n), l1 = new Float32Array(B * H * T), o2 = new Float32Array(n), l2 = new Float32Array(B * H * T);
        N.attention(qkv, qkv.subarray(C), qkv.subarray(2 * C), o1, l1, strided);
        N.attention(parts[0], parts[1], parts[2], o2, l2, contiguous);
        bitwise(`strided out ${B},${H},${T},${D}`, o1, o2);
        bitwise(`strided lse ${B},${H},${T},${D}`, l1, l2);
        const o3 = new Float32Array(n), l3 = new Float32Array(B * H * T);
        ref.attention(qkv, qkv.subarray(C), qkv.subarray(2 * C), o3, l3, strided);
        close(`strided out vs reference ${B},${H},${T},${D}`, o1, o3, 2e-5, 2e-6);
        const d1 = uniform(3 * n); // every element is overwritten
        N.attentionBackward(qkv, qkv.subarray(C), qkv.subarray(2 * C), o1, l1, dout, d1, d1.subarray(C), d1.subarray(2 * C), strided);
        const g = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
        N.attentionBackward(parts[0], parts[1], parts[2], o2, l2, dout, g[0], g[1], g[2], contiguous);
        const d2 = new Float32Array(3 * n);
        for (let r = 0; r < B * T; r++) for (let p = 0; p < 3; p++) d2.set(g[p].subarray(r * C, (r + 1) * C), r * 3 * C + p * C);
        bitwise(`strided dqkv ${B},${H},${T},${D}`, d1, d2);
        const d3 = uniform(3 * n);
        ref.attentionBackward(qkv, qkv.subarray(C), qkv.subarray(2 * C), o1, l1, dout, d3, d3.subarray(C), d3.subarray(2 * C), strided);
        close(`strided dqkv vs reference ${B},${H},${T},${D}`, d1, d3, 1e-4, 2e-5);
      }
      // a row stride shorter than a row, or arrays too short for it, are refused
      const q = new Float32Array(64), l = new Float32Array(4);
      const sh: AttentionShape = { B: 1, H: 1, Tq: 4, Tk: 4, D: 4, scale: 1, mask: { kind: 'causal' } };
      assert.throws(() => N.attention(q, q, q, new Float32Array(16), l, { ...sh, qRowStride: 3 }), RangeError);
      assert.throws(() => N.attention(q, q, q, new Float32Array(16), l, { ...sh, kvRowStride: 21 }), RangeError); // 3 * 21 + 4 > 64
    });

    test(`[${isa}] attention backward: one pass per head gives the bits of the dQ and dK/dV passes`, () => {
      setNativeIsa(isa);
      // 16 x 2 heads in one call take the per-head pass; one batch row at a time (2 heads) the two passes.
      const B = 16, H = 2, T = 100, D = 20;
      for (const mask of [{ kind: 'causal' }, { kind: 'sliding', window: 9 }, blockMask(T, 8)] as AttentionMask[]) {
        const q = uniform(B * T * H * D, -2, 2), k = uniform(q.length, -2, 2), v = uniform(q.length), dout = uniform(q.length);
        const docs = new Int32Array(B * T).map((_, i) => Math.floor((i % T) / 37));
        const whole: AttentionShape = { B, H, Tq: T, Tk: T, D, scale: 0.3, mask, docQ: docs, docK: docs };
        const o = new Float32Array(q.length), l = new Float32Array(B * H * T);
        N.attention(q, k, v, o, l, whole);
        const g = [new Float32Array(q.length), new Float32Array(q.length), new Float32Array(q.length)];
        N.attentionBackward(q, k, v, o, l, dout, g[0], g[1], g[2], whole);
        const n = T * H * D;
        for (let b = 0; b < B; b++) {
          const sl = (x: Float32Array) => x.subarray(b * n, (b + 1) * n);
          const part: AttentionShape = { ...whole, B: 1, docQ: docs.subarray(b * T, (b + 1) * T), docK: docs.subarray(b * T, (b + 1) * T) };
          const o1 = new Float32Array(n), l1 = new Float32Array(H * T);
          N.attention(sl(q), sl(k), sl(v), o1, l1, part);
          bitwise(`${mask.kind} out row ${b}`, o1, sl(o));
          bitwise(`${mask.kind} lse row ${b}`, l1, l.subarray(b * H * T, (b + 1) * H * T));
          const g1 = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
          N.attentionBackward(sl(q), sl(k), sl(v), o1, l1, sl(dout), g1[0], g1[1], g1[2], part);
          for (let i = 0; i < 3; i++) bitwise(`${mask.kind} d${'qkv'[i]} row ${b}`, g1[i], sl(g[i]));
        }
      }
    });

    test(`[${isa}] rope forward and inverse, pos0 > 0, in place`, () => {
      setNativeIsa(isa);
      for (const [B, T, H, D, pos0] of [[1, 1, 1, 2, 0], [2, 7, 3, 8, 5], [1, 129, 2, 34, 1], [3, 64, 4, 64, 0]]) {
        const maxPos = pos0 + T + 3, half = D / 2;
        const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
        for (let p = 0; p < maxPos; p++) for (let i = 0; i < half; i++) { const a = p / 10000 ** (i / half); cos[p * half + i] = Math.cos(a); sin[p * half + i] = Math.sin(a); }
        const x = uniform(B * T * H * D);
        for (const inverse of [false, true]) {
          const o1 = new Float32Array(x.length), o2 = new Float32Array(x.length);
          N.rope(x, cos, sin, o1, B, T, H, D, pos0, inverse);
          ref.rope(x, cos, sin, o2, B, T, H, D, pos0, inverse);
          close(`rope ${B},${T},${H},${D} inv${+inverse}`, o1, o2, 1e-6, 1e-6);
          const inPlace = copy(x);
          N.rope(inPlace, cos, sin, inPlace, B, T, H, D, pos0, inverse);
          bitwise('rope in place', inPlace, o1);
        }
      }
    });

    // ---- optimizers -------------------------------------------------------------------------

    test(`[${isa}] adamw and sgd (with and without nesterov)`, () => {
      setNativeIsa(isa);
      for (const n of [1, 7, 129, 70_001]) {
        const p = uniform(n), g = uniform(n), m = uniform(n, -0.1, 0.1), v = uniform(n, 0, 0.01);
        const [p1, m1, v1, p2, m2, v2] = [copy(p), copy(m), copy(v), copy(p), copy(m), copy(v)];
        N.adamw(p1, g, m1, v1, 1e-3, 0.9, 0.95, 1e-8, 0.1, 1 - 0.9 ** 3, 1 - 0.95 ** 3, 0.7);
        ref.adamw(p2, g, m2, v2, 1e-3, 0.9, 0.95, 1e-8, 0.1, 1 - 0.9 ** 3, 1 - 0.95 ** 3, 0.7);
        close(`adamw p ${n}`, p1, p2, 1e-6, 1e-7); close(`adamw m ${n}`, m1, m2, 1e-6, 1e-8); close(`adamw v ${n}`, v1, v2, 1e-6, 1e-10);
        for (const nesterov of [false, true]) {
          const [q1, b1, q2, b2] = [copy(p), copy(m), copy(p), copy(m)];
          N.sgd(q1, g, b1, 0.01, 0.9, 1e-4, nesterov, 0.5);
          ref.sgd(q2, g, b2, 0.01, 0.9, 1e-4, nesterov, 0.5);
          close(`sgd p ${n} nesterov${+nesterov}`, q1, q2, 1e-6, 1e-7); close(`sgd buf ${n}`, b1, b2, 1e-6, 1e-7);
        }
      }
    });

    // ---- float64 delegation, determinism, argument checking -------------------------------------

    test(`[${isa}] Float64 inputs are delegated to the reference backend`, () => {
      setNativeIsa(isa);
      const x = Float64Array.from(uniform(3 * 7)), a = new Float64Array(21), b = new Float64Array(21);
      N.softmax(x, a, 3, 7); ref.softmax(x, b, 3, 7);
      assert.deepEqual(a, b);
      const q = Float64Array.from(uniform(2 * 5 * 2 * 4)), o1 = new Float64Array(q.length), o2 = new Float64Array(q.length);
      const l1 = new Float64Array(2 * 2 * 5), l2 = new Float64Array(2 * 2 * 5);
      const s: AttentionShape = { B: 2, H: 2, Tq: 5, Tk: 5, D: 4, scale: 0.5, mask: { kind: 'causal' } };
      N.attention(q, q, q, o1, l1, s); ref.attention(q, q, q, o2, l2, s);
      assert.deepEqual(o1, o2);
      const m = Float64Array.from(uniform(12)), c1 = new Float64Array(9), c2 = new Float64Array(9);
      N.matmul(m, m, c1, 1, 3, 3, 4, false, true, 0, 0, false); ref.matmul(m, m, c2, 1, 3, 3, 4, false, true, 0, 0, false);
      assert.deepEqual(c1, c2);
    });

    test(`[${isa}] determinism: two runs are bitwise equal`, () => {
      setNativeIsa(isa);
      const run = (): Float32Array[] => {
        seed = 777;
        const outs: Float32Array[] = [];
        const a = uniform(300 * 520), b = uniform(520 * 257), c = new Float32Array(300 * 257);
        N.matmul(a, b, c, 1, 300, 257, 520, false, false, 0, 0, false); outs.push(c);
        const x = uniform(512 * 768), dy = uniform(512 * 768), w = uniform(768);
        const o = new Float32Array(x.length), m = new Float32Array(512), r = new Float32Array(512);
        N.layerNorm(x, w, w, o, m, r, 512, 768, 1e-5); outs.push(o);
        const dx = new Float32Array(x.length), dw = new Float32Array(768), db = new Float32Array(768);
        N.layerNormBackward(x, w, m, r, dy, dx, dw, db, 512, 768); outs.push(dx, dw, db);
        const red = new Float32Array(768); N.reduce('sum', x, red, 1, 512, 768); outs.push(red);
        const red2 = new Float32Array(1); N.reduce('sum', x, red2, 1, x.length, 1); outs.push(red2);
        outs.push(Float32Array.of(N.sumSquares(x)));
        const s: AttentionShape = { B: 2, H: 4, Tq: 130, Tk: 130, D: 32, scale: 0.17, mask: { kind: 'causal' } };
        const q = uniform(2 * 130 * 4 * 32), k = uniform(q.length), v = uniform(q.length);
        const ao = new Float32Array(q.length), al = new Float32Array(2 * 4 * 130);
        N.attention(q, k, v, ao, al, s); outs.push(ao, al);
        const g = [new Float32Array(q.length), new Float32Array(q.length), new Float32Array(q.length)];
        N.attentionBackward(q, k, v, ao, al, uniform(q.length), g[0], g[1], g[2], s); outs.push(...g);
        const ids = ints(4096, 0, 100), table = new Float32Array(100 * 96);
        N.embeddingBackward(ids, uniform(4096 * 96), table, 4096, 96); outs.push(table);
        const logits = uniform(256 * 1000), tg = ints(256, 0, 1000), loss = new Float32Array(256), lse = new Float32Array(256);
        N.crossEntropy(logits, tg, null, -1, loss, lse, 256, 1000); outs.push(loss, lse);
        return outs;
      };
      const r1 = run(), r2 = run();
      r1.forEach((x, i) => bitwise(`run ${i}`, x, r2[i]));
    });

    test(`[${isa}] thread count: set/get; results other than matmul do not depend on it`, () => {
      setNativeIsa(isa);
      const before = nativeThreads();
      try {
        seed = 99;
        const x = uniform(1000 * 300), dy = uniform(1000 * 300), w = uniform(300);
        const m = new Float32Array(1000), r = new Float32Array(1000);
        N.layerNorm(x, w, null, new Float32Array(x.length), m, r, 1000, 300, 1e-5);
        const outs = (): Float32Array[] => {
          const dw = new Float32Array(300), db = new Float32Array(300), s = new Float32Array(300), t = new Float32Array(1);
          N.layerNormBackward(x, w, m, r, dy, new Float32Array(x.length), dw, db, 1000, 300);
          N.reduce('sum', x, s, 1, 1000, 300);
          N.reduce('sum', x, t, 1, x.length, 1);
          const sh: AttentionShape = { B: 2, H: 3, Tq: 70, Tk: 70, D: 16, scale: 0.25, mask: { kind: 'causal' } };
          const q = x.subarray(0, 2 * 70 * 3 * 16), o = new Float32Array(q.length), l = new Float32Array(2 * 3 * 70);
          const g = [new Float32Array(q.length), new Float32Array(q.length), new Float32Array(q.length)];
          N.attention(q, q, q, o, l, sh);
          N.attentionBackward(q, q, q, o, l, dy.subarray(0, q.length), g[0], g[1], g[2], sh);
          const table = new Float32Array(50 * 300);
          N.embeddingBackward(Int32Array.from({ length: 1000 }, (_, i) => (i * 7) % 50), dy, table, 1000, 300);
          return [dw, db, s, t, Float32Array.of(N.sumSquares(x)), o, l, ...g, table];
        };
        assert.equal(setNativeThreads(1), 1);
        assert.equal(N.threads(), 1);
        const one = outs();
        setNativeThreads(3);
        assert.equal(N.threads(), 3);
        const three = outs();
        one.forEach((a, i) => bitwise(`threads 1 vs 3, output ${i}`, a, three[i]));
        // resizing the pool between kernels, many times, never breaks a result
        const xs = uniform(64 * 1024), want = new Float32Array(xs.length), got = new Float32Array(xs.length);
        N.softmax(xs, want, 64, 1024);
        for (let i = 0; i < 200; i++) {
          setNativeThreads(1 + ((i * 7) % 5));
          got.fill(0);
          N.softmax(xs, got, 64, 1024);
          bitwise(`softmax after resize ${i}`, got, want);
        }
      } finally {
        setNativeThreads(before);
      }
      assert.equal(N.threads(), before);
    });

  }
  setNativeIsa(best);

  // The accuracy native/README.md documents for the vector math, measured on 2^18 points
  // per range against float64, on every ISA (max error in float32 ulps, or relative).
  test('vector math accuracy on every ISA: exp, tanh, sigmoid, silu (ulps), gelu_erf (relative)', () => {
    const ulps = (a: number, b: number): number => {
      const u = new Int32Array(Float32Array.of(a, b).buffer);
      const key = (i: number): number => (i < 0 ? -(i & 0x7fffffff) : i);
      return Math.abs(key(u[0]) - key(u[1]));
    };
    // erfc in float64 without cancellation: series for |x| < 3, continued fraction above.
    const erfc = (x: number): number => {
      const ax = Math.abs(x);
      let e: number;
      if (ax < 3) {
        let term = ax, sum = ax;
        for (let k = 1; k < 200 && Math.abs(term) > 1e-19; k++) { term *= -ax * ax / k; sum += term / (2 * k + 1); }
        e = 1 - (2 / Math.sqrt(Math.PI)) * sum;
      } else {
        let f = 0;
        for (let k = 80; k >= 1; k--) f = k / 2 / (ax + f);
        e = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
      }
      return x < 0 ? 2 - e : e;
    };
    const n = 1 << 18;
    const check = (op: UnaryOp, lo: number, hi: number, f: (x: number) => number, maxUlps: number, maxRel: number): void => {
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = lo + ((hi - lo) * i) / n;
      const y = new Float32Array(n);
      N.unary(op, x, y);
      for (let i = 0; i < n; i++) {
        const want = f(x[i]);
        if (want === 0 || !Number.isFinite(want)) continue;
        const u = ulps(y[i], Math.fround(want)), rel = Math.abs(y[i] - want) / Math.abs(want);
        if (u > maxUlps && rel > maxRel) assert.fail(`${nativeInfo().isa} ${op}(${x[i]}) = ${y[i]}, want ${want}: ${u} ulp, relative ${rel}`);
      }
    };
    try {
      for (const isa of isas) {
        setNativeIsa(isa);
        check('exp', -87, 88.7, Math.exp, 1, 0);
        check('tanh', -10, 10, Math.tanh, 1, 0);
        check('sigmoid', -30, 30, (v) => 1 / (1 + Math.exp(-v)), 2, 0);
        check('silu', -20, 20, (v) => v / (1 + Math.exp(-v)), 3, 0);
        check('gelu_erf', -3, 3, (v) => 0.5 * v * erfc(-v / Math.SQRT2), 0, 1e-6);
        check('gelu_erf', -12, 12, (v) => 0.5 * v * erfc(-v / Math.SQRT2), 0, 1e-5);
      }
    } finally {
      setNativeIsa(best);
    }
  });

  test('biasUnary (fused bias + activation) on every ISA: against the reference, in place, and against bias add then unary', () => {
    try {
      for (const isa of isas) {
        setNativeIsa(isa);
        for (const op of ['gelu_tanh', 'gelu_erf', 'silu', 'relu'] as const) {
          for (const [rows, C] of [[1, 1], [3, 7], [5, 129], [300, 512]]) {
            const x = uniform(rows * C, -6, 6), b = uniform(C);
            const pre1 = new Float32Array(x.length), out1 = new Float32Array(x.length);
            const pre2 = new Float32Array(x.length), out2 = new Float32Array(x.length);
            N.biasUnary(op, x, b, pre1, out1, rows, C);
            ref.biasUnary(op, x, b, pre2, out2, rows, C);
            bitwise(`${isa} ${op} pre ${rows}x${C}`, pre1, pre2);
            close(`${isa} ${op} out ${rows}x${C}`, out1, out2, 3e-6, 1e-6);
            // the same bits as the unfused pair on this ISA
            const h = new Float32Array(x.length), y = new Float32Array(x.length);
            N.binary('add', x, [C, 1], b, [0, 1], h, [rows, C]);
            N.unary(op, h, y);
            bitwise(`${isa} ${op} fused vs unfused ${rows}x${C}`, out1, y);
            const inPlace = x.slice(), out3 = new Float32Array(x.length);
            N.biasUnary(op, inPlace, b, inPlace, out3, rows, C);
            bitwise(`${isa} ${op} in place`, inPlace, pre1);
            bitwise(`${isa} ${op} in place out`, out3, out1);
          }
        }
      }
    } finally {
      setNativeIsa(best);
    }
    assert.throws(() => nativeAddon().biasUnary('exp', new Float32Array(4), new Float32Array(2), new Float32Array(4), new Float32Array(4), 2, 2), /gelu_tanh, gelu_erf, silu or relu/);
    assert.throws(() => nativeAddon().biasUnary('silu', new Float32Array(4), new Float32Array(1), new Float32Array(4), new Float32Array(4), 2, 2), /bias/);
  });

  test('adamwMulti on every ISA: bitwise the per-tensor adamw, one call for all tensors', () => {
    const sizes = [1, 7, 40_001, 3, 70_000, 16];
    try {
      for (const isa of isas) {
        setNativeIsa(isa);
        for (let t = 1; t <= 3; t++) {
          const mk = () => sizes.map((n) => ({ p: uniform(n), g: uniform(n), m: uniform(n, 0, 0.1), v: uniform(n, 0, 0.01) }));
          seed = 4242 + t;
          const a = mk();
          seed = 4242 + t;
          const b = mk();
          const lrs = sizes.map((_, i) => 1e-3 * (i + 1)), wds = sizes.map((_, i) => (i % 2 ? 0 : 0.1));
          const bc1 = 1 - 0.9 ** t, bc2 = 1 - 0.999 ** t;
          a.forEach((q, i) => N.adamw(q.p, q.g, q.m, q.v, lrs[i], 0.9, 0.999, 1e-8, wds[i], bc1, bc2, 0.5));
          N.adamwMulti(b.map((q, i) => ({ ...q, lr: lrs[i], weightDecay: wds[i] })), 0.9, 0.999, 1e-8, bc1, bc2, 0.5);
          a.forEach((q, i) => {
            bitwise(`${isa} p[${i}]`, b[i].p, q.p);
            bitwise(`${isa} m[${i}]`, b[i].m, q.m);
            bitwise(`${isa} v[${i}]`, b[i].v, q.v);
          });
        }
      }
    } finally {
      setNativeIsa(best);
    }
    const raw = nativeAddon(), f = new Float32Array(4), d = new Float64Array(1);
    assert.throws(() => raw.adamwMulti([f], [f], [f], [new Float32Array(3)], d, d, 0.9, 0.999, 1e-8, 1, 1, 1), /v\[0\] has 3 elements/);
    assert.throws(() => raw.adamwMulti([f], [f], [f], [f, f], d, d, 0.9, 0.999, 1e-8, 1, 1, 1), /v has 2 arrays/);
    assert.throws(() => raw.adamwMulti([f], [f], [f], [f], new Float64Array(2), d, 0.9, 0.999, 1e-8, 1, 1, 1), /lrs/);
  });

  test('setNativeIsa: names the ISA in use, refuses unknown names and ISAs the CPU lacks', () => {
    try {
      for (const isa of isas) {
        assert.equal(setNativeIsa(isa), isa);
        assert.equal(nativeInfo().isa, isa);
        assert.equal(N.isa(), isa === best ? isa : `${isa} (best: ${best})`);
      }
      assert.throws(() => setNativeIsa('avx9' as never), /expected 'avx512', 'avx2' or 'sse2'/);
      for (const isa of NATIVE_ISAS.slice(0, NATIVE_ISAS.indexOf(best))) {
        assert.throws(() => setNativeIsa(isa), /does not support/);
      }
    } finally {
      setNativeIsa(best);
    }
    assert.equal(nativeInfo().isa, best);
  });

  // The kernels are compiled three times with different -march flags into one addon. An
  // inline function or template instantiated outside the ISA namespaces would be emitted
  // by every copy and the linker would keep one of them: possibly AVX-512 code inside the
  // SSE2 path. So every weak symbol an ISA library defines must live in its own namespace.
  test('ISA libraries share no inline symbols (no AVX-512 code can leak into another path)', (t) => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '../../build/Release/obj.target');
    const nm = spawnSync('nm', ['--version']);
    if (nm.status !== 0 || !existsSync(join(dir, 'wt_kernels_sse2.a'))) {
      t.skip('needs nm and the build tree (build/Release/obj.target)');
      return;
    }
    for (const isa of ['sse2', 'avx2', 'avx512']) {
      const out = spawnSync('nm', ['-C', '--defined-only', join(dir, `wt_kernels_${isa}.a`)], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const weak = out.stdout.split('\n').filter((l) => / [WVu] /.test(l));
      assert.ok(weak.length > 0, `${isa}: expected some weak symbols (kernel templates)`);
      const shared = weak.filter((l) => !l.includes(`wt::isa_${isa}::`) && !l.includes('__gxx_personality_v0'));
      assert.deepEqual(shared, [], `${isa}: weak symbols outside wt::isa_${isa}`);
    }
  });

  test('bad arguments throw instead of crashing', () => {
    const raw = nativeAddon();
    const f = new Float32Array(10);
    assert.throws(() => raw.softmax(f, f, 2), /expected 4 arguments/);
    assert.throws(() => raw.softmax(f, new Float64Array(10), 2, 5), TypeError);
    assert.throws(() => raw.softmax(f, [1, 2], 2, 5), TypeError);
    assert.throws(() => raw.softmax(f, f, 3, 5), RangeError); // 15 > 10 elements
    assert.throws(() => raw.softmax(f, f, -1, 5), RangeError);
    assert.throws(() => raw.softmax(f, f, 1.5, 2), RangeError);
    assert.throws(() => raw.matmul(f, f, f, 1, 4, 4, 4, false, false, 0, 0, false), RangeError);
    assert.throws(() => raw.matmul(f, f, f, 1, 2, 2, 2, 0, false, 0, 0, false), TypeError);
    assert.throws(() => raw.unary('nope', f, f), TypeError);
    assert.throws(() => raw.binary('add', f, [1], f, [1], f, [11]), RangeError);
    assert.throws(() => raw.binary('add', f, [1, 1], f, [1], f, [10]), RangeError);
    assert.throws(() => raw.copyStrided(f, 5, [1], f, 0, [1], [6]), RangeError);
    assert.throws(() => raw.copyStrided(f, 0, [-1], f, 0, [1], [2]), RangeError);
    assert.throws(() => N.copyStrided(f, 0, [1], new Float32Array(3), 0, [1], [4]), RangeError);
    assert.throws(() => raw.copyStrided(f, 0, [1], new Float64Array(10), 0, [1], [2]), TypeError);
    assert.throws(() => raw.fill(new Uint8Array(4), 1), TypeError);
    // ids and targets out of range
    const table = new Float32Array(5 * 3), out = new Float32Array(2 * 3);
    assert.throws(() => N.embedding(Int32Array.from([0, 5]), table, out, 2, 3), RangeError);
    assert.throws(() => N.embedding(Int32Array.from([-1, 0]), table, out, 2, 3), RangeError);
    assert.throws(() => N.embeddingBackward(Int32Array.from([0, 7]), out, table, 2, 3), RangeError);
    const logits = new Float32Array(2 * 4), l = new Float32Array(2), s = new Float32Array(2);
    assert.throws(() => N.crossEntropy(logits, Int32Array.from([0, 4]), null, -100, l, s, 2, 4), RangeError);
    assert.throws(() => N.crossEntropy(logits, Int32Array.from([-1, 0]), null, -100, l, s, 2, 4), RangeError);
    N.crossEntropy(logits, Int32Array.from([-100, 3]), null, -100, l, s, 2, 4); // the ignore index is fine
    assert.throws(() => N.crossEntropyBackward(logits, Int32Array.from([9, 0]), null, -100, s, l, logits, 2, 4), RangeError);
    // attention shapes and masks
    const q = new Float32Array(16), ls = new Float32Array(4);
    const shape: AttentionShape = { B: 1, H: 1, Tq: 4, Tk: 4, D: 4, scale: 1, mask: { kind: 'causal' } };
    assert.throws(() => N.attention(q, q, q, q, new Float32Array(3), shape), RangeError);
    assert.throws(() => N.attention(q, q, q, q, ls, { ...shape, D: 5 }), RangeError);
    assert.throws(() => N.attention(q, q, q, q, ls, { ...shape, mask: { kind: 'block', blockSize: 2, layout: new Uint8Array(3), nKeyBlocks: 2 } }), RangeError);
    assert.throws(() => N.attention(q, q, q, q, ls, { ...shape, mask: { kind: 'block', blockSize: 2, layout: new Uint8Array(4), nKeyBlocks: 1 } }), RangeError);
    assert.throws(() => N.attention(q, q, q, q, ls, { ...shape, docQ: new Int32Array(4), docK: new Int32Array(3) }), RangeError);
    assert.throws(() => N.rope(q, f, f, q, 1, 4, 1, 4, 2, false), RangeError); // cos table too short for pos0 + T
    assert.throws(() => N.rope(q, f, f, q, 1, 2, 1, 3, 0, false), RangeError); // odd D
    assert.throws(() => N.adamw(f, new Float32Array(3), f, f, 1, 0.9, 0.9, 1e-8, 0, 1, 1, 1), RangeError);
    assert.throws(() => raw.setThreads(0), RangeError);
    // still alive and correct after all that
    const x = uniform(10), y1 = new Float32Array(10), y2 = new Float32Array(10);
    N.softmax(x, y1, 2, 5); ref.softmax(x, y2, 2, 5);
    close('after bad calls', y1, y2, 1e-6, 1e-7);
  });
}
