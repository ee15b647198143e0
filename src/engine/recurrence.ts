// The gated linear recurrence, reference kernels (plain TypeScript, float32 or float64): the
// definition the native kernels (native/src/recurrence.cc) are tested against.
//
// Per batch b and head h, with a state S [Dk, Dv] (S_{-1} = s0, or zeros):
//   S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T          g_t <= 0 is the log of the decay
//   o_t = S_t^T q_t                                    o_t[j] = sum_d q_t[d] S_t[d, j]
// q, k [B, T, H, Dk], v and o [B, T, H, Dv]; g [B, T, H, Dk] (a decay per key channel: GLA) or
// [B, T, H] (one per head: RetNet, Mamba-2; `scalarDecay`). RetNet, GLA, Mamba-2's SSD and
// (with g = 0) linear attention are this recurrence with different q, k, v and g.
//
// Chunked form (parallel within a chunk of L tokens, recurrent across chunks), with c_t the
// cumulative sum of g inside the chunk (so every exponent below is <= 0: no overflow):
//   o_t   = (q_t * exp(c_t))^T S_start + sum_{s <= t in chunk} (sum_d q_t[d] k_s[d] exp(c_t[d] - c_s[d])) v_s
//   S_end = diag(exp(c_last)) S_start + sum_s diag(exp(c_last - c_s)) k_s v_s^T
// Backward, with R_s = sum_{t >= s} diag(exp(G_t - G_s)) q_t do_t^T (G the global cumulative sum),
// a reverse recurrence carried across chunks the same way:
//   dq_t = S_t do_t,  dk_s = R_s v_s,  dv_s = R_s^T k_s,  dG_t = q_t * dq_t - k_t * dk_t,  dg_t = sum_{r >= t} dG_r.
// The state in and out carry no gradient (generation runs without one).

import type { FloatArray, RecurrenceShape } from './backend.js';

function alloc(like: FloatArray, n: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** Offsets of (b, t, h) rows and the decay accessor for one layout. */
function layout(s: RecurrenceShape) {
  const { T, H, Dk, Dv } = s;
  return {
    qk: (b: number, t: number, h: number) => ((b * T + t) * H + h) * Dk,
    v: (b: number, t: number, h: number) => ((b * T + t) * H + h) * Dv,
    /** Offset of g at (b, t, h, d): per channel, or one per head (d ignored). */
    g: s.scalarDecay ? (b: number, t: number, h: number) => (b * T + t) * H + h : (b: number, t: number, h: number, d: number) => ((b * T + t) * H + h) * Dk + d,
  };
}

/** Cumulative sums of g inside the chunk [t0, t1) of (b, h), into cum [L, Dk]. */
function chunkCumsum(g: FloatArray, s: RecurrenceShape, L: ReturnType<typeof layout>, b: number, h: number, t0: number, t1: number, cum: FloatArray): void {
  const { Dk } = s;
  for (let d = 0; d < Dk; d++) {
    let acc = 0;
    for (let t = t0; t < t1; t++) {
      acc += g[L.g(b, t, h, d)];
      cum[(t - t0) * Dk + d] = acc;
    }
  }
}

export function gatedRecurrenceRef(q: FloatArray, k: FloatArray, v: FloatArray, g: FloatArray, s0: FloatArray | null,
  out: FloatArray, sOut: FloatArray | null, s: RecurrenceShape): void {
  const { B, T, H, Dk, Dv, chunk } = s;
  const L = layout(s);
  const S = alloc(q, Dk * Dv), cum = alloc(q, chunk * Dk), Snew = alloc(q, Dk * Dv);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    if (s0) S.set(s0.subarray((b * H + h) * Dk * Dv, (b * H + h + 1) * Dk * Dv)); else S.fill(0);
    for (let t0 = 0; t0 < T; t0 += chunk) {
      const t1 = Math.min(T, t0 + chunk), last = t1 - 1 - t0;
      chunkCumsum(g, s, L, b, h, t0, t1, cum);
      for (let t = t0; t < t1; t++) {
        const qo = L.qk(b, t, h), oo = L.v(b, t, h), ct = (t - t0) * Dk;
        for (let j = 0; j < Dv; j++) out[oo + j] = 0;
        for (let d = 0; d < Dk; d++) {
          const a = q[qo + d] * Math.exp(cum[ct + d]);
          for (let j = 0; j < Dv; j++) out[oo + j] += a * S[d * Dv + j];
        }
        for (let u = t0; u <= t; u++) {
          const ko = L.qk(b, u, h), cu = (u - t0) * Dk, vo = L.v(b, u, h);
          let w = 0;
          for (let d = 0; d < Dk; d++) w += q[qo + d] * k[ko + d] * Math.exp(cum[ct + d] - cum[cu + d]);
          for (let j = 0; j < Dv; j++) out[oo + j] += w * v[vo + j];
        }
      }
      for (let d = 0; d < Dk; d++) {
        const keep = Math.exp(cum[last * Dk + d]);
        for (let j = 0; j < Dv; j++) Snew[d * Dv + j] = keep * S[d * Dv + j];
      }
      for (let u = t0; u < t1; u++) {
        const ko = L.qk(b, u, h), cu = (u - t0) * Dk, vo = L.v(b, u, h);
        for (let d = 0; d < Dk; d++) {
          const a = k[ko + d] * Math.exp(cum[last * Dk + d] - cum[cu + d]);
          for (let j = 0; j < Dv; j++) Snew[d * Dv + j] += a * v[vo + j];
        }
      }
      S.set(Snew);
    }
    if (sOut) sOut.set(S, (b * H + h) * Dk * Dv);
  }
}

