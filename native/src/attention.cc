// Scaled dot-product attention, forward and backward, on q [B, Tq, H, D] and k, v
// [B, Tk, H, D], flash style. The rows of q (and dq) are ldq floats apart, those of k, v, dk
// and dv ldkv apart: H*D when contiguous, 3*H*D when q, k and v are read in place from a
// fused [B, T, 3C] projection. out and dout are contiguous [B, Tq, H, D].
//
// - Forward: per (batch, head, block of kBq queries), walk the key tiles of kBk keys that
//   any query of the block can see, with an online softmax (running max and sum per row,
//   the output accumulator rescaled when the max grows). No T x T matrix: besides the
//   output only the row log-sum-exp is stored, for the backward.
// - Backward: recomputes the probability tiles from the saved log-sum-exp. With enough
//   heads (kFusedHeads) one pass per (batch, head) accumulates dQ per query block and the
//   head's dK and dV; with few heads (long sequences, small batches) two passes that each
//   own what they write keep every thread busy: a dQ pass over query blocks and a dK/dV
//   pass over key blocks, which walks the query tiles with the roles transposed. No
//   atomics, no reduction across threads; both ways give the same bits.
// - Tiles every query/key pair of which is masked are skipped without being computed
//   (causal, sliding window, block layout, disjoint documents), so a sliding window of w
//   or a sparse block layout costs O(T w), not O(T^2). Tiles wholly inside the mask need
//   no per-element test; only tiles the mask cuts through are masked element by element.
// - Every product is a register-blocked micro-kernel (below). Its operands are laid out
//   once per call: k^T (and v^T, q^T, dout^T in the backward) and contiguous copies of the
//   rows, O(T) memory in the calling thread's scratch. Per-tile OpenBLAS calls on 32 x 64
//   x D blocks spent more time packing, locking and dispatching than multiplying
//   (BENCHMARKS.md).
//
// Work items depend only on the shape, and each item's arithmetic runs in a fixed order on
// one thread, so results are bitwise identical across runs and thread counts.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "kernels.h"
#include "pool.h"
#include "rows.h"

