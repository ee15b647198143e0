// Mamba-1 selective scan (src/engine/sequence-kernels.ts SelectiveScanShape), forward and
// backward. Channels are independent given the inputs, so the work is (batch, block of 16
// channels): each v16f holds one state index n of 16 channels, and the scan runs token by
// token with N such vectors as the state. dt, x, y of 16 neighbouring channels are
// contiguous ([B, T, C]), so every load is a plain vector load; Bm_t[n] and Cm_t[n] are
// broadcast scalars.
//
// The backward keeps no T copies of the state: it reruns the forward, saving the state
// at the start of every chunk of kChunkT tokens, then walks the chunks backwards,
// recomputing each chunk's states from its checkpoint. dBm and dCm sum over channels, so
// each channel block writes its own partial row and a second pass adds the blocks in a
// fixed order; dA sums over the batch the same way. Task boundaries depend only on the
// sizes: results are the same for any thread count.
#include <cmath>
#include <cstring>
#include <memory>

#include "kernels.h"
#include "pool.h"
#include "vecmath.h"

namespace wt {
namespace WT_ISA {

namespace {

constexpr i64 kChunkT = 64;

/** softplus(x) = max(x, 0) + log1p(exp(-|x|)), log1p(z) = 2 atanh(z / (2 + z)) by its series (z <= 1). */
WT_INLINE v16f vsoftplus(v16f x) {
  const v16f z = vexp(-vabs(x));
  const v16f s = z / (2.0f + z), s2 = s * s;
  const v16f p = 2.0f + s2 * (2.0f / 3 + s2 * (2.0f / 5 + s2 * (2.0f / 7 + s2 * (2.0f / 9 + s2 * (2.0f / 11 + s2 * (2.0f / 13 + s2 * (2.0f / 15)))))));
  return vmax(x, splat(0.0f)) + s * p;
}

WT_INLINE v16f vsigmoid(v16f x) { return 1.0f / (1.0f + vexp(-x)); }

/** nc (<= 16) floats at p, the rest `pad`. */
WT_INLINE v16f load_n(const float* p, int nc, float pad) { return nc == W ? load16(p) : load_partial(p, nc, pad); }
WT_INLINE void store_n(float* p, v16f v, int nc) {
  if (nc == W) store16(p, v);
  else store_partial(p, v, nc);
}

struct ScanDims {
  i64 B, T, C, N, nCB;
  ScanDims(i64 b, i64 t, i64 c, i64 n) : B(b), T(t), C(c), N(n), nCB((c + W - 1) / W) {}
};

/** A [C, N] of channels c0..c0+nc as N vectors (padding lanes 0: decay 1, no input). */
void load_a(const float* A, const ScanDims& d, i64 c0, int nc, float* At) {
  for (i64 n = 0; n < d.N; n++)
    for (int l = 0; l < W; l++) At[n * W + l] = l < nc ? A[(c0 + l) * d.N + n] : 0.0f;
}

void load_state(const float* h0, const ScanDims& d, i64 b, i64 c0, int nc, float* h) {
  for (i64 n = 0; n < d.N; n++)
    for (int l = 0; l < W; l++) h[n * W + l] = (h0 && l < nc) ? h0[(b * d.C + c0 + l) * d.N + n] : 0.0f;
}

/**
 * Runs tokens [t0, t1) from state h (updated in place). y (may be null) gets the outputs;
 * hs (may be null) gets the state after each token, decays (may be null) exp(delta A),
 * deltas (may be null) delta, each indexed from t0.
 */
WT_INLINE void scan_tokens(const float* x, const float* dt, const float* Bm, const float* Cm, const ScanDims& d,
                           i64 b, i64 c0, int nc, const float* At, float* h, i64 t0, i64 t1, float* y, float* hs,
                           float* decays, float* deltas) {
  const i64 N = d.N;
  for (i64 t = t0; t < t1; t++) {
    const i64 row = (b * d.T + t) * d.C + c0;
    const v16f delta = vsoftplus(load_n(dt + row, nc, 0.0f));
    const v16f dx = delta * load_n(x + row, nc, 0.0f);
    const float* bt = Bm + (b * d.T + t) * N;
    const float* ct = Cm + (b * d.T + t) * N;
    v16f acc = splat(0.0f);
    for (i64 n = 0; n < N; n++) {
      const v16f dec = vexp(delta * load16(At + n * W));
      const v16f hn = dec * load16(h + n * W) + dx * bt[n];
      store16(h + n * W, hn);
      acc += hn * ct[n];
      if (decays) store16(decays + ((t - t0) * N + n) * W, dec);
      if (hs) store16(hs + ((t - t0) * N + n) * W, hn);
    }
    if (deltas) store16(deltas + (t - t0) * W, delta);
    if (y) store_n(y + row, acc, nc);
  }
}

}  // namespace

void selective_scan(const float* x, const float* dt, const float* A, const float* Bm, const float* Cm, const float* h0,
                    float* y, float* hT, i64 B, i64 T, i64 C, i64 N) {
  const ScanDims d(B, T, C, N);
  if (B == 0 || C == 0) return;
  parallel_for(B * d.nCB, 1, [&](i64 it0, i64 it1) {
    float* buf = scratch(0, (size_t)(2 * N * W));
    float* At = buf;
    float* h = buf + N * W;
    for (i64 it = it0; it < it1; it++) {
      const i64 b = it / d.nCB, c0 = (it % d.nCB) * W;
      const int nc = (int)std::min<i64>(W, C - c0);
      load_a(A, d, c0, nc, At);
      load_state(h0, d, b, c0, nc, h);
      scan_tokens(x, dt, Bm, Cm, d, b, c0, nc, At, h, 0, T, y, nullptr, nullptr, nullptr);
      for (i64 n = 0; n < N; n++)
        for (int l = 0; l < nc; l++) hT[(b * C + c0 + l) * N + n] = h[n * W + l];
    }
  });
}

void selective_scan_backward(const float* x, const float* dt, const float* A, const float* Bm, const float* Cm,
                             const float* h0, const float* dy, float* dx, float* ddt, float* dA, float* dBm, float* dCm,
                             i64 B, i64 T, i64 C, i64 N) {
  const ScanDims d(B, T, C, N);
  const i64 BTN = B * T * N;
  if (C == 0) {
    std::memset(dBm, 0, (size_t)BTN * sizeof(float));
    std::memset(dCm, 0, (size_t)BTN * sizeof(float));
    return;
  }
  if (B == 0) {
    std::memset(dA, 0, (size_t)(C * N) * sizeof(float));
    return;
  }
  const i64 nChunks = (T + kChunkT - 1) / kChunkT;
  // Per channel block partial dBm, dCm [nCB, B, T, N]; per batch partial dA [B, C, N].
  std::unique_ptr<float[]> partB(new float[(size_t)(d.nCB * BTN)]), partC(new float[(size_t)(d.nCB * BTN)]);
  std::unique_ptr<float[]> partA(new float[(size_t)(B * C * N)]);
  parallel_for(B * d.nCB, 1, [&](i64 it0, i64 it1) {
    const i64 NW = N * W;
    float* buf = scratch(0, (size_t)(NW * (4 + nChunks + 2 * kChunkT + 1) + kChunkT * W));
    float* At = buf;
    float* h = At + NW;
    float* g = h + NW;
    float* gA = g + NW;
    float* ckpt = gA + NW;                 // [nChunks, N, W]: state before each chunk
    float* hs = ckpt + nChunks * NW;       // [kChunkT + 1, N, W]: state before the chunk, then after each token
    float* decays = hs + (kChunkT + 1) * NW;  // [kChunkT, N, W]
    float* deltas = decays + kChunkT * NW;    // [kChunkT, W]
    for (i64 it = it0; it < it1; it++) {
      const i64 b = it / d.nCB, cb = it % d.nCB, c0 = cb * W;
      const int nc = (int)std::min<i64>(W, C - c0);
      float* pB = partB.get() + cb * BTN;
      float* pC = partC.get() + cb * BTN;
      load_a(A, d, c0, nc, At);
      load_state(h0, d, b, c0, nc, h);
      for (i64 k = 0; k < nChunks; k++) {
        std::memcpy(ckpt + k * NW, h, (size_t)NW * sizeof(float));
        scan_tokens(x, dt, Bm, Cm, d, b, c0, nc, At, h, k * kChunkT, std::min(T, (k + 1) * kChunkT), nullptr, nullptr,
                    nullptr, nullptr);
      }
      for (i64 e = 0; e < NW; e++) g[e] = gA[e] = 0.0f;
      for (i64 k = nChunks - 1; k >= 0; k--) {
        const i64 t0 = k * kChunkT, t1 = std::min(T, t0 + kChunkT);
        std::memcpy(hs, ckpt + k * NW, (size_t)NW * sizeof(float));
        std::memcpy(h, hs, (size_t)NW * sizeof(float));
        scan_tokens(x, dt, Bm, Cm, d, b, c0, nc, At, h, t0, t1, nullptr, hs + NW, decays, deltas);
        for (i64 t = t1 - 1; t >= t0; t--) {
          const i64 row = (b * T + t) * C + c0, bt = (b * T + t) * N;
          const v16f dyv = load_n(dy + row, nc, 0.0f), xv = load_n(x + row, nc, 0.0f);
          const v16f delta = load16(deltas + (t - t0) * W);
          const float* hNow = hs + (t - t0 + 1) * NW;
          const float* hPrev = hs + (t - t0) * NW;
          const float* dec = decays + (t - t0) * NW;
          v16f gx = splat(0.0f), gdelta = splat(0.0f);
          for (i64 n = 0; n < N; n++) {
            const float bn = Bm[bt + n], cn = Cm[bt + n];
            pC[bt + n] = hsum(dyv * load16(hNow + n * W));
            const v16f gn = load16(g + n * W) + dyv * cn;
            const v16f dn = load16(dec + n * W), hp = load16(hPrev + n * W);
            const v16f gd = gn * delta;
            gx += gd * bn;
            pB[bt + n] = hsum(gd * xv);
            const v16f an = load16(At + n * W);
            gdelta += gn * (xv * bn + an * dn * hp);
            store16(gA + n * W, load16(gA + n * W) + gd * dn * hp);
            store16(g + n * W, gn * dn);
          }
          store_n(dx + row, gx, nc);
          const v16f dtv = load_n(dt + row, nc, 0.0f);
          store_n(ddt + row, gdelta * vsigmoid(dtv), nc);
        }
      }
      for (i64 n = 0; n < N; n++)
        for (int l = 0; l < nc; l++) partA[(b * C + c0 + l) * N + n] = gA[n * W + l];
    }
  });
  // Fixed-order sums of the partials.
  parallel_for(BTN, 4096, [&](i64 i0, i64 i1) {
    for (i64 i = i0; i < i1; i++) {
      float sb = 0.0f, sc = 0.0f;
      for (i64 cb = 0; cb < d.nCB; cb++) { sb += partB[cb * BTN + i]; sc += partC[cb * BTN + i]; }
      dBm[i] = sb;
      dCm[i] = sc;
    }
  });
  for (i64 j = 0; j < C * N; j++) {
    float s = 0.0f;
    for (i64 b = 0; b < B; b++) s += partA[b * C * N + j];
    dA[j] = s;
  }
}

}  // namespace WT_ISA
}  // namespace wt
