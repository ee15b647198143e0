// The gated linear recurrence, forward and backward, chunked: src/engine/recurrence.ts has the
// definition, the chunk algebra and the TypeScript reference these kernels are tested against.
//   S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T,   o_t = S_t^T q_t   per (batch, head)
// q, k [B, T, H, Dk], v, out [B, T, H, Dv], g [B, T, H, Dk] or [B, T, H] (scalarDecay), states
// [B, H, Dk, Dv]. Inside a chunk of L tokens every pair (t, u <= t) gets its decay
// exp(c_t - c_u) (c the in-chunk cumulative sum of g, so every exponent is <= 0), computed once
// per chunk into E; across chunks the [Dk, Dv] state carries the rest. Work items are (b, h),
// split statically over the pool, so results do not depend on the thread count.
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "pool.h"

namespace wt {
namespace WT_ISA {

namespace {

struct Rec {
  const RecShape& s;
  i64 HDk, HDv, gStride;  // row strides of q/k, v, and g over (b, t)
  i64 gd;                 // g's stride over channels (0: one decay per head)
  explicit Rec(const RecShape& sh)
      : s(sh), HDk(sh.H * sh.Dk), HDv(sh.H * sh.Dv), gStride(sh.scalarDecay ? sh.H : sh.H * sh.Dk), gd(sh.scalarDecay ? 0 : 1) {}
  i64 qk(i64 b, i64 t, i64 h) const { return (b * s.T + t) * HDk + h * s.Dk; }
  i64 v(i64 b, i64 t, i64 h) const { return (b * s.T + t) * HDv + h * s.Dv; }
  i64 g(i64 b, i64 t, i64 h) const { return (b * s.T + t) * gStride + h * (s.scalarDecay ? 1 : s.Dk); }

  /** cum [L, Dk] in-chunk cumulative sums; E [L, L, nd] pair decays exp(c_t - c_u) for u <= t (nd = 1 for a scalar decay). */
  void chunk_decays(const float* gp, i64 b, i64 h, i64 t0, i64 L, float* cum, float* E) const {
    const i64 Dk = s.Dk, nd = s.scalarDecay ? 1 : Dk;
    for (i64 d = 0; d < Dk; d++) {
      float acc = 0.0f;
      for (i64 t = 0; t < L; t++) {
        acc += gp[g(b, t0 + t, h) + d * gd];
        cum[t * Dk + d] = acc;
      }
    }
    for (i64 t = 0; t < L; t++)
      for (i64 u = 0; u <= t; u++)
        for (i64 d = 0; d < nd; d++) E[(t * L + u) * nd + d] = std::exp(cum[t * Dk + d] - cum[u * Dk + d]);
  }

  /** W[t, u] = sum_d q_t[d] k_u[d] E[t, u, d] for u <= t. */
  void pair_weights(const float* q, const float* k, i64 b, i64 h, i64 t0, i64 L, const float* E, float* W) const {
    const i64 Dk = s.Dk;
    for (i64 t = 0; t < L; t++) {
      const float* qt = q + qk(b, t0 + t, h);
      for (i64 u = 0; u <= t; u++) {
        const float* ku = k + qk(b, t0 + u, h);
        float w = 0.0f;
        if (s.scalarDecay) {
          for (i64 d = 0; d < Dk; d++) w += qt[d] * ku[d];
          w *= E[t * L + u];
        } else {
          const float* e = E + (t * L + u) * Dk;
          for (i64 d = 0; d < Dk; d++) w += qt[d] * ku[d] * e[d];
        }
        W[t * L + u] = w;
      }
    }
  }

