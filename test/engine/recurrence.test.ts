// The gated linear recurrence (engine/recurrence.ts): the chunked kernel against a naive
// step-by-step recurrence for every chunk size and both decay layouts, the initial and final
// states, finite-difference gradients with an initial state (the op-cases table covers the
// rest), and the native kernels against the reference for each instruction set, forward and
// backward, with a thread-count independence check.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import type { RecurrenceShape } from '../../src/engine/backend.js';
import { referenceBackend as ref } from '../../src/engine/reference.js';
import { loadNativeBackend, nativeInfo, NATIVE_ISAS, nativeThreads, setNativeIsa, setNativeThreads } from '../../src/engine/native.js';
import { rand } from './op-cases.js';

/** S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T, o_t = S_t^T q_t, one token at a time (float64). */
function naive(q: Float64Array, k: Float64Array, v: Float64Array, g: Float64Array, s0: Float64Array | null, s: RecurrenceShape) {
  const { B, T, H, Dk, Dv } = s;
  const out = new Float64Array(B * T * H * Dv), state = new Float64Array(B * H * Dk * Dv);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const S = s0 ? s0.slice((b * H + h) * Dk * Dv, (b * H + h + 1) * Dk * Dv) : new Float64Array(Dk * Dv);
    for (let t = 0; t < T; t++) {
      const r = (b * T + t) * H + h;
      for (let d = 0; d < Dk; d++) {
        const a = Math.exp(s.scalarDecay ? g[r] : g[r * Dk + d]);
        for (let j = 0; j < Dv; j++) S[d * Dv + j] = a * S[d * Dv + j] + k[r * Dk + d] * v[r * Dv + j];
      }
      for (let j = 0; j < Dv; j++) {
        let acc = 0;
        for (let d = 0; d < Dk; d++) acc += q[r * Dk + d] * S[d * Dv + j];
        out[r * Dv + j] = acc;
      }
    }
    state.set(S, (b * H + h) * Dk * Dv);
  }
  return { out, state };
}

