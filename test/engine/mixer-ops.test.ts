// The token-mixer ops (mixer-ops.ts) against independent formulas: the scans over a whole
// sequence against a naive step-by-step recurrence written here and against themselves run
// one token at a time with the state carried (the recurrent form generation uses); RWKV-6
// against its explicit "attention" form; low-rank attention against causal attention where
// the two must agree (identity compression, one block), and its decoding from a short cache
// against the full forward. Runs on the active backend (native when built) in float32 and on
// the reference backend in float64.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { referenceBackend } from '../../src/engine/reference.js';
import { rand } from './op-cases.js';

function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));
const dtypes = [
  { name: 'active backend, float32', dtype: 'float32' as const, run: <T>(f: () => T) => f(), rtol: 2e-4, atol: 2e-5 },
  { name: 'reference, float64', dtype: 'float64' as const, run: <T>(f: () => T) => E.withBackend(referenceBackend, f), rtol: 1e-10, atol: 1e-12 },
];

/** Tokens [t0, t1) of x [B, T, ...] as a contiguous tensor. */
const tokens = (x: E.Tensor, t0: number, t1: number) => E.slice(x, 1, t0, t1);

for (const d of dtypes) {
  test(`selectiveScan: whole sequence = naive recurrence = one token at a time with the state (${d.name})`, () => d.run(() => E.noGrad(() => {
    const rng = new E.Rng(3);
    const [B, T, C, N] = [2, 37, 19, 17];
    const x = rand(rng, [B, T, C], d.dtype), dt = rand(rng, [B, T, C], d.dtype, -3, 1.5), A = rand(rng, [C, N], d.dtype, -2, -0.05);
    const Bm = rand(rng, [B, T, N], d.dtype), Cm = rand(rng, [B, T, N], d.dtype);
    const { y, state } = E.selectiveScan(x, dt, A, Bm, Cm);
    // naive: the discretised system per channel, h <- diag(exp(delta A)) h + delta B x, y = C h
    const want = new Float64Array(B * T * C), wantState = new Float64Array(B * C * N);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
      const h = new Float64Array(N);
      for (let t = 0; t < T; t++) {
        const delta = softplus(dt.f[(b * T + t) * C + c]);
        const Abar = Array.from({ length: N }, (_, n) => Math.exp(delta * A.f[c * N + n]));
        const Bbar = Array.from({ length: N }, (_, n) => delta * Bm.f[(b * T + t) * N + n]);
        for (let n = 0; n < N; n++) h[n] = Abar[n] * h[n] + Bbar[n] * x.f[(b * T + t) * C + c];
        want[(b * T + t) * C + c] = h.reduce((s, hn, n) => s + Cm.f[(b * T + t) * N + n] * hn, 0);
      }
      for (let n = 0; n < N; n++) wantState[(b * C + c) * N + n] = h[n];
    }
    close('y vs naive', y.f, want, d.rtol, d.atol);
    close('state vs naive', state.f, wantState, d.rtol, d.atol);
    // one token at a time, carrying the state; and a split into two uneven pieces
    let h: E.Tensor | null = null;
    const steps: E.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const r = E.selectiveScan(tokens(x, t, t + 1), tokens(dt, t, t + 1), A, tokens(Bm, t, t + 1), tokens(Cm, t, t + 1), { h0: h });
      steps.push(r.y); h = r.state;
    }
    close('y stepwise', E.concat(steps, 1).f, y.f, d.rtol, d.atol);
    close('state stepwise', h!.f, state.f, d.rtol, d.atol);
    const a = E.selectiveScan(tokens(x, 0, 11), tokens(dt, 0, 11), A, tokens(Bm, 0, 11), tokens(Cm, 0, 11));
    const b2 = E.selectiveScan(tokens(x, 11, T), tokens(dt, 11, T), A, tokens(Bm, 11, T), tokens(Cm, 11, T), { h0: a.state });
    close('y in two pieces', E.concat([a.y, b2.y], 1).f, y.f, d.rtol, d.atol);
  })));

  test(`rwkv6: recurrence = explicit attention form = one token at a time with the state (${d.name})`, () => d.run(() => E.noGrad(() => {
    const rng = new E.Rng(4);
    const [B, T, H, D] = [2, 23, 3, 18];
    const r = rand(rng, [B, T, H, D], d.dtype), k = rand(rng, [B, T, H, D], d.dtype), v = rand(rng, [B, T, H, D], d.dtype);
    const w = rand(rng, [B, T, H, D], d.dtype, -3, 0.5), u = rand(rng, [H, D], d.dtype);
    const { y, state } = E.rwkv6(r, k, v, w, u);
    // out_t[j] = sum_{s<t} sum_i r_t[i] (prod_{s<q<t} decay_q[i]) k_s[i] v_s[j] + sum_i r_t[i] u[i] k_t[i] v_t[j]
    const at = (a: E.Tensor, b: number, t: number, h: number, i: number) => a.f[((b * T + t) * H + h) * D + i];
    const decay = (b: number, t: number, h: number, i: number) => Math.exp(-Math.exp(at(w, b, t, h, i)));
    const want = new Float64Array(B * T * H * D);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
      for (let i = 0; i < D; i++) {
        let carry = 1; // prod of decays strictly between s and t
        for (let s = t; s >= 0; s--) {
          const coef = s === t ? at(r, b, t, h, i) * u.f[h * D + i] * at(k, b, t, h, i) : at(r, b, t, h, i) * carry * at(k, b, s, h, i);
          for (let j = 0; j < D; j++) want[((b * T + t) * H + h) * D + j] += coef * at(v, b, s, h, j);
          if (s < t) carry *= decay(b, s, h, i);
          else carry = 1;
        }
      }
    }
    close('out vs attention form', y.f, want, d.rtol, d.atol);
    let s: E.Tensor | null = null;
    const steps: E.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const o = E.rwkv6(tokens(r, t, t + 1), tokens(k, t, t + 1), tokens(v, t, t + 1), tokens(w, t, t + 1), u, { s0: s });
      steps.push(o.y); s = o.state;
    }
    close('out stepwise', E.concat(steps, 1).f, y.f, d.rtol, d.atol);
    close('state stepwise', s!.f, state.f, d.rtol, d.atol);
  })));

  test(`lowrankAttention: identity compression and a single block equal causal attention; decoding from the block cache (${d.name})`, () => d.run(() => E.noGrad(() => {
    const rng = new E.Rng(5);
    const [B, T, H, D, L] = [2, 29, 2, 8, 6];
    const q = rand(rng, [B, T, H, D], d.dtype), k = rand(rng, [B, T, H, D], d.dtype), v = rand(rng, [B, T, H, D], d.dtype);
    const full = E.attention(q, k, v, { mask: { kind: 'causal' } });
    // rank = L and summaries = the raw keys of each complete block: every query sees all earlier keys
    const nc = Math.floor(T / L);
    const kc = tokens(k, 0, nc * L), vc = tokens(v, 0, nc * L);
    close('identity compression', E.lowrankAttention(q, k, v, kc, vc, { blockSize: L, rank: L }).f, full.f, d.rtol, d.atol);
    close('one block', E.lowrankAttention(q, k, v, kc, vc, { blockSize: T, rank: L }).f, full.f, d.rtol, d.atol);
    // a real compression (rank 2), then the last 5 queries computed from a cache that holds
    // only the raw keys of their blocks (pos0 = start of the first one's block)
    const kc2 = rand(rng, [B, nc * 2, H, D], d.dtype), vc2 = rand(rng, [B, nc * 2, H, D], d.dtype);
    const ref = E.lowrankAttention(q, k, v, kc2, vc2, { blockSize: L, rank: 2 });
    const first = T - 5, pos0 = Math.floor(first / L) * L;
    const dec = E.lowrankAttention(tokens(q, first, T), tokens(k, pos0, T), tokens(v, pos0, T), kc2, vc2, { blockSize: L, rank: 2, pos0 });
    close('decode from the block cache', dec.f, tokens(ref, first, T).f, d.rtol, d.atol);
    assert.throws(() => E.lowrankAttention(tokens(q, T - 2, T), tokens(k, pos0 + 1, T), tokens(v, pos0 + 1, T), kc2, vc2, { blockSize: L, rank: 2, pos0: pos0 + 1 }),
      /needs the raw keys of its block/);
  })));
}

