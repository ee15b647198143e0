// Bandwidth probe (the ceiling the memory-bound kernels are compared against) and the
// per-thread scratch allocator.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <new>

#include "kernels.h"
#include "pool.h"

namespace wt {

static double now_s() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double memcpy_bandwidth(i64 bytes, int reps) {
  // Each thread copies its own contiguous slice with memcpy (glibc picks the best
  // loads/stores for the CPU). Reported as (bytes read + bytes written) / second.
  bytes = std::max<i64>(bytes, 1 << 20) & ~(i64)63;
  char* src = (char*)aligned_alloc(64, (size_t)bytes);
  char* dst = (char*)aligned_alloc(64, (size_t)bytes);
  if (!src || !dst) { free(src); free(dst); return 0.0; }
  parallel_for(bytes, 1 << 16, [&](i64 b, i64 e) {  // first touch by the threads that copy
    memset(src + b, 1, (size_t)(e - b));
    memset(dst + b, 0, (size_t)(e - b));
  });
  auto once = [&] {
    const int nt = num_threads();
    parallel(nt, [&](int tid, int cnt) {
      i64 b = (bytes / 64) * tid / cnt * 64, e = (bytes / 64) * (tid + 1) / cnt * 64;
      memcpy(dst + b, src + b, (size_t)(e - b));
    });
  };
  once();
  double best = 1e30;
  for (int r = 0; r < std::max(1, reps); r++) {
    const double t0 = now_s();
    once();
    best = std::min(best, now_s() - t0);
  }
  free(src);
  free(dst);
  return 2.0 * (double)bytes / best / 1e9;
}

namespace {
struct Scratch {
  float* p[kScratchSlots] = {};
  size_t n[kScratchSlots] = {};
  ~Scratch() { for (auto q : p) free(q); }
};
thread_local Scratch tls;
}  // namespace

float* scratch(int slot, size_t floats) {
  if (floats < 16) floats = 16;
  if (tls.n[slot] < floats) {
    free(tls.p[slot]);
    const size_t bytes = ((floats * sizeof(float)) + 63) & ~(size_t)63;
    tls.p[slot] = (float*)aligned_alloc(64, bytes);
    if (!tls.p[slot]) { tls.n[slot] = 0; throw std::bad_alloc(); }
    tls.n[slot] = floats;
  }
  return tls.p[slot];
}

}  // namespace wt
