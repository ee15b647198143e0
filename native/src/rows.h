// Shared helpers for kernels that work row by row on [N, C] data.
#pragma once
#include <algorithm>

#include "kernels.h"
#include "vecmath.h"

namespace wt {
namespace WT_ISA {

/** Rows per thread below which threading does not pay (aim for >= 16K elements each). */
static inline i64 row_grain(i64 C) { return std::max<i64>(1, 16384 / std::max<i64>(C, 1)); }

// Row sums: float lanes inside fixed 1024-element chunks (each lane adds at most 32
// values, two accumulators to hide latency), chunk sums added in double. As accurate as
// we need and twice as fast as widening every element to double. The order is fixed.
constexpr i64 kChunk = 1024;

/** sum(x) over a row. */
static inline double dsum(const float* x, i64 n) {
  double t = 0;
  i64 i = 0;
  while (i + 16 <= n) {
    const i64 e = std::min(n, i + kChunk);
    v16f a0 = {}, a1 = {};
    for (; i + 32 <= e; i += 32) { a0 += load16(x + i); a1 += load16(x + i + 16); }
    for (; i + 16 <= e; i += 16) a0 += load16(x + i);
    t += (double)hsum(a0 + a1);
  }
  for (; i < n; i++) t += x[i];
  return t;
}

/** sum(x * y) over a row. */
static inline double ddot(const float* x, const float* y, i64 n) {
  double t = 0;
  i64 i = 0;
  while (i + 16 <= n) {
    const i64 e = std::min(n, i + kChunk);
    v16f a0 = {}, a1 = {};
    for (; i + 32 <= e; i += 32) { a0 += load16(x + i) * load16(y + i); a1 += load16(x + i + 16) * load16(y + i + 16); }
    for (; i + 16 <= e; i += 16) a0 += load16(x + i) * load16(y + i);
    t += (double)hsum(a0 + a1);
  }
  for (; i < n; i++) t += (double)x[i] * (double)y[i];
  return t;
}

/** max over a row ignoring NaN (a NaN then poisons the row through exp anyway). */
static inline float fmax_row(const float* x, i64 n) {
  v16f m = splat(-INFINITY);
  i64 i = 0;
  for (; i + 16 <= n; i += 16) m = vmax(load16(x + i), m);
  float r = hmax(m);
  for (; i < n; i++) r = x[i] > r ? x[i] : r;
  return r;
}

/** out[j] = exp(x[j] - shift) (out may be null); returns the sum. */
static inline double exp_sum(const float* x, float* out, i64 n, float shift) {
  const v16f s = splat(shift);
  double t = 0;
  i64 i = 0;
  while (i + 16 <= n) {
    const i64 e = std::min(n, i + kChunk);
    v16f a0 = {}, a1 = {};
    for (; i + 32 <= e; i += 32) {
      v16f u = vexp(load16(x + i) - s), w = vexp(load16(x + i + 16) - s);
      if (out) { store16(out + i, u); store16(out + i + 16, w); }
      a0 += u;
      a1 += w;
    }
    for (; i + 16 <= e; i += 16) {
      v16f u = vexp(load16(x + i) - s);
      if (out) store16(out + i, u);
      a0 += u;
    }
    t += (double)hsum(a0 + a1);
  }
  if (i < n) {
    const int r = (int)(n - i);
    v16f u = vexp(load_partial(x + i, r, -INFINITY) - s);
    if (out) store_partial(out + i, u, r);
    t += (double)hsum(u);
  }
  return t;
}

}  // namespace WT_ISA
}  // namespace wt
