// A small thread pool. Work is cut into numbered tasks whose boundaries depend only on
// the problem size and the thread count, never on timing, so results are bitwise
// reproducible; any thread (the caller included) may run any task, so one descheduled
// worker (a busy machine) does not stall a whole kernel.
// Why not OpenMP: we want one set of threads that we can park instantly before an
// OpenBLAS call (so our spinning workers never steal cores from BLAS), a bounded spin
// before sleeping, and the claim-based scheduling above.
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

/** Most tasks one job may have. */
constexpr int kMaxTasks = 4096;
/** Tasks per thread for parallel_for: a little slack absorbs a descheduled thread. */
constexpr int kTasksPerThread = 4;

using TaskFn = void (*)(void* ctx, int task, int ntasks);
/** Runs fn(ctx, task, ntasks) once for every task in [0, ntasks), spread over the pool. */
void run_parallel(int ntasks, TaskFn fn, void* ctx);

/** f(task, ntasks) for every task in [0, ntasks); what a task does must depend only on its number. */
template <class F>
inline void parallel(int ntasks, F&& f) {
  if (ntasks <= 1) { f(0, 1); return; }
  run_parallel(ntasks, [](void* c, int t, int n) { (*static_cast<F*>(c))(t, n); }, &f);
}

/** Number of threads worth using for `work` units when each thread should get >= grain. */
static inline int threads_for(int64_t work, int64_t grain) {
  int nt = num_threads();
  if (grain < 1) grain = 1;
  int64_t want = work / grain;
  if (want < 1) want = 1;
  return (int)std::min<int64_t>(nt, want);
}

/**
 * Splits [0, n) into contiguous chunks of at least `grain` (about kTasksPerThread per
 * thread) and calls f(begin, end) for each, in parallel. The chunks depend only on n,
 * grain and the thread count.
 */
template <class F>
inline void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int nt = threads_for(n, grain);
  if (nt <= 1) { f((int64_t)0, n); return; }
  if (grain < 1) grain = 1;
  const int64_t chunks = std::min<int64_t>({(int64_t)nt * kTasksPerThread, n / grain, (int64_t)kMaxTasks});
  const int tasks = (int)std::max<int64_t>(chunks, nt);
  parallel(tasks, [&](int t, int cnt) {
    int64_t b = n * t / cnt, e = n * (t + 1) / cnt;
    if (b < e) f(b, e);
  });
}

}  // namespace wt
