// Scaled dot-product attention, forward and backward, on q [B, Tq, H, D] and k, v
// [B, Tk, H, D] (the head stride is H*D, which sgemm takes as the leading dimension).
//
// Per (batch, head) and per tile of kBq queries we only touch the key range that any
// query of the tile can see (causal / sliding / block masks shrink it), compute the
// score tile with one sgemm, apply the mask and the softmax row by row in place, and
// multiply by V with a second sgemm. The backward recomputes P from the saved
// log-sum-exp instead of storing it. Work items are split statically over the pool
// (forward: (b, h, tile); backward: (b, h), because dK and dV of a head accumulate over
// its query tiles); OpenBLAS runs single-threaded inside each item.
#include <cblas.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "kernels.h"
#include "pool.h"
#include "rows.h"

namespace wt {
namespace WT_ISA {

// Queries per tile. 32 rather than 64: the backward's P and dP tiles (kBq x keys each,
// read by four products) are half the size, and a causal diagonal tile wastes half as
// much. One-thread backward CPU time fell by up to 35% (most at T = 64 and on AVX2,
// within noise at T = 256 on AVX-512; BENCHMARKS.md), the forward did not slow; 16 was
// no better.
constexpr i64 kBq = 32;

namespace {

struct Plan {
  const AttnShape& s;
  i64 HD, nqt;
  // Block mask: visible key-block span per query block. (Plain arrays: a std::vector
  // member would emit a shared inline symbol compiled for this ISA; see binding.gyp.)
  std::unique_ptr<int32_t[]> firstKb, lastKb;

  explicit Plan(const AttnShape& sh) : s(sh), HD(sh.H * sh.D), nqt((sh.Tq + kBq - 1) / kBq) {
    if (s.mask == M_BLOCK) {
      const i64 nqb = s.Tk > 0 ? (s.Tk - 1) / s.blockSize + 1 : 0;
      firstKb.reset(new int32_t[nqb]);
      lastKb.reset(new int32_t[nqb]);
      for (i64 qb = 0; qb < nqb; qb++) firstKb[qb] = lastKb[qb] = -1;
      for (i64 qb = 0; qb < nqb; qb++)
        for (i64 kb = 0; kb <= qb && kb < s.nKeyBlocks; kb++)  // causal: kb <= qb
          if (s.layout[qb * s.nKeyBlocks + kb]) {
            if (firstKb[qb] < 0) firstKb[qb] = (int32_t)kb;
            lastKb[qb] = (int32_t)kb;
          }
    }
  }

  /** Conservative visible key range [lo, hi) of query i (exact for none/causal/sliding). */
  void bounds(i64 i, i64& lo, i64& hi) const {
    const i64 p = s.Tk - s.Tq + i;
    lo = 0;
    hi = s.Tk;
    if (s.mask != M_NONE) hi = std::min(hi, p + 1);
    if (s.mask == M_SLIDING) lo = std::max<i64>(0, p - s.window + 1);
    if (s.mask == M_BLOCK && p >= 0) {
      const i64 qb = p / s.blockSize;
      if (firstKb[qb] < 0) { hi = lo; return; }
      lo = std::max(lo, (i64)firstKb[qb] * s.blockSize);
      hi = std::min(hi, ((i64)lastKb[qb] + 1) * s.blockSize);
    }
    if (hi < lo) hi = lo;
  }

  /** Key range [klo, khi) touched by tile rows [i0, i1). Empty when every row is fully masked. */
  void tile_range(i64 i0, i64 i1, i64& klo, i64& khi) const {
    klo = s.Tk;
    khi = 0;
    for (i64 i = i0; i < i1; i++) {
      i64 lo, hi;
      bounds(i, lo, hi);
      if (lo < hi) { klo = std::min(klo, lo); khi = std::max(khi, hi); }
    }
    if (khi < klo) khi = klo;
  }

