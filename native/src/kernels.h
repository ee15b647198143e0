// Kernel entry points (raw pointers and sizes). Arguments are validated by addon.cc
// before any of these runs; kernels assume sizes are consistent. Semantics follow
// src/engine/backend.ts exactly, with src/engine/reference.ts as the oracle.
#pragma once
#include <cstddef>
#include <cstdint>

namespace wt {

typedef int64_t i64;

constexpr int kMaxRank = 16;
enum BinaryOp { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_LT, B_GT, B_COUNT };
enum UnaryOp {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_RELU, U_GELU_TANH, U_GELU_ERF, U_SILU, U_ABS,
  U_SQUARE, U_RECIPROCAL, U_SIN, U_COS, U_COUNT
};
/** Unary ops bias_unary fuses with a bias add (the activations of an MLP). */
inline bool bias_unary_supported(int op) { return op == U_GELU_TANH || op == U_GELU_ERF || op == U_SILU || op == U_RELU; }
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

/** Sizes of a gated linear recurrence (src/engine/backend.ts RecurrenceShape). */
struct RecShape {
  i64 B, T, H, Dk, Dv, chunk;
  bool scalarDecay;
};

/** One parameter tensor of a multi-tensor AdamW step, with its own lr and weight decay. */
struct AdamwSeg {
  float* p;
  const float* g;
  float* m;
  float* v;
  i64 n;
  double lr, wd;
};

// Per-ISA kernels (kernels_isa.inc): declared in wt (the dispatchers) and in each ISA's
// namespace (the implementations).
#define WT_KERNEL(R, NAME, PARAMS, ARGS) R NAME PARAMS;
#include "kernels_isa.inc"
namespace isa_sse2 {
#include "kernels_isa.inc"
}
namespace isa_avx2 {
#include "kernels_isa.inc"
}
namespace isa_avx512 {
#include "kernels_isa.inc"
}
#undef WT_KERNEL

// The namespace the kernel files being compiled define their kernels in (the ISA
// libraries in binding.gyp pass -DWT_ISA=isa_avx2 and so on).
#ifndef WT_ISA
#define WT_ISA isa_sse2
#endif

// ---- matrix products (gemm.cc; OpenBLAS picks its own kernels at run time)
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

// ---- instruction set (dispatch.cc)
enum Isa { ISA_SSE2 = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
/** The ISA whose kernels run now. */
Isa current_isa();
/** Best ISA this CPU supports. */
Isa best_isa();
/** Selects an ISA; false (and no change) when the CPU lacks it. */
bool set_isa(Isa isa);
const char* isa_name(Isa isa);

// ---- probes (probes.cc)
/** Multi-threaded memcpy of `bytes`; returns GB/s counting bytes read + bytes written. */
double memcpy_bandwidth(i64 bytes, int reps);

/** Scratch memory of the calling OS thread that only grows (reused between calls, 64-byte aligned). */
float* scratch(int slot, size_t floats);
constexpr int kScratchSlots = 4;

}  // namespace wt