namespace wt {
namespace WT_ISA {

// Tile sizes. Forward and dQ pass: kBq query rows x kBk key columns. dK/dV pass: kKb key
// rows x kQc query columns.
constexpr i64 kBq = 32, kBk = 64;
constexpr i64 kKb = 32, kQc = 64;
// Heads (batch x heads) from which the backward runs one pass per head rather than a dQ
// pass and a dK/dV pass. A property of the shape only, never of the thread count; the two
// give the same bits anyway (test/engine/native.test.ts checks).
constexpr i64 kFusedHeads = 16;

namespace {

inline i64 round16(i64 n) { return (n + 15) & ~(i64)15; }

// ---- register-blocked micro-kernel
// C[R x 16 NV] (row stride ldc) = (acc ? C : 0) + A[R x K] (row stride lda) B[K x 16 NV]
// (row stride ldb). Each step of k broadcasts one A value per row and loads NV vectors of
// B, so R*NV accumulators stay in registers: their number is capped by the ISA's
// register file (32 zmm on AVX-512, 16 ymm on AVX2, 16 xmm on SSE2; a v16f takes kParts
// of them).
// AVX2 gets strips of one v16f (two ymm) and 6 rows, the classic 6 x 16 kernel: with two
// v16f per row only 3 rows fit, and B no longer fits in registers beside them, so every
// FMA reloads it (measured 2x slower).
#if defined(__AVX512F__)
constexpr int kAccRegs = 24, kMaxNV = 4;
#else
constexpr int kAccRegs = 12, kMaxNV = 1;
#endif
constexpr int rows_for(int nv) {
  return std::max(1, std::min(8, kAccRegs / (nv * kParts)));
}

/** *p in every lane (splat() adds 0.0 to keep -0.0 exact, an extra instruction here). */
WT_INLINE v16f bcast(const float* p) {
#if defined(__AVX512F__)
  return (v16f)_mm512_set1_ps(*p);
#else
#if defined(__AVX__)
  const vn b = (vn)_mm256_broadcast_ss(p);
#else
  const vn b = (vn)_mm_set1_ps(*p);
#endif
  v16f v;
  for (int i = 0; i < kParts; i++) part(v, i) = b;
  return v;
#endif
}

template <int R, int NV, bool TA>
WT_INLINE void micro(const float* A, i64 lda, const float* B, i64 ldb, float* C, i64 ldc, i64 K, bool acc) {
  v16f c[R][NV];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) c[r][v] = acc ? load16(C + r * ldc + 16 * v) : splat(0.0f);
  for (i64 k = 0; k < K; k++) {
    v16f b[NV];
    for (int v = 0; v < NV; v++) b[v] = load16(B + k * ldb + 16 * v);
    for (int r = 0; r < R; r++) {
      const v16f a = bcast(TA ? A + k * lda + r : A + r * lda + k);
      for (int v = 0; v < NV; v++) c[r][v] += a * b[v];
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) store16(C + r * ldc + 16 * v, c[r][v]);
}

/** One strip of 16 NV columns, all M rows: blocks of rows_for(NV) rows, then 4, 2, 1. */
template <int NV, bool TA>
void strip(i64 M, const float* A, i64 lda, const float* B, i64 ldb, float* C, i64 ldc, i64 K, bool acc) {
  constexpr int R = rows_for(NV);
  const i64 rs = TA ? 1 : lda;  // distance between rows of A
  i64 r = 0;
  for (; r + R <= M; r += R) micro<R, NV, TA>(A + r * rs, lda, B, ldb, C + r * ldc, ldc, K, acc);
  if constexpr (R > 4)
    for (; r + 4 <= M; r += 4) micro<4, NV, TA>(A + r * rs, lda, B, ldb, C + r * ldc, ldc, K, acc);
  if constexpr (R > 2)
    for (; r + 2 <= M; r += 2) micro<2, NV, TA>(A + r * rs, lda, B, ldb, C + r * ldc, ldc, K, acc);
  if constexpr (R > 1)
    for (; r < M; r++) micro<1, NV, TA>(A + r * rs, lda, B, ldb, C + r * ldc, ldc, K, acc);
}

/**
 * C[M x N] (=|+=) op(A) B with op(A) = A [M x K] (row stride lda), or with TA the
 * transpose of A [K x M] (row stride lda); N a multiple of 16. Every C element is one
 * chain of FMAs over k in increasing order, whatever the blocking, so a product split
 * into consecutive K ranges (acc = true after the first) gives the same bits.
 */
template <bool TA = false>
void gemm(i64 M, i64 N, i64 K, const float* A, i64 lda, const float* B, i64 ldb, float* C, i64 ldc, bool acc) {
  i64 c = 0;
  for (; c + 16 * kMaxNV <= N; c += 16 * kMaxNV) strip<kMaxNV, TA>(M, A, lda, B + c, ldb, C + c, ldc, K, acc);
  switch ((N - c) / 16) {
    case 0: break;
    case 1: strip<1, TA>(M, A, lda, B + c, ldb, C + c, ldc, K, acc); break;
    case 2: strip<std::min(2, kMaxNV), TA>(M, A, lda, B + c, ldb, C + c, ldc, K, acc); break;
    default: strip<std::min(3, kMaxNV), TA>(M, A, lda, B + c, ldb, C + c, ldc, K, acc); break;
  }
}

// ---- packing: rows of one head (nrows x D, row stride ld) into contiguous tiles
/**
 * One head's rows transposed: dst[d * ld + j] = alpha src[j * srcLd + d] for j < T, zero
 * for T <= j < ld. Done once per call for K and V (and Q, dout in the backward) so that
 * every tile reads its B operand in place; ld = round16(T) + 16 lets a tile's columns run
 * to a multiple of 16 past any start.
 */
void transpose_head(const float* src, i64 srcLd, i64 T, i64 D, float alpha, float* dst, i64 ld) {
  for (i64 d = 0; d < D; d++) std::memset(dst + d * ld + T, 0, (size_t)(ld - T) * sizeof(float));
  constexpr i64 kJ = 16;  // a block of rows at a time keeps the D destination lines in cache
  for (i64 j0 = 0; j0 < T; j0 += kJ) {
    const i64 j1 = std::min(T, j0 + kJ);
    for (i64 d = 0; d < D; d++) {
      float* o = dst + d * ld;
      for (i64 j = j0; j < j1; j++) o[j] = alpha * src[j * srcLd + d];
    }
  }
}
inline i64 transposed_ld(i64 T) { return round16(T) + 16; }
/**
 * One head's rows copied contiguous: dst[j * Dp + d] = src[j * srcLd + d], zero for
 * D <= d < Dp. Rows of one head in [B, T, H, D] are H*D floats apart, often a power of two
 * that maps the rows of a tile onto a few cache sets; contiguous copies read from L1.
 */
void copy_head_rows(const float* src, i64 srcLd, i64 T, i64 D, i64 Dp, float* dst) {
  for (i64 j = 0; j < T; j++) {
    std::memcpy(dst + j * Dp, src + j * srcLd, (size_t)D * sizeof(float));
    std::memset(dst + j * Dp + D, 0, (size_t)(Dp - D) * sizeof(float));
  }
}

/**
 * exp(x) for softmax arguments (x <= 0, -inf for masked entries). On AVX2 and SSE2 vexp
 * leaves its fast path for a whole vector when any lane is below -86.5, which every tile
 * the mask cuts through has; here such lanes are clamped, computed on the fast path and
 * set to 0 after (exp(-86.5) = 2.8e-38 is below anything a softmax keeps). NaN stays NaN.
 * AVX-512's vexp has no slow path.
 */
#if defined(__AVX512F__)
WT_INLINE v16f vexp_neg(v16f x) { return vexp(x); }
#else
WT_INLINE vn nexp_neg(vn x) {
  const vn lo = nsplat(-86.5f);
  const vn xc = x > lo ? x : lo;
  vn y = nexp(xc);  // every lane in range: the short path
  y = x < lo ? vn{} : y;
  return x != x ? x : y;
}
WT_INLINE v16f vexp_neg(v16f x) { return by_parts<nexp_neg>(x); }
#endif

/** Carves 64-byte aligned buffers out of one scratch block. */
struct Arena {
  float* p;
  float* take(i64 n) { float* r = p; p += round16(std::max<i64>(n, 1)); return r; }
};

enum TileKind { T_SKIP, T_PARTIAL, T_FULL };

struct Plan {
  const AttnShape& s;
  i64 HD, off;  // query i sits at position off + i
  // Block mask: visible key-block span per query block. (Plain arrays: a std::vector
  // member would emit a shared inline symbol compiled for this ISA; see binding.gyp.)
  std::unique_ptr<int32_t[]> firstKb, lastKb;