  /**
   * Sets S[r, j] (keys klo + j) to -inf wherever query i0 + r may not look. Rows stay
   * as computed elsewhere.
   */
  void apply_mask(float* S, i64 nq, i64 nk, i64 b, i64 i0, i64 klo) const {
    for (i64 r = 0; r < nq; r++) {
      float* row = S + r * nk;
      const i64 i = i0 + r;
      i64 lo, hi;
      bounds(i, lo, hi);
      lo = std::max<i64>(0, std::min(nk, lo - klo));
      hi = std::max<i64>(lo, std::min(nk, hi - klo));
      for (i64 j = 0; j < lo; j++) row[j] = -INFINITY;
      for (i64 j = hi; j < nk; j++) row[j] = -INFINITY;
      if (s.mask == M_BLOCK) {
        const i64 p = s.Tk - s.Tq + i;
        const uint8_t* lay = s.layout + (p / s.blockSize) * s.nKeyBlocks;
        for (i64 j = lo; j < hi; j++)
          if (!lay[(klo + j) / s.blockSize]) row[j] = -INFINITY;
      }
      if (s.docQ) {
        const int32_t dq = s.docQ[b * s.Tq + i];
        const int32_t* dk = s.docK + b * s.Tk + klo;
        for (i64 j = lo; j < hi; j++)
          if (dk[j] != dq) row[j] = -INFINITY;
      }
    }
  }

