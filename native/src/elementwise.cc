// Elementwise kernels: strided binary/where with broadcasting, unary forward/backward,
// plus the memory-movement helpers (copyStrided, fill, axpy, sumSquares).
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "pool.h"
#include "strided.h"
#include "vecmath.h"

namespace wt {
namespace WT_ISA {

constexpr i64 kGrain = 1 << 14;  // elements per thread below which threading does not pay

// ---------------------------------------------------------------- memory movement

template <class T>
static void copy_runs(const T* src, i64 srcOff, T* dst, i64 dstOff, const NdPlan<2>& p, i64 b, i64 e) {
  const i64 ss = p.st[0][p.rank - 1], ds = p.st[1][p.rank - 1];
  p.runs(b, e, [&](i64 len, const i64* off) {
    const T* s = src + srcOff + off[0];
    T* d = dst + dstOff + off[1];
    if (ss == 1 && ds == 1) {
      if (len * (i64)sizeof(T) >= 1024) {
        std::memcpy(d, s, (size_t)len * sizeof(T));
      } else {  // short runs (one head of D floats): inline 64-byte moves beat a memcpy call
        i64 bytes = len * (i64)sizeof(T), k = 0;
        const char* sc = (const char*)s;
        char* dc = (char*)d;
        for (; k + 64 <= bytes; k += 64) {
          v16f v;
          std::memcpy(&v, sc + k, 64);
          std::memcpy(dc + k, &v, 64);
        }
        for (; k < bytes; k += sizeof(T)) std::memcpy(dc + k, sc + k, sizeof(T));
      }
    }
    else if (ds == 1) for (i64 i = 0; i < len; i++) d[i] = s[i * ss];
    else for (i64 i = 0; i < len; i++) d[i * ds] = s[i * ss];
  });
}

// Transpose-like copies (the destination's innermost dim is contiguous, the source's is
// not, and some other dim is contiguous in the source) go by square tiles of one cache
// line per side, transposed in registers: every line is read once and written once
// whole, so power-of-two strides cannot thrash one L1 set. Everything else walks runs of
// the innermost dim.
template <class T>
struct Tile {
  static constexpr int L = 64 / sizeof(T);  // lanes per 64-byte vector = tile side
  typedef T vec __attribute__((vector_size(64)));
  typedef typename std::conditional<sizeof(T) == 4, int32_t, int64_t>::type I;
  typedef I ivec __attribute__((vector_size(64)));