export function gatedRecurrenceBackwardRef(q: FloatArray, k: FloatArray, v: FloatArray, g: FloatArray, s0: FloatArray | null,
  dout: FloatArray, dq: FloatArray, dk: FloatArray, dv: FloatArray, dg: FloatArray, s: RecurrenceShape): void {
  const { B, T, H, Dk, Dv, chunk } = s;
  const L = layout(s);
  const nChunks = Math.ceil(T / chunk);
  const starts = alloc(q, (nChunks + 1) * Dk * Dv); // state at the start of each chunk
  const cum = alloc(q, chunk * Dk), R = alloc(q, Dk * Dv), Rnew = alloc(q, Dk * Dv);
  const dG = alloc(q, T * Dk);
  dg.fill(0);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    // Forward again for the chunk-start states (cheaper than storing every S_t).
    const S = starts.subarray(0, Dk * Dv);
    if (s0) S.set(s0.subarray((b * H + h) * Dk * Dv, (b * H + h + 1) * Dk * Dv)); else S.fill(0);
    for (let c = 0; c < nChunks; c++) {
      const t0 = c * chunk, t1 = Math.min(T, t0 + chunk), last = t1 - 1 - t0;
      chunkCumsum(g, s, L, b, h, t0, t1, cum);
      const from = starts.subarray(c * Dk * Dv, (c + 1) * Dk * Dv), to = starts.subarray((c + 1) * Dk * Dv, (c + 2) * Dk * Dv);
      for (let d = 0; d < Dk; d++) {
        const keep = Math.exp(cum[last * Dk + d]);
        for (let j = 0; j < Dv; j++) to[d * Dv + j] = keep * from[d * Dv + j];
      }
      for (let u = t0; u < t1; u++) {
        const ko = L.qk(b, u, h), cu = (u - t0) * Dk, vo = L.v(b, u, h);
        for (let d = 0; d < Dk; d++) {
          const a = k[ko + d] * Math.exp(cum[last * Dk + d] - cum[cu + d]);
          for (let j = 0; j < Dv; j++) to[d * Dv + j] += a * v[vo + j];
        }
      }
    }
    R.fill(0); // future chunks' q do^T, seen from the last position of the current chunk
    for (let c = nChunks - 1; c >= 0; c--) {
      const t0 = c * chunk, t1 = Math.min(T, t0 + chunk), last = t1 - 1 - t0;
      chunkCumsum(g, s, L, b, h, t0, t1, cum);
      const Sst = starts.subarray(c * Dk * Dv, (c + 1) * Dk * Dv);
      for (let t = t0; t < t1; t++) {
        const qo = L.qk(b, t, h), oo = L.v(b, t, h), ct = (t - t0) * Dk;
        // dq_t = exp(c_t) * (S_start do_t) + sum_{u <= t} exp(c_t - c_u) k_u (v_u . do_t)
        for (let d = 0; d < Dk; d++) {
          let acc = 0;
          for (let j = 0; j < Dv; j++) acc += Sst[d * Dv + j] * dout[oo + j];
          dq[qo + d] = acc * Math.exp(cum[ct + d]);
        }
        for (let u = t0; u <= t; u++) {
          const ko = L.qk(b, u, h), cu = (u - t0) * Dk, vo = L.v(b, u, h);
          let vd = 0;
          for (let j = 0; j < Dv; j++) vd += v[vo + j] * dout[oo + j];
          for (let d = 0; d < Dk; d++) dq[qo + d] += Math.exp(cum[ct + d] - cum[cu + d]) * k[ko + d] * vd;
        }
      }
      for (let u = t0; u < t1; u++) {
        const ko = L.qk(b, u, h), vo = L.v(b, u, h), cu = (u - t0) * Dk;
        // dk_u = R_u v_u and dv_u = R_u^T k_u, R_u = sum_{t >= u in chunk} exp(c_t - c_u) q_t do_t^T + exp(c_last - c_u) R
        for (let d = 0; d < Dk; d++) {
          const e = Math.exp(cum[last * Dk + d] - cum[cu + d]);
          let acc = 0;
          for (let j = 0; j < Dv; j++) acc += R[d * Dv + j] * v[vo + j];
          dk[ko + d] = e * acc;
        }
        for (let j = 0; j < Dv; j++) {
          let acc = 0;
          for (let d = 0; d < Dk; d++) acc += Math.exp(cum[last * Dk + d] - cum[cu + d]) * k[ko + d] * R[d * Dv + j];
          dv[vo + j] = acc;
        }
        for (let t = u; t < t1; t++) {
          const qo = L.qk(b, t, h), oo = L.v(b, t, h), ct = (t - t0) * Dk;
          let vd = 0;
          for (let j = 0; j < Dv; j++) vd += v[vo + j] * dout[oo + j];
          let w = 0;
          for (let d = 0; d < Dk; d++) {
            const e = Math.exp(cum[ct + d] - cum[cu + d]);
            dk[ko + d] += e * q[qo + d] * vd;
            w += e * q[qo + d] * k[ko + d];
          }
          for (let j = 0; j < Dv; j++) dv[vo + j] += w * dout[oo + j];
        }
      }
      // Carry R to the position before this chunk: R' = sum_{t in chunk} exp(c_t) q_t do_t^T + exp(c_last) R.
      for (let d = 0; d < Dk; d++) {
        const e = Math.exp(cum[last * Dk + d]);
        for (let j = 0; j < Dv; j++) Rnew[d * Dv + j] = e * R[d * Dv + j];
      }
      for (let t = t0; t < t1; t++) {
        const qo = L.qk(b, t, h), oo = L.v(b, t, h), ct = (t - t0) * Dk;
        for (let d = 0; d < Dk; d++) {
          const a = q[qo + d] * Math.exp(cum[ct + d]);
          for (let j = 0; j < Dv; j++) Rnew[d * Dv + j] += a * dout[oo + j];
        }
      }
      R.set(Rnew);
    }
    // dG_t = q_t * dq_t - k_t * dk_t, then dg_t = sum_{r >= t} dG_r (per channel; summed over channels for a scalar decay).
    for (let t = 0; t < T; t++) {
      const o = L.qk(b, t, h);
      for (let d = 0; d < Dk; d++) dG[t * Dk + d] = q[o + d] * dq[o + d] - k[o + d] * dk[o + d];
    }
    for (let d = 0; d < Dk; d++) {
      let acc = 0;
      for (let t = T - 1; t >= 0; t--) {
        acc += dG[t * Dk + d];
        dg[L.g(b, t, h, d)] += acc; // a scalar decay's offset ignores d: the channels add up
      }
    }
  }
}
