// Optimizer updates, in place. The per-element arithmetic is done in double like the
// reference (which computes in JS numbers), so both agree to the last float bit in
// almost every element; these kernels are memory-bound, so double math is free.
#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels.h"
#include "pool.h"

namespace wt {
namespace WT_ISA {

/** The AdamW update of elements [b, e): each element depends only on its own p, g, m, v. */
static inline void adamw_range(float* p, const float* g, float* m, float* v, i64 b, i64 e, double lr, double beta1,
                               double beta2, double eps, double wd, double bc1, double bc2, double gradScale) {
  const double ob1 = 1.0 - beta1, ob2 = 1.0 - beta2;
  for (i64 i = b; i < e; i++) {
    const double gi = (double)g[i] * gradScale;
    const float mi = (float)(beta1 * (double)m[i] + ob1 * gi);
    const float vi = (float)(beta2 * (double)v[i] + ob2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    const double mhat = (double)mi / bc1, vhat = (double)vi / bc2;
    const double pi = (double)p[i];
    p[i] = (float)(pi - lr * (wd * pi + mhat / (std::sqrt(vhat) + eps)));
  }
}

void adamw(float* p, const float* g, float* m, float* v, i64 n, double lr, double beta1, double beta2, double eps,
           double wd, double bc1, double bc2, double gradScale) {
  parallel_for(n, 1 << 14, [&](i64 b, i64 e) { adamw_range(p, g, m, v, b, e, lr, beta1, beta2, eps, wd, bc1, bc2, gradScale); });
}

void adamw_multi(const AdamwSeg* segs, int nseg, double beta1, double beta2, double eps, double bc1, double bc2,
                 double gradScale) {
  // All tensors laid end to end and split as one range: one pool wake-up for the whole
  // model instead of one per tensor (most of which are too small to thread on their own).
  // Every element gets exactly the arithmetic of adamw(), so the result is bitwise the same.
  std::unique_ptr<i64[]> start(new i64[nseg + 1]);
  start[0] = 0;
  for (int s = 0; s < nseg; s++) start[s + 1] = start[s] + segs[s].n;
  parallel_for(start[nseg], 1 << 14, [&](i64 b, i64 e) {
    int s = (int)(std::upper_bound(start.get(), start.get() + nseg + 1, b) - start.get()) - 1;
    for (; s < nseg && start[s] < e; s++) {
      const AdamwSeg& q = segs[s];
      const i64 lo = std::max(b, start[s]) - start[s], hi = std::min(e, start[s + 1]) - start[s];
      adamw_range(q.p, q.g, q.m, q.v, lo, hi, q.lr, beta1, beta2, eps, q.wd, bc1, bc2, gradScale);
    }
  });
}

void sgd(float* p, const float* g, float* buf, i64 n, double lr, double momentum, double wd, bool nesterov,
         double gradScale) {
  parallel_for(n, 1 << 14, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) {
      const double pi = (double)p[i];
      const double gi = (double)g[i] * gradScale + wd * pi;
      const float bi = (float)(momentum * (double)buf[i] + gi);
      buf[i] = bi;
      p[i] = (float)(pi - lr * (nesterov ? gi + momentum * (double)bi : (double)bi));
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