  // Swaps the off-diagonal s x s blocks of every 2s x 2s block; doing it for s = 1, 2, 4,
  // ... L/2 transposes the L x L tile.
  template <int S>
  static void stage(vec* v) {
    ivec lo, hi;
    for (int c = 0; c < L; c++) {
      lo[c] = (c & S) ? L + c - S : c;
      hi[c] = (c & S) ? L + c : c + S;
    }
    for (int r = 0; r < L; r++) {
      if (r & S) continue;
      const vec a = v[r], b = v[r + S];
      v[r] = __builtin_shuffle(a, b, lo);
      v[r + S] = __builtin_shuffle(a, b, hi);
    }
  }
  static void transpose(vec* v) {
    stage<1>(v);
    stage<2>(v);
    stage<4>(v);
    if constexpr (L >= 16) stage<8>(v);
  }
  /** dst[j * ld + i] = src[i * ls + j] for i, j < L. */
  static void full(const T* src, i64 ls, T* dst, i64 ld) {
    vec v[L];
    for (int i = 0; i < L; i++) std::memcpy(&v[i], src + i * ls, 64);
    transpose(v);
    for (int j = 0; j < L; j++) std::memcpy(dst + j * ld, &v[j], 64);
  }
};

template <class T>
static bool copy_tiled(const T* src, i64 srcOff, T* dst, i64 dstOff, const NdPlan<2>& p) {
  const int r = p.rank, a = r - 1;
  if (r < 2 || p.st[1][a] != 1 || p.st[0][a] == 1) return false;
  int b = -1;
  for (int d = 0; d < a; d++) if (p.st[0][d] == 1) b = d;
  if (b < 0 || p.shape[a] < 8 || p.shape[b] < 8) return false;
  constexpr i64 kT = Tile<T>::L;
  constexpr i64 kS = 8;  // tiles per super-block side: 8 x 8 tiles keep both sides' pages in the TLB
  const i64 na = p.shape[a], nb = p.shape[b];
  const i64 ta = (na + kT - 1) / kT, tb = (nb + kT - 1) / kT;
  const i64 sa_n = (ta + kS - 1) / kS, sb_n = (tb + kS - 1) / kS;
  i64 outer = 1;
  for (int d = 0; d < a; d++) if (d != b) outer *= p.shape[d];
  const i64 sa = p.st[0][a], db = p.st[1][b];
  parallel_for(outer * sb_n * sa_n, 1, [&](i64 w0, i64 w1) {
    for (i64 w = w0; w < w1; w++) {
      const i64 sia = w % sa_n, sib = (w / sa_n) % sb_n;
      i64 o = w / (sa_n * sb_n), so = srcOff, doff = dstOff;
      for (int d = a - 1; d >= 0; d--) {
        if (d == b) continue;
        const i64 idx = o % p.shape[d];
        o /= p.shape[d];
        so += idx * p.st[0][d];
        doff += idx * p.st[1][d];
      }
      for (i64 ib = sib * kS; ib < std::min(tb, (sib + 1) * kS); ib++) {
        for (i64 ia = sia * kS; ia < std::min(ta, (sia + 1) * kS); ia++) {
          const i64 a0 = ia * kT, a1 = std::min(na, a0 + kT), b0 = ib * kT, b1 = std::min(nb, b0 + kT);
          if (a1 - a0 == kT && b1 - b0 == kT) {
            Tile<T>::full(src + so + b0 + a0 * sa, sa, dst + doff + b0 * db + a0, db);
            continue;
          }
          for (i64 j = b0; j < b1; j++) {  // edge tile
            const T* s = src + so + j + a0 * sa;
            T* d = dst + doff + j * db + a0;
            for (i64 i = 0; i < a1 - a0; i++) d[i] = s[i * sa];
          }
        }
      }
    }
  });
  return true;
}

void copy_strided(const void* src, i64 srcOff, const i64* srcStrides, void* dst, i64 dstOff, const i64* dstStrides,
                  const i64* shape, int rank, int esize) {
  const i64* strides[2] = {srcStrides, dstStrides};
  NdPlan<2> p(shape, rank, strides);
  if (p.total == 0) return;
  if (esize == 8 ? copy_tiled((const uint64_t*)src, srcOff, (uint64_t*)dst, dstOff, p)
                 : copy_tiled((const uint32_t*)src, srcOff, (uint32_t*)dst, dstOff, p))
    return;
  parallel_for(p.total, kGrain, [&](i64 b, i64 e) {
    if (esize == 8) copy_runs((const uint64_t*)src, srcOff, (uint64_t*)dst, dstOff, p, b, e);
    else copy_runs((const uint32_t*)src, srcOff, (uint32_t*)dst, dstOff, p, b, e);
  });
}

void fill32(void* dst, i64 n, uint32_t bits) {
  parallel_for(n, kGrain * 4, [&](i64 b, i64 e) {
    uint32_t* d = (uint32_t*)dst;
    for (i64 i = b; i < e; i++) d[i] = bits;
  });
}

void axpy(float, double alpha, const float* x, float* acc, i64 n) {
  // In double like the reference: acc + alpha * x rounded once to float.
  parallel_for(n, kGrain, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) acc[i] = (float)((double)acc[i] + alpha * (double)x[i]);
  });
}

double sum_squares(const float* x, i64 n) {
  // Fixed 8192-element blocks summed in a fixed lane order, then the block sums in
  // order: the result does not depend on the thread count.
  constexpr i64 kBlock = 8192;
  const i64 nb = (n + kBlock - 1) / kBlock;
  if (nb == 0) return 0.0;
  double stackbuf[64];
  double* part = nb <= 64 ? stackbuf : new double[nb];
  parallel_for(nb, 8, [&](i64 b0, i64 b1) {
    for (i64 blk = b0; blk < b1; blk++) {
      const i64 s = blk * kBlock, e = std::min(n, s + kBlock);
      v8d a0 = {}, a1 = {}, a2 = {}, a3 = {};
      i64 i = s;
      for (; i + 32 <= e; i += 32) {
        acc_square_double(a0, a1, load16(x + i));
        acc_square_double(a2, a3, load16(x + i + 16));
      }
      for (; i + 16 <= e; i += 16) acc_square_double(a0, a1, load16(x + i));
      double t = hsum_d(a0 + a2, a1 + a3);
      for (; i < e; i++) t += (double)x[i] * (double)x[i];
      part[blk] = t;
    }
  });
  double total = 0;
  for (i64 blk = 0; blk < nb; blk++) total += part[blk];
  if (part != stackbuf) delete[] part;
  return total;
}

