// Causal low-rank attention (src/engine/sequence-kernels.ts LowRankShape), forward and
// backward, in the manner of attention.cc: queries are tiled by block (all queries of a
// tile see the same compressed rows and the same raw-key range), the score tile
// [compressed | local] comes from two sgemms into one row-major buffer, the local part
// gets the causal mask, the softmax runs row by row, and two more sgemms multiply by
// [vc ; v]. The backward recomputes P from the saved log-sum-exp. Forward items are
// (batch, head, tile); backward items are (batch, head), because dkc and dvc of a head
// accumulate over all its tiles. OpenBLAS runs single-threaded inside each item.
#include <cblas.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "kernels.h"
#include "pool.h"
#include "rows.h"

namespace wt {
namespace WT_ISA {

namespace {

struct LrPlan {
  i64 B, H, Tq, Tk, D, L, R, nc, pos0, HD;
  float scale;
  i64 ntiles;
  std::unique_ptr<i64[]> start;  // tile t covers queries [start[t], start[t + 1])

  LrPlan(i64 b, i64 h, i64 tq, i64 tk, i64 d, i64 l, i64 r, i64 ncomp, float sc, i64 p0)
      : B(b), H(h), Tq(tq), Tk(tk), D(d), L(l), R(r), nc(ncomp), pos0(p0), HD(h * d), scale(sc), ntiles(0) {
    start.reset(new i64[(size_t)(Tq + 1)]);
    for (i64 i = 0; i < Tq; i++)
      if (i == 0 || pos(i) % L == 0) start[ntiles++] = i;
    start[ntiles] = Tq;
  }
  i64 pos(i64 i) const { return pos0 + Tk - Tq + i; }
  /** Compressed rows and local raw-key rows [lo, hi) of tile t (hi for its last query). */
  void span(i64 t, i64& nComp, i64& lo, i64& hi) const {
    const i64 blk = pos(start[t]) / L;
    nComp = std::min(blk, nc) * R;
    lo = std::max<i64>(0, blk * L - pos0);
    hi = pos(start[t + 1] - 1) - pos0 + 1;
  }
  i64 qoff(i64 b, i64 i, i64 h) const { return ((b * Tq + i) * H + h) * D; }
  i64 koff(i64 b, i64 j, i64 h) const { return ((b * Tk + j) * H + h) * D; }
  i64 coff(i64 b, i64 j, i64 h) const { return ((b * nc * R + j) * H + h) * D; }
};

/** S [nq, nComp + nLoc] = scale q [kc ; k]^T, local keys after query i0 + r masked to -inf. */
void scores(const LrPlan& P, const float* q, const float* k, const float* kc, i64 b, i64 h, i64 i0, i64 nq, i64 nComp,
            i64 lo, i64 nLoc, float* S) {
  const i64 ncol = nComp + nLoc;
  if (nComp > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nComp, (int)P.D, P.scale, q + P.qoff(b, i0, h),
                (int)P.HD, kc + P.coff(b, 0, h), (int)P.HD, 0.0f, S, (int)ncol);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nLoc, (int)P.D, P.scale, q + P.qoff(b, i0, h),
              (int)P.HD, k + P.koff(b, lo, h), (int)P.HD, 0.0f, S + nComp, (int)ncol);
  for (i64 r = 0; r < nq; r++) {
    const i64 visible = P.pos(i0 + r) - P.pos0 + 1 - lo;  // raw keys this query sees
    float* row = S + r * ncol + nComp;
    for (i64 j = visible; j < nLoc; j++) row[j] = -INFINITY;
  }
}

}  // namespace

void lowrank_attention(const float* q, const float* k, const float* v, const float* kc, const float* vc, float* out,
                       float* lse, i64 B, i64 H, i64 Tq, i64 Tk, i64 D, i64 L, i64 R, i64 nc, float scale, i64 pos0) {
  if (B == 0 || H == 0 || Tq == 0) return;
  blas_single_thread();
  const LrPlan P(B, H, Tq, Tk, D, L, R, nc, scale, pos0);
  const i64 maxCols = nc * R + L;
  parallel_for(B * H * P.ntiles, 1, [&](i64 it0, i64 it1) {
    float* S = scratch(0, (size_t)(std::min(Tq, L) * maxCols));
    for (i64 it = it0; it < it1; it++) {
      const i64 t = it % P.ntiles, bh = it / P.ntiles, h = bh % H, b = bh / H;
      const i64 i0 = P.start[t], nq = P.start[t + 1] - i0;
      i64 nComp, lo, hi;
      P.span(t, nComp, lo, hi);
      const i64 nLoc = hi - lo, ncol = nComp + nLoc;
      if (D == 0) {
        for (i64 r = 0; r < nq; r++) lse[bh * Tq + i0 + r] = std::log((float)(nComp + P.pos(i0 + r) - pos0 + 1 - lo));
        continue;
      }
      scores(P, q, k, kc, b, h, i0, nq, nComp, lo, nLoc, S);
      for (i64 r = 0; r < nq; r++) {
        float* row = S + r * ncol;
        const float mx = fmax_row(row, ncol);
        const double sum = exp_sum(row, row, ncol, mx);
        lse[bh * Tq + i0 + r] = (float)((double)mx + std::log(sum));
        const float inv = (float)(1.0 / sum);
        for (i64 j = 0; j < ncol; j++) row[j] *= inv;
      }
      float* o = out + P.qoff(b, i0, h);
      if (nComp > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nComp, 1.0f, S, (int)ncol,
                    vc + P.coff(b, 0, h), (int)P.HD, 0.0f, o, (int)P.HD);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nLoc, 1.0f, S + nComp, (int)ncol,
                  v + P.koff(b, lo, h), (int)P.HD, nComp > 0 ? 1.0f : 0.0f, o, (int)P.HD);
    }
  });
}

