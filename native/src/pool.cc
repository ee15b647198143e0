#include "pool.h"

#include "kernels.h"

#include <sched.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace wt {
namespace {

// Spin this many pause-iterations (tens of microseconds) before sleeping: kernels arrive
// back-to-back during a training step, so a short spin saves a futex wake-up per kernel.
constexpr int kSpinIters = 20000;

struct Pool {
  std::atomic<int> size{1};  // threads including the caller
  // size - 1 workers, never joined (the pool is leaked on purpose). Each has its own
  // "alive" flag: a worker retired by a shrink may wake up only after a later grow has
  // reused its tid, and must then exit rather than run as a second copy of that tid.
  struct Slot {
    std::thread th;
    std::shared_ptr<std::atomic<bool>> alive;
  };
  std::vector<Slot> workers;
  // One word per job: (generation << 16) | participants. Reading both from one atomic
  // means a worker can never mix up the participant count of two different jobs.
  std::atomic<uint64_t> job{0};
  std::atomic<int> remaining{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> park{false};
  TaskFn fn = nullptr;  // stable while any participant of the current job runs
  void* ctx = nullptr;
  std::mutex err_lock;
  std::exception_ptr err;  // first exception thrown by a participant of the current job

  void call(int tid, int active) {
    try {
      fn(ctx, tid, active);
    } catch (...) {
      std::lock_guard<std::mutex> lk(err_lock);
      if (!err) err = std::current_exception();
    }
  }
  std::mutex m;
  std::condition_variable cv;
  std::mutex run_lock;  // one job at a time (Node worker_threads could share the addon)

  void worker(int tid, uint64_t seen, std::shared_ptr<std::atomic<bool>> alive) {
    for (;;) {
      int spins = 0;
      uint64_t w;
      while ((w = job.load(std::memory_order_acquire)) == seen) {
        if (park.load(std::memory_order_relaxed) || ++spins > kSpinIters) {
          std::unique_lock<std::mutex> lk(m);
          sleepers.fetch_add(1);
          while ((w = job.load()) == seen) cv.wait(lk);
          sleepers.fetch_sub(1);
          break;
        }
        cpu_relax();
      }
      seen = w;
      if (!alive->load()) return;  // the pool shrank: retire
      int active = (int)(w & 0xffff);
      if (tid < active) {
        call(tid, active);
        remaining.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  void publish(int active) {
    uint64_t g = (job.load(std::memory_order_relaxed) >> 16) + 1;
    job.store((g << 16) | (uint64_t)active);  // seq_cst: pairs with sleepers below
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lk(m);
      cv.notify_all();
    }
  }

  void resize(int n) {
    std::lock_guard<std::mutex> lk(run_lock);
    int old = size.load();
    if (n < old) {
      for (int t = n; t < old; t++) {
        workers[t - 1].alive->store(false);
        workers[t - 1].th.detach();
      }
      workers.resize(n - 1);
      size.store(n);
      publish(0);  // wakes everyone; the retired workers exit
    } else {
      uint64_t w = job.load();
      for (int t = old; t < n; t++) {
        auto alive = std::make_shared<std::atomic<bool>>(true);
        workers.push_back(Slot{std::thread([this, t, w, alive] { worker(t, w, alive); }), alive});
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

void run_parallel(int nt, TaskFn fn, void* ctx) {
  Pool* p = pool();
  std::unique_lock<std::mutex> lk(p->run_lock, std::try_to_lock);
  int size = p->size.load();
  if (nt > size) nt = size;
  if (nt < 1) nt = 1;
  if (nt <= 1 || !lk.owns_lock()) {
    // Trivially small, or another JS thread is inside the pool: run every tid here, so
    // the partition (and therefore the result) is the same as the parallel run.
    for (int t = 0; t < nt; t++) fn(ctx, t, nt);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  p->err = nullptr;
  p->remaining.store(nt - 1, std::memory_order_relaxed);
  p->park.store(false, std::memory_order_relaxed);
  p->publish(nt);
  p->call(0, nt);
  int spins = 0;
  while (p->remaining.load(std::memory_order_acquire) != 0) {
    if (++spins > 4096) std::this_thread::yield(); else cpu_relax();
  }
  // Exceptions (e.g. bad_alloc for scratch) surface in the caller once every thread is done.
  if (p->err) {
    std::exception_ptr e = p->err;
    p->err = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace wt
