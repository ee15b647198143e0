// The native token-mixer kernels (selective scan, RWKV-6, causal low-rank attention) against
// the reference backend, on every instruction set this CPU has, with awkward sizes: channel
// counts around the 16-lane blocks, state and head sizes of 1, 16, 17, 33, sequences that
// cross the backward's checkpoint chunks, decoding shapes; plus bitwise determinism across
// runs and thread counts, and argument checking. Skipped, visibly, when the addon is not built.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Backend } from '../../src/engine/backend.js';
import type { LowRankShape } from '../../src/engine/sequence-kernels.js';
import { loadNativeBackend, nativeAddon, nativeInfo, nativeLoadError, NATIVE_ISAS, setNativeIsa, setNativeThreads, nativeThreads } from '../../src/engine/native.js';
import { referenceBackend as ref } from '../../src/engine/reference.js';

const nat = loadNativeBackend(ref);

let seed = 777;
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
function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) assert.fail(`${what}[${i}]: got ${g}, want ${w} (|diff| ${Math.abs(g - w)})`);
  }
}
function bitwise(what: string, a: Float32Array, b: Float32Array): void {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  assert.equal(x.length, y.length, `${what}: length`);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${what}: not bitwise equal at ${i}: ${a[i]} vs ${b[i]}`);
}
/** Output buffers start as garbage: a kernel must write every element. */
const garbage = (n: number) => uniform(n, -9, 9);

function scanOutputs(K: Backend, B: number, T: number, C: number, N: number, withH0: boolean, inputs?: Float32Array[]): Float32Array[] {
  const [x, dt, A, Bm, Cm, h0, dy] = inputs ?? [uniform(B * T * C), uniform(B * T * C, -4, 2), uniform(C * N, -3, -0.02),
    uniform(B * T * N), uniform(B * T * N), uniform(B * C * N), uniform(B * T * C)];
  const y = garbage(B * T * C), hT = garbage(B * C * N);
  const s = { B, T, C, N };
  K.selectiveScan(x, dt, A, Bm, Cm, withH0 ? h0 : null, y, hT, s);
  const g = [garbage(B * T * C), garbage(B * T * C), garbage(C * N), garbage(B * T * N), garbage(B * T * N)];
  K.selectiveScanBackward(x, dt, A, Bm, Cm, withH0 ? h0 : null, dy, g[0], g[1], g[2], g[3], g[4], s);
  return [y, hT, ...g];
}

function rwkvOutputs(K: Backend, B: number, T: number, H: number, D: number, withS0: boolean, inputs?: Float32Array[]): Float32Array[] {
  const n = B * T * H * D;
  const [r, k, v, w, u, s0, dout] = inputs ?? [uniform(n), uniform(n), uniform(n), uniform(n, -4, 1), uniform(H * D), uniform(B * H * D * D), uniform(n)];
  const out = garbage(n), sT = garbage(B * H * D * D);
  const s = { B, T, H, D };
  K.rwkv6(r, k, v, w, u, withS0 ? s0 : null, out, sT, s);
  const g = [garbage(n), garbage(n), garbage(n), garbage(n), garbage(H * D)];
  K.rwkv6Backward(r, k, v, w, u, withS0 ? s0 : null, dout, g[0], g[1], g[2], g[3], g[4], s);
  return [out, sT, ...g];
}

function lowrankOutputs(K: Backend, s: LowRankShape, inputs?: Float32Array[]): Float32Array[] {
  const { B, H, Tq, Tk, D, nc, rank } = s;
  const nq = B * Tq * H * D, nk = B * Tk * H * D, ncmp = B * nc * rank * H * D;
  const [q, k, v, kc, vc, dout] = inputs ?? [uniform(nq, -2, 2), uniform(nk, -2, 2), uniform(nk), uniform(ncmp, -2, 2), uniform(ncmp), uniform(nq)];
  const out = garbage(nq), lse = garbage(B * H * Tq);
  K.lowrankAttention(q, k, v, kc, vc, out, lse, s);
  const g = [garbage(nq), garbage(nk), garbage(nk), garbage(ncmp), garbage(ncmp)];
  K.lowrankAttentionBackward(q, k, v, kc, vc, out, lse, dout, g[0], g[1], g[2], g[3], g[4], s);
  return [out, lse, ...g];
}

/** Runs the same inputs through both backends (seed reset so both draw the same). */
function both(f: (K: Backend) => Float32Array[], N: Backend): [Float32Array[], Float32Array[]] {
  const s0 = seed;
  const a = f(N);
  seed = s0;
  const b = f(ref);
  return [a, b];
}

const lowrank = (B: number, H: number, Tq: number, Tk: number, D: number, L: number, rank: number, nc: number, pos0 = 0): LowRankShape =>
  ({ B, H, Tq, Tk, D, blockSize: L, rank, nc, scale: 1 / Math.sqrt(Math.max(D, 1)), pos0 });

if (!nat) {
  test('native mixer kernels', { skip: `addon not built: ${nativeLoadError()}` }, () => {});
} else {
  const N: Backend = nat;
  const best = nativeInfo().isaBest;
  const isas = NATIVE_ISAS.slice(NATIVE_ISAS.indexOf(best));
  for (const isa of isas) {
    test(`[${isa}] selectiveScan forward/backward against the reference: C around 16-lane blocks, N = 1..33, T across checkpoint chunks, from a state`, () => {
      setNativeIsa(isa);
      for (const [B, T, C, N_, h0] of [[1, 1, 1, 1, false], [2, 7, 19, 16, true], [1, 70, 33, 17, false], [2, 130, 16, 4, true], [1, 65, 5, 33, true]] as const) {
        const [a, b] = both((K) => scanOutputs(K, B, T, C, N_, h0), N);
        ['y', 'hT', 'dx', 'ddt', 'dA', 'dBm', 'dCm'].forEach((name, i) => close(`${name} ${B},${T},${C},${N_}`, a[i], b[i], 2e-4, 2e-5));
      }
    });

    test(`[${isa}] rwkv6 forward/backward against the reference: D = 1, 7, 16, 33, T across checkpoint chunks, from a state`, () => {
      setNativeIsa(isa);
      for (const [B, T, H, D, s0] of [[1, 1, 1, 1, false], [2, 9, 3, 7, true], [1, 40, 2, 16, false], [1, 70, 1, 33, true]] as const) {
        const [a, b] = both((K) => rwkvOutputs(K, B, T, H, D, s0), N);
        ['out', 'sT', 'dr', 'dk', 'dv', 'dw', 'du'].forEach((name, i) => close(`${name} ${B},${T},${H},${D}`, a[i], b[i], 2e-4, 2e-5));
      }
    });

    test(`[${isa}] lowrankAttention forward/backward against the reference: block and rank sizes, fewer summaries than blocks, decoding`, () => {
      setNativeIsa(isa);
      const shapes = [lowrank(1, 1, 1, 1, 1, 1, 1, 0), lowrank(2, 3, 29, 29, 8, 6, 2, 4), lowrank(1, 2, 70, 70, 16, 16, 4, 2),
        lowrank(1, 1, 65, 65, 33, 8, 8, 8), lowrank(2, 2, 1, 3, 7, 4, 2, 5, 8), lowrank(1, 2, 5, 9, 8, 4, 3, 3, 4)];
      for (const s of shapes) {
        const [a, b] = both((K) => lowrankOutputs(K, s), N);
        ['out', 'lse', 'dq', 'dk', 'dv', 'dkc', 'dvc'].forEach((name, i) => close(`${name} ${JSON.stringify(s)}`, a[i], b[i], 1e-4, 2e-5));
      }
    });

    test(`[${isa}] mixer kernels are bitwise deterministic across runs and thread counts`, () => {
      setNativeIsa(isa);
      const before = nativeThreads();
      try {
        const inputs = {
          scan: [uniform(2 * 80 * 40), uniform(2 * 80 * 40, -4, 2), uniform(40 * 16, -3, -0.02), uniform(2 * 80 * 16), uniform(2 * 80 * 16), uniform(2 * 40 * 16), uniform(2 * 80 * 40)],
          rwkv: [uniform(2 * 50 * 2 * 20), uniform(2 * 50 * 2 * 20), uniform(2 * 50 * 2 * 20), uniform(2 * 50 * 2 * 20, -4, 1), uniform(2 * 20), uniform(2 * 2 * 20 * 20), uniform(2 * 50 * 2 * 20)],
          low: [uniform(2 * 40 * 2 * 8), uniform(2 * 40 * 2 * 8), uniform(2 * 40 * 2 * 8), uniform(2 * 10 * 2 * 8), uniform(2 * 10 * 2 * 8), uniform(2 * 40 * 2 * 8)],
        };
        const all = () => [...scanOutputs(N, 2, 80, 40, 16, true, inputs.scan), ...rwkvOutputs(N, 2, 50, 2, 20, true, inputs.rwkv),
          ...lowrankOutputs(N, lowrank(2, 2, 40, 40, 8, 8, 2, 5), inputs.low)];
        setNativeThreads(1);
        const one = all();
        setNativeThreads(3);
        const three = all(), again = all();
        one.forEach((a, i) => bitwise(`threads 1 vs 3, output ${i}`, a, three[i]));
        three.forEach((a, i) => bitwise(`run 1 vs 2, output ${i}`, a, again[i]));
      } finally {
        setNativeThreads(before);
      }
    });
  }
  setNativeIsa(best);

  test('mixer bindings refuse short arrays and bad shapes with a RangeError or TypeError, never a crash', () => {
    const n = nativeAddon()!;
    const f = (k: number) => new Float32Array(k);
    assert.throws(() => n.selectiveScan(f(5), f(6), f(6), f(4), f(4), null, f(6), f(6), 1, 2, 3, 2), /x has 5 elements, needs 6/);
    assert.throws(() => n.selectiveScan(f(6), f(6), f(6), f(4), f(4), f(5), f(6), f(6), 1, 2, 3, 2), /h0 has 5 elements/);
    assert.throws(() => n.rwkv6(f(8), f(8), f(8), f(8), f(3), null, f(8), f(8), 1, 2, 2, 2), /u has 3 elements, needs 4/);
    assert.throws(() => n.rwkv6Backward(f(8), f(8), f(8), f(8), f(4), null, f(8), f(8), f(8), f(8), f(8), new Float64Array(4), 1, 2, 2, 2), /du.*Float32Array/);
    assert.throws(() => n.lowrankAttention(f(4), f(4), f(4), f(2), f(2), f(4), f(2), 1, 1, 2, 2, 2, 2, 1, 2, 1, 0), /kc has 2 elements, needs 4/);
    assert.throws(() => n.lowrankAttention(f(4), f(2), f(2), f(0), f(0), f(4), f(2), 1, 1, 2, 1, 2, 2, 1, 0, 1, 0), /more queries than keys/);
    assert.throws(() => n.lowrankAttention(f(4), f(4), f(4), f(0), f(0), f(4), f(2), 1, 1, 2, 2, 2, 4, 1, 0, 1, 3), /block starts before pos0/);
  });
}
