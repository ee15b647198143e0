// Embedding lookup / scatter-add and cross-entropy forward / backward.
// ids and targets were range-checked by addon.cc before these run.
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "pool.h"
#include "rows.h"

namespace wt {
namespace WT_ISA {

void embedding(const int32_t* ids, const float* table, float* out, i64 N, i64 C) {
  parallel_for(N, row_grain(C), [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) std::memcpy(out + i * C, table + (i64)ids[i] * C, (size_t)C * sizeof(float));
  });
}

void embedding_backward(const int32_t* ids, const float* dout, float* acc, i64 N, i64 C, i64 V) {
  // Deterministic scatter-add: every table element receives its rows in order i = 0..N-1,
  // exactly as the serial loop. Threads own disjoint columns (wide rows) or disjoint id
  // ranges (narrow rows), so no two threads ever touch the same element.
  const int nt = threads_for(N * C, 1 << 15);
  if (nt <= 1) {
    for (i64 i = 0; i < N; i++) {
      float* d = acc + (i64)ids[i] * C;
      const float* s = dout + i * C;
      for (i64 j = 0; j < C; j++) d[j] += s[j];
    }
    return;
  }
  if (C >= 64 * nt) {
    parallel(nt, [&](int tid, int cnt) {
      // column ranges rounded to 16 floats (one cache line)
      const i64 c0 = (C * tid / cnt) & ~(i64)15, c1 = tid + 1 == cnt ? C : (C * (tid + 1) / cnt) & ~(i64)15;
      for (i64 i = 0; i < N; i++) {
        float* d = acc + (i64)ids[i] * C;
        const float* s = dout + i * C;
        for (i64 j = c0; j < c1; j++) d[j] += s[j];
      }
    });
  } else {
    parallel(nt, [&](int tid, int cnt) {
      const i64 v0 = V * tid / cnt, v1 = V * (tid + 1) / cnt;
      for (i64 i = 0; i < N; i++) {
        const i64 id = ids[i];
        if (id < v0 || id >= v1) continue;
        float* d = acc + id * C;
        const float* s = dout + i * C;
        for (i64 j = 0; j < C; j++) d[j] += s[j];
      }
    });
  }
}

void cross_entropy(const float* logits, const int32_t* targets, const float* weights, int32_t ignore, float* loss,
                   float* lse, i64 N, i64 V) {
  parallel_for(N, row_grain(V), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; r++) {
      const float* x = logits + r * V;
      const float mx = fmax_row(x, V);
      const double l = (double)mx + std::log(exp_sum(x, nullptr, V, mx));
      lse[r] = (float)l;
      const int32_t t = targets[r];
      loss[r] = t == ignore ? 0.0f : (float)((weights ? (double)weights[r] : 1.0) * (l - (double)x[t]));
    }
  });
}

void cross_entropy_backward(const float* logits, const int32_t* targets, const float* weights, int32_t ignore,
                            const float* lse, const float* dloss, float* dlogits, i64 N, i64 V) {
  parallel_for(N, row_grain(V), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; r++) {
      const float* x = logits + r * V;
      float* d = dlogits + r * V;
      const int32_t t = targets[r];
      if (t == ignore) { std::memset(d, 0, (size_t)V * sizeof(float)); continue; }
      const float scale = (float)((double)dloss[r] * (weights ? (double)weights[r] : 1.0));
      const v16f sv = splat(scale), lv = splat(lse[r]);
      i64 j = 0;
      for (; j + 16 <= V; j += 16) store16(d + j, sv * vexp(load16(x + j) - lv));
      if (j < V) {
        int n = (int)(V - j);
        store_partial(d + j, sv * vexp(load_partial(x + j, n, 0.0f) - lv), n);
      }
      d[t] -= scale;
    }
  });
}

}  // namespace WT_ISA
}  // namespace wt