// ---------------------------------------------------------------- binary

struct OpAdd { static float f(float a, float b) { return a + b; } };
struct OpSub { static float f(float a, float b) { return a - b; } };
struct OpMul { static float f(float a, float b) { return a * b; } };
struct OpDiv { static float f(float a, float b) { return a / b; } };
struct OpPow { static float f(float a, float b) { return (float)std::pow((double)a, (double)b); } };
// NaN-propagating like the reference: a > b || isNaN(a) ? a : b.
struct OpMax { static float f(float a, float b) { return (a > b || a != a) ? a : b; } };
struct OpMin { static float f(float a, float b) { return (a < b || a != a) ? a : b; } };
struct OpEq { static float f(float a, float b) { return a == b ? 1.0f : 0.0f; } };
struct OpLt { static float f(float a, float b) { return a < b ? 1.0f : 0.0f; } };
struct OpGt { static float f(float a, float b) { return a > b ? 1.0f : 0.0f; } };

template <class Op>
static void binary_impl(const float* a, const float* b, float* out, const NdPlan<3>& p) {
  const i64 sa = p.st[0][p.rank - 1], sb = p.st[1][p.rank - 1];
  parallel_for(p.total, kGrain, [&](i64 beg, i64 end) {
    p.runs(beg, end, [&](i64 n, const i64* off) {
      const float* x = a + off[0];
      const float* y = b + off[1];
      float* o = out + off[2];
      // Fast paths: same-shape contiguous, row broadcast (bias add), scalar either side.
      if (sa == 1 && sb == 1) for (i64 i = 0; i < n; i++) o[i] = Op::f(x[i], y[i]);
      else if (sa == 1 && sb == 0) { const float yv = *y; for (i64 i = 0; i < n; i++) o[i] = Op::f(x[i], yv); }
      else if (sa == 0 && sb == 1) { const float xv = *x; for (i64 i = 0; i < n; i++) o[i] = Op::f(xv, y[i]); }
      else for (i64 i = 0; i < n; i++) o[i] = Op::f(x[i * sa], y[i * sb]);
    });
  });
}

void binary(int op, const float* a, const i64* aStrides, const float* b, const i64* bStrides, float* out,
            const i64* shape, int rank) {
  // out is contiguous: build its strides so it takes part in dim merging.
  i64 os[kMaxRank];
  i64 acc = 1;
  for (int d = rank - 1; d >= 0; d--) { os[d] = acc; acc *= shape[d]; }
  const i64* strides[3] = {aStrides, bStrides, os};
  NdPlan<3> p(shape, rank, strides);
  if (p.total == 0) return;
  switch (op) {
    case B_ADD: return binary_impl<OpAdd>(a, b, out, p);
    case B_SUB: return binary_impl<OpSub>(a, b, out, p);
    case B_MUL: return binary_impl<OpMul>(a, b, out, p);
    case B_DIV: return binary_impl<OpDiv>(a, b, out, p);
    case B_POW: return binary_impl<OpPow>(a, b, out, p);
    case B_MAX: return binary_impl<OpMax>(a, b, out, p);
    case B_MIN: return binary_impl<OpMin>(a, b, out, p);
    case B_EQ: return binary_impl<OpEq>(a, b, out, p);
    case B_LT: return binary_impl<OpLt>(a, b, out, p);
    case B_GT: return binary_impl<OpGt>(a, b, out, p);
  }
}

void where(const float* cond, const i64* cStrides, const float* a, const i64* aStrides, const float* b,
           const i64* bStrides, float* out, const i64* shape, int rank) {
  i64 os[kMaxRank];
  i64 acc = 1;
  for (int d = rank - 1; d >= 0; d--) { os[d] = acc; acc *= shape[d]; }
  const i64* strides[4] = {cStrides, aStrides, bStrides, os};
  NdPlan<4> p(shape, rank, strides);
  if (p.total == 0) return;
  const i64 sc = p.st[0][p.rank - 1], sa = p.st[1][p.rank - 1], sb = p.st[2][p.rank - 1];
  parallel_for(p.total, kGrain, [&](i64 beg, i64 end) {
    p.runs(beg, end, [&](i64 n, const i64* off) {
      const float* c = cond + off[0];
      const float* x = a + off[1];
      const float* y = b + off[2];
      float* o = out + off[3];
      if (sc == 1 && sa == 1 && sb == 1) for (i64 i = 0; i < n; i++) o[i] = c[i] != 0.0f ? x[i] : y[i];
      else for (i64 i = 0; i < n; i++) o[i] = c[i * sc] != 0.0f ? x[i * sa] : y[i * sb];
    });
  });
}