function inputs(rng: E.Rng, s: RecurrenceShape, dtype: 'float32' | 'float64', decayScale = 1) {
  const { B, T, H, Dk, Dv } = s;
  const q = rand(rng, [B, T, H, Dk], dtype), k = rand(rng, [B, T, H, Dk], dtype), v = rand(rng, [B, T, H, Dv], dtype);
  const g = rand(rng, s.scalarDecay ? [B, T, H] : [B, T, H, Dk], dtype, -1.5 * decayScale, -0.01);
  const s0 = rand(rng, [B, H, Dk, Dv], dtype);
  return { q, k, v, g, s0 };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

for (const scalarDecay of [false, true]) {
  test(`chunked = naive step-by-step recurrence (${scalarDecay ? 'scalar' : 'per-channel'} decay), every chunk size, with and without an initial state`, () => {
    const base = { B: 2, T: 11, H: 2, Dk: 3, Dv: 4, scalarDecay, chunk: 1 };
    const x = inputs(new E.Rng(5), base, 'float64');
    for (const withS0 of [false, true]) {
      const want = naive(x.q.f as Float64Array, x.k.f as Float64Array, x.v.f as Float64Array, x.g.f as Float64Array, withS0 ? x.s0.f as Float64Array : null, base);
      for (const chunk of [1, 2, 3, 4, 8, 11, 64]) {
        const out = new Float64Array(want.out.length), sOut = new Float64Array(want.state.length);
        ref.gatedRecurrence(x.q.f, x.k.f, x.v.f, x.g.f, withS0 ? x.s0.f : null, out, sOut, { ...base, chunk });
        assert.ok(maxDiff(out, want.out) < 1e-12, `chunk ${chunk}: out differs by ${maxDiff(out, want.out)}`);
        assert.ok(maxDiff(sOut, want.state) < 1e-12, `chunk ${chunk}: final state differs`);
      }
    }
  });
}

test('splitting a sequence and carrying the state equals one call (the recurrent form generation uses)', () => {
  const s = { B: 1, T: 9, H: 2, Dk: 4, Dv: 3, scalarDecay: false, chunk: 4 };
  const x = inputs(new E.Rng(8), s, 'float64');
  const whole = E.gatedRecurrence(x.q, x.k, x.v, x.g, { chunk: 4 });
  let state: E.Tensor | null = null;
  const parts: E.Tensor[] = [];
  for (const [a, b] of [[0, 5], [5, 6], [6, 9]]) {
    const sl = (t: E.Tensor) => E.slice(t, 1, a, b);
    parts.push(E.gatedRecurrence(sl(x.q), sl(x.k), sl(x.v), sl(x.g), { chunk: 2, initialState: state, onFinalState: (st) => { state = st; } }));
  }
  assert.ok(maxDiff(E.concat(parts, 1).f, whole.f) < 1e-12);
});

test('gradcheck with an initial state (float64, reference), both decay layouts', () => {
  E.withBackend(ref, () => {
    for (const scalarDecay of [false, true]) {
      const s = { B: 1, T: 6, H: 2, Dk: 2, Dv: 3, scalarDecay, chunk: 4 };
      const x = inputs(new E.Rng(3), s, 'float64');
      const xs = [x.q, x.k, x.v, x.g];
      const proj = rand(new E.Rng(4), [1, 6, 2, 3], 'float64');
      const f = () => E.sum(E.mul(E.gatedRecurrence(xs[0], xs[1], xs[2], xs[3], { chunk: 4, initialState: x.s0 }), proj));
      for (const t of xs) { t.requireGrad(); t.grad = null; }
      f().backward();
      for (const [n, t] of xs.entries()) {
        for (let i = 0; i < t.size; i++) {
          const o = t.f[i], h = 1e-6;
          t.f[i] = o + h; const up = E.noGrad(() => f().item());
          t.f[i] = o - h; const down = E.noGrad(() => f().item());
          t.f[i] = o;
          const num = (up - down) / (2 * h);
          assert.ok(Math.abs(num - t.grad!.f[i]) <= 1e-6 + 1e-5 * Math.abs(num), `input ${n}[${i}]: ${t.grad!.f[i]} vs ${num}`);
        }
      }
    }
  });
});

test('gatedRecurrence refuses bad shapes with the reason', () => {
  const q = E.zeros([1, 4, 2, 3]), v = E.zeros([1, 4, 2, 5]);
  assert.throws(() => E.gatedRecurrence(q, q, v, E.zeros([1, 4, 2, 5])), /logDecay must be \[1, 4, 2, 3\] or \[1, 4, 2\]/);
  assert.throws(() => E.gatedRecurrence(q, E.zeros([1, 4, 2, 4]), v, E.zeros([1, 4, 2])), /shapes disagree/);
  assert.throws(() => E.gatedRecurrence(q, q, v, E.zeros([1, 4, 2]), { chunk: 0 }), /chunk must be a positive integer/);
  assert.throws(() => E.gatedRecurrence(q, q, v, E.zeros([1, 4, 2]), { initialState: E.zeros([1, 2, 3, 4]) }), /initialState must be float32 \[1, 2, 3, 5\]/);
});

const nat = loadNativeBackend(ref);
if (!nat) {
  test('native gated recurrence', { skip: 'addon not built' }, () => {});
} else {
  const isas = NATIVE_ISAS.slice(NATIVE_ISAS.indexOf(nativeInfo().isaBest));
  for (const isa of isas) {
    test(`[${isa}] native gatedRecurrence forward and backward = reference (both layouts, partial chunks, states)`, () => {
      setNativeIsa(isa);
      try {
        for (const scalarDecay of [false, true]) {
          for (const [B, T, H, Dk, Dv, chunk] of [[2, 37, 3, 8, 5, 16], [1, 5, 1, 3, 7, 32], [3, 64, 2, 16, 16, 32], [1, 1, 2, 4, 4, 8]]) {
            const s = { B, T, H, Dk, Dv, chunk, scalarDecay };
            const x = inputs(new E.Rng(B * 100 + T), s, 'float32', 2);
            const dout = rand(new E.Rng(77), [B, T, H, Dv], 'float32');
            const run = (be: typeof ref) => {
              const out = new Float32Array(B * T * H * Dv), sOut = new Float32Array(B * H * Dk * Dv);
              be.gatedRecurrence(x.q.f, x.k.f, x.v.f, x.g.f, x.s0.f, out, sOut, s);
              const dq = new Float32Array(x.q.size), dk = new Float32Array(x.k.size), dv = new Float32Array(x.v.size), dg = new Float32Array(x.g.size).fill(7);
              be.gatedRecurrenceBackward(x.q.f, x.k.f, x.v.f, x.g.f, x.s0.f, dout.f, dq, dk, dv, dg, s);
              return { out, sOut, dq, dk, dv, dg };
            };
            const a = run(nat), b = run(ref);
            for (const key of Object.keys(a) as (keyof typeof a)[]) {
              const scale = Math.max(1, ...Array.from(b[key], Math.abs));
              assert.ok(maxDiff(a[key], b[key]) <= 2e-5 * scale, `${key} ${JSON.stringify(s)}: differs by ${maxDiff(a[key], b[key])} (scale ${scale})`);
            }
          }
        }
      } finally { setNativeIsa(nativeInfo().isaBest); }
    });
  }

  test('native gatedRecurrence gives bitwise the same result at every thread count', () => {
    const s = { B: 2, T: 40, H: 3, Dk: 8, Dv: 8, chunk: 16, scalarDecay: false };
    const x = inputs(new E.Rng(9), s, 'float32');
    const before = nativeThreads();
    const outs: Float32Array[] = [];
    try {
      for (const n of [1, 3]) {
        setNativeThreads(n);
        const out = new Float32Array(2 * 40 * 3 * 8);
        nat.gatedRecurrence(x.q.f, x.k.f, x.v.f, x.g.f, null, out, null, s);
        outs.push(out);
      }
    } finally { setNativeThreads(before); }
    assert.deepEqual(new Uint32Array(outs[0].buffer), new Uint32Array(outs[1].buffer));
  });
}
