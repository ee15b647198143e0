// Matrix products through OpenBLAS cblas_sgemm.
// Threading: by default we keep OpenBLAS single-threaded and split each product over
// our own pool (rows of C, or columns when C is wide and short), so only one set of
// threads ever spins on this machine's cores. Many small products in a batch are
// instead spread over the pool whole, one single-threaded sgemm each. Every element of
// C is computed by exactly one sgemm call over the full K, so results are bitwise
// reproducible for a given thread count. WINDTUNNEL_GEMM=blas switches to OpenBLAS's own
// threads (kept for measurement).
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels.h"
#include "pool.h"

extern "C" int openblas_get_num_threads(void);

namespace wt {

enum { kSplit = 0, kBlas = 1 };
static int strategy() {
  static int s = [] {
    const char* e = getenv("WINDTUNNEL_GEMM");
    return e && strcmp(e, "blas") == 0 ? kBlas : kSplit;
  }();
  return s;
}
static int g_strategy_override = -1;
static int current_strategy() { return g_strategy_override >= 0 ? g_strategy_override : strategy(); }
void set_gemm_strategy(int s) { g_strategy_override = s; }
const char* gemm_strategy() { return current_strategy() == kBlas ? "openblas-threads" : "pool-split"; }

static int g_blas_threads = -1;
static void blas_threads(int n) {
  if (n != g_blas_threads) {
    openblas_set_num_threads(n);
    g_blas_threads = n;
  }
}

void blas_single_thread() { blas_threads(1); }
void blas_threads_changed() { g_blas_threads = -1; }

struct Gemm {
  bool ta, tb;
  i64 M, N, K, lda, ldb, ldc;
  float alpha, beta;
  void call(const float* A, const float* B, float* C, i64 m0, i64 m1, i64 n0, i64 n1) const {
    const float* a = ta ? A + m0 : A + m0 * lda;
    const float* b = tb ? B + n0 * ldb : B + n0;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)(m1 - m0),
                (int)(n1 - n0), (int)K, alpha, a, (int)lda, b, (int)ldb, beta, C + m0 * ldc + n0, (int)ldc);
  }
};

// Below this many flops a product is not worth splitting over threads.
constexpr double kSplitFlops = 4e5;
// Products below this many flops each go whole to one thread when the batch is large.
constexpr double kBatchFlops = 1.6e7;

static void gemm_one(const Gemm& g, const float* A, const float* B, float* C) {
  const double flops = 2.0 * g.M * g.N * g.K;
  if (current_strategy() == kBlas) {
    park_workers();
    blas_threads(num_threads());
    g.call(A, B, C, 0, g.M, 0, g.N);
    return;
  }
  blas_threads(1);
  int nt = (int)std::min<double>(num_threads(), std::max(1.0, flops / kSplitFlops));
  // Split M in multiples of 16 rows (the kernel's tile height) unless C is short and wide.
  const bool byRows = g.M >= 16 * nt || g.M >= g.N;
  const i64 span = byRows ? g.M : g.N;
  nt = (int)std::min<i64>(nt, std::max<i64>(1, span / 16));
  if (nt <= 1) { g.call(A, B, C, 0, g.M, 0, g.N); return; }
  parallel(nt, [&](int tid, int cnt) {
    const i64 units = (span + 15) / 16;
    const i64 s = std::min(span, units * tid / cnt * 16), e = std::min(span, units * (tid + 1) / cnt * 16);
    if (s >= e) return;
    if (byRows) g.call(A, B, C, s, e, 0, g.N);
    else g.call(A, B, C, 0, g.M, s, e);
  });
}

void matmul(const float* a, const float* b, float* c, i64 batch, i64 M, i64 N, i64 K, bool transA, bool transB,
            i64 strideA, i64 strideB, bool accumulate) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (K <= 0) {  // empty sum: C = 0 (or unchanged)
    if (!accumulate) fill32(c, batch * M * N, 0u);
    return;
  }
  // A weight shared over a contiguous batch (x @ W): one tall product.
  if (batch > 1 && strideB == 0 && !transA && strideA == M * K && M * batch <= 0x7fffffff) {
    M *= batch;
    batch = 1;
  }
  Gemm g{transA, transB, M, N, K, transA ? M : K, transB ? K : N, N, 1.0f, accumulate ? 1.0f : 0.0f};
  const double flops = 2.0 * M * N * K;
  const int nt = num_threads();
  if (batch >= 2 && nt > 1 && (flops < kBatchFlops || batch % nt == 0)) {
    // Several products: whole products per task, single-threaded sgemm each (no
    // synchronisation per product, bigger calls). Used when the products are small, or
    // when they divide evenly over the threads; otherwise each product is split.
    blas_threads(1);
    const int tasks = (int)std::min<i64>((i64)nt * kTasksPerThread, batch);
    parallel(tasks, [&](int t, int cnt) {
      const i64 b0 = batch * t / cnt, b1 = batch * (t + 1) / cnt;
      for (i64 i = b0; i < b1; i++) g.call(a + i * strideA, b + i * strideB, c + i * M * N, 0, M, 0, N);
    });
    return;
  }
  for (i64 i = 0; i < batch; i++) gemm_one(g, a + i * strideA, b + i * strideB, c + i * M * N);
}

static double now_s() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double raw_sgemm_seconds(int M, int N, int K, bool transA, bool transB, int reps, bool best) {
  // The ceiling: plain cblas_sgemm with OpenBLAS's own threads, no addon logic around it.
  std::unique_ptr<float[]> A(new float[(size_t)M * K]), B(new float[(size_t)K * N]), C(new float[(size_t)M * N]);
  for (i64 i = 0; i < (i64)M * K; i++) A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (i64 i = 0; i < (i64)K * N; i++) B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
  park_workers();
  blas_threads(num_threads());
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                A.get(), transA ? M : K, B.get(), transB ? K : N, 0.0f, C.get(), N);
  };
  run();
  run();
  std::vector<double> t((size_t)std::max(1, reps));
  for (double& x : t) {
    const double t0 = now_s();
    run();
    x = now_s() - t0;
  }
  std::sort(t.begin(), t.end());
  // OpenBLAS's idle workers keep spinning for ~2^28 cycles after a threaded call; give
  // them time to go to sleep so they do not steal cores from whatever is measured next.
  usleep(120000);
  return best ? t[0] : t[t.size() / 2];
}

}  // namespace wt
