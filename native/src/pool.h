// A small fixed-size thread pool with a deterministic static partition.
// Why not OpenMP: we want one set of threads that we can park instantly before an
// OpenBLAS call (so our spinning workers never steal cores from BLAS), a bounded spin
// before sleeping, and partitions that depend only on (n, thread count).
#pragma once
#include <cstdint>
#include <algorithm>

namespace wt {

/** Threads used by fused kernels (and by our own GEMM partition). */
int num_threads();
/** Resizes the pool (n >= 1); also informs OpenBLAS. */
void set_num_threads(int n);
/** Cores available to this process (sched_getaffinity). */
int available_cores();
/** Puts spinning workers to sleep now (call before handing the cores to OpenBLAS). */
void park_workers();

using TaskFn = void (*)(void* ctx, int tid, int nt);
/** Runs fn(ctx, tid, nt) for tid in [0, nt) on nt threads (tid 0 = caller). nt is clamped to the pool size. */
void run_parallel(int nt, TaskFn fn, void* ctx);

template <class F>
inline void parallel(int nt, F&& f) {
  if (nt <= 1) { f(0, 1); return; }
  run_parallel(nt, [](void* c, int tid, int n) { (*static_cast<F*>(c))(tid, n); }, &f);
}

/** Number of threads worth using for `work` units when each thread should get >= grain. */
inline int threads_for(int64_t work, int64_t grain) {
  int nt = num_threads();
  if (grain < 1) grain = 1;
  int64_t want = work / grain;
  if (want < 1) want = 1;
  return (int)std::min<int64_t>(nt, want);
}

/** Static contiguous split of [0, n) into nt parts: f(begin, end) per thread. Deterministic. */
template <class F>
inline void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  int nt = threads_for(n, grain);
  if (nt <= 1) { f((int64_t)0, n); return; }
  parallel(nt, [&](int tid, int cnt) {
    int64_t b = n * tid / cnt, e = n * (tid + 1) / cnt;
    if (b < e) f(b, e);
  });
}

}  // namespace wt
