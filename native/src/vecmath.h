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
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// These 64-byte vector helpers are always inlined and never cross an ABI boundary, so
// GCC's note that their calling convention differs without AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace wt {
namespace WT_ISA {

// Always inline: without AVX-512, 64-byte vectors passed to an out-of-line function go
// through memory (and GCC warns about the ABI), which costs more than the math.
#define WT_INLINE static inline __attribute__((always_inline))

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

constexpr int W = 16;

WT_INLINE v16f load16(const float* p) { v16f v; std::memcpy(&v, p, sizeof v); return v; }
WT_INLINE void store16(float* p, v16f v) { std::memcpy(p, &v, sizeof v); }
WT_INLINE v16f splat(float x) { return v16f{} + x; }
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

// ---- native-width vectors
// The 16-lane type is the unit every kernel works in (fixed lane order). Plain arithmetic
// on it compiles to 1 (AVX-512), 2 (AVX2) or 4 (SSE2) native instructions, but GCC
// scalarises comparisons and selects on vectors wider than the ISA's registers. So every
// helper with a condition (max, exp's range fixes, tanh's and Phi's branches) is written
// once over a native-width vector type `vn` and applied to the 16 lanes part by part;
// each lane's result is the same function of that lane whatever the ISA's width.
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef int32_t v8i __attribute__((vector_size(32)));
#if defined(__AVX512F__)
typedef v16f vn;
typedef v16i vni;
#elif defined(__AVX__)
typedef v8f vn;
typedef v8i vni;
#else
typedef v4f vn;
typedef v4i vni;
#endif
constexpr int kParts = W * (int)sizeof(float) / (int)sizeof(vn);

/** f applied to each native-width part of x (one part on AVX-512). */
template <class F>
WT_INLINE v16f by_parts(v16f x, F&& f) {
  vn p[kParts];
  std::memcpy(p, &x, sizeof x);
  for (int i = 0; i < kParts; i++) p[i] = f(p[i]);
  std::memcpy(&x, p, sizeof x);
  return x;
}
template <class F>
WT_INLINE v16f by_parts2(v16f x, v16f y, F&& f) {
  vn p[kParts], q[kParts];
  std::memcpy(p, &x, sizeof x);
  std::memcpy(q, &y, sizeof y);
  for (int i = 0; i < kParts; i++) p[i] = f(p[i], q[i]);
  std::memcpy(&x, p, sizeof x);
  return x;
}
WT_INLINE vn nsplat(float c) { return vn{} + c; }
WT_INLINE vn nbits(vni i) { vn f; std::memcpy(&f, &i, sizeof f); return f; }
WT_INLINE vni nint(vn f) { vni i; std::memcpy(&i, &f, sizeof i); return i; }
WT_INLINE vn nabs(vn x) { return nbits(nint(x) & 0x7fffffff); }
WT_INLINE vn ncopysign(vn mag, vn s) { return nbits((nint(mag) & 0x7fffffff) | (nint(s) & (int32_t)0x80000000)); }

WT_INLINE v16f vmax(v16f a, v16f b) {
  return by_parts2(a, b, [](vn x, vn y) { return x > y ? x : y; });
}
WT_INLINE float hmax(v16f v) {
  float m = v[0];
  for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
  return m;
}
WT_INLINE float hsum(v16f v) {
  // Fixed pairwise order.
  v8f lo = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  v8f hi = {v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  v8f s = lo + hi;
  float a = (s[0] + s[4]) + (s[2] + s[6]);
  float b = (s[1] + s[5]) + (s[3] + s[7]);
  return a + b;
}
/** Adds the 16 lanes of v into two 8-lane double accumulators. */
WT_INLINE void acc_double(v8d& a, v8d& b, v16f v) {
  v8f lo = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  v8f hi = {v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  a += __builtin_convertvector(lo, v8d);
  b += __builtin_convertvector(hi, v8d);
}
/** Adds the squares of the 16 lanes of v, squared in double (exact), into two accumulators. */
WT_INLINE void acc_square_double(v8d& a, v8d& b, v16f v) {
  v8f lo = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  v8f hi = {v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
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
/** exp on one native-width part (AVX2: 8 lanes, blends native; SSE2: 4 lanes, and/andnot/or). */
WT_INLINE vn nexp(vn x) {
  const vn hi = nsplat(88.72283905206835f), lo = nsplat(-87.33654475055310f);
  vn xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  const vn magic = nsplat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const vn t = xc * 1.44269504088896341f + magic;
  const vn n = t - magic;
  vn r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vn p = nsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  // 2^n by building the exponent field; n split in two halves so n = 128 cannot overflow.
  const vni ni = __builtin_convertvector(n, vni);
  const vni n1 = ni >> 1, n2 = ni - n1;
  vn y = p * nbits((n1 + 127) << 23) * nbits((n2 + 127) << 23);
  y = x > hi ? nsplat(INFINITY) : y;
  y = x < lo ? vn{} : y;  // flush below FLT_MIN (no denormals) and exp(-inf) = 0
  y = x != x ? x : y;
  return y;
}
WT_INLINE v16f vexp(v16f x) { return by_parts(x, [](vn v) { return nexp(v); }); }
#endif

WT_INLINE float exp1(float x) { return vexp(splat(x))[0]; }

WT_INLINE v16f vabs(v16f x) {
  v16i b;
  std::memcpy(&b, &x, sizeof b);
  b &= 0x7fffffff;
  std::memcpy(&x, &b, sizeof b);
  return x;
}

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
WT_INLINE v16f vtanh(v16f x) { return by_parts(x, [](vn v) { return ntanh(v); }); }

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
WT_INLINE v16f vphi(v16f x) { return by_parts(x, [](vn v) { return nphi(v); }); }

}  // namespace WT_ISA
}  // namespace wt
