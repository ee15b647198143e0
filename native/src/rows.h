// Shared helpers for kernels that work row by row on [N, C] data.
#pragma once
#include <algorithm>

#include "kernels.h"
#include "vecmath.h"

namespace wt {

/** Rows per thread below which threading does not pay (aim for >= 16K elements each). */
static inline i64 row_grain(i64 C) { return std::max<i64>(1, 16384 / std::max<i64>(C, 1)); }

/** sum(x) over a row, 16 float lanes widened to double, fixed order. */
static inline double dsum(const float* x, i64 n) {
  v8d a0 = {}, a1 = {};
  i64 i = 0;
  for (; i + 16 <= n; i += 16) acc_double(a0, a1, load16(x + i));
  double t = hsum_d(a0, a1);
  for (; i < n; i++) t += x[i];
  return t;
}

/** sum(x * y) over a row (products in float, sums in double). */
static inline double ddot(const float* x, const float* y, i64 n) {
  v8d a0 = {}, a1 = {};
  i64 i = 0;
  for (; i + 16 <= n; i += 16) acc_double(a0, a1, load16(x + i) * load16(y + i));
  double t = hsum_d(a0, a1);
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

/** out[j] = exp(x[j] - shift) (out may be null), returns sum in double. */
static inline double exp_sum(const float* x, float* out, i64 n, float shift) {
  v8d a0 = {}, a1 = {};
  const v16f s = splat(shift);
  i64 i = 0;
  for (; i + 16 <= n; i += 16) {
    v16f e = vexp(load16(x + i) - s);
    if (out) store16(out + i, e);
    acc_double(a0, a1, e);
  }
  if (i < n) {
    int r = (int)(n - i);
    v16f e = vexp(load_partial(x + i, r, -INFINITY) - s);
    if (out) store_partial(out + i, e, r);
    acc_double(a0, a1, e);
  }
  return hsum_d(a0, a1);
}

}  // namespace wt
