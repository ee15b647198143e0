// Fixed-width SIMD helpers on GCC/Clang vector extensions. The width is fixed (16 floats)
// so every reduction has the same lane order on every machine, ISA and thread count; on
// AVX-512 these are single instructions, on AVX2 the compiler splits them in two, on SSE2
// in four. This header is compiled once per ISA library (binding.gyp) into that ISA's
// namespace, so the three copies never meet at link time.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.h"
#include <immintrin.h>

// These 64-byte vector helpers are always inlined and never cross an ABI boundary, so
// GCC's note that their calling convention differs without AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace wt {
namespace WT_ISA {

// Always inline: without AVX-512, 64-byte vectors passed to an out-of-line function go
// through memory (and GCC warns about the ABI), which costs more than the math.
#define WT_INLINE static inline __attribute__((always_inline))
// The same for lambdas that take or return 64-byte vectors: [](v16f v) WT_LAMBDA_INLINE { ... }.
#define WT_LAMBDA_INLINE __attribute__((always_inline))

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

constexpr int W = 16;

// ---- the 16-lane type
// v16f is the unit every kernel works in: 16 floats in a fixed lane order, so every
// reduction adds in the same order on every ISA and thread count. On AVX-512 it is one
// register (a GCC vector). Elsewhere it is a struct of native-width parts `vn` (8 lanes on
// AVX2, 4 on SSE2) with the same operators: GCC keeps such a struct in registers, whereas
// 64-byte GCC vectors without AVX-512 scalarise compares and selects and bounce loop-carried
// accumulators through the stack. Helpers with conditions (max, exp's range fixes, tanh's
// and Phi's branches) are written once over `vn` and applied part by part; each lane's
// result is the same function of that lane whatever the width.
#if defined(__AVX512F__)
typedef float v16f __attribute__((vector_size(64)));
typedef v16f vn;
typedef int32_t vni __attribute__((vector_size(64)));
constexpr int kParts = 1;
WT_INLINE vn& part(v16f& v, int) { return v; }
WT_INLINE vn part(const v16f& v, int) { return v; }
#else
#if defined(__AVX__)
typedef v8f vn;
typedef v8i vni;
#else
typedef v4f vn;
typedef v4i vni;
#endif
constexpr int kParts = W * (int)sizeof(float) / (int)sizeof(vn);
struct v16f {
  vn p[kParts];
  float operator[](int i) const { return p[i / (W / kParts)][i % (W / kParts)]; }
};
WT_INLINE vn& part(v16f& v, int i) { return v.p[i]; }
WT_INLINE vn part(const v16f& v, int i) { return v.p[i]; }
#define WT_V16_OP(OP)                                                                  \
  WT_INLINE v16f operator OP(v16f a, const v16f& b) {                                  \
    for (int i = 0; i < kParts; i++) a.p[i] = a.p[i] OP b.p[i];                        \
    return a;                                                                          \
  }                                                                                    \
  WT_INLINE v16f operator OP(v16f a, float b) {                                        \
    for (int i = 0; i < kParts; i++) a.p[i] = a.p[i] OP b;                             \
    return a;                                                                          \
  }                                                                                    \
  WT_INLINE v16f operator OP(float a, v16f b) {                                        \
    for (int i = 0; i < kParts; i++) b.p[i] = a OP b.p[i];                             \
    return b;                                                                          \
  }                                                                                    \
  WT_INLINE v16f& operator OP##=(v16f& a, const v16f& b) { return a = a OP b; }
WT_V16_OP(+)
WT_V16_OP(-)
WT_V16_OP(*)
WT_V16_OP(/)
#undef WT_V16_OP
WT_INLINE v16f operator-(v16f a) {
  for (int i = 0; i < kParts; i++) a.p[i] = -a.p[i];
  return a;
}
#endif
constexpr int kPartLanes = W / kParts;

WT_INLINE vn nsplat(float c) { return vn{} + c; }
WT_INLINE v16f splat(float x) {
  v16f v;
  for (int i = 0; i < kParts; i++) part(v, i) = nsplat(x);
  return v;
}

/**
 * F applied to each native-width part of x (one part on AVX-512). F is a template
 * argument naming an always-inline function, so nothing is ever called out of line.
 */
template <vn (*F)(vn)>
WT_INLINE v16f by_parts(v16f x) {
  for (int i = 0; i < kParts; i++) part(x, i) = F(part(x, i));
  return x;
}

// Unaligned, aliasing-safe loads and stores, one native-width part at a time.
typedef float vn_u __attribute__((vector_size(sizeof(vn)), aligned(4), may_alias));
WT_INLINE v16f load16(const float* p) {
  v16f v;
  for (int i = 0; i < kParts; i++) part(v, i) = *(const vn_u*)(p + i * kPartLanes);
  return v;
}
WT_INLINE void store16(float* p, v16f v) {
  for (int i = 0; i < kParts; i++) *(vn_u*)(p + i * kPartLanes) = part(v, i);
}
/** Loads n < 16 floats, filling the rest with `pad`. */
WT_INLINE v16f load_partial(const float* p, int n, float pad) {
  float tmp[W];
  for (int i = 0; i < W; i++) tmp[i] = i < n ? p[i] : pad;
  return load16(tmp);
}
WT_INLINE void store_partial(float* p, v16f v, int n) {
  float tmp[W];
  store16(tmp, v);
  for (int i = 0; i < n; i++) p[i] = tmp[i];
}

WT_INLINE vn nbits(vni i) { vn f; std::memcpy(&f, &i, sizeof f); return f; }
WT_INLINE vni nint(vn f) { vni i; std::memcpy(&i, &f, sizeof i); return i; }
WT_INLINE vn nabs(vn x) { return nbits(nint(x) & 0x7fffffff); }
WT_INLINE vn ncopysign(vn mag, vn s) { return nbits((nint(mag) & 0x7fffffff) | (nint(s) & (int32_t)0x80000000)); }

WT_INLINE v16f vmax(v16f a, v16f b) {
  for (int i = 0; i < kParts; i++) {
    const vn x = part(a, i), y = part(b, i);
    part(a, i) = x > y ? x : y;
  }
  return a;
}
WT_INLINE vn nabs_v(vn x) { return nabs(x); }
WT_INLINE v16f vabs(v16f x) { return by_parts<nabs_v>(x); }
/** True when some lane of v is NaN. */
WT_INLINE bool any_nan(v16f v) {
  vni m = {};
  for (int i = 0; i < kParts; i++) m |= (vni)(part(v, i) != part(v, i));
  for (int l = 0; l < kPartLanes; l++)
    if (m[l]) return true;
  return false;
}
WT_INLINE float hmax(v16f v) {
  float m = v[0];
  for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
  return m;
}
/** Lanes 0-7 and 8-15 of v as two 8-lane vectors. */
WT_INLINE void halves(const v16f& v, v8f& lo, v8f& hi) {
#if defined(__AVX__) && !defined(__AVX512F__)
  lo = v.p[0];
  hi = v.p[1];
#else
  std::memcpy(&lo, &v, sizeof lo);
  std::memcpy(&hi, (const char*)&v + sizeof lo, sizeof hi);
#endif
}
WT_INLINE float hsum(v16f v) {
  // Fixed pairwise order.
  v8f lo, hi;
  halves(v, lo, hi);
  v8f s = lo + hi;
  float a = (s[0] + s[4]) + (s[2] + s[6]);
  float b = (s[1] + s[5]) + (s[3] + s[7]);
  return a + b;
}
/** Adds the 16 lanes of v into two 8-lane double accumulators. */
WT_INLINE void acc_double(v8d& a, v8d& b, v16f v) {
  v8f lo, hi;
  halves(v, lo, hi);
  a += __builtin_convertvector(lo, v8d);
  b += __builtin_convertvector(hi, v8d);
}
/** Adds the squares of the 16 lanes of v, squared in double (exact), into two accumulators. */
WT_INLINE void acc_square_double(v8d& a, v8d& b, v16f v) {
  v8f lo, hi;
  halves(v, lo, hi);
  v8d dl = __builtin_convertvector(lo, v8d), dh = __builtin_convertvector(hi, v8d);
  a += dl * dl;
  b += dh * dh;
}
WT_INLINE double hsum_d(v8d a, v8d b) {
  v8d s = a + b;
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/**
 * exp(x) for 16 lanes: x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial (Cephes
 * coefficients) for e^r, then scaling by 2^n; about 1-2 ulp. -inf gives 0, +inf gives
 * +inf, NaN stays NaN. With AVX-512 the scaling is one vscalefps, which also produces
 * gradual underflow and overflow to inf; elsewhere the exponent field is built by hand
 * and results below ln(FLT_MIN) flush to 0.
 */
WT_INLINE v16f vexp_poly(v16f r) {
  v16f p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  return p * (r * r) + r + splat(1.0f);
}

/** e^r for |r| <= ln2/2 on one native-width part (the same polynomial as vexp_poly). */
WT_INLINE vn vexp_poly_n(vn r) {
  vn p = nsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * (r * r) + r + 1.0f;
}

#if defined(__AVX512F__)
WT_INLINE v16f vexp(v16f x) {
  // Clamp to [-104, 89] first so that +-inf never meet inf - inf. vmaxps / vminps return
  // their second operand when one is NaN, so NaN passes through to the result. (The
  // mask_ forms with an all-ones mask are the same instructions; they avoid GCC 12's
  // false -Wmaybe-uninitialized on the _mm512_undefined_ps() in the unmasked intrinsics.)
  __m512 xc = _mm512_mask_max_ps((__m512)x, 0xffff, _mm512_set1_ps(-104.0f), (__m512)x);
  xc = _mm512_mask_min_ps(xc, 0xffff, _mm512_set1_ps(89.0f), xc);
  const __m512 t = _mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f));
  __m512 n = _mm512_mask_roundscale_ps(t, 0xffff, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  const __m512 p = (__m512)vexp_poly((v16f)r);
  return (v16f)_mm512_mask_scalef_ps(p, 0xffff, p, n);
}
WT_INLINE vn nexp(vn x) { return vexp(x); }
#else
/** True when every lane of the mask m (all-ones / all-zeros lanes) is set. */
WT_INLINE bool nall(vni m) {
#if defined(__AVX__)
  return _mm256_movemask_ps((__m256)m) == 0xff;
#else
  return _mm_movemask_ps((__m128)m) == 0xf;
#endif
}
/**
 * exp on one native-width part (AVX2: 8 lanes, native blends; SSE2: 4 lanes). x = n ln2 + r
 * as above; 2^n is applied by adding n to the exponent field of e^r in [0.7, 1.42], which is
 * exact while the result stays normal: every lane in [-86.5, 88] (the usual case: softmax,
 * cross-entropy, activations) takes that short path. Otherwise (overflow, results near or
 * below FLT_MIN, +-inf, NaN) the long path scales by two exact powers of two and fixes the
 * special values; on in-range lanes both paths give the same bits.
 */
WT_INLINE vn nexp(vn x) {
  const vn magic = nsplat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  if (nall((x >= -86.5f) & (x <= 88.0f))) {
    const vn n = (x * 1.44269504088896341f + magic) - magic;
    vn r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const vn p = vexp_poly_n(r);
    return nbits(nint(p) + (__builtin_convertvector(n, vni) << 23));
  }
  const vn hi = nsplat(88.72283905206835f), lo = nsplat(-87.33654475055310f);
  vn xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  const vn n = (xc * 1.44269504088896341f + magic) - magic;
  vn r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const vn p = vexp_poly_n(r);
  // 2^n by building the exponent field; n split in two halves so n = 128 cannot overflow.
  const vni ni = __builtin_convertvector(n, vni);
  const vni n1 = ni >> 1, n2 = ni - n1;
  vn y = p * nbits((n1 + 127) << 23) * nbits((n2 + 127) << 23);
  y = x > hi ? nsplat(INFINITY) : y;
  y = x < lo ? vn{} : y;  // flush below FLT_MIN (no denormals) and exp(-inf) = 0
  y = x != x ? x : y;
  return y;
}
WT_INLINE v16f vexp(v16f x) { return by_parts<nexp>(x); }
#endif

WT_INLINE float exp1(float x) { return vexp(splat(x))[0]; }

/**
 * tanh: the Cephes tanhf odd polynomial below |x| = 0.625, 1 - 2 / (e^{2|x|} + 1) with
 * the sign of x above; about 2 ulp.
 */
WT_INLINE vn ntanh(vn x) {
  const vn a = nabs(x);
  const vn z = x * x;
  vn p = nsplat(-5.70498872745e-3f);
  p = p * z + 2.06390887954e-2f;
  p = p * z + -5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z + -3.33332819422e-1f;
  const vn small = p * z * x + x;
  const vn large = ncopysign(1.0f - 2.0f / (nexp(a + a) + 1.0f), x);
  return a < 0.625f ? small : large;
}
WT_INLINE v16f vtanh(v16f x) { return by_parts<ntanh>(x); }

/**
 * The standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, from Numerical Recipes'
 * erfc approximation (fractional error < 1.2e-7 everywhere), so the x << 0 tail keeps
 * its relative accuracy instead of cancelling in 1 + erf.
 */
WT_INLINE vn nphi(vn x) {
  const vn z = x * 0.70710678118654752f;
  const vn az = nabs(z);
  const vn t = 1.0f / (1.0f + 0.5f * az);
  vn p = nsplat(0.17087277f);
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  // -z^2 to about double precision: sq + sqe == az*az exactly when the compiler fuses
  // az * az - sq into one FMA (it does on the FMA targets, AVX2 and AVX-512); the tail then
  // keeps its relative accuracy out to |x| ~ 13 instead of losing ~|x|^2 ulp. (Taken from
  // x * x / 2 rather than from z, whose rounding would cost |z|^2 ulp too.) |x| is capped
  // at 16 here (Phi is 0 or 1 in float long before) so inf stays out of it.
  const vn xs = nabs(x) < 16.0f ? x : nsplat(16.0f);
  const vn xx = xs * xs;
  const vn sq = xx * 0.5f, sqe = (xs * xs - xx) * 0.5f;
  const vn half_erfc = 0.5f * t * nexp((p - sq) - sqe);  // erfc(|z|) / 2
  return z < 0.0f ? half_erfc : 1.0f - half_erfc;
}
WT_INLINE v16f vphi(v16f x) { return by_parts<nphi>(x); }

}  // namespace WT_ISA
}  // namespace wt