  explicit Plan(const AttnShape& sh) : s(sh), HD(sh.H * sh.D), off(sh.Tk - sh.Tq) {
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
  void key_bounds(i64 i, i64& lo, i64& hi) const {
    const i64 p = off + i;
    lo = 0;
    hi = s.Tk;
    if (s.mask != M_NONE) hi = std::min(hi, p + 1);
    if (s.mask == M_SLIDING) lo = std::max<i64>(0, p - s.window + 1);
    if (s.mask == M_BLOCK) {
      const i64 qb = p / s.blockSize;
      if (firstKb[qb] < 0) { hi = lo; return; }
      lo = std::max(lo, (i64)firstKb[qb] * s.blockSize);
      hi = std::min(hi, ((i64)lastKb[qb] + 1) * s.blockSize);
    }
    if (hi < lo) hi = lo;
  }
  /** Queries [lo, hi) that key j may be seen by, ignoring block layout and documents. */
  void query_bounds(i64 j, i64& lo, i64& hi) const {
    lo = s.mask == M_NONE ? 0 : std::max<i64>(0, j - off);
    hi = s.mask == M_SLIDING ? std::min(s.Tq, j - off + s.window) : s.Tq;
    if (hi < lo) hi = lo;
  }
  /** Key range [klo, khi) any of the queries [i0, i1) may see. */
  void key_range(i64 i0, i64 i1, i64& klo, i64& khi) const {
    klo = s.Tk;
    khi = 0;
    for (i64 i = i0; i < i1; i++) {
      i64 lo, hi;
      key_bounds(i, lo, hi);
      if (lo < hi) { klo = std::min(klo, lo); khi = std::max(khi, hi); }
    }
    if (khi < klo) khi = klo;
  }
  /** Query range [qlo, qhi) any of the keys [j0, j1) may be seen by. */
  void query_range(i64 j0, i64 j1, i64& qlo, i64& qhi) const {
    i64 l0, h0, l1, h1;
    query_bounds(j0, l0, h0);
    query_bounds(j1 - 1, l1, h1);
    qlo = std::min(l0, l1);
    qhi = std::max(h0, h1);
  }

  /** Whether the tile queries [i0, i1) x keys [j0, j1) is wholly masked, wholly visible or cut. */
  TileKind classify(i64 b, i64 i0, i64 i1, i64 j0, i64 j1) const {
    const i64 p0 = off + i0, p1 = off + i1 - 1, k1 = j1 - 1;
    bool full = true;
    if (s.mask != M_NONE) {
      if (j0 > p1) return T_SKIP;
      if (k1 > p0) full = false;
    }
    if (s.mask == M_SLIDING) {
      if (k1 <= p0 - s.window) return T_SKIP;
      if (j0 <= p1 - s.window) full = false;
    }
    if (s.mask == M_BLOCK) {
      bool any = false;
      for (i64 qb = p0 / s.blockSize; qb <= p1 / s.blockSize; qb++)
        for (i64 kb = j0 / s.blockSize; kb <= k1 / s.blockSize; kb++) {
          const bool on = s.layout[qb * s.nKeyBlocks + kb] != 0;
          if (on && kb <= qb) any = true;
          if (!on) full = false;
        }
      if (!any) return T_SKIP;
    }
    if (s.docQ) {
      const int32_t* dq = s.docQ + b * s.Tq;
      const int32_t* dk = s.docK + b * s.Tk;
      const auto qm = std::minmax_element(dq + i0, dq + i1);
      const auto km = std::minmax_element(dk + j0, dk + j1);
      if (*qm.second < *km.first || *km.second < *qm.first) return T_SKIP;
      if (!(*qm.first == *qm.second && *km.first == *km.second && *qm.first == *km.first)) full = false;
    }
    return full ? T_FULL : T_PARTIAL;
  }

  /** Rows are queries i0 + r, columns keys j0 + c: sets S to -inf wherever looking is not allowed. */
  void mask_rows(float* S, i64 ld, i64 b, i64 i0, i64 nq, i64 j0, i64 nk) const {
    for (i64 r = 0; r < nq; r++) {
      float* row = S + r * ld;
      const i64 i = i0 + r;
      i64 lo, hi;
      key_bounds(i, lo, hi);
      lo = std::max<i64>(0, std::min(nk, lo - j0));
      hi = std::max<i64>(lo, std::min(nk, hi - j0));
      for (i64 c = 0; c < lo; c++) row[c] = -INFINITY;
      for (i64 c = hi; c < nk; c++) row[c] = -INFINITY;
      if (s.mask == M_BLOCK) {
        const uint8_t* lay = s.layout + ((off + i) / s.blockSize) * s.nKeyBlocks;
        for (i64 c = lo; c < hi; c++)
          if (!lay[(j0 + c) / s.blockSize]) row[c] = -INFINITY;
      }
      if (s.docQ) {
        const int32_t dq = s.docQ[b * s.Tq + i];
        const int32_t* dk = s.docK + b * s.Tk + j0;
        for (i64 c = lo; c < hi; c++)
          if (dk[c] != dq) row[c] = -INFINITY;
      }
    }
  }
  /** Rows are keys j0 + r, columns queries i0 + c (the transposed tile). */
  void mask_cols(float* S, i64 ld, i64 b, i64 j0, i64 nk, i64 i0, i64 nq) const {
    for (i64 r = 0; r < nk; r++) {
      float* row = S + r * ld;
      const i64 j = j0 + r;
      i64 lo, hi;
      query_bounds(j, lo, hi);
      lo = std::max<i64>(0, std::min(nq, lo - i0));
      hi = std::max<i64>(lo, std::min(nq, hi - i0));
      for (i64 c = 0; c < lo; c++) row[c] = -INFINITY;
      for (i64 c = hi; c < nq; c++) row[c] = -INFINITY;
      if (s.mask == M_BLOCK) {
        const i64 kb = j / s.blockSize;
        for (i64 c = lo; c < hi; c++)
          if (!s.layout[((off + i0 + c) / s.blockSize) * s.nKeyBlocks + kb]) row[c] = -INFINITY;
      }
      if (s.docQ) {
        const int32_t dk = s.docK[b * s.Tk + j];
        const int32_t* dq = s.docQ + b * s.Tq + i0;
        for (i64 c = lo; c < hi; c++)
          if (dq[c] != dk) row[c] = -INFINITY;
      }
    }
  }

  /** Offsets of row (b, i) of head h: q and dq (row stride ldq), k, v, dk, dv (ldkv), out and dout (H*D). */
  i64 qoff(i64 b, i64 i, i64 h) const { return (b * s.Tq + i) * s.ldq + h * s.D; }
  i64 koff(i64 b, i64 j, i64 h) const { return (b * s.Tk + j) * s.ldkv + h * s.D; }
  i64 ooff(i64 b, i64 i, i64 h) const { return ((b * s.Tq + i) * s.H + h) * s.D; }
};

/** row[c] = -inf for n <= c < np (the padding columns of a tile). */
inline void pad_neg_inf(float* S, i64 ld, i64 rows, i64 n, i64 np) {
  if (n == np) return;
  for (i64 r = 0; r < rows; r++)
    for (i64 c = n; c < np; c++) S[r * ld + c] = -INFINITY;
}

}  // namespace

void attention(const float* q, const float* k, const float* v, float* out, float* lse, const AttnShape& s) {
  if (s.B == 0 || s.H == 0 || s.Tq == 0) return;
  const Plan P(s);
  const i64 D = s.D, Dp = round16(D), nqb = (s.Tq + kBq - 1) / kBq;
  const i64 ldk = transposed_ld(s.Tk);
  // Per head, once: k^T and v's rows, in the calling thread's scratch (kept between calls:
  // fresh pages from the allocator each call cost more than the copies); items use slot 0.
  const i64 nkT = s.B * s.H * D * ldk, nkR = s.B * s.H * s.Tk * Dp;
  Arena big{scratch(1, (size_t)(round16(nkT) + round16(nkR) + 2 * 16))};
  float* KTall = big.take(nkT);
  float* Vrows = big.take(nkR);
  parallel_for(s.B * s.H, 1, [&](i64 bh0, i64 bh1) {
    for (i64 bh = bh0; bh < bh1; bh++) {
      const i64 b = bh / s.H, h = bh % s.H;
      transpose_head(k + P.koff(b, 0, h), s.ldkv, s.Tk, D, 1.0f, KTall + bh * D * ldk, ldk);
      copy_head_rows(v + P.koff(b, 0, h), s.ldkv, s.Tk, D, Dp, Vrows + bh * s.Tk * Dp);
    }
  });
  const size_t arena = (size_t)(round16(kBq * D) + kBq * kBk + round16(kBq * Dp) + 3 * 16);
  parallel_for(s.B * s.H * nqb, 1, [&](i64 it0, i64 it1) {
    Arena ar{scratch(0, arena)};
    float* Qs = ar.take(kBq * D);   // scale * q rows
    float* S = ar.take(kBq * kBk);  // scores, then probabilities
    float* O = ar.take(kBq * Dp);   // unnormalised output rows
    float m[kBq];
    double l[kBq];
    for (i64 it = it0; it < it1; it++) {
      const i64 qt = it % nqb, bh = it / nqb, h = bh % s.H, b = bh / s.H;
      const i64 i0 = qt * kBq, i1 = std::min(s.Tq, i0 + kBq), nq = i1 - i0;
      for (i64 r = 0; r < nq; r++) {
        const float* src = q + P.qoff(b, i0 + r, h);
        for (i64 d = 0; d < D; d++) Qs[r * D + d] = s.scale * src[d];
        m[r] = -INFINITY;
        l[r] = 0;
      }
      std::memset(O, 0, (size_t)(nq * Dp) * sizeof(float));
      i64 klo, khi;
      P.key_range(i0, i1, klo, khi);
      for (i64 t0 = klo / kBk * kBk; t0 < khi; t0 += kBk) {
        const i64 j0 = std::max(t0, klo), j1 = std::min(t0 + kBk, khi), nk = j1 - j0, nkp = round16(nk);
        const TileKind kind = P.classify(b, i0, i1, j0, j1);
        if (kind == T_SKIP) continue;
        gemm(nq, nkp, D, Qs, D, KTall + bh * D * ldk + j0, ldk, S, kBk, false);
        if (kind == T_PARTIAL) P.mask_rows(S, kBk, b, i0, nq, j0, nk);
        pad_neg_inf(S, kBk, nq, nk, nkp);
        // Online softmax: S becomes exp(S - m_new); the running sum and output rescale by
        // exp(m_old - m_new) when the row max grows.
        for (i64 r = 0; r < nq; r++) {
          float* row = S + r * kBk;
          v16f mv = splat(-INFINITY);
          for (i64 c = 0; c < nkp; c += 16) mv = vmax(load16(row + c), mv);
          const float mt = hmax(mv);
          if (mt == -INFINITY) {  // nothing visible in this tile for this row
            std::memset(row, 0, (size_t)nkp * sizeof(float));
            continue;
          }
          const float mn = std::max(m[r], mt);
          const v16f mnv = splat(mn);
          v16f sum = splat(0.0f);
          for (i64 c = 0; c < nkp; c += 16) {
            const v16f p = vexp_neg(load16(row + c) - mnv);
            store16(row + c, p);
            sum += p;
          }
          if (mn != m[r]) {
            if (m[r] != -INFINITY) {
              const float a = exp1(m[r] - mn);
              l[r] *= a;
              const v16f av = splat(a);
              for (i64 d = 0; d < Dp; d += 16) store16(O + r * Dp + d, load16(O + r * Dp + d) * av);
            }
            m[r] = mn;
          }
          l[r] += hsum(sum);
        }
        gemm(nq, Dp, nk, S, kBk, Vrows + (bh * s.Tk + j0) * Dp, Dp, O, Dp, true);
      }
      float* L = lse + bh * s.Tq;
      for (i64 r = 0; r < nq; r++) {
        float* o = out + P.ooff(b, i0 + r, h);
        if (m[r] == -INFINITY) {  // fully masked row: out = 0, lse = -inf
          std::memset(o, 0, (size_t)D * sizeof(float));
          L[i0 + r] = -INFINITY;
          continue;
        }
        const float inv = (float)(1.0 / l[r]);
        for (i64 d = 0; d < D; d++) o[d] = O[r * Dp + d] * inv;
        L[i0 + r] = (float)((double)m[r] + std::log(l[r]));
      }
    }
  });
}

void attention_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                        const float* dout, float* dq, float* dk, float* dv, const AttnShape& s) {
  if (s.B == 0 || s.H == 0 || s.D == 0) return;
  const Plan P(s);
  const i64 D = s.D, HD = P.HD, Dp = round16(D);
  // Per head, once, in the calling thread's scratch (see attention()): k^T, v^T, (scale q)^T
  // and dout^T, the rows of k, v, q and dout contiguous, and
  // delta_i = sum_j P_ij (dout_i . v_j) = dout_i . out_i.
  // With at least kFusedHeads heads one pass per head does everything (no q^T, dout^T).
  const bool fused = s.B * s.H >= kFusedHeads;
  const i64 ldk = transposed_ld(s.Tk), ldq = transposed_ld(s.Tq);
  const i64 nkT = s.B * s.H * D * ldk, nqT = fused ? 0 : s.B * s.H * D * ldq, nd = s.B * s.H * s.Tq;
  const i64 nkR = s.B * s.H * s.Tk * Dp, nqR = s.B * s.H * s.Tq * Dp;
  Arena big{scratch(1, (size_t)(2 * round16(nkT) + 2 * round16(nqT) + 2 * round16(nkR) + 2 * round16(nqR) +
                                round16(nd) + 9 * 16))};
  float* KTall = big.take(nkT);
  float* VTall = big.take(nkT);
  float* QTall = big.take(nqT);
  float* dOTall = big.take(nqT);
  float* Krows = big.take(nkR);
  float* Vrows = big.take(nkR);
  float* Qrows = big.take(nqR);
  float* dOrows = big.take(nqR);
  float* delta = big.take(nd);
  parallel_for(s.B * s.H, 1, [&](i64 bh0, i64 bh1) {
    for (i64 bh = bh0; bh < bh1; bh++) {
      const i64 b = bh / s.H, h = bh % s.H;
      transpose_head(k + P.koff(b, 0, h), s.ldkv, s.Tk, D, 1.0f, KTall + bh * D * ldk, ldk);
      transpose_head(v + P.koff(b, 0, h), s.ldkv, s.Tk, D, 1.0f, VTall + bh * D * ldk, ldk);
      if (!fused) {
        transpose_head(q + P.qoff(b, 0, h), s.ldq, s.Tq, D, s.scale, QTall + bh * D * ldq, ldq);
        transpose_head(dout + P.ooff(b, 0, h), HD, s.Tq, D, 1.0f, dOTall + bh * D * ldq, ldq);
      }
      copy_head_rows(k + P.koff(b, 0, h), s.ldkv, s.Tk, D, Dp, Krows + bh * s.Tk * Dp);
      copy_head_rows(v + P.koff(b, 0, h), s.ldkv, s.Tk, D, Dp, Vrows + bh * s.Tk * Dp);
      copy_head_rows(q + P.qoff(b, 0, h), s.ldq, s.Tq, D, Dp, Qrows + bh * s.Tq * Dp);
      copy_head_rows(dout + P.ooff(b, 0, h), HD, s.Tq, D, Dp, dOrows + bh * s.Tq * Dp);
      for (i64 i = 0; i < s.Tq; i++)
        delta[bh * s.Tq + i] = (float)ddot(dout + P.ooff(b, i, h), out + P.ooff(b, i, h), D);
    }
  });

  // One block of kBq queries against its visible key tiles: dQ for its rows and, when dKh
  // and dVh (the head's [Tk, Dp] accumulators) are given, their contributions to dK and dV.
  const i64 nqb = (s.Tq + kBq - 1) / kBq;
  const size_t arenaQ = (size_t)(round16(kBq * D) + 2 * kBq * kBk + round16(kBq * Dp) + 4 * 16);
  auto query_block = [&](Arena ar, i64 bh, i64 qt, float* dKh, float* dVh) WT_LAMBDA_INLINE {
    float* Qs = ar.take(kBq * D);
    float* S = ar.take(kBq * kBk);   // scores, then P
    float* dP = ar.take(kBq * kBk);  // dP, then dS
    float* dQ = ar.take(kBq * Dp);
    const i64 h = bh % s.H, b = bh / s.H;
    const i64 i0 = qt * kBq, i1 = std::min(s.Tq, i0 + kBq), nq = i1 - i0;
    const float* L = lse + bh * s.Tq;
    const float* dl = delta + bh * s.Tq + i0;
    for (i64 r = 0; r < nq; r++) {
      const float* src = q + P.qoff(b, i0 + r, h);
      for (i64 d = 0; d < D; d++) Qs[r * D + d] = s.scale * src[d];
    }
    std::memset(dQ, 0, (size_t)(nq * Dp) * sizeof(float));
    const float* dO = dOrows + (bh * s.Tq + i0) * Dp;
    i64 klo, khi;
    P.key_range(i0, i1, klo, khi);
    for (i64 t0 = klo / kBk * kBk; t0 < khi; t0 += kBk) {
      const i64 j0 = std::max(t0, klo), j1 = std::min(t0 + kBk, khi), nk = j1 - j0, nkp = round16(nk);
      const TileKind kind = P.classify(b, i0, i1, j0, j1);
      if (kind == T_SKIP) continue;
      gemm(nq, nkp, D, Qs, D, KTall + bh * D * ldk + j0, ldk, S, kBk, false);
      if (kind == T_PARTIAL) P.mask_rows(S, kBk, b, i0, nq, j0, nk);
      pad_neg_inf(S, kBk, nq, nk, nkp);
      gemm(nq, nkp, D, dO, Dp, VTall + bh * D * ldk + j0, ldk, dP, kBk, false);  // dP = dout v^T
      for (i64 r = 0; r < nq; r++) {
        float* pr = S + r * kBk;
        float* ds = dP + r * kBk;
        const float lr = L[i0 + r];
        if (lr == -INFINITY) {  // fully masked row: P = 0, dS = 0
          std::memset(pr, 0, (size_t)nkp * sizeof(float));
          std::memset(ds, 0, (size_t)nkp * sizeof(float));
          continue;
        }
        const v16f lv = splat(lr), dv_ = splat(dl[r]);
        for (i64 c = 0; c < nkp; c += 16) {
          const v16f p = vexp_neg(load16(pr + c) - lv);
          store16(pr + c, p);
          store16(ds + c, p * (load16(ds + c) - dv_));  // dS = P (dP - delta)
        }
      }
      gemm(nq, Dp, nk, dP, kBk, Krows + (bh * s.Tk + j0) * Dp, Dp, dQ, Dp, true);  // dQ += dS k
      if (dKh) {
        gemm<true>(nk, Dp, nq, S, kBk, dO, Dp, dVh + j0 * Dp, Dp, true);  // dV += P^T dout
        gemm<true>(nk, Dp, nq, dP, kBk, Qrows + (bh * s.Tq + i0) * Dp, Dp, dKh + j0 * Dp, Dp, true);  // dK += dS^T q
      }
    }
    for (i64 r = 0; r < nq; r++) {
      float* g = dq + P.qoff(b, i0 + r, h);
      for (i64 d = 0; d < D; d++) g[d] = s.scale * dQ[r * Dp + d];
    }
  };
  auto write_dkdv = [&](i64 bh, i64 j0, i64 nk, const float* dK, const float* dV) {
    const i64 h = bh % s.H, b = bh / s.H;
    for (i64 r = 0; r < nk; r++) {
      float* gk = dk + P.koff(b, j0 + r, h);
      float* gv = dv + P.koff(b, j0 + r, h);
      for (i64 d = 0; d < D; d++) {
        gk[d] = s.scale * dK[r * Dp + d];
        gv[d] = dV[r * Dp + d];
      }
    }
  };

  if (fused) {
    // ---- one pass per head (enough heads to keep every thread busy): 5 products per tile
    // instead of the 7 of the two passes below, the same bits (see gemm()).
    const size_t arenaH = arenaQ + (size_t)(2 * round16(s.Tk * Dp) + 2 * 16);
    parallel_for(s.B * s.H, 1, [&](i64 bh0, i64 bh1) {
      Arena ar{scratch(0, arenaH)};
      float* dKh = ar.take(s.Tk * Dp);
      float* dVh = ar.take(s.Tk * Dp);
      for (i64 bh = bh0; bh < bh1; bh++) {
        std::memset(dKh, 0, (size_t)(s.Tk * Dp) * sizeof(float));
        std::memset(dVh, 0, (size_t)(s.Tk * Dp) * sizeof(float));
        for (i64 qt = 0; qt < nqb; qt++) query_block(ar, bh, qt, dKh, dVh);
        write_dkdv(bh, 0, s.Tk, dKh, dVh);
      }
    });
    return;
  }

  // ---- dQ pass: one item per (batch, head, block of kBq queries)
  parallel_for(s.B * s.H * nqb, 1, [&](i64 it0, i64 it1) {
    Arena ar{scratch(0, arenaQ)};
    for (i64 it = it0; it < it1; it++) query_block(ar, it / nqb, it % nqb, nullptr, nullptr);
  });

  // ---- dK/dV pass: one item per (batch, head, block of kKb keys); the tiles are transposed
  // (rows keys, columns queries) so that each item owns the dK and dV rows it writes.
  const i64 nkb = (s.Tk + kKb - 1) / kKb;
  const size_t arenaK = (size_t)(2 * kQc + 2 * kKb * kQc + 2 * round16(kKb * Dp) + 6 * 16);
  parallel_for(s.B * s.H * nkb, 1, [&](i64 it0, i64 it1) {
    Arena ar{scratch(0, arenaK)};
    float* Lc = ar.take(kQc);        // lse per query column (+inf: nothing visible)
    float* Dc = ar.take(kQc);        // delta per query column
    float* ST = ar.take(kKb * kQc);  // S^T, then P^T
    float* dPT = ar.take(kKb * kQc); // dP^T, then dS^T
    float* dK = ar.take(kKb * Dp);
    float* dV = ar.take(kKb * Dp);
    for (i64 it = it0; it < it1; it++) {
      const i64 kt = it % nkb, bh = it / nkb, b = bh / s.H;
      const i64 j0 = kt * kKb, j1 = std::min(s.Tk, j0 + kKb), nk = j1 - j0;
      const float* L = lse + bh * s.Tq;
      const float* dl = delta + bh * s.Tq;
      const float* Kr = Krows + (bh * s.Tk + j0) * Dp;
      const float* Vr = Vrows + (bh * s.Tk + j0) * Dp;
      std::memset(dK, 0, (size_t)(nk * Dp) * sizeof(float));
      std::memset(dV, 0, (size_t)(nk * Dp) * sizeof(float));
      i64 qlo, qhi;
      P.query_range(j0, j1, qlo, qhi);
      for (i64 t0 = qlo / kQc * kQc; t0 < qhi; t0 += kQc) {
        const i64 i0 = std::max(t0, qlo), i1 = std::min(t0 + kQc, qhi), nq = i1 - i0, nqp = round16(nq);
        const TileKind kind = P.classify(b, i0, i1, j0, j1);
        if (kind == T_SKIP) continue;
        for (i64 c = 0; c < nqp; c++) {
          const float lc = c < nq ? L[i0 + c] : INFINITY;
          Lc[c] = lc == -INFINITY ? INFINITY : lc;  // exp(s - inf) = 0: the row saw nothing
          Dc[c] = c < nq ? dl[i0 + c] : 0.0f;
        }
        gemm(nk, nqp, D, Kr, Dp, QTall + bh * D * ldq + i0, ldq, ST, kQc, false);  // S^T = k (scale q)^T
        if (kind == T_PARTIAL) P.mask_cols(ST, kQc, b, j0, nk, i0, nq);
        gemm(nk, nqp, D, Vr, Dp, dOTall + bh * D * ldq + i0, ldq, dPT, kQc, false);  // dP^T = v dout^T
        for (i64 r = 0; r < nk; r++) {
          float* pr = ST + r * kQc;
          float* ds = dPT + r * kQc;
          for (i64 c = 0; c < nqp; c += 16) {
            const v16f p = vexp_neg(load16(pr + c) - load16(Lc + c));
            store16(pr + c, p);
            store16(ds + c, p * (load16(ds + c) - load16(Dc + c)));
          }
        }
        gemm(nk, Dp, nq, ST, kQc, dOrows + (bh * s.Tq + i0) * Dp, Dp, dV, Dp, true);  // dV += P^T dout
        gemm(nk, Dp, nq, dPT, kQc, Qrows + (bh * s.Tq + i0) * Dp, Dp, dK, Dp, true);  // dK += dS^T q
      }
      write_dkdv(bh, j0, nk, dK, dV);
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