void lowrank_attention_backward(const float* q, const float* k, const float* v, const float* kc, const float* vc,
                                const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                                float* dkc, float* dvc, i64 B, i64 H, i64 Tq, i64 Tk, i64 D, i64 L, i64 R, i64 nc,
                                float scale, i64 pos0) {
  if (B == 0 || H == 0) return;
  blas_single_thread();
  const LrPlan P(B, H, Tq, Tk, D, L, R, nc, scale, pos0);
  const i64 maxCols = nc * R + L;
  parallel_for(B * H, 1, [&](i64 bh0, i64 bh1) {
    const i64 rows = std::max<i64>(1, std::min(Tq, L));
    float* S = scratch(0, (size_t)(rows * maxCols));
    float* dP = scratch(1, (size_t)(rows * maxCols));
    float* delta = scratch(2, (size_t)rows);
    for (i64 bh = bh0; bh < bh1; bh++) {
      const i64 h = bh % H, b = bh / H;
      for (i64 j = 0; j < Tk; j++) {
        std::memset(dk + P.koff(b, j, h), 0, (size_t)D * sizeof(float));
        std::memset(dv + P.koff(b, j, h), 0, (size_t)D * sizeof(float));
      }
      for (i64 j = 0; j < nc * R; j++) {
        std::memset(dkc + P.coff(b, j, h), 0, (size_t)D * sizeof(float));
        std::memset(dvc + P.coff(b, j, h), 0, (size_t)D * sizeof(float));
      }
      if (D == 0) continue;
      for (i64 t = 0; t < P.ntiles; t++) {
        const i64 i0 = P.start[t], nq = P.start[t + 1] - i0;
        i64 nComp, lo, hi;
        P.span(t, nComp, lo, hi);
        const i64 nLoc = hi - lo, ncol = nComp + nLoc;
        const float* qt = q + P.qoff(b, i0, h);
        const float* dot = dout + P.qoff(b, i0, h);
        scores(P, q, k, kc, b, h, i0, nq, nComp, lo, nLoc, S);
        for (i64 r = 0; r < nq; r++) {
          float* row = S + r * ncol;
          const v16f lv = splat(lse[bh * Tq + i0 + r]);
          i64 j = 0;
          for (; j + 16 <= ncol; j += 16) store16(row + j, vexp(load16(row + j) - lv));
          if (j < ncol) store_partial(row + j, vexp(load_partial(row + j, (int)(ncol - j), -INFINITY) - lv), (int)(ncol - j));
          delta[r] = (float)ddot(dot + r * P.HD, out + P.qoff(b, i0 + r, h), D);
        }
        // dP = dout [vc ; v]^T
        if (nComp > 0)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nComp, (int)D, 1.0f, dot, (int)P.HD,
                      vc + P.coff(b, 0, h), (int)P.HD, 0.0f, dP, (int)ncol);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nLoc, (int)D, 1.0f, dot, (int)P.HD,
                    v + P.koff(b, lo, h), (int)P.HD, 0.0f, dP + nComp, (int)ncol);
        // d[vc ; v] += P^T dout
        if (nComp > 0)
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nComp, (int)D, (int)nq, 1.0f, S, (int)ncol, dot,
                      (int)P.HD, 1.0f, dvc + P.coff(b, 0, h), (int)P.HD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nLoc, (int)D, (int)nq, 1.0f, S + nComp, (int)ncol, dot,
                    (int)P.HD, 1.0f, dv + P.koff(b, lo, h), (int)P.HD);
        // dS = P (dP - delta)
        for (i64 r = 0; r < nq; r++) {
          float* ds = dP + r * ncol;
          const float* pr = S + r * ncol;
          const float dl = delta[r];
          for (i64 j = 0; j < ncol; j++) ds[j] = pr[j] * (ds[j] - dl);
        }
        // dq = scale dS [kc ; k]; d[kc ; k] += scale dS^T q
        float* dqt = dq + P.qoff(b, i0, h);
        if (nComp > 0) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nComp, scale, dP, (int)ncol,
                      kc + P.coff(b, 0, h), (int)P.HD, 0.0f, dqt, (int)P.HD);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nComp, (int)D, (int)nq, scale, dP, (int)ncol, qt,
                      (int)P.HD, 1.0f, dkc + P.coff(b, 0, h), (int)P.HD);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nLoc, scale, dP + nComp, (int)ncol,
                    k + P.koff(b, lo, h), (int)P.HD, nComp > 0 ? 1.0f : 0.0f, dqt, (int)P.HD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nLoc, (int)D, (int)nq, scale, dP + nComp, (int)ncol, qt,
                    (int)P.HD, 1.0f, dk + P.koff(b, lo, h), (int)P.HD);
      }
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
