// Optimizer updates, in place. The per-element arithmetic is done in double like the
// reference (which computes in JS numbers), so both agree to the last float bit in
// almost every element; these kernels are memory-bound, so double math is free.
#include <cmath>

#include "kernels.h"
#include "pool.h"

namespace wt {
namespace WT_ISA {

void adamw(float* p, const float* g, float* m, float* v, i64 n, double lr, double beta1, double beta2, double eps,
           double wd, double bc1, double bc2, double gradScale) {
  const double ob1 = 1.0 - beta1, ob2 = 1.0 - beta2;
  parallel_for(n, 1 << 14, [&](i64 b, i64 e) {
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
