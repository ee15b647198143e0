// Row kernels on [N, C]: softmax / log-softmax and layer / RMS norm, forward and backward.
// Rows are split statically over threads; row statistics accumulate in double.
// dw / db in the norm backwards sum over rows in fixed 32..-row blocks, then the block
// partials in order, so they do not depend on the thread count.
#include <cmath>
#include <memory>

#include "kernels.h"
#include "pool.h"
#include "rows.h"

namespace wt {

void softmax(const float* x, float* out, i64 N, i64 C) {
  parallel_for(N, row_grain(C), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; r++) {
      const float* xr = x + r * C;
      float* o = out + r * C;
      const float mx = fmax_row(xr, C);
      const float inv = (float)(1.0 / exp_sum(xr, o, C, mx));  // multiply: a divide per element costs more than the exp
      const v16f s = splat(inv);
      i64 j = 0;
      for (; j + 16 <= C; j += 16) store16(o + j, load16(o + j) * s);
      for (; j < C; j++) o[j] *= inv;
    }
  });
}

void softmax_backward(const float* y, const float* dy, float* dx, i64 N, i64 C) {
  parallel_for(N, row_grain(C), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; r++) {
      const float* yr = y + r * C;
      const float* g = dy + r * C;
      float* d = dx + r * C;
      const float dot = (float)ddot(g, yr, C);
      for (i64 j = 0; j < C; j++) d[j] = yr[j] * (g[j] - dot);
    }
  });
}

void log_softmax(const float* x, float* out, i64 N, i64 C) {
  parallel_for(N, row_grain(C), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; r++) {
      const float* xr = x + r * C;
      float* o = out + r * C;
      const float mx = fmax_row(xr, C);
      const float lse = (float)((double)mx + std::log(exp_sum(xr, nullptr, C, mx)));
      for (i64 j = 0; j < C; j++) o[j] = xr[j] - lse;
    }
  });
}

void log_softmax_backward(const float* y, const float* dy, float* dx, i64 N, i64 C) {
  parallel_for(N, row_grain(C), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; r++) {
      const float* yr = y + r * C;
      const float* g = dy + r * C;
      float* d = dx + r * C;
      const v16f s = splat((float)dsum(g, C));
      i64 j = 0;
      for (; j + 16 <= C; j += 16) store16(d + j, load16(g + j) - vexp(load16(yr + j)) * s);
      if (j < C) {
        int n = (int)(C - j);
        store_partial(d + j, load_partial(g + j, n, 0.0f) - vexp(load_partial(yr + j, n, 0.0f)) * s, n);
      }
    }
  });
}

void layer_norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, i64 N, i64 C,
                float eps) {
  parallel_for(N, row_grain(C), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      float* o = out + r * C;
      const double md = dsum(xr, C) / (double)C;
      const float m = (float)md;
      // Two-pass variance (the row is in L1 by now): sum (x - mean)^2.
      v8d a0 = {}, a1 = {};
      i64 j = 0;
      for (; j + 16 <= C; j += 16) {
        v16f d = load16(xr + j) - splat(m);
        acc_double(a0, a1, d * d);
      }
      double var = hsum_d(a0, a1);
      for (; j < C; j++) { double d = (double)xr[j] - md; var += d * d; }
      var /= (double)C;
      const float rs = (float)(1.0 / std::sqrt(var + (double)eps));
      mean[r] = m;
      rstd[r] = rs;
      if (w && b) for (j = 0; j < C; j++) o[j] = (xr[j] - m) * rs * w[j] + b[j];
      else if (w) for (j = 0; j < C; j++) o[j] = (xr[j] - m) * rs * w[j];
      else if (b) for (j = 0; j < C; j++) o[j] = (xr[j] - m) * rs + b[j];
      else for (j = 0; j < C; j++) o[j] = (xr[j] - m) * rs;
    }
  });
}

// Row blocking for the dw / db column sums: depends on N only (never on threads).
static inline i64 rows_per_block(i64 N) { return std::max<i64>(32, (N + 1023) / 1024); }

/** Sums partial[blk * C + j] over blocks (in order) into dst[j], in double. */
static void sum_partials(const float* partial, i64 nblk, i64 C, float* dst) {
  parallel_for(C, std::max<i64>(16, 65536 / std::max<i64>(nblk, 1)), [&](i64 c0, i64 c1) {
    for (i64 j0 = c0; j0 < c1; j0 += 256) {
      const i64 j1 = std::min(c1, j0 + 256);
      double acc[256];
      for (i64 j = j0; j < j1; j++) acc[j - j0] = 0.0;
      for (i64 blk = 0; blk < nblk; blk++) {
        const float* p = partial + blk * C;
        for (i64 j = j0; j < j1; j++) acc[j - j0] += p[j];
      }
      for (i64 j = j0; j < j1; j++) dst[j] = (float)acc[j - j0];
    }
  });
}

