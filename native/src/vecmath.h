// Fixed-width SIMD helpers on GCC/Clang vector extensions. The width is fixed (16 floats)
// so every reduction has the same lane order on every machine and thread count; on
// AVX-512 these are single instructions, on AVX2 the compiler splits them in two.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace wt {

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

constexpr int W = 16;

static inline v16f load16(const float* p) { v16f v; std::memcpy(&v, p, sizeof v); return v; }
static inline void store16(float* p, v16f v) { std::memcpy(p, &v, sizeof v); }
static inline v16f splat(float x) { return v16f{} + x; }
/** Loads n < 16 floats, filling the rest with `pad`. */
static inline v16f load_partial(const float* p, int n, float pad) {
  float tmp[W];
  for (int i = 0; i < W; i++) tmp[i] = i < n ? p[i] : pad;
  return load16(tmp);
}
static inline void store_partial(float* p, v16f v, int n) {
  float tmp[W];
  store16(tmp, v);
  for (int i = 0; i < n; i++) p[i] = tmp[i];
}

static inline v16f vmax(v16f a, v16f b) { return a > b ? a : b; }
static inline float hmax(v16f v) {
  float m = v[0];
  for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
  return m;
}
static inline float hsum(v16f v) {
  // Fixed pairwise order.
  v8f lo = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  v8f hi = {v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  v8f s = lo + hi;
  float a = (s[0] + s[4]) + (s[2] + s[6]);
  float b = (s[1] + s[5]) + (s[3] + s[7]);
  return a + b;
}
/** Adds the 16 lanes of v into two 8-lane double accumulators. */
static inline void acc_double(v8d& a, v8d& b, v16f v) {
  v8f lo = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  v8f hi = {v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  a += __builtin_convertvector(lo, v8d);
  b += __builtin_convertvector(hi, v8d);
}
/** Adds the squares of the 16 lanes of v, squared in double (exact), into two accumulators. */
static inline void acc_square_double(v8d& a, v8d& b, v16f v) {
  v8f lo = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  v8f hi = {v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  v8d dl = __builtin_convertvector(lo, v8d), dh = __builtin_convertvector(hi, v8d);
  a += dl * dl;
  b += dh * dh;
}
static inline double hsum_d(v8d a, v8d b) {
  v8d s = a + b;
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/**
 * exp(x) for 16 lanes: Cephes-style range reduction x = n ln2 + r and a degree-6
 * polynomial; about 1-2 ulp. Below ln(FLT_MIN) it flushes to 0 (no denormals), above
 * ln(FLT_MAX) it gives +inf, NaN stays NaN.
 */
static inline v16f vexp(v16f x) {
  const v16f hi = splat(88.72283905206835f), lo = splat(-87.33654475055310f);
  v16f xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  const v16f magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  v16f t = xc * splat(1.44269504088896341f) + magic;
  v16f n = t - magic;
  v16f r = xc - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  v16f p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * (r * r) + r + splat(1.0f);
  // 2^n by building the exponent field; split n in two halves so n = 128 cannot overflow.
  v16i ni = __builtin_convertvector(n, v16i);
  v16i n1 = ni >> 1, n2 = ni - n1;
  v16i e1 = (n1 + 127) << 23, e2 = (n2 + 127) << 23;
  v16f s1, s2;
  std::memcpy(&s1, &e1, sizeof s1);
  std::memcpy(&s2, &e2, sizeof s2);
  v16f y = p * s1 * s2;
  y = x > hi ? splat(INFINITY) : y;
  y = x < lo ? splat(0.0f) : y;
  y = x != x ? x : y;
  return y;
}

static inline float exp1(float x) { return vexp(splat(x))[0]; }

}  // namespace wt
