// Kernel entry points (raw pointers and sizes). Arguments are validated by addon.cc
// before any of these runs; kernels assume sizes are consistent. Semantics follow
// src/engine/backend.ts exactly, with src/engine/reference.ts as the oracle.
#pragma once
#include <cstddef>
#include <cstdint>

namespace wt {

typedef int64_t i64;

// ---- memory movement (elementwise.cc) ----
/** Strided copy of elements of `esize` bytes (4 or 8). Shapes up to kMaxRank dims. */
void copy_strided(const void* src, i64 srcOff, const i64* srcStrides, void* dst, i64 dstOff, const i64* dstStrides,
                  const i64* shape, int rank, int esize);
void fill32(void* dst, i64 n, uint32_t bits);
void axpy(float alpha_f, double alpha, const float* x, float* acc, i64 n);
double sum_squares(const float* x, i64 n);

// ---- matrix products (gemm.cc) ----
void matmul(const float* a, const float* b, float* c, i64 batch, i64 M, i64 N, i64 K, bool transA, bool transB,
            i64 strideA, i64 strideB, bool accumulate);
/** Median (or fastest) seconds per call of plain cblas_sgemm (OpenBLAS's own threads) for C[M,N] = op(A) op(B). */
double raw_sgemm_seconds(int M, int N, int K, bool transA, bool transB, int reps, bool best);
/** Name of the GEMM strategy in use. */
const char* gemm_strategy();
/** Makes OpenBLAS single-threaded (before calling sgemm from inside the pool). */
void blas_single_thread();
/** The pool was resized: forget the cached OpenBLAS thread count. */
void blas_threads_changed();
void set_gemm_strategy(int s);

// ---- elementwise (elementwise.cc) ----
enum BinaryOp { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_LT, B_GT, B_COUNT };
enum UnaryOp {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_RELU, U_GELU_TANH, U_GELU_ERF, U_SILU, U_ABS,
  U_SQUARE, U_RECIPROCAL, U_SIN, U_COS, U_COUNT
};
constexpr int kMaxRank = 16;
void binary(int op, const float* a, const i64* aStrides, const float* b, const i64* bStrides, float* out,
            const i64* shape, int rank);
void unary(int op, const float* x, float* out, i64 n);
void unary_backward(int op, const float* x, const float* y, const float* dy, float* dx, i64 n);
void where(const float* cond, const i64* cStrides, const float* a, const i64* aStrides, const float* b,
           const i64* bStrides, float* out, const i64* shape, int rank);

// ---- reductions (reduce.cc) ----
void reduce_sum(const float* x, float* out, i64 outer, i64 n, i64 inner);
void reduce_max(const float* x, float* out, i64 outer, i64 n, i64 inner);
void argmax(const float* x, int32_t* out, i64 outer, i64 n, i64 inner);

// ---- row kernels (norms.cc) ----
void softmax(const float* x, float* out, i64 N, i64 C);
void softmax_backward(const float* y, const float* dy, float* dx, i64 N, i64 C);
void log_softmax(const float* x, float* out, i64 N, i64 C);
void log_softmax_backward(const float* y, const float* dy, float* dx, i64 N, i64 C);
void layer_norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, i64 N, i64 C,
                float eps);
void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dw, float* db, i64 N, i64 C);
void rms_norm(const float* x, const float* w, float* out, float* rstd, i64 N, i64 C, float eps);
void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                       i64 N, i64 C);

// ---- embeddings and losses (losses.cc) ----
void embedding(const int32_t* ids, const float* table, float* out, i64 N, i64 C);
void embedding_backward(const int32_t* ids, const float* dout, float* acc, i64 N, i64 C, i64 V);
void cross_entropy(const float* logits, const int32_t* targets, const float* weights, int32_t ignore, float* loss,
                   float* lse, i64 N, i64 V);
void cross_entropy_backward(const float* logits, const int32_t* targets, const float* weights, int32_t ignore,
                            const float* lse, const float* dloss, float* dlogits, i64 N, i64 V);

// ---- attention and rope (attention.cc, rope.cc) ----
enum MaskKind { M_NONE = 0, M_CAUSAL = 1, M_SLIDING = 2, M_BLOCK = 3 };
struct AttnShape {
  i64 B, H, Tq, Tk, D;
  float scale;
  int mask;
  i64 window;
  i64 blockSize, nKeyBlocks;
  const uint8_t* layout;
  const int32_t* docQ;  // null when not packed
  const int32_t* docK;
};
void attention(const float* q, const float* k, const float* v, float* out, float* lse, const AttnShape& s);
void attention_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                        const float* dout, float* dq, float* dk, float* dv, const AttnShape& s);
void rope(const float* x, const float* cos, const float* sin, float* out, i64 B, i64 T, i64 H, i64 D, i64 pos0,
          bool inverse);

// ---- optimizers (optim.cc) ----
void adamw(float* p, const float* g, float* m, float* v, i64 n, double lr, double beta1, double beta2, double eps,
           double wd, double bc1, double bc2, double gradScale);
void sgd(float* p, const float* g, float* buf, i64 n, double lr, double momentum, double wd, bool nesterov,
         double gradScale);

// ---- probes (probes.cc) ----
/** Multi-threaded memcpy of `bytes`; returns GB/s counting bytes read + bytes written. */
double memcpy_bandwidth(i64 bytes, int reps);

/** Scratch memory of the calling OS thread that only grows (reused between calls, 64-byte aligned). */
float* scratch(int slot, size_t floats);
constexpr int kScratchSlots = 4;

}  // namespace wt
