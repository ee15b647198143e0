#include "pool.h"

#include <sched.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace wt {
namespace {

// How long an idle worker spins before sleeping. Kernels arrive back to back during a
// training step, so a short spin saves a futex wake-up per kernel; a long one would
// steal the core from OpenBLAS or from other processes. WINDTUNNEL_SPIN_US overrides.
int spin_us() {
  static int us = [] {
    const char* e = getenv("WINDTUNNEL_SPIN_US");
    int v = e ? atoi(e) : 100;
    return v < 0 ? 0 : v;
  }();
  return us;
}

// A job is `ntasks` numbered tasks; every thread of the pool, the caller included, claims
// task numbers until none are left. Which thread runs a task never changes what the
// task computes (the partition is a function of the task number only), so results are
// deterministic; and a worker that the OS has not scheduled yet never holds the caller
// up, because the caller simply claims that task itself.
//
// One 64-bit word describes the job being handed out: generation (32 bits), task count
// (16) and next unclaimed task (16). A claim is a CAS on that word, so a worker that
// wakes up late can never claim a task of a newer job under an older one's description.
struct Pool {
  std::atomic<int> size{1};  // threads including the caller
  // size - 1 workers, never joined (the pool is leaked on purpose). Each has its own
  // "alive" flag: a worker retired by a shrink may wake up only after a later grow has
  // reused its index, and must then exit rather than run beside its replacement.
  struct Slot {
    std::thread th;
    std::shared_ptr<std::atomic<bool>> alive;
  };
  std::vector<Slot> workers;
  std::atomic<uint64_t> claim{0};
  std::atomic<int> done{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> park{false};
  TaskFn fn = nullptr;  // stable while any task of the current job is unfinished
  void* ctx = nullptr;
  std::mutex m;
  std::condition_variable cv;
  std::mutex run_lock;  // one job at a time (Node worker_threads could share the addon)
  std::mutex err_lock;
  std::exception_ptr err;  // first exception thrown by a task of the current job

  static uint32_t gen_of(uint64_t w) { return (uint32_t)(w >> 32); }

  /** Claims the next task of generation g; false when g is over or has no task left. */
  bool take(uint32_t g, int& task, int& ntasks) {
    uint64_t w = claim.load(std::memory_order_acquire);
    for (;;) {
      if (gen_of(w) != g) return false;
      const int n = (int)((w >> 16) & 0xffff), i = (int)(w & 0xffff);
      if (i >= n) return false;
      if (claim.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel)) {
        task = i;
        ntasks = n;
        return true;
      }
    }
  }

  void run_tasks(uint32_t g) {
    int i, n;
    while (take(g, i, n)) {
      try {
        fn(ctx, i, n);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_lock);
        if (!err) err = std::current_exception();
      }
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void worker(uint32_t seen, std::shared_ptr<std::atomic<bool>> alive) {
    using clock = std::chrono::steady_clock;
    for (;;) {
      uint32_t g;
      const auto limit = clock::now() + std::chrono::microseconds(spin_us());
      int spins = 0;
      while ((g = gen_of(claim.load(std::memory_order_acquire))) == seen) {
        if (park.load(std::memory_order_relaxed) || ((++spins & 63) == 0 && clock::now() > limit)) {
          std::unique_lock<std::mutex> lk(m);
          sleepers.fetch_add(1);
          while ((g = gen_of(claim.load())) == seen) cv.wait(lk);
          sleepers.fetch_sub(1);
          break;
        }
        cpu_relax();
      }
      seen = g;
      if (!alive->load()) return;  // the pool shrank: retire
      run_tasks(g);
    }
  }

  /** Starts generation g+1 with n tasks (n may be 0: a wake-up with nothing to do). */
  uint32_t publish(int n) {
    const uint32_t g = gen_of(claim.load(std::memory_order_relaxed)) + 1;
    claim.store(((uint64_t)g << 32) | ((uint64_t)n << 16));  // seq_cst: pairs with `sleepers`
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lk(m);
      cv.notify_all();
    }
    return g;
  }

  void resize(int n) {
    std::lock_guard<std::mutex> lk(run_lock);
    const int old = size.load();
    if (n < old) {
      for (int t = n; t < old; t++) {
        workers[t - 1].alive->store(false);
        workers[t - 1].th.detach();
      }
      workers.resize(n - 1);
      size.store(n);
      publish(0);  // wakes everyone; the retired workers exit
    } else {
      const uint32_t g = gen_of(claim.load());
      for (int t = old; t < n; t++) {
        auto alive = std::make_shared<std::atomic<bool>>(true);
        workers.push_back(Slot{std::thread([this, g, alive] { worker(g, alive); }), alive});
      }
      size.store(n);
    }
  }
};

Pool* make_pool() {
  Pool* p = new Pool();  // leaked: workers must outlive static destructors at exit
  int n = available_cores();
  if (const char* env = getenv("WINDTUNNEL_THREADS")) {
    int v = atoi(env);
    if (v >= 1) n = v;
  }
  if (n > 256) n = 256;
  p->resize(n);
  return p;
}

Pool* pool() {
  static Pool* p = make_pool();
  return p;
}

}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
  unsigned h = std::thread::hardware_concurrency();
  return h ? (int)h : 1;
}

int num_threads() { return pool()->size.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  pool()->resize(n);
  blas_threads_changed();
}

void park_workers() { pool()->park.store(true, std::memory_order_relaxed); }

void run_parallel(int ntasks, TaskFn fn, void* ctx) {
  if (ntasks < 1) ntasks = 1;
  if (ntasks > kMaxTasks) ntasks = kMaxTasks;
  Pool* p = pool();
  std::unique_lock<std::mutex> lk(p->run_lock, std::try_to_lock);
  if (ntasks == 1 || p->size.load() == 1 || !lk.owns_lock()) {
    // Trivial, single-threaded, or another JS thread is inside the pool: run every task
    // here, in order; the partition (and so the result) is the same.
    for (int t = 0; t < ntasks; t++) fn(ctx, t, ntasks);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  p->err = nullptr;
  p->done.store(0, std::memory_order_relaxed);
  p->park.store(false, std::memory_order_relaxed);
  const uint32_t g = p->publish(ntasks);
  p->run_tasks(g);
  // Every task is claimed; wait for the ones still running on workers.
  int spins = 0;
  while (p->done.load(std::memory_order_acquire) != ntasks) {
    if (++spins > 2048) std::this_thread::yield(); else cpu_relax();
  }
  if (p->err) {  // e.g. bad_alloc for scratch: surfaces here once every task is done
    std::exception_ptr e = p->err;
    p->err = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace wt
