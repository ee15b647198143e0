// Reductions over the middle axis of x viewed as [outer, n, inner].
// Sums accumulate in double (the reference sums in float64) in a fixed order, so the
// result does not depend on the thread count.
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "pool.h"
#include "vecmath.h"

namespace wt {
namespace WT_ISA {

// Contiguous row sum of n floats: 16 lanes widened to double, fixed lane order.
static double row_sum(const float* x, i64 n) {
  v8d a0 = {}, a1 = {}, a2 = {}, a3 = {};
  i64 i = 0;
  for (; i + 32 <= n; i += 32) {
    acc_double(a0, a1, load16(x + i));
    acc_double(a2, a3, load16(x + i + 16));
  }
  for (; i + 16 <= n; i += 16) acc_double(a0, a1, load16(x + i));
  double t = hsum_d(a0 + a2, a1 + a3);
  for (; i < n; i++) t += x[i];
  return t;
}

// Max with the reference's NaN rule (once NaN, stays NaN): 16 lanes ignoring NaN, plus
// a lane-wise "saw NaN" flag (x != x), then the tail.
static float row_max(const float* x, i64 n) {
  v16f m = splat(-INFINITY);
  bool saw_nan = false;
  i64 i = 0;
  for (; i + 16 <= n; i += 16) {
    v16f v = load16(x + i);
    m = vmax(v, m);
    saw_nan |= any_nan(v);
  }
  float r = hmax(m);
  bool any_nan = saw_nan;
  for (; i < n; i++) {
    float v = x[i];
    if (v != v) any_nan = true;
    else if (v > r) r = v;
  }
  return any_nan ? NAN : r;
}

// Largest non-NaN value of a row (-inf if none).
static float row_max_ignoring_nan(const float* x, i64 n) {
  v16f m = splat(-INFINITY);
  i64 i = 0;
  for (; i + 16 <= n; i += 16) m = vmax(load16(x + i), m);
  float r = hmax(m);
  for (; i < n; i++) r = x[i] > r ? x[i] : r;
  return r;
}

void reduce_sum(const float* x, float* out, i64 outer, i64 n, i64 inner) {
  if (inner == 1) {
    // Rows: split long rows into fixed 16K blocks (thread-independent), then combine.
    constexpr i64 kBlock = 1 << 14;
    const i64 nb = std::max<i64>(1, (n + kBlock - 1) / kBlock);
    if (nb == 1) {
      parallel_for(outer, std::max<i64>(1, 8192 / std::max<i64>(n, 1)), [&](i64 b, i64 e) {
        for (i64 o = b; o < e; o++) out[o] = (float)row_sum(x + o * n, n);
      });
      return;
    }
    double* part = new double[outer * nb];
    parallel_for(outer * nb, 1, [&](i64 b, i64 e) {
      for (i64 t = b; t < e; t++) {
        i64 o = t / nb, blk = t % nb;
        i64 s = blk * kBlock, len = std::min(n, s + kBlock) - s;
        part[t] = row_sum(x + o * n + s, len);
      }
    });
    for (i64 o = 0; o < outer; o++) {
      double t = 0;
      for (i64 blk = 0; blk < nb; blk++) t += part[o * nb + blk];
      out[o] = (float)t;
    }
    delete[] part;
    return;
  }
  // Columns: each output element sums its n inputs in order; vectorised across inner.
  constexpr i64 kCols = 256;
  const i64 ncb = (inner + kCols - 1) / kCols;
  parallel_for(outer * ncb, std::max<i64>(1, 16384 / std::max<i64>(1, n * kCols)), [&](i64 b, i64 e) {
    double acc[kCols];
    for (i64 t = b; t < e; t++) {
      i64 o = t / ncb, c0 = (t % ncb) * kCols, len = std::min(inner, c0 + kCols) - c0;
      for (i64 c = 0; c < len; c++) acc[c] = 0.0;
      const float* base = x + o * n * inner + c0;
      for (i64 k = 0; k < n; k++) {
        const float* row = base + k * inner;
        for (i64 c = 0; c < len; c++) acc[c] += row[c];
      }
      for (i64 c = 0; c < len; c++) out[o * inner + c0 + c] = (float)acc[c];
    }
  });
}

void reduce_max(const float* x, float* out, i64 outer, i64 n, i64 inner) {
  if (inner == 1) {
    parallel_for(outer, std::max<i64>(1, 8192 / std::max<i64>(n, 1)), [&](i64 b, i64 e) {
      for (i64 o = b; o < e; o++) out[o] = row_max(x + o * n, n);
    });
    return;
  }
  constexpr i64 kCols = 256;
  const i64 ncb = (inner + kCols - 1) / kCols;
  parallel_for(outer * ncb, std::max<i64>(1, 16384 / std::max<i64>(1, n * kCols)), [&](i64 b, i64 e) {
    float acc[kCols];
    for (i64 t = b; t < e; t++) {
      i64 o = t / ncb, c0 = (t % ncb) * kCols, len = std::min(inner, c0 + kCols) - c0;
      for (i64 c = 0; c < len; c++) acc[c] = -INFINITY;
      const float* base = x + o * n * inner + c0;
      for (i64 k = 0; k < n; k++) {
        const float* row = base + k * inner;
        for (i64 c = 0; c < len; c++) {
          float v = row[c];
          acc[c] = (v > acc[c] || v != v) ? v : acc[c];
        }
      }
      for (i64 c = 0; c < len; c++) out[o * inner + c0 + c] = acc[c];
    }
  });
}

void argmax(const float* x, int32_t* out, i64 outer, i64 n, i64 inner) {
  // Index of the first maximum (strict >, so NaN never wins unless it is element 0).
  if (inner == 1) {
    parallel_for(outer, std::max<i64>(1, 8192 / std::max<i64>(n, 1)), [&](i64 b, i64 e) {
      for (i64 o = b; o < e; o++) {
        const float* r = x + o * n;
        i64 best = 0;
        if (n > 0 && r[0] == r[0]) {
          // The reference's rule (strict >, starting from element 0) picks the first
          // occurrence of the largest non-NaN value; find that value with vector max,
          // then its first index. (A NaN at element 0 wins: nothing compares > NaN.)
          const float mx = std::max(row_max_ignoring_nan(r, n), r[0]);
          while (!(r[best] == mx)) best++;
        }
        out[o] = (int32_t)best;
      }
    });
    return;
  }
  constexpr i64 kCols = 256;
  const i64 ncb = (inner + kCols - 1) / kCols;
  parallel_for(outer * ncb, std::max<i64>(1, 16384 / std::max<i64>(1, n * kCols)), [&](i64 b, i64 e) {
    float bv[kCols];
    int32_t bi[kCols];
    for (i64 t = b; t < e; t++) {
      i64 o = t / ncb, c0 = (t % ncb) * kCols, len = std::min(inner, c0 + kCols) - c0;
      const float* base = x + o * n * inner + c0;
      for (i64 c = 0; c < len; c++) { bv[c] = n > 0 ? base[c] : 0.0f; bi[c] = 0; }
      for (i64 k = 1; k < n; k++) {
        const float* row = base + k * inner;
        for (i64 c = 0; c < len; c++) {
          bool g = row[c] > bv[c];
          bv[c] = g ? row[c] : bv[c];
          bi[c] = g ? (int32_t)k : bi[c];
        }
      }
      for (i64 c = 0; c < len; c++) out[o * inner + c0 + c] = bi[c];
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