// ---------------------------------------------------------------- unary

static constexpr float kSqrt2OverPi = 0.7978845608028654f;
static constexpr float kGeluC = 0.044715f;

// Vectorised forms (16 lanes, vecmath.h) for the transcendental ops of activations (exp,
// tanh, erf); the rest are plain loops the compiler vectorises, or libm (log, sin, cos).
WT_INLINE v16f v_sigmoid(v16f x) { return splat(1.0f) / (splat(1.0f) + vexp(-x)); }
// 0.5 x (1 + tanh(u)) == x * sigmoid(2u): exact identity, and no cancellation for x << 0.
WT_INLINE v16f v_gelu_tanh(v16f x) {
  v16f u = splat(kSqrt2OverPi) * (x + splat(kGeluC) * x * x * x);
  return x * v_sigmoid(u + u);
}

template <class F>
static void map16(const float* x, float* out, i64 n, F&& f) {
  parallel_for(n, kGrain, [&](i64 b, i64 e) {
    i64 i = b;
    for (; i + W <= e; i += W) store16(out + i, f(load16(x + i)));
    if (i < e) store_partial(out + i, f(load_partial(x + i, (int)(e - i), 0.0f)), (int)(e - i));
  });
}

template <class F>
static void map1(const float* x, float* out, i64 n, F&& f) {
  parallel_for(n, kGrain, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) out[i] = f(x[i]);
  });
}

void unary(int op, const float* x, float* out, i64 n) {
  switch (op) {
    case U_NEG: return map1(x, out, n, [](float v) { return -v; });
    case U_EXP: return map16(x, out, n, [](v16f v) WT_LAMBDA_INLINE { return vexp(v); });
    case U_LOG: return map1(x, out, n, [](float v) { return logf(v); });
    case U_SQRT: return map1(x, out, n, [](float v) { return sqrtf(v); });
    case U_RSQRT: return map1(x, out, n, [](float v) { return 1.0f / sqrtf(v); });
    case U_TANH: return map16(x, out, n, [](v16f v) WT_LAMBDA_INLINE { return vtanh(v); });
    case U_SIGMOID: return map16(x, out, n, [](v16f v) WT_LAMBDA_INLINE { return v_sigmoid(v); });
    case U_RELU: return map1(x, out, n, [](float v) { return v > 0.0f ? v : 0.0f; });
    case U_GELU_TANH: return map16(x, out, n, [](v16f v) WT_LAMBDA_INLINE { return v_gelu_tanh(v); });
    case U_GELU_ERF: return map16(x, out, n, [](v16f v) WT_LAMBDA_INLINE { return v * vphi(v); });
    case U_SILU: return map16(x, out, n, [](v16f v) WT_LAMBDA_INLINE { return v * v_sigmoid(v); });
    case U_ABS: return map1(x, out, n, [](float v) { return fabsf(v); });
    case U_SQUARE: return map1(x, out, n, [](float v) { return v * v; });
    case U_RECIPROCAL: return map1(x, out, n, [](float v) { return 1.0f / v; });
    case U_SIN: return map1(x, out, n, [](float v) { return sinf(v); });
    case U_COS: return map1(x, out, n, [](float v) { return cosf(v); });
  }
}

// pre = x + bias (bias broadcast over rows of C), out = f(pre): the MLP's bias add and
// activation in one pass (the unfused pair reads and writes pre once more). pre may be x.
template <class F>
static void bias_map16(const float* x, const float* bias, float* pre, float* out, i64 N, i64 C, F&& f) {
  parallel_for(N, std::max<i64>(1, kGrain / std::max<i64>(C, 1)), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      float* pr = pre + r * C;
      float* o = out + r * C;
      i64 j = 0;
      for (; j + W <= C; j += W) {
        const v16f h = load16(xr + j) + load16(bias + j);
        store16(pr + j, h);
        store16(o + j, f(h));
      }
      if (j < C) {
        const int n = (int)(C - j);
        const v16f h = load_partial(xr + j, n, 0.0f) + load_partial(bias + j, n, 0.0f);
        store_partial(pr + j, h, n);
        store_partial(o + j, f(h), n);
      }
    }
  });
}

