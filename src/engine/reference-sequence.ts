// Reference kernels of the recurrent and compressed token mixers (sequence-kernels.ts):
// plain step-by-step loops, the definition the native kernels are tested against. Backward
// passes keep every state (T copies), which is fine at test sizes and keeps them obvious.
// Part of the reference backend (reference.ts); browser-safe like it.

import type { FloatArray } from './backend.js';
import type { LowRankShape, SequenceMixerKernels } from './sequence-kernels.js';

/** softplus with PyTorch's threshold: x above 20 is returned as is. */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Visible key sets of a low-rank attention query: compressed rows [0, nComp) and raw key rows [lo, hi). */
export function lowrankVisible(s: LowRankShape, i: number): { nComp: number; lo: number; hi: number } {
  const p = s.pos0 + s.Tk - s.Tq + i;
  const blk = Math.floor(p / s.blockSize);
  const nComp = Math.min(blk, s.nc) * s.rank;
  const lo = Math.max(0, blk * s.blockSize - s.pos0);
  return { nComp, lo, hi: p - s.pos0 + 1 };
}

export const referenceSequenceKernels: SequenceMixerKernels = {
  selectiveScan(x, dt, A, Bm, Cm, h0, y, hT, { B, T, C, N }) {
    const h = new Float64Array(N);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
      for (let n = 0; n < N; n++) h[n] = h0 ? h0[(b * C + c) * N + n] : 0;
      for (let t = 0; t < T; t++) {
        const bt = b * T + t, i = bt * C + c;
        const delta = softplus(dt[i]), dx = delta * x[i];
        let acc = 0;
        for (let n = 0; n < N; n++) {
          h[n] = Math.exp(delta * A[c * N + n]) * h[n] + dx * Bm[bt * N + n];
          acc += Cm[bt * N + n] * h[n];
        }
        y[i] = acc;
      }
      for (let n = 0; n < N; n++) hT[(b * C + c) * N + n] = h[n];
    }
  },

  selectiveScanBackward(x, dt, A, Bm, Cm, h0, dy, dx, ddt, dA, dBm, dCm, { B, T, C, N }) {
    dA.fill(0); dBm.fill(0); dCm.fill(0);
    const hs = new Float64Array((T + 1) * N); // hs[t + 1] = state after token t; hs[0] = h0
    const g = new Float64Array(N);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
      for (let n = 0; n < N; n++) hs[n] = h0 ? h0[(b * C + c) * N + n] : 0;
      for (let t = 0; t < T; t++) {
        const bt = b * T + t, i = bt * C + c;
        const delta = softplus(dt[i]);
        for (let n = 0; n < N; n++) {
          hs[(t + 1) * N + n] = Math.exp(delta * A[c * N + n]) * hs[t * N + n] + delta * x[i] * Bm[bt * N + n];
        }
      }
      g.fill(0); // dL/dh_t, carried backwards
      for (let t = T - 1; t >= 0; t--) {
        const bt = b * T + t, i = bt * C + c;
        const delta = softplus(dt[i]), dyi = dy[i];
        let gx = 0, gdelta = 0;
        for (let n = 0; n < N; n++) {
          const hNow = hs[(t + 1) * N + n], hPrev = hs[t * N + n];
          dCm[bt * N + n] += dyi * hNow;
          g[n] += Cm[bt * N + n] * dyi;
          const a = A[c * N + n], decay = Math.exp(delta * a);
          gx += g[n] * delta * Bm[bt * N + n];
          dBm[bt * N + n] += g[n] * delta * x[i];
          gdelta += g[n] * (Bm[bt * N + n] * x[i] + a * decay * hPrev);
          dA[c * N + n] += g[n] * delta * decay * hPrev;
          g[n] *= decay;
        }
        dx[i] = gx;
        ddt[i] = dt[i] > 20 ? gdelta : gdelta * sigmoid(dt[i]);
      }
    }
  },

  rwkv6(r, k, v, w, u, s0, out, sT, { B, T, H, D }) {
    const S = new Float64Array(D * D);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
      const so = (b * H + h) * D * D;
      for (let e = 0; e < D * D; e++) S[e] = s0 ? s0[so + e] : 0;
      for (let t = 0; t < T; t++) {
        const o = ((b * T + t) * H + h) * D;
        for (let j = 0; j < D; j++) out[o + j] = 0;
        const acc = new Float64Array(D);
        for (let i = 0; i < D; i++) {
          const ri = r[o + i], ki = k[o + i], ui = u[h * D + i], decay = Math.exp(-Math.exp(w[o + i]));
          for (let j = 0; j < D; j++) {
            const kv = ki * v[o + j];
            acc[j] += ri * (S[i * D + j] + ui * kv);
            S[i * D + j] = decay * S[i * D + j] + kv;
          }
        }
        for (let j = 0; j < D; j++) out[o + j] = acc[j];
      }
      for (let e = 0; e < D * D; e++) sT[so + e] = S[e];
    }
  },

  rwkv6Backward(r, k, v, w, u, s0, dout, dr, dk, dv, dw, du, { B, T, H, D }) {
    du.fill(0);
    const DD = D * D;
    const Ss = new Float64Array((T + 1) * DD); // Ss[t] = state before token t
    const G = new Float64Array(DD); // dL/dS after token t, carried backwards
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
      const so = (b * H + h) * DD;
      for (let e = 0; e < DD; e++) Ss[e] = s0 ? s0[so + e] : 0;
      for (let t = 0; t < T; t++) {
        const o = ((b * T + t) * H + h) * D;
        for (let i = 0; i < D; i++) {
          const decay = Math.exp(-Math.exp(w[o + i]));
          for (let j = 0; j < D; j++) Ss[(t + 1) * DD + i * D + j] = decay * Ss[t * DD + i * D + j] + k[o + i] * v[o + j];
        }
      }
      G.fill(0);
      for (let t = T - 1; t >= 0; t--) {
        const o = ((b * T + t) * H + h) * D;
        let dov = 0, ruk = 0;
        for (let j = 0; j < D; j++) dov += dout[o + j] * v[o + j];
        for (let i = 0; i < D; i++) ruk += r[o + i] * u[h * D + i] * k[o + i];
        for (let j = 0; j < D; j++) {
          let s = ruk * dout[o + j];
          for (let i = 0; i < D; i++) s += G[i * D + j] * k[o + i];
          dv[o + j] = s;
        }
        for (let i = 0; i < D; i++) {
          const ri = r[o + i], ki = k[o + i], ui = u[h * D + i];
          const e = Math.exp(w[o + i]), decay = Math.exp(-e);
          let gr = ui * ki * dov, gk = ri * ui * dov, gdecay = 0;
          for (let j = 0; j < D; j++) {
            const prev = Ss[t * DD + i * D + j];
            gr += dout[o + j] * prev;
            gk += G[i * D + j] * v[o + j];
            gdecay += G[i * D + j] * prev;
          }
          dr[o + i] = gr; dk[o + i] = gk;
          dw[o + i] = -gdecay * decay * e;
          du[h * D + i] += ri * ki * dov;
          for (let j = 0; j < D; j++) G[i * D + j] = decay * G[i * D + j] + ri * dout[o + j];
        }
      }
    }
  },

  lowrankAttention(q, k, v, kc, vc, out, lse, s) {
    const { B, H, Tq, Tk, D, rank, nc, scale } = s;
    const nK = nc * rank;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
      const qo = ((b * Tq + i) * H + h) * D;
      const { nComp, lo, hi } = lowrankVisible(s, i);
      const rows: { src: FloatArray; vals: FloatArray; off: number }[] = [];
      for (let j = 0; j < nComp; j++) rows.push({ src: kc, vals: vc, off: ((b * nK + j) * H + h) * D });
      for (let j = lo; j < hi; j++) rows.push({ src: k, vals: v, off: ((b * Tk + j) * H + h) * D });
      const sc = rows.map(({ src, off }) => { let d = 0; for (let x = 0; x < D; x++) d += q[qo + x] * src[off + x]; return d * scale; });
      const mx = Math.max(...sc);
      let sum = 0;
      for (const z of sc) sum += Math.exp(z - mx);
      const l = mx + Math.log(sum);
      lse[(b * H + h) * Tq + i] = l;
      for (let x = 0; x < D; x++) out[qo + x] = 0;
      rows.forEach(({ vals, off }, j) => {
        const p = Math.exp(sc[j] - l);
        for (let x = 0; x < D; x++) out[qo + x] += p * vals[off + x];
      });
    }
  },

  lowrankAttentionBackward(q, k, v, kc, vc, out, lse, dout, dq, dk, dv, dkc, dvc, s) {
    const { B, H, Tq, Tk, D, rank, nc, scale } = s;
    const nK = nc * rank;
    dq.fill(0); dk.fill(0); dv.fill(0); dkc.fill(0); dvc.fill(0);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
      const qo = ((b * Tq + i) * H + h) * D;
      const { nComp, lo, hi } = lowrankVisible(s, i);
      const l = lse[(b * H + h) * Tq + i];
      let dsum = 0;
      for (let x = 0; x < D; x++) dsum += dout[qo + x] * out[qo + x];
      const visit = (keys: FloatArray, vals: FloatArray, dkeys: FloatArray, dvals: FloatArray, off: number) => {
        let dot = 0, dp = 0;
        for (let x = 0; x < D; x++) { dot += q[qo + x] * keys[off + x]; dp += dout[qo + x] * vals[off + x]; }
        const p = Math.exp(dot * scale - l), ds = p * (dp - dsum) * scale;
        for (let x = 0; x < D; x++) {
          dvals[off + x] += p * dout[qo + x];
          dq[qo + x] += ds * keys[off + x];
          dkeys[off + x] += ds * q[qo + x];
        }
      };
      for (let j = 0; j < nComp; j++) visit(kc, vc, dkc, dvc, ((b * nK + j) * H + h) * D);
      for (let j = lo; j < hi; j++) visit(k, v, dk, dv, ((b * Tk + j) * H + h) * D);
    }
  },
};