test('mixer ops name the bad argument', () => {
  const z = (...s: number[]) => E.zeros(s);
  assert.throws(() => E.selectiveScan(z(1, 4, 3), z(1, 4, 3), z(3, 2), z(1, 4, 3), z(1, 4, 2)), /selectiveScan: Bm has shape \[1, 4, 3\], expected \[1, 4, 2\]/);
  assert.throws(() => E.selectiveScan(z(1, 4, 3), z(1, 4, 3), z(3, 2), z(1, 4, 2), z(1, 4, 2), { h0: z(1, 2, 3) }), /h0 has shape/);
  assert.throws(() => E.rwkv6(z(1, 2, 2, 3), z(1, 2, 2, 3), z(1, 2, 2, 3), z(1, 2, 2, 3), z(3, 2)), /rwkv6: u has shape \[3, 2\], expected \[2, 3\]/);
  assert.throws(() => E.lowrankAttention(z(1, 4, 1, 2), z(1, 4, 1, 2), z(1, 4, 1, 2), z(1, 3, 1, 2), z(1, 3, 1, 2), { blockSize: 2, rank: 2 }), /kc must be/);
  assert.throws(() => E.lowrankAttention(z(1, 4, 1, 2), z(1, 4, 1, 2), z(1, 4, 1, 2), z(1, 2, 1, 2), z(1, 2, 1, 2), { blockSize: 0, rank: 2 }), /blockSize must be a positive integer/);
});