void bias_unary(int op, const float* x, const float* bias, float* pre, float* out, i64 N, i64 C) {
  switch (op) {
    case U_GELU_TANH: return bias_map16(x, bias, pre, out, N, C, [](v16f v) WT_LAMBDA_INLINE { return v_gelu_tanh(v); });
    case U_GELU_ERF: return bias_map16(x, bias, pre, out, N, C, [](v16f v) WT_LAMBDA_INLINE { return v * vphi(v); });
    case U_SILU: return bias_map16(x, bias, pre, out, N, C, [](v16f v) WT_LAMBDA_INLINE { return v * v_sigmoid(v); });
    case U_RELU: return bias_map16(x, bias, pre, out, N, C, [](v16f v) WT_LAMBDA_INLINE { return vmax(v, splat(0.0f)); });
  }
}

// dx = dy * f'(x), with f' written as in the reference (reference.ts unaryDerivative).
template <class F>
static void bwd1(const float* x, const float* y, const float* dy, float* dx, i64 n, F&& d) {
  parallel_for(n, kGrain, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) dx[i] = dy[i] * d(x[i], y[i]);
  });
}

template <class F>
static void bwd16(const float* x, const float* dy, float* dx, i64 n, F&& d) {
  parallel_for(n, kGrain, [&](i64 b, i64 e) {
    i64 i = b;
    for (; i + W <= e; i += W) store16(dx + i, load16(dy + i) * d(load16(x + i)));
    if (i < e) {
      int r = (int)(e - i);
      store_partial(dx + i, load_partial(dy + i, r, 0.0f) * d(load_partial(x + i, r, 0.0f)), r);
    }
  });
}

void unary_backward(int op, const float* x, const float* y, const float* dy, float* dx, i64 n) {
  switch (op) {
    case U_NEG: return bwd1(x, y, dy, dx, n, [](float, float) { return -1.0f; });
    case U_EXP: return bwd1(x, y, dy, dx, n, [](float, float yv) { return yv; });
    case U_LOG: return bwd1(x, y, dy, dx, n, [](float xv, float) { return 1.0f / xv; });
    case U_SQRT: return bwd1(x, y, dy, dx, n, [](float, float yv) { return 0.5f / yv; });
    case U_RSQRT: return bwd1(x, y, dy, dx, n, [](float, float yv) { return -0.5f * yv * yv * yv; });
    case U_TANH: return bwd1(x, y, dy, dx, n, [](float, float yv) { return 1.0f - yv * yv; });
    case U_SIGMOID: return bwd1(x, y, dy, dx, n, [](float, float yv) { return yv * (1.0f - yv); });
    case U_RELU: return bwd1(x, y, dy, dx, n, [](float xv, float) { return xv > 0.0f ? 1.0f : 0.0f; });
    case U_GELU_TANH:
      return bwd16(x, dy, dx, n, [](v16f v) WT_LAMBDA_INLINE {
        v16f u = splat(kSqrt2OverPi) * (v + splat(kGeluC) * v * v * v);
        v16f t = splat(1.0f) - splat(2.0f) / (splat(1.0f) + vexp(u + u));  // tanh(u)
        return splat(0.5f) * (splat(1.0f) + t) +
               splat(0.5f) * v * (splat(1.0f) - t * t) * splat(kSqrt2OverPi) * (splat(1.0f) + splat(3.0f * kGeluC) * v * v);
      });
    case U_GELU_ERF:  // Phi(x) + x phi(x)
      return bwd16(x, dy, dx, n, [](v16f v) WT_LAMBDA_INLINE {
        return vphi(v) + v * vexp(splat(-0.5f) * v * v) * splat(0.3989422804014327f);
      });
    case U_SILU:
      return bwd16(x, dy, dx, n, [](v16f v) WT_LAMBDA_INLINE {
        v16f s = v_sigmoid(v);
        return s * (splat(1.0f) + v * (splat(1.0f) - s));
      });
    case U_ABS:
      return bwd1(x, y, dy, dx, n, [](float xv, float) { return xv > 0.0f ? 1.0f : xv < 0.0f ? -1.0f : 0.0f; });
    case U_SQUARE: return bwd1(x, y, dy, dx, n, [](float xv, float) { return 2.0f * xv; });
    case U_RECIPROCAL: return bwd1(x, y, dy, dx, n, [](float, float yv) { return -yv * yv; });
    case U_SIN: return bwd1(x, y, dy, dx, n, [](float xv, float) { return cosf(xv); });
    case U_COS: return bwd1(x, y, dy, dx, n, [](float xv, float) { return -sinf(xv); });
  }
}

}  // namespace WT_ISA
}  // namespace wt