  i64 qoff(i64 b, i64 i, i64 h) const { return ((b * s.Tq + i) * s.H + h) * s.D; }
  i64 koff(i64 b, i64 j, i64 h) const { return ((b * s.Tk + j) * s.H + h) * s.D; }
};

}  // namespace

void attention(const float* q, const float* k, const float* v, float* out, float* lse, const AttnShape& s) {
  if (s.B == 0 || s.H == 0 || s.Tq == 0) return;
  blas_single_thread();
  Plan P(s);
  const i64 D = s.D, HD = P.HD;
  const i64 items = s.B * s.H * P.nqt;
  parallel_for(items, 1, [&](i64 it0, i64 it1) {
    float* S = scratch(0, (size_t)(kBq * std::max<i64>(s.Tk, 1)));
    for (i64 it = it0; it < it1; it++) {
      const i64 qt = it % P.nqt, bh = it / P.nqt, h = bh % s.H, b = bh / s.H;
      const i64 i0 = qt * kBq, i1 = std::min(s.Tq, i0 + kBq), nq = i1 - i0;
      float* L = lse + bh * s.Tq;
      i64 klo, khi;
      P.tile_range(i0, i1, klo, khi);
      const i64 nk = khi - klo;
      if (nk == 0) {  // every row of the tile is fully masked: out = 0, lse = -inf
        for (i64 i = i0; i < i1; i++) {
          std::memset(out + P.qoff(b, i, h), 0, (size_t)D * sizeof(float));
          L[i] = -INFINITY;
        }
        continue;
      }
      if (D > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D, s.scale, q + P.qoff(b, i0, h),
                    (int)HD, k + P.koff(b, klo, h), (int)HD, 0.0f, S, (int)nk);
      else
        for (i64 x = 0; x < nq * nk; x++) S[x] = 0.0f;
      P.apply_mask(S, nq, nk, b, i0, klo);
      for (i64 r = 0; r < nq; r++) {
        float* row = S + r * nk;
        const float mx = fmax_row(row, nk);
        if (mx == -INFINITY) {  // fully masked row: P = 0, out = 0, lse = -inf
          std::memset(row, 0, (size_t)nk * sizeof(float));
          L[i0 + r] = -INFINITY;
          continue;
        }
        const double sum = exp_sum(row, row, nk, mx);
        L[i0 + r] = (float)((double)mx + std::log(sum));
        const v16f inv = splat((float)(1.0 / sum));
        i64 j = 0;
        for (; j + 16 <= nk; j += 16) store16(row + j, load16(row + j) * inv);
        for (; j < nk; j++) row[j] *= inv[0];
      }
      if (D > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nk, 1.0f, S, (int)nk,
                    v + P.koff(b, klo, h), (int)HD, 0.0f, out + P.qoff(b, i0, h), (int)HD);
    }
  });
}

void attention_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                        const float* dout, float* dq, float* dk, float* dv, const AttnShape& s) {
  if (s.B == 0 || s.H == 0) return;
  blas_single_thread();
  Plan P(s);
  const i64 D = s.D, HD = P.HD;
  parallel_for(s.B * s.H, 1, [&](i64 bh0, i64 bh1) {
    float* S = scratch(0, (size_t)(kBq * std::max<i64>(s.Tk, 1)));
    float* dP = scratch(1, (size_t)(kBq * std::max<i64>(s.Tk, 1)));
    float* delta = scratch(2, (size_t)kBq);
    for (i64 bh = bh0; bh < bh1; bh++) {
      const i64 h = bh % s.H, b = bh / s.H;
      const float* L = lse + bh * s.Tq;
      for (i64 j = 0; j < s.Tk; j++) {
        std::memset(dk + P.koff(b, j, h), 0, (size_t)D * sizeof(float));
        std::memset(dv + P.koff(b, j, h), 0, (size_t)D * sizeof(float));
      }
      if (D == 0) continue;
      for (i64 qt = 0; qt < P.nqt; qt++) {
        const i64 i0 = qt * kBq, i1 = std::min(s.Tq, i0 + kBq), nq = i1 - i0;
        i64 klo, khi;
        P.tile_range(i0, i1, klo, khi);
        const i64 nk = khi - klo;
        if (nk == 0) {
          for (i64 i = i0; i < i1; i++) std::memset(dq + P.qoff(b, i, h), 0, (size_t)D * sizeof(float));
          continue;
        }
        const float* qt_ = q + P.qoff(b, i0, h);
        const float* dot_ = dout + P.qoff(b, i0, h);
        const float* kr = k + P.koff(b, klo, h);
        const float* vr = v + P.koff(b, klo, h);
        // P = exp(scale q k^T - lse), masked entries and fully masked rows 0.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D, s.scale, qt_, (int)HD, kr,
                    (int)HD, 0.0f, S, (int)nk);
        P.apply_mask(S, nq, nk, b, i0, klo);
        for (i64 r = 0; r < nq; r++) {
          float* row = S + r * nk;
          const float l = L[i0 + r];
          if (l == -INFINITY) { std::memset(row, 0, (size_t)nk * sizeof(float)); delta[r] = 0.0f; continue; }
          const v16f lv = splat(l);
          i64 j = 0;
          for (; j + 16 <= nk; j += 16) store16(row + j, vexp(load16(row + j) - lv));
          if (j < nk) store_partial(row + j, vexp(load_partial(row + j, (int)(nk - j), -INFINITY) - lv), (int)(nk - j));
          // delta_i = sum_j P_ij (dout_i . v_j) = dout_i . out_i
          const float* o = out + P.qoff(b, i0 + r, h);
          const float* g = dot_ + r * HD;
          double d = 0;
          for (i64 x = 0; x < D; x++) d += (double)g[x] * (double)o[x];
          delta[r] = (float)d;
        }
        // dP = dout v^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D, 1.0f, dot_, (int)HD, vr,
                    (int)HD, 0.0f, dP, (int)nk);
        // dV += P^T dout
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nk, (int)D, (int)nq, 1.0f, S, (int)nk, dot_,
                    (int)HD, 1.0f, dv + P.koff(b, klo, h), (int)HD);
        // dS = P (dP - delta)
        for (i64 r = 0; r < nq; r++) {
          float* ds = dP + r * nk;
          const float* pr = S + r * nk;
          const float dl = delta[r];
          for (i64 j = 0; j < nk; j++) ds[j] = pr[j] * (ds[j] - dl);
        }
        // dQ = scale dS K ; dK += scale dS^T Q
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nk, s.scale, dP, (int)nk, kr,
                    (int)HD, 0.0f, dq + P.qoff(b, i0, h), (int)HD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nk, (int)D, (int)nq, s.scale, dP, (int)nk, qt_,
                    (int)HD, 1.0f, dk + P.koff(b, klo, h), (int)HD);
      }
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
