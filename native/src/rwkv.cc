// RWKV-6 time-mix recurrence (src/engine/sequence-kernels.ts Rwkv6Shape), forward and
// backward. One task per (batch, head); the D x D state is kept as D rows (key index i)
// of value columns padded to a multiple of 16, so each update is a row of v16f FMAs:
//   out_t = sum_i r_i S[i,:] + (sum_i r_i u_i k_i) v_t,   S[i,:] = decay_i S[i,:] + k_i v_t.
// The backward reruns the forward saving the state at the start of every chunk of about
// sqrt(T) tokens, then walks the chunks backwards recomputing each chunk's states, so it
// holds O(sqrt(T) D^2) floats per task instead of T D^2. du sums over the batch through
// per-batch partials added in a fixed order: results do not depend on the thread count.
#include <cmath>
#include <cstring>
#include <memory>

#include "kernels.h"
#include "pool.h"
#include "vecmath.h"

namespace wt {
namespace WT_ISA {

namespace {

struct RwkvDims {
  i64 B, T, H, D, nJ, DJ;
  RwkvDims(i64 b, i64 t, i64 h, i64 d) : B(b), T(t), H(h), D(d), nJ((d + W - 1) / W), DJ(nJ * W) {}
  i64 off(i64 b, i64 t, i64 h) const { return ((b * T + t) * H + h) * D; }
};

/** D floats into a zero-padded row of DJ. */
WT_INLINE void load_row(const float* src, i64 D, i64 DJ, float* dst) {
  std::memcpy(dst, src, (size_t)D * sizeof(float));
  for (i64 j = D; j < DJ; j++) dst[j] = 0.0f;
}

/** decay = exp(-exp(w)) for the D channels of one token. */
WT_INLINE void decays_of(const float* w, i64 D, float* dec) {
  i64 i = 0;
  for (; i + W <= D; i += W) store16(dec + i, vexp(-vexp(load16(w + i))));
  if (i < D) store_partial(dec + i, vexp(-vexp(load_partial(w + i, (int)(D - i), 0.0f))), (int)(D - i));
}

/** One token: out (may be null) from S, then S updated in place. vrow and dec are scratch [DJ]. */
WT_INLINE void rwkv_token(const float* r, const float* k, const float* v, const float* w, const float* u,
                          const RwkvDims& d, i64 h, float* S, float* out, float* vrow, float* dec, float* acc) {
  const i64 D = d.D, DJ = d.DJ;
  load_row(v, D, DJ, vrow);
  decays_of(w, D, dec);
  if (out) {
    float ruk = 0.0f;
    for (i64 i = 0; i < D; i++) ruk += r[i] * u[h * D + i] * k[i];
    for (i64 jb = 0; jb < DJ; jb += W) store16(acc + jb, ruk * load16(vrow + jb));
  }
  for (i64 i = 0; i < D; i++) {
    const float ri = r[i], ki = k[i], di = dec[i];
    float* Si = S + i * DJ;
    for (i64 jb = 0; jb < DJ; jb += W) {
      const v16f s = load16(Si + jb), vv = load16(vrow + jb);
      if (out) store16(acc + jb, load16(acc + jb) + ri * s);
      store16(Si + jb, di * s + ki * vv);
    }
  }
  if (out) std::memcpy(out, acc, (size_t)D * sizeof(float));
}

void load_state(const float* s0, const RwkvDims& d, i64 b, i64 h, float* S) {
  for (i64 i = 0; i < d.D; i++) {
    float* Si = S + i * d.DJ;
    if (s0) load_row(s0 + ((b * d.H + h) * d.D + i) * d.D, d.D, d.DJ, Si);
    else for (i64 j = 0; j < d.DJ; j++) Si[j] = 0.0f;
  }
}

}  // namespace

void rwkv6(const float* r, const float* k, const float* v, const float* w, const float* u, const float* s0, float* out,
           float* sT, i64 B, i64 T, i64 H, i64 D) {
  const RwkvDims d(B, T, H, D);
  if (B == 0 || H == 0 || D == 0) return;
  parallel_for(B * H, 1, [&](i64 it0, i64 it1) {
    float* S = scratch(0, (size_t)(D * d.DJ + 3 * d.DJ));
    float* vrow = S + D * d.DJ;
    float* dec = vrow + d.DJ;
    float* acc = dec + d.DJ;
    for (i64 it = it0; it < it1; it++) {
      const i64 b = it / H, h = it % H;
      load_state(s0, d, b, h, S);
      for (i64 t = 0; t < T; t++) {
        const i64 o = d.off(b, t, h);
        rwkv_token(r + o, k + o, v + o, w + o, u, d, h, S, out + o, vrow, dec, acc);
      }
      for (i64 i = 0; i < D; i++) std::memcpy(sT + ((b * H + h) * D + i) * D, S + i * d.DJ, (size_t)D * sizeof(float));
    }
  });
}

void rwkv6_backward(const float* r, const float* k, const float* v, const float* w, const float* u, const float* s0,
                    const float* dout, float* dr, float* dk, float* dv, float* dw, float* du, i64 B, i64 T, i64 H,
                    i64 D) {
  const RwkvDims d(B, T, H, D);
  if (B == 0 || H == 0 || D == 0) {
    std::memset(du, 0, (size_t)(H * D) * sizeof(float));
    return;
  }
  const i64 K = std::max<i64>(16, (i64)std::ceil(std::sqrt((double)T)));
  const i64 nChunks = (T + K - 1) / K, SS = D * d.DJ, DJ = d.DJ;
  std::unique_ptr<float[]> partU(new float[(size_t)(B * H * D)]);
  parallel_for(B * H, 1, [&](i64 it0, i64 it1) {
    float* buf = scratch(0, (size_t)(SS * (2 + nChunks + K) + 6 * DJ));
    float* S = buf;
    float* G = S + SS;
    float* ckpt = G + SS;        // [nChunks, D, DJ]: state before each chunk
    float* Ss = ckpt + nChunks * SS;  // [K, D, DJ]: state before each token of the chunk
    float* vrow = Ss + K * SS;
    float* dec = vrow + DJ;
    float* acc = dec + DJ;
    float* dorow = acc + DJ;
    float* dvacc = dorow + DJ;
    float* uacc = dvacc + DJ;
    for (i64 it = it0; it < it1; it++) {
      const i64 b = it / H, h = it % H;
      const float* uh = u + h * D;
      load_state(s0, d, b, h, S);
      for (i64 c = 0; c < nChunks; c++) {
        std::memcpy(ckpt + c * SS, S, (size_t)SS * sizeof(float));
        for (i64 t = c * K; t < std::min(T, (c + 1) * K); t++) {
          const i64 o = d.off(b, t, h);
          rwkv_token(r + o, k + o, v + o, w + o, u, d, h, S, nullptr, vrow, dec, acc);
        }
      }
      for (i64 e = 0; e < SS; e++) G[e] = 0.0f;
      for (i64 i = 0; i < D; i++) uacc[i] = 0.0f;
      for (i64 c = nChunks - 1; c >= 0; c--) {
        const i64 t0 = c * K, t1 = std::min(T, t0 + K);
        std::memcpy(S, ckpt + c * SS, (size_t)SS * sizeof(float));
        for (i64 t = t0; t < t1; t++) {
          std::memcpy(Ss + (t - t0) * SS, S, (size_t)SS * sizeof(float));
          const i64 o = d.off(b, t, h);
          rwkv_token(r + o, k + o, v + o, w + o, u, d, h, S, nullptr, vrow, dec, acc);
        }
        for (i64 t = t1 - 1; t >= t0; t--) {
          const i64 o = d.off(b, t, h);
          const float* rt = r + o;
          const float* kt = k + o;
          const float* prev = Ss + (t - t0) * SS;
          load_row(v + o, D, DJ, vrow);
          load_row(dout + o, D, DJ, dorow);
          decays_of(w + o, D, dec);
          float dov = 0.0f, ruk = 0.0f;
          for (i64 j = 0; j < D; j++) dov += dorow[j] * vrow[j];
          for (i64 i = 0; i < D; i++) ruk += rt[i] * uh[i] * kt[i];
          for (i64 jb = 0; jb < DJ; jb += W) store16(dvacc + jb, ruk * load16(dorow + jb));
          for (i64 i = 0; i < D; i++) {
            const float ri = rt[i], ki = kt[i], di = dec[i];
            float* Gi = G + i * DJ;
            const float* Pi = prev + i * DJ;
            v16f gr = splat(0.0f), gk = splat(0.0f), gd = splat(0.0f);
            for (i64 jb = 0; jb < DJ; jb += W) {
              const v16f gv = load16(Gi + jb), pv = load16(Pi + jb), dov16 = load16(dorow + jb);
              gr += dov16 * pv;
              gk += gv * load16(vrow + jb);
              gd += gv * pv;
              store16(dvacc + jb, load16(dvacc + jb) + ki * gv);
              store16(Gi + jb, di * gv + ri * dov16);
            }
            dr[o + i] = hsum(gr) + uh[i] * ki * dov;
            dk[o + i] = hsum(gk) + ri * uh[i] * dov;
            dw[o + i] = -hsum(gd) * di * std::exp(w[o + i]);
            uacc[i] += ri * ki * dov;
          }
          std::memcpy(dv + o, dvacc, (size_t)D * sizeof(float));
        }
      }
      std::memcpy(partU.get() + (b * H + h) * D, uacc, (size_t)D * sizeof(float));
    }
  });
  for (i64 j = 0; j < H * D; j++) {
    float s = 0.0f;
    for (i64 b = 0; b < B; b++) s += partU[b * H * D + j];
    du[j] = s;
  }
}

}  // namespace WT_ISA
}  // namespace wt