void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dw, float* db, i64 N, i64 C) {
  const i64 R = rows_per_block(N);
  const i64 nblk = (N + R - 1) / R;
  float* pw = dw ? scratch(0, (size_t)(nblk * C)) : nullptr;
  float* pb = db ? scratch(1, (size_t)(nblk * C)) : nullptr;
  parallel_for(nblk, std::max<i64>(1, row_grain(C) / R), [&](i64 b0, i64 b1) {
    float* xh = scratch(2, (size_t)C);  // this thread's normalised row
    float* gw = scratch(3, (size_t)C);  // this thread's dy * w row
    for (i64 blk = b0; blk < b1; blk++) {
      float* aw = pw ? pw + blk * C : nullptr;
      float* ab = pb ? pb + blk * C : nullptr;
      if (aw) for (i64 j = 0; j < C; j++) aw[j] = 0.0f;
      if (ab) for (i64 j = 0; j < C; j++) ab[j] = 0.0f;
      const i64 r1 = std::min(N, (blk + 1) * R);
      for (i64 r = blk * R; r < r1; r++) {
        const float* xr = x + r * C;
        const float* g = dy + r * C;
        float* d = dx + r * C;
        const float m = mean[r], rs = rstd[r];
        for (i64 j = 0; j < C; j++) xh[j] = (xr[j] - m) * rs;
        if (w) for (i64 j = 0; j < C; j++) gw[j] = g[j] * w[j];
        else for (i64 j = 0; j < C; j++) gw[j] = g[j];
        const float sg = (float)(dsum(gw, C) / (double)C);
        const float sgn = (float)(ddot(gw, xh, C) / (double)C);
        for (i64 j = 0; j < C; j++) d[j] = rs * (gw[j] - sg - xh[j] * sgn);
        if (aw) for (i64 j = 0; j < C; j++) aw[j] += g[j] * xh[j];
        if (ab) for (i64 j = 0; j < C; j++) ab[j] += g[j];
      }
    }
  });
  if (dw) sum_partials(pw, nblk, C, dw);
  if (db) sum_partials(pb, nblk, C, db);
}

void rms_norm(const float* x, const float* w, float* out, float* rstd, i64 N, i64 C, float eps) {
  parallel_for(N, row_grain(C), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      float* o = out + r * C;
      const double ss = ddot(xr, xr, C);
      const float rs = (float)(1.0 / std::sqrt(ss / (double)C + (double)eps));
      rstd[r] = rs;
      if (w) for (i64 j = 0; j < C; j++) o[j] = xr[j] * rs * w[j];
      else for (i64 j = 0; j < C; j++) o[j] = xr[j] * rs;
    }
  });
}

void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                       i64 N, i64 C) {
  const i64 R = rows_per_block(N);
  const i64 nblk = (N + R - 1) / R;
  float* pw = dw ? scratch(0, (size_t)(nblk * C)) : nullptr;
  parallel_for(nblk, std::max<i64>(1, row_grain(C) / R), [&](i64 b0, i64 b1) {
    float* gw = scratch(3, (size_t)C);
    for (i64 blk = b0; blk < b1; blk++) {
      float* aw = pw ? pw + blk * C : nullptr;
      if (aw) for (i64 j = 0; j < C; j++) aw[j] = 0.0f;
      const i64 r1 = std::min(N, (blk + 1) * R);
      for (i64 r = blk * R; r < r1; r++) {
        const float* xr = x + r * C;
        const float* g = dy + r * C;
        float* d = dx + r * C;
        const float rs = rstd[r];
        if (w) for (i64 j = 0; j < C; j++) gw[j] = g[j] * w[j];
        else for (i64 j = 0; j < C; j++) gw[j] = g[j];
        const double dot = ddot(gw, xr, C);
        const float k = (float)((double)rs * rs * rs * dot / (double)C);
        for (i64 j = 0; j < C; j++) d[j] = gw[j] * rs - xr[j] * k;
        if (aw) for (i64 j = 0; j < C; j++) aw[j] += g[j] * xr[j] * rs;
      }
    }
  });
  if (dw) sum_partials(pw, nblk, C, dw);
}

}  // namespace wt
