// Rotary position embedding on x [B, T, H, D], pairs (i, i + D/2) (GPT-NeoX layout).
// Reads both halves before writing, so out may alias x.
#include "kernels.h"
#include "pool.h"

namespace wt {
namespace WT_ISA {

void rope(const float* x, const float* cos, const float* sin, float* out, i64 B, i64 T, i64 H, i64 D, i64 pos0,
          bool inverse) {
  const i64 half = D / 2;
  const float sign = inverse ? -1.0f : 1.0f;
  parallel_for(B * T, std::max<i64>(1, 16384 / std::max<i64>(1, H * D)), [&](i64 b, i64 e) {
    for (i64 bt = b; bt < e; bt++) {
      const i64 t = bt % T;
      const float* c = cos + (pos0 + t) * half;
      const float* s = sin + (pos0 + t) * half;
      for (i64 h = 0; h < H; h++) {
        const float* xi = x + (bt * H + h) * D;
        float* o = out + (bt * H + h) * D;
        for (i64 i = 0; i < half; i++) {
          const float sn = sign * s[i];
          const float x1 = xi[i], x2 = xi[i + half];
          o[i] = x1 * c[i] - x2 * sn;
          o[i + half] = x2 * c[i] + x1 * sn;
        }
      }
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
