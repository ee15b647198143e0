// Run-time choice of instruction set. The kernels of kernels_isa.inc are compiled three
// times (binding.gyp): for baseline x86-64 (SSE2 only, no FMA; the "sse2" path), for x86-64-v3 (AVX2 + FMA)
// and for x86-64-v4 (AVX-512 F/BW/DQ/VL). At load the best one the CPU (and OS) supports
// is selected; set_isa (WINDTUNNEL_ISA from native.ts) forces a lower one, so every path
// can be tested against the reference backend on one machine. Results are deterministic
// for a fixed ISA and thread count; different ISAs may differ in the last bits (FMA, and
// exp's final scaling).
#include "kernels.h"

namespace wt {

namespace {

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("bmi2"))
    return ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
      __builtin_cpu_supports("bmi2"))
    return ISA_AVX2;
  return ISA_SSE2;
}

const Isa g_best = detect();
Isa g_isa = g_best;

}  // namespace

Isa current_isa() { return g_isa; }
Isa best_isa() { return g_best; }
bool set_isa(Isa isa) {
  if (isa < ISA_SSE2 || isa > g_best) return false;
  g_isa = isa;
  return true;
}
const char* isa_name(Isa isa) {
  switch (isa) {
    case ISA_AVX512: return "avx512";
    case ISA_AVX2: return "avx2";
    default: return "sse2";
  }
}

#define WT_KERNEL(R, NAME, PARAMS, ARGS)           \
  R NAME PARAMS {                                  \
    switch (g_isa) {                               \
      case ISA_AVX512: return isa_avx512::NAME ARGS; \
      case ISA_AVX2: return isa_avx2::NAME ARGS;     \
      default: return isa_sse2::NAME ARGS;         \
    }                                              \
  }
#include "kernels_isa.inc"
#undef WT_KERNEL

}  // namespace wt
