// Row kernels on [N, C]: softmax / log-softmax and layer / RMS norm, forward and backward.
// Rows are split statically over threads; row statistics accumulate in double.
// dw / db in the norm backwards sum over rows in fixed blocks of rows (the block size
// depends on N only), then the block partials in order, so they do not depend on the
// thread count.
#include <cmath>
#include <cstring>
#include <memory>

#include "kernels.h"
#include "pool.h"
#include "rows.h"

namespace wt {
namespace WT_ISA {

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
      // Two-pass variance (the row is in L1 by now): sum (x - mean)^2, float lanes within
      // 1024-element chunks, chunks added in double (as dsum).
      double var = 0;
      i64 j = 0;
      while (j + 16 <= C) {
        const i64 e = std::min(C, j + kChunk);
        v16f a0 = {}, a1 = {};
        for (; j + 32 <= e; j += 32) {
          const v16f d0 = load16(xr + j) - splat(m), d1 = load16(xr + j + 16) - splat(m);
          a0 += d0 * d0;
          a1 += d1 * d1;
        }
        for (; j + 16 <= e; j += 16) {
          const v16f d = load16(xr + j) - splat(m);
          a0 += d * d;
        }
        var += (double)hsum(a0 + a1);
      }
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

// One row of the layer-norm backward, two fused passes over the row (the second hits L1):
//   pass 1: sums of g = dy*w and g*xhat;  pass 2: dx, and the dw / db block partials.
// xhat and g are recomputed in pass 2 rather than stored.
template <bool HW, bool DW, bool DB>
static void ln_bwd_row(const float* xr, const float* w, const float* g, float* d, float* aw, float* ab, i64 C, float m,
                       float rs) {
  const v16f vm = splat(m), vr = splat(rs);
  double sg = 0, sgn = 0;
  i64 j = 0;
  while (j + 16 <= C) {
    const i64 e = std::min(C, j + kChunk);
    v16f a0 = {}, a1 = {};
    for (; j + 16 <= e; j += 16) {
      const v16f xh = (load16(xr + j) - vm) * vr;
      const v16f gw = HW ? load16(g + j) * load16(w + j) : load16(g + j);
      a0 += gw;
      a1 += gw * xh;
    }
    sg += hsum(a0);
    sgn += hsum(a1);
  }
  for (; j < C; j++) {
    const float xh = (xr[j] - m) * rs, gw = HW ? g[j] * w[j] : g[j];
    sg += gw;
    sgn += (double)gw * xh;
  }
  const v16f vsg = splat((float)(sg / (double)C)), vsgn = splat((float)(sgn / (double)C));
  for (j = 0; j + 16 <= C; j += 16) {
    const v16f xh = (load16(xr + j) - vm) * vr, gv = load16(g + j);
    const v16f gw = HW ? gv * load16(w + j) : gv;
    store16(d + j, vr * (gw - vsg - xh * vsgn));
    if (DW) store16(aw + j, load16(aw + j) + gv * xh);
    if (DB) store16(ab + j, load16(ab + j) + gv);
  }
  for (; j < C; j++) {
    const float xh = (xr[j] - m) * rs, gw = HW ? g[j] * w[j] : g[j];
    d[j] = rs * (gw - vsg[0] - xh * vsgn[0]);
    if (DW) aw[j] += g[j] * xh;
    if (DB) ab[j] += g[j];
  }
}

template <bool HW, bool DW, bool DB>
static void ln_bwd(const float* x, const float* w, const float* mean, const float* rstd, const float* dy, float* dx,
                   float* pw, float* pb, i64 N, i64 C, i64 R, i64 nblk) {
  parallel_for(nblk, std::max<i64>(1, row_grain(C) / R), [&](i64 b0, i64 b1) {
    for (i64 blk = b0; blk < b1; blk++) {
      float* aw = DW ? pw + blk * C : nullptr;
      float* ab = DB ? pb + blk * C : nullptr;
      if (DW) std::memset(aw, 0, (size_t)C * sizeof(float));
      if (DB) std::memset(ab, 0, (size_t)C * sizeof(float));
      const i64 r1 = std::min(N, (blk + 1) * R);
      for (i64 r = blk * R; r < r1; r++)
        ln_bwd_row<HW, DW, DB>(x + r * C, w, dy + r * C, dx + r * C, aw, ab, C, mean[r], rstd[r]);
    }
  });
}

void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dw, float* db, i64 N, i64 C) {
  const i64 R = rows_per_block(N);
  const i64 nblk = (N + R - 1) / R;
  float* pw = dw ? scratch(0, (size_t)(nblk * C)) : nullptr;
  float* pb = db ? scratch(1, (size_t)(nblk * C)) : nullptr;
  const int k = (w ? 4 : 0) | (dw ? 2 : 0) | (db ? 1 : 0);
  switch (k) {
    case 0: ln_bwd<false, false, false>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
    case 1: ln_bwd<false, false, true>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
    case 2: ln_bwd<false, true, false>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
    case 3: ln_bwd<false, true, true>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
    case 4: ln_bwd<true, false, false>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
    case 5: ln_bwd<true, false, true>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
    case 6: ln_bwd<true, true, false>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
    case 7: ln_bwd<true, true, true>(x, w, mean, rstd, dy, dx, pw, pb, N, C, R, nblk); break;
  }
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

// One row of the RMS-norm backward: dot = sum(dy*w*x); dx = dy*w*rstd - x*rstd^3*dot/C;
// dw partial += dy*x*rstd.
template <bool HW, bool DW>
static void rms_bwd_row(const float* xr, const float* w, const float* g, float* d, float* aw, i64 C, float rs) {
  double dot = 0;
  i64 j = 0;
  while (j + 16 <= C) {
    const i64 e = std::min(C, j + kChunk);
    v16f a0 = {};
    for (; j + 16 <= e; j += 16) {
      const v16f gw = HW ? load16(g + j) * load16(w + j) : load16(g + j);
      a0 += gw * load16(xr + j);
    }
    dot += hsum(a0);
  }
  for (; j < C; j++) dot += (double)(HW ? g[j] * w[j] : g[j]) * xr[j];
  const float k = (float)((double)rs * rs * rs * dot / (double)C);
  const v16f vr = splat(rs), vk = splat(k);
  for (j = 0; j + 16 <= C; j += 16) {
    const v16f xv = load16(xr + j), gv = load16(g + j);
    const v16f gw = HW ? gv * load16(w + j) : gv;
    store16(d + j, gw * vr - xv * vk);
    if (DW) store16(aw + j, load16(aw + j) + gv * xv * vr);
  }
  for (; j < C; j++) {
    const float gw = HW ? g[j] * w[j] : g[j];
    d[j] = gw * rs - xr[j] * k;
    if (DW) aw[j] += g[j] * xr[j] * rs;
  }
}

template <bool HW, bool DW>
static void rms_bwd(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* pw, i64 N,
                    i64 C, i64 R, i64 nblk) {
  parallel_for(nblk, std::max<i64>(1, row_grain(C) / R), [&](i64 b0, i64 b1) {
    for (i64 blk = b0; blk < b1; blk++) {
      float* aw = DW ? pw + blk * C : nullptr;
      if (DW) std::memset(aw, 0, (size_t)C * sizeof(float));
      const i64 r1 = std::min(N, (blk + 1) * R);
      for (i64 r = blk * R; r < r1; r++) rms_bwd_row<HW, DW>(x + r * C, w, dy + r * C, dx + r * C, aw, C, rstd[r]);
    }
  });
}

void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                       i64 N, i64 C) {
  const i64 R = rows_per_block(N);
  const i64 nblk = (N + R - 1) / R;
  float* pw = dw ? scratch(0, (size_t)(nblk * C)) : nullptr;
  if (w && dw) rms_bwd<true, true>(x, w, rstd, dy, dx, pw, N, C, R, nblk);
  else if (w) rms_bwd<true, false>(x, w, rstd, dy, dx, pw, N, C, R, nblk);
  else if (dw) rms_bwd<false, true>(x, w, rstd, dy, dx, pw, N, C, R, nblk);
  else rms_bwd<false, false>(x, w, rstd, dy, dx, pw, N, C, R, nblk);
  if (dw) sum_partials(pw, nblk, C, dw);
}

}  // namespace WT_ISA
}  // namespace wt