  /** to = diag(exp(c_last)) from + sum_u diag(exp(c_last - c_u)) k_u v_u^T. */
  void advance(const float* k, const float* v, i64 b, i64 h, i64 t0, i64 L, const float* cum, const float* from, float* to) const {
    const i64 Dk = s.Dk, Dv = s.Dv, last = L - 1;
    for (i64 d = 0; d < Dk; d++) {
      const float keep = std::exp(cum[last * Dk + d]);
      for (i64 j = 0; j < Dv; j++) to[d * Dv + j] = keep * from[d * Dv + j];
    }
    for (i64 u = 0; u < L; u++) {
      const float* ku = k + qk(b, t0 + u, h);
      const float* vu = v + this->v(b, t0 + u, h);
      for (i64 d = 0; d < Dk; d++) {
        const float a = ku[d] * std::exp(cum[last * Dk + d] - cum[u * Dk + d]);
        float* row = to + d * Dv;
        for (i64 j = 0; j < Dv; j++) row[j] += a * vu[j];
      }
    }
  }
};

}  // namespace

void gated_recurrence(const float* q, const float* k, const float* v, const float* g, const float* s0, float* out,
                      float* sOut, const RecShape& s) {
  if (s.B == 0 || s.H == 0) return;
  Rec R(s);
  const i64 Dk = s.Dk, Dv = s.Dv, C = s.chunk, nd = s.scalarDecay ? 1 : Dk;
  parallel_for(s.B * s.H, 1, [&](i64 bh0, i64 bh1) {
    const size_t need = (size_t)(2 * Dk * Dv + C * Dk + C * C * nd + C * C);
    float* buf = scratch(0, need);
    float *S = buf, *Sn = S + Dk * Dv, *cum = Sn + Dk * Dv, *E = cum + C * Dk, *W = E + C * C * nd;
    for (i64 bh = bh0; bh < bh1; bh++) {
      const i64 b = bh / s.H, h = bh % s.H;
      if (s0) std::memcpy(S, s0 + bh * Dk * Dv, (size_t)(Dk * Dv) * sizeof(float));
      else std::memset(S, 0, (size_t)(Dk * Dv) * sizeof(float));
      for (i64 t0 = 0; t0 < s.T; t0 += C) {
        const i64 L = std::min(C, s.T - t0);
        R.chunk_decays(g, b, h, t0, L, cum, E);
        R.pair_weights(q, k, b, h, t0, L, E, W);
        for (i64 t = 0; t < L; t++) {
          const float* qt = q + R.qk(b, t0 + t, h);
          float* o = out + R.v(b, t0 + t, h);
          for (i64 j = 0; j < Dv; j++) o[j] = 0.0f;
          for (i64 d = 0; d < Dk; d++) {
            const float a = qt[d] * std::exp(cum[t * Dk + d]);
            const float* row = S + d * Dv;
            for (i64 j = 0; j < Dv; j++) o[j] += a * row[j];
          }
          const float* Wt = W + t * L;
          for (i64 u = 0; u <= t; u++) {
            const float w = Wt[u];
            const float* vu = v + R.v(b, t0 + u, h);
            for (i64 j = 0; j < Dv; j++) o[j] += w * vu[j];
          }
        }
        R.advance(k, v, b, h, t0, L, cum, S, Sn);
        std::memcpy(S, Sn, (size_t)(Dk * Dv) * sizeof(float));
      }
      if (sOut) std::memcpy(sOut + bh * Dk * Dv, S, (size_t)(Dk * Dv) * sizeof(float));
    }
  });
}

void gated_recurrence_backward(const float* q, const float* k, const float* v, const float* g, const float* s0,
                               const float* dout, float* dq, float* dk, float* dv, float* dg, const RecShape& s) {
  if (s.B == 0 || s.H == 0) return;
  Rec R(s);
  const i64 Dk = s.Dk, Dv = s.Dv, C = s.chunk, nd = s.scalarDecay ? 1 : Dk, T = s.T;
  const i64 nChunks = (T + C - 1) / C;
  // dg is accumulated per (b, h) slice only, so zeroing it up front keeps items independent.
  std::memset(dg, 0, (size_t)(s.B * T * (s.scalarDecay ? s.H : s.H * Dk)) * sizeof(float));
  parallel_for(s.B * s.H, 1, [&](i64 bh0, i64 bh1) {
    const size_t need = (size_t)((nChunks + 1) * Dk * Dv + 2 * Dk * Dv + C * Dk + C * C * nd + 2 * C * C + T * Dk + Dk);
    float* buf = scratch(0, need);
    float *starts = buf, *Rs = starts + (nChunks + 1) * Dk * Dv, *Rn = Rs + Dk * Dv, *cum = Rn + Dk * Dv;
    float *E = cum + C * Dk, *W = E + C * C * nd, *P = W + C * C, *dG = P + C * C, *tmp = dG + T * Dk;
    for (i64 bh = bh0; bh < bh1; bh++) {
      const i64 b = bh / s.H, h = bh % s.H;
      if (s0) std::memcpy(starts, s0 + bh * Dk * Dv, (size_t)(Dk * Dv) * sizeof(float));
      else std::memset(starts, 0, (size_t)(Dk * Dv) * sizeof(float));
      for (i64 c = 0; c < nChunks; c++) {
        const i64 t0 = c * C, L = std::min(C, T - t0);
        R.chunk_decays(g, b, h, t0, L, cum, E);
        R.advance(k, v, b, h, t0, L, cum, starts + c * Dk * Dv, starts + (c + 1) * Dk * Dv);
      }
      std::memset(Rs, 0, (size_t)(Dk * Dv) * sizeof(float));
      for (i64 c = nChunks - 1; c >= 0; c--) {
        const i64 t0 = c * C, L = std::min(C, T - t0), last = L - 1;
        R.chunk_decays(g, b, h, t0, L, cum, E);
        R.pair_weights(q, k, b, h, t0, L, E, W);
        const float* Sst = starts + c * Dk * Dv;
        // P[t, u] = v_u . do_t
        for (i64 t = 0; t < L; t++) {
          const float* dot = dout + R.v(b, t0 + t, h);
          for (i64 u = 0; u <= t; u++) {
            const float* vu = v + R.v(b, t0 + u, h);
            float acc = 0.0f;
            for (i64 j = 0; j < Dv; j++) acc += vu[j] * dot[j];
            P[t * L + u] = acc;
          }
        }
        // dq_t = exp(c_t) * (S_start do_t) + sum_{u <= t} E[t, u] k_u P[t, u]
        for (i64 t = 0; t < L; t++) {
          const float* dot = dout + R.v(b, t0 + t, h);
          float* dqt = dq + R.qk(b, t0 + t, h);
          for (i64 d = 0; d < Dk; d++) {
            const float* row = Sst + d * Dv;
            float acc = 0.0f;
            for (i64 j = 0; j < Dv; j++) acc += row[j] * dot[j];
            dqt[d] = acc * std::exp(cum[t * Dk + d]);
          }
          for (i64 u = 0; u <= t; u++) {
            const float* ku = k + R.qk(b, t0 + u, h);
            const float p = P[t * L + u];
            if (s.scalarDecay) {
              const float e = E[t * L + u] * p;
              for (i64 d = 0; d < Dk; d++) dqt[d] += e * ku[d];
            } else {
              const float* e = E + (t * L + u) * Dk;
              for (i64 d = 0; d < Dk; d++) dqt[d] += e[d] * ku[d] * p;
            }
          }
        }
        // dk_u = exp(c_last - c_u) * (R v_u) + sum_{t >= u} E[t, u] q_t P[t, u]
        // dv_u = R^T (exp(c_last - c_u) * k_u) + sum_{t >= u} W[t, u] do_t
        for (i64 u = 0; u < L; u++) {
          const float* ku = k + R.qk(b, t0 + u, h);
          const float* vu = v + R.v(b, t0 + u, h);
          float* dku = dk + R.qk(b, t0 + u, h);
          float* dvu = dv + R.v(b, t0 + u, h);
          for (i64 j = 0; j < Dv; j++) dvu[j] = 0.0f;
          for (i64 d = 0; d < Dk; d++) {
            const float e = std::exp(cum[last * Dk + d] - cum[u * Dk + d]);
            const float* row = Rs + d * Dv;
            float acc = 0.0f;
            for (i64 j = 0; j < Dv; j++) acc += row[j] * vu[j];
            dku[d] = e * acc;
            tmp[d] = e * ku[d];
            for (i64 j = 0; j < Dv; j++) dvu[j] += tmp[d] * row[j];
          }
          for (i64 t = u; t < L; t++) {
            const float* qt = q + R.qk(b, t0 + t, h);
            const float* dot = dout + R.v(b, t0 + t, h);
            const float p = P[t * L + u];
            if (s.scalarDecay) {
              const float e = E[t * L + u] * p;
              for (i64 d = 0; d < Dk; d++) dku[d] += e * qt[d];
            } else {
              const float* e = E + (t * L + u) * Dk;
              for (i64 d = 0; d < Dk; d++) dku[d] += e[d] * qt[d] * p;
            }
            const float w = W[t * L + u];
            for (i64 j = 0; j < Dv; j++) dvu[j] += w * dot[j];
          }
        }
        // R' = diag(exp(c_last)) R + sum_t diag(exp(c_t)) q_t do_t^T (seen from the position before the chunk)
        for (i64 d = 0; d < Dk; d++) {
          const float e = std::exp(cum[last * Dk + d]);
          for (i64 j = 0; j < Dv; j++) Rn[d * Dv + j] = e * Rs[d * Dv + j];
        }
        for (i64 t = 0; t < L; t++) {
          const float* qt = q + R.qk(b, t0 + t, h);
          const float* dot = dout + R.v(b, t0 + t, h);
          for (i64 d = 0; d < Dk; d++) {
            const float a = qt[d] * std::exp(cum[t * Dk + d]);
            float* row = Rn + d * Dv;
            for (i64 j = 0; j < Dv; j++) row[j] += a * dot[j];
          }
        }
        std::memcpy(Rs, Rn, (size_t)(Dk * Dv) * sizeof(float));
      }
      // dG_t = q_t * dq_t - k_t * dk_t; dg_t = sum_{r >= t} dG_r (channels summed for a scalar decay)
      for (i64 t = 0; t < T; t++) {
        const i64 o = R.qk(b, t, h);
        for (i64 d = 0; d < Dk; d++) dG[t * Dk + d] = q[o + d] * dq[o + d] - k[o + d] * dk[o + d];
      }
      for (i64 d = 0; d < Dk; d++) {
        float acc = 0.0f;
        for (i64 t = T - 1; t >= 0; t--) {
          acc += dG[t * Dk + d];
          dg[R.g(b, t, h) + d * R.gd] += acc;
        }
      }
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
