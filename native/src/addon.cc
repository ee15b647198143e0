// N-API bindings: argument checking and dispatch. Every binding checks its argument
// count and types and that each array is long enough for the sizes it is given, and
// range-checks ids / targets, throwing JS TypeError / RangeError instead of letting a
// kernel read out of bounds. Per-element work is done in the kernel files.
#include <napi.h>
#include <string.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "kernels.h"
#include "pool.h"

extern "C" {
char* openblas_get_config(void);
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
int openblas_get_parallel(void);
}

#ifndef WT_CFLAGS
#define WT_CFLAGS "unknown"
#endif

using namespace Napi;
using wt::i64;

namespace {

[[noreturn]] void type_error(const Env& env, const std::string& msg) { throw TypeError::New(env, msg); }
[[noreturn]] void range_error(const Env& env, const std::string& msg) { throw RangeError::New(env, msg); }

struct Args {
  const CallbackInfo& info;
  const char* fn;
  Args(const CallbackInfo& i, const char* name, size_t count) : info(i), fn(name) {
    if (i.Length() != count)
      type_error(i.Env(), std::string(fn) + ": expected " + std::to_string(count) + " arguments, got " +
                              std::to_string(i.Length()));
  }
  Env env() const { return info.Env(); }
  std::string where(size_t k, const char* name) const {
    return std::string(fn) + ": argument " + std::to_string(k) + " (" + name + ")";
  }

  template <class T, napi_typedarray_type KIND>
  T* typed(size_t k, const char* name, size_t& len, bool nullable, const char* kind) const {
    Value v = info[k];
    if (nullable && (v.IsNull() || v.IsUndefined())) { len = 0; return nullptr; }
    if (!v.IsTypedArray() || v.As<TypedArray>().TypedArrayType() != KIND)
      type_error(env(), where(k, name) + " must be a " + kind + (nullable ? " or null" : ""));
    TypedArrayOf<T> a = v.As<TypedArrayOf<T>>();
    len = a.ElementLength();
    return a.Data();
  }
  float* f32(size_t k, const char* name, size_t& len) const {
    return typed<float, napi_float32_array>(k, name, len, false, "Float32Array");
  }
  float* f32n(size_t k, const char* name, size_t& len) const {
    return typed<float, napi_float32_array>(k, name, len, true, "Float32Array");
  }
  int32_t* i32(size_t k, const char* name, size_t& len) const {
    return typed<int32_t, napi_int32_array>(k, name, len, false, "Int32Array");
  }
  int32_t* i32n(size_t k, const char* name, size_t& len) const {
    return typed<int32_t, napi_int32_array>(k, name, len, true, "Int32Array");
  }
  double num(size_t k, const char* name) const {
    Value v = info[k];
    if (!v.IsNumber()) type_error(env(), where(k, name) + " must be a number");
    return v.As<Number>().DoubleValue();
  }
  /** An integer in [lo, hi]. */
  i64 integer(size_t k, const char* name, i64 lo = 0, i64 hi = 0x7fffffff) const {
    double d = num(k, name);
    if (!(d == std::floor(d)) || d < (double)lo || d > (double)hi)
      range_error(env(), where(k, name) + " must be an integer in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "], got " + std::to_string(d));
    return (i64)d;
  }
  bool boolean(size_t k, const char* name) const {
    Value v = info[k];
    if (!v.IsBoolean()) type_error(env(), where(k, name) + " must be a boolean");
    return v.As<Boolean>().Value();
  }
  std::vector<i64> ints(size_t k, const char* name, i64 lo, i64 hi) const {
    Value v = info[k];
    if (!v.IsArray()) type_error(env(), where(k, name) + " must be an array of integers");
    Array a = v.As<Array>();
    const uint32_t n = a.Length();
    if (n > (uint32_t)wt::kMaxRank)
      range_error(env(), where(k, name) + " has " + std::to_string(n) + " dims; at most " +
                             std::to_string(wt::kMaxRank) + " are supported");
    std::vector<i64> out(n);
    for (uint32_t i = 0; i < n; i++) {
      Value e = a.Get(i);
      double d = e.IsNumber() ? e.As<Number>().DoubleValue() : NAN;
      if (!(d == std::floor(d)) || d < (double)lo || d > (double)hi)
        range_error(env(), where(k, name) + "[" + std::to_string(i) + "] must be an integer in [" +
                               std::to_string(lo) + ", " + std::to_string(hi) + "]");
      out[i] = (i64)d;
    }
    return out;
  }
  /** Throws unless an array of `len` elements holds at least `need`. */
  void need(size_t len, i64 need, const char* name) const {
    if (need < 0 || (uint64_t)need > (uint64_t)len)
      range_error(env(), std::string(fn) + ": " + name + " has " + std::to_string(len) + " elements, needs " +
                             std::to_string(need));
  }
};

/** a * b * ... with overflow check (sizes are < 2^31 each, products must stay < 2^53). */
i64 prod(const Env& env, std::initializer_list<i64> xs) {
  i64 p = 1;
  for (i64 x : xs)
    if (__builtin_mul_overflow(p, x, &p) || p > ((i64)1 << 53)) range_error(env, "size product overflows");
  return p;
}

/** Checks that every offset off + sum(i_k * st_k) over `shape` lies in [0, len). */
void check_extent(const Args& a, const std::vector<i64>& shape, const std::vector<i64>& st, i64 off, size_t len,
                  const char* name) {
  if (st.size() != shape.size())
    range_error(a.env(), std::string(a.fn) + ": " + name + " strides have " + std::to_string(st.size()) +
                             " dims but the shape has " + std::to_string(shape.size()));
  i64 lo = off, hi = off;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 0) return;  // empty: nothing is read or written
    const i64 span = (shape[d] - 1) * st[d];
    if (span < 0) lo += span; else hi += span;
  }
  if (lo < 0 || hi >= (i64)len)
    range_error(a.env(), std::string(a.fn) + ": " + name + " would be accessed out of bounds (offsets " + std::to_string(lo) +
                             ".." + std::to_string(hi) + ", length " + std::to_string(len) + ")");
}

i64 total_of(const Env& env, const std::vector<i64>& shape) {
  i64 t = 1;
  for (i64 s : shape)
    if (__builtin_mul_overflow(t, s, &t) || t > ((i64)1 << 53)) range_error(env, "shape is too large");
  return t;
}

int binary_op(const Env& env, const std::string& s) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "gt"};
  for (int i = 0; i < wt::B_COUNT; i++) if (s == names[i]) return i;
  type_error(env, "binary: unknown op '" + s + "'");
}
int unary_op(const Env& env, const std::string& s) {
  static const char* names[] = {"neg",  "exp",       "log",  "sqrt",  "rsqrt",  "tanh",       "sigmoid", "relu",
                                "gelu_tanh", "gelu_erf", "silu", "abs", "square", "reciprocal", "sin",     "cos"};
  for (int i = 0; i < wt::U_COUNT; i++) if (s == names[i]) return i;
  type_error(env, "unary: unknown op '" + s + "'");
}
std::string str(const Args& a, size_t k, const char* name) {
  Value v = a.info[k];
  if (!v.IsString()) type_error(a.env(), a.where(k, name) + " must be a string");
  return v.As<String>().Utf8Value();
}

// ---------------------------------------------------------------- memory movement

Value CopyStrided(const CallbackInfo& info) {
  // (src, srcOff, srcStrides, dst, dstOff, dstStrides, shape); src and dst both 4-byte
  // (Float32Array / Int32Array) or both Float64Array.
  Args a(info, "copyStrided", 7);
  Value sv = info[0], dv = info[3];
  if (!sv.IsTypedArray() || !dv.IsTypedArray()) type_error(a.env(), "copyStrided: src and dst must be typed arrays");
  TypedArray s = sv.As<TypedArray>(), d = dv.As<TypedArray>();
  auto esize = [](napi_typedarray_type t) {
    return t == napi_float32_array || t == napi_int32_array ? 4 : t == napi_float64_array ? 8 : 0;
  };
  const int es = esize(s.TypedArrayType());
  if (es == 0 || es != esize(d.TypedArrayType()))
    type_error(a.env(), "copyStrided: src and dst must both be 32-bit (Float32Array/Int32Array) or both Float64Array");
  const i64 srcOff = a.integer(1, "srcOff", 0, (i64)1 << 52);
  const i64 dstOff = a.integer(4, "dstOff", 0, (i64)1 << 52);
  auto ss = a.ints(2, "srcStrides", -((i64)1 << 40), (i64)1 << 40);
  auto ds = a.ints(5, "dstStrides", -((i64)1 << 40), (i64)1 << 40);
  auto shape = a.ints(6, "shape", 0, 0x7fffffff);
  total_of(a.env(), shape);
  check_extent(a, shape, ss, srcOff, s.ElementLength(), "src");
  check_extent(a, shape, ds, dstOff, d.ElementLength(), "dst");
  char* sp = (char*)s.ArrayBuffer().Data() + s.ByteOffset();
  char* dp = (char*)d.ArrayBuffer().Data() + d.ByteOffset();
  wt::copy_strided(sp, srcOff, ss.data(), dp, dstOff, ds.data(), shape.data(), (int)shape.size(), es);
  return info.Env().Undefined();
}

Value Fill(const CallbackInfo& info) {
  // (dst, value): Float32Array gets (float)value, Int32Array gets ToInt32(value) (done in TS).
  Args a(info, "fill", 2);
  Value v = info[0];
  if (!v.IsTypedArray()) type_error(a.env(), "fill: dst must be a Float32Array or Int32Array");
  TypedArray t = v.As<TypedArray>();
  const double x = a.num(1, "value");
  uint32_t bits;
  if (t.TypedArrayType() == napi_float32_array) {
    float f = (float)x;
    memcpy(&bits, &f, 4);
  } else if (t.TypedArrayType() == napi_int32_array) {
    if (!(x == std::floor(x)) || x < -2147483648.0 || x > 2147483647.0)
      range_error(a.env(), "fill: Int32Array value must be an int32");
    int32_t i = (int32_t)x;
    memcpy(&bits, &i, 4);
  } else {
    type_error(a.env(), "fill: dst must be a Float32Array or Int32Array");
  }
  wt::fill32((char*)t.ArrayBuffer().Data() + t.ByteOffset(), (i64)t.ElementLength(), bits);
  return info.Env().Undefined();
}

Value Axpy(const CallbackInfo& info) {
  Args a(info, "axpy", 3);
  const double alpha = a.num(0, "alpha");
  size_t nx, nacc;
  float* x = a.f32(1, "x", nx);
  float* acc = a.f32(2, "acc", nacc);
  a.need(nacc, (i64)nx, "acc");
  wt::axpy((float)alpha, alpha, x, acc, (i64)nx);
  return info.Env().Undefined();
}

Value SumSquares(const CallbackInfo& info) {
  Args a(info, "sumSquares", 1);
  size_t n;
  float* x = a.f32(0, "x", n);
  return Number::New(info.Env(), wt::sum_squares(x, (i64)n));
}

// ---------------------------------------------------------------- matmul

Value Matmul(const CallbackInfo& info) {
  // (a, b, c, batch, M, N, K, transA, transB, strideA, strideB, accumulate)
  Args a(info, "matmul", 12);
  size_t na, nb, nc;
  float* A = a.f32(0, "a", na);
  float* B = a.f32(1, "b", nb);
  float* C = a.f32(2, "c", nc);
  const i64 batch = a.integer(3, "batch"), M = a.integer(4, "M"), N = a.integer(5, "N"), K = a.integer(6, "K");
  const bool ta = a.boolean(7, "transA"), tb = a.boolean(8, "transB");
  const i64 sA = a.integer(9, "strideA", 0, (i64)1 << 52), sB = a.integer(10, "strideB", 0, (i64)1 << 52);
  const bool acc = a.boolean(11, "accumulate");
  const Env env = info.Env();
  if (batch > 0 && M > 0 && N > 0) {
    a.need(nc, prod(env, {batch, M, N}), "c");
    if (K > 0) {
      a.need(na, prod(env, {batch - 1, sA}) + prod(env, {M, K}), "a");
      a.need(nb, prod(env, {batch - 1, sB}) + prod(env, {K, N}), "b");
    }
  }
  wt::matmul(A, B, C, batch, M, N, K, ta, tb, sA, sB, acc);
  return env.Undefined();
}

// ---------------------------------------------------------------- elementwise

Value Binary(const CallbackInfo& info) {
  // (op, a, aStrides, b, bStrides, out, shape)
  Args a(info, "binary", 7);
  const int op = binary_op(a.env(), str(a, 0, "op"));
  size_t na, nb, no;
  float* A = a.f32(1, "a", na);
  float* B = a.f32(3, "b", nb);
  float* O = a.f32(5, "out", no);
  auto as = a.ints(2, "aStrides", 0, (i64)1 << 40);
  auto bs = a.ints(4, "bStrides", 0, (i64)1 << 40);
  auto shape = a.ints(6, "shape", 0, 0x7fffffff);
  const i64 total = total_of(a.env(), shape);
  check_extent(a, shape, as, 0, na, "a");
  check_extent(a, shape, bs, 0, nb, "b");
  a.need(no, total, "out");
  wt::binary(op, A, as.data(), B, bs.data(), O, shape.data(), (int)shape.size());
  return info.Env().Undefined();
}

Value Unary(const CallbackInfo& info) {
  Args a(info, "unary", 3);
  const int op = unary_op(a.env(), str(a, 0, "op"));
  size_t nx, no;
  float* x = a.f32(1, "x", nx);
  float* o = a.f32(2, "out", no);
  a.need(no, (i64)nx, "out");
  wt::unary(op, x, o, (i64)nx);
  return info.Env().Undefined();
}

Value UnaryBackward(const CallbackInfo& info) {
  Args a(info, "unaryBackward", 5);
  const int op = unary_op(a.env(), str(a, 0, "op"));
  size_t nx, ny, ndy, ndx;
  float* x = a.f32(1, "x", nx);
  float* y = a.f32(2, "y", ny);
  float* dy = a.f32(3, "dy", ndy);
  float* dx = a.f32(4, "dx", ndx);
  a.need(ny, (i64)nx, "y");
  a.need(ndy, (i64)nx, "dy");
  a.need(ndx, (i64)nx, "dx");
  wt::unary_backward(op, x, y, dy, dx, (i64)nx);
  return info.Env().Undefined();
}

Value BiasUnary(const CallbackInfo& info) {
  // (op, x, bias, pre, out, N, C): pre = x + bias (rows of C), out = op(pre); pre may be x.
  Args a(info, "biasUnary", 7);
  const int op = unary_op(a.env(), str(a, 0, "op"));
  if (!wt::bias_unary_supported(op)) type_error(a.env(), "biasUnary: op must be gelu_tanh, gelu_erf, silu or relu");
  size_t nx, nb, np, no;
  const float* x = a.f32(1, "x", nx);
  const float* b = a.f32(2, "bias", nb);
  float* pre = a.f32(3, "pre", np);
  float* out = a.f32(4, "out", no);
  const i64 N = a.integer(5, "N", 0, (i64)1 << 40), C = a.integer(6, "C", 0, (i64)1 << 40);
  const i64 total = prod(a.env(), {N, C});
  a.need(nx, total, "x");
  a.need(nb, C, "bias");
  a.need(np, total, "pre");
  a.need(no, total, "out");
  wt::bias_unary(op, x, b, pre, out, N, C);
  return info.Env().Undefined();
}

Value Where(const CallbackInfo& info) {
  // (cond, cStrides, a, aStrides, b, bStrides, out, shape)
  Args a(info, "where", 8);
  size_t nc, na, nb, no;
  float* C = a.f32(0, "cond", nc);
  float* A = a.f32(2, "a", na);
  float* B = a.f32(4, "b", nb);
  float* O = a.f32(6, "out", no);
  auto cs = a.ints(1, "cStrides", 0, (i64)1 << 40);
  auto as = a.ints(3, "aStrides", 0, (i64)1 << 40);
  auto bs = a.ints(5, "bStrides", 0, (i64)1 << 40);
  auto shape = a.ints(7, "shape", 0, 0x7fffffff);
  const i64 total = total_of(a.env(), shape);
  check_extent(a, shape, cs, 0, nc, "cond");
  check_extent(a, shape, as, 0, na, "a");
  check_extent(a, shape, bs, 0, nb, "b");
  a.need(no, total, "out");
  wt::where(C, cs.data(), A, as.data(), B, bs.data(), O, shape.data(), (int)shape.size());
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- reductions

Value Reduce(const CallbackInfo& info) {
  // (op, x, out, outer, n, inner)
  Args a(info, "reduce", 6);
  const std::string op = str(a, 0, "op");
  if (op != "sum" && op != "max") type_error(a.env(), "reduce: unknown op '" + op + "'");
  size_t nx, no;
  float* x = a.f32(1, "x", nx);
  float* o = a.f32(2, "out", no);
  const i64 outer = a.integer(3, "outer"), n = a.integer(4, "n"), inner = a.integer(5, "inner");
  a.need(nx, prod(a.env(), {outer, n, inner}), "x");
  a.need(no, prod(a.env(), {outer, inner}), "out");
  if (op == "sum") wt::reduce_sum(x, o, outer, n, inner);
  else wt::reduce_max(x, o, outer, n, inner);
  return info.Env().Undefined();
}

Value Argmax(const CallbackInfo& info) {
  Args a(info, "argmax", 5);
  size_t nx, no;
  float* x = a.f32(0, "x", nx);
  int32_t* o = a.i32(1, "out", no);
  const i64 outer = a.integer(2, "outer"), n = a.integer(3, "n"), inner = a.integer(4, "inner");
  a.need(nx, prod(a.env(), {outer, std::max<i64>(n, 1), inner}), "x");
  a.need(no, prod(a.env(), {outer, inner}), "out");
  wt::argmax(x, o, outer, n, inner);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- row kernels

// (x, out, N, C) style kernels: two arrays of N*C.
template <void (*K)(const float*, float*, i64, i64)>
Value RowFn(const CallbackInfo& info, const char* name) {
  Args a(info, name, 4);
  size_t nx, no;
  float* x = a.f32(0, "x", nx);
  float* o = a.f32(1, "out", no);
  const i64 N = a.integer(2, "N"), C = a.integer(3, "C");
  const i64 nc = prod(a.env(), {N, C});
  a.need(nx, nc, "x");
  a.need(no, nc, "out");
  K(x, o, N, C);
  return info.Env().Undefined();
}
// (y, dy, dx, N, C)
template <void (*K)(const float*, const float*, float*, i64, i64)>
Value RowBwd(const CallbackInfo& info, const char* name) {
  Args a(info, name, 5);
  size_t ny, ndy, ndx;
  float* y = a.f32(0, "y", ny);
  float* dy = a.f32(1, "dy", ndy);
  float* dx = a.f32(2, "dx", ndx);
  const i64 N = a.integer(3, "N"), C = a.integer(4, "C");
  const i64 nc = prod(a.env(), {N, C});
  a.need(ny, nc, "y");
  a.need(ndy, nc, "dy");
  a.need(ndx, nc, "dx");
  K(y, dy, dx, N, C);
  return info.Env().Undefined();
}
Value Softmax(const CallbackInfo& i) { return RowFn<wt::softmax>(i, "softmax"); }
Value LogSoftmax(const CallbackInfo& i) { return RowFn<wt::log_softmax>(i, "logSoftmax"); }
Value SoftmaxBackward(const CallbackInfo& i) { return RowBwd<wt::softmax_backward>(i, "softmaxBackward"); }
Value LogSoftmaxBackward(const CallbackInfo& i) { return RowBwd<wt::log_softmax_backward>(i, "logSoftmaxBackward"); }

Value LayerNorm(const CallbackInfo& info) {
  // (x, w, b, out, mean, rstd, N, C, eps)
  Args a(info, "layerNorm", 9);
  size_t nx, nw, nb, no, nm, nr;
  float* x = a.f32(0, "x", nx);
  float* w = a.f32n(1, "w", nw);
  float* b = a.f32n(2, "b", nb);
  float* o = a.f32(3, "out", no);
  float* m = a.f32(4, "mean", nm);
  float* r = a.f32(5, "rstd", nr);
  const i64 N = a.integer(6, "N"), C = a.integer(7, "C");
  const double eps = a.num(8, "eps");
  const i64 nc = prod(a.env(), {N, C});
  a.need(nx, nc, "x");
  a.need(no, nc, "out");
  if (w) a.need(nw, C, "w");
  if (b) a.need(nb, C, "b");
  a.need(nm, N, "mean");
  a.need(nr, N, "rstd");
  wt::layer_norm(x, w, b, o, m, r, N, C, (float)eps);
  return info.Env().Undefined();
}

Value LayerNormBackward(const CallbackInfo& info) {
  // (x, w, mean, rstd, dy, dx, dw, db, N, C)
  Args a(info, "layerNormBackward", 10);
  size_t nx, nw, nm, nr, ndy, ndx, ndw, ndb;
  float* x = a.f32(0, "x", nx);
  float* w = a.f32n(1, "w", nw);
  float* m = a.f32(2, "mean", nm);
  float* r = a.f32(3, "rstd", nr);
  float* dy = a.f32(4, "dy", ndy);
  float* dx = a.f32(5, "dx", ndx);
  float* dw = a.f32n(6, "dw", ndw);
  float* db = a.f32n(7, "db", ndb);
  const i64 N = a.integer(8, "N"), C = a.integer(9, "C");
  const i64 nc = prod(a.env(), {N, C});
  a.need(nx, nc, "x");
  a.need(ndy, nc, "dy");
  a.need(ndx, nc, "dx");
  if (w) a.need(nw, C, "w");
  if (dw) a.need(ndw, C, "dw");
  if (db) a.need(ndb, C, "db");
  a.need(nm, N, "mean");
  a.need(nr, N, "rstd");
  wt::layer_norm_backward(x, w, m, r, dy, dx, dw, db, N, C);
  return info.Env().Undefined();
}

Value RmsNorm(const CallbackInfo& info) {
  // (x, w, out, rstd, N, C, eps)
  Args a(info, "rmsNorm", 7);
  size_t nx, nw, no, nr;
  float* x = a.f32(0, "x", nx);
  float* w = a.f32n(1, "w", nw);
  float* o = a.f32(2, "out", no);
  float* r = a.f32(3, "rstd", nr);
  const i64 N = a.integer(4, "N"), C = a.integer(5, "C");
  const double eps = a.num(6, "eps");
  const i64 nc = prod(a.env(), {N, C});
  a.need(nx, nc, "x");
  a.need(no, nc, "out");
  if (w) a.need(nw, C, "w");
  a.need(nr, N, "rstd");
  wt::rms_norm(x, w, o, r, N, C, (float)eps);
  return info.Env().Undefined();
}

Value RmsNormBackward(const CallbackInfo& info) {
  // (x, w, rstd, dy, dx, dw, N, C)
  Args a(info, "rmsNormBackward", 8);
  size_t nx, nw, nr, ndy, ndx, ndw;
  float* x = a.f32(0, "x", nx);
  float* w = a.f32n(1, "w", nw);
  float* r = a.f32(2, "rstd", nr);
  float* dy = a.f32(3, "dy", ndy);
  float* dx = a.f32(4, "dx", ndx);
  float* dw = a.f32n(5, "dw", ndw);
  const i64 N = a.integer(6, "N"), C = a.integer(7, "C");
  const i64 nc = prod(a.env(), {N, C});
  a.need(nx, nc, "x");
  a.need(ndy, nc, "dy");
  a.need(ndx, nc, "dx");
  if (w) a.need(nw, C, "w");
  if (dw) a.need(ndw, C, "dw");
  a.need(nr, N, "rstd");
  wt::rms_norm_backward(x, w, r, dy, dx, dw, N, C);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- embeddings and losses

void check_ids(const Args& a, const int32_t* ids, i64 N, i64 V, const char* what, bool ignore = false,
               int32_t ignoreIndex = 0) {
  for (i64 i = 0; i < N; i++) {
    const int32_t t = ids[i];
    if ((t < 0 || t >= V) && !(ignore && t == ignoreIndex))
      range_error(a.env(), std::string(a.fn) + ": " + what + "[" + std::to_string(i) + "] = " + std::to_string(t) +
                               " is out of range [0, " + std::to_string(V) + ")" +
                               (ignore ? " and is not the ignore index " + std::to_string(ignoreIndex) : ""));
  }
}

Value Embedding(const CallbackInfo& info) {
  // (ids, table, out, N, C)
  Args a(info, "embedding", 5);
  size_t ni, nt, no;
  int32_t* ids = a.i32(0, "ids", ni);
  float* table = a.f32(1, "table", nt);
  float* o = a.f32(2, "out", no);
  const i64 N = a.integer(3, "N"), C = a.integer(4, "C");
  a.need(ni, N, "ids");
  a.need(no, prod(a.env(), {N, C}), "out");
  if (C > 0) {
    check_ids(a, ids, N, (i64)nt / C, "ids");
    wt::embedding(ids, table, o, N, C);
  }
  return info.Env().Undefined();
}

Value EmbeddingBackward(const CallbackInfo& info) {
  // (ids, dout, accTable, N, C)
  Args a(info, "embeddingBackward", 5);
  size_t ni, nd, nt;
  int32_t* ids = a.i32(0, "ids", ni);
  float* dout = a.f32(1, "dout", nd);
  float* acc = a.f32(2, "accTable", nt);
  const i64 N = a.integer(3, "N"), C = a.integer(4, "C");
  a.need(ni, N, "ids");
  a.need(nd, prod(a.env(), {N, C}), "dout");
  if (C > 0) {
    const i64 V = (i64)nt / C;
    check_ids(a, ids, N, V, "ids");
    wt::embedding_backward(ids, dout, acc, N, C, V);
  }
  return info.Env().Undefined();
}

Value CrossEntropy(const CallbackInfo& info) {
  // (logits, targets, weights, ignoreIndex, loss, lse, N, V)
  Args a(info, "crossEntropy", 8);
  size_t nl, nt, nw, nloss, nlse;
  float* logits = a.f32(0, "logits", nl);
  int32_t* t = a.i32(1, "targets", nt);
  float* w = a.f32n(2, "weights", nw);
  const int32_t ignore = (int32_t)a.integer(3, "ignoreIndex", INT32_MIN, INT32_MAX);
  float* loss = a.f32(4, "loss", nloss);
  float* lse = a.f32(5, "lse", nlse);
  const i64 N = a.integer(6, "N"), V = a.integer(7, "V");
  a.need(nl, prod(a.env(), {N, V}), "logits");
  a.need(nt, N, "targets");
  if (w) a.need(nw, N, "weights");
  a.need(nloss, N, "loss");
  a.need(nlse, N, "lse");
  check_ids(a, t, N, V, "targets", true, ignore);
  wt::cross_entropy(logits, t, w, ignore, loss, lse, N, V);
  return info.Env().Undefined();
}

Value CrossEntropyBackward(const CallbackInfo& info) {
  // (logits, targets, weights, ignoreIndex, lse, dloss, dlogits, N, V)
  Args a(info, "crossEntropyBackward", 9);
  size_t nl, nt, nw, nlse, ndl, ndg;
  float* logits = a.f32(0, "logits", nl);
  int32_t* t = a.i32(1, "targets", nt);
  float* w = a.f32n(2, "weights", nw);
  const int32_t ignore = (int32_t)a.integer(3, "ignoreIndex", INT32_MIN, INT32_MAX);
  float* lse = a.f32(4, "lse", nlse);
  float* dloss = a.f32(5, "dloss", ndl);
  float* dlogits = a.f32(6, "dlogits", ndg);
  const i64 N = a.integer(7, "N"), V = a.integer(8, "V");
  const i64 nv = prod(a.env(), {N, V});
  a.need(nl, nv, "logits");
  a.need(ndg, nv, "dlogits");
  a.need(nt, N, "targets");
  if (w) a.need(nw, N, "weights");
  a.need(nlse, N, "lse");
  a.need(ndl, N, "dloss");
  check_ids(a, t, N, V, "targets", true, ignore);
  wt::cross_entropy_backward(logits, t, w, ignore, lse, dloss, dlogits, N, V);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- attention and rope

// Shape arguments start at index k: B, H, Tq, Tk, D, scale, maskKind, window, blockSize,
// layout, nKeyBlocks, docQ, docK (13 values; the TS wrapper flattens AttentionShape).
wt::AttnShape attn_shape(const Args& a, size_t k) {
  wt::AttnShape s{};
  s.B = a.integer(k, "B");
  s.H = a.integer(k + 1, "H");
  s.Tq = a.integer(k + 2, "Tq");
  s.Tk = a.integer(k + 3, "Tk");
  s.D = a.integer(k + 4, "D");
  s.scale = (float)a.num(k + 5, "scale");
  s.mask = (int)a.integer(k + 6, "maskKind", 0, 3);
  s.window = 0;
  s.blockSize = 1;
  s.nKeyBlocks = 0;
  s.layout = nullptr;
  if (s.mask == wt::M_SLIDING) s.window = a.integer(k + 7, "window", 0, (i64)1 << 40);
  if (s.mask == wt::M_BLOCK) {
    s.blockSize = a.integer(k + 8, "blockSize", 1);
    s.nKeyBlocks = a.integer(k + 10, "nKeyBlocks");
    Value lv = a.info[k + 9];
    if (!lv.IsTypedArray() || lv.As<TypedArray>().TypedArrayType() != napi_uint8_array)
      type_error(a.env(), std::string(a.fn) + ": block mask layout must be a Uint8Array");
    Uint8Array lay = lv.As<Uint8Array>();
    const i64 nb = s.Tk > 0 ? (s.Tk - 1) / s.blockSize + 1 : 0;  // blocks needed to cover Tk positions
    if (s.nKeyBlocks < nb)
      range_error(a.env(), std::string(a.fn) + ": nKeyBlocks " + std::to_string(s.nKeyBlocks) + " < " +
                               std::to_string(nb) + " blocks needed for Tk = " + std::to_string(s.Tk));
    a.need(lay.ElementLength(), prod(a.env(), {nb, s.nKeyBlocks}), "layout");
    s.layout = lay.Data();
  }
  size_t nq = 0, nk = 0;
  int32_t* dq = a.i32n(k + 11, "docQ", nq);
  int32_t* dk = a.i32n(k + 12, "docK", nk);
  if (dq && dk) {  // like the reference, doc ids apply only when both are given
    a.need(nq, prod(a.env(), {s.B, s.Tq}), "docQ");
    a.need(nk, prod(a.env(), {s.B, s.Tk}), "docK");
    s.docQ = dq;
    s.docK = dk;
  } else {
    s.docQ = s.docK = nullptr;
  }
  return s;
}

Value Attention(const CallbackInfo& info) {
  // (q, k, v, out, lse, ...shape)
  Args a(info, "attention", 5 + 13);
  size_t nq, nk, nv, no, nl;
  float* q = a.f32(0, "q", nq);
  float* k = a.f32(1, "k", nk);
  float* v = a.f32(2, "v", nv);
  float* o = a.f32(3, "out", no);
  float* l = a.f32(4, "lse", nl);
  wt::AttnShape s = attn_shape(a, 5);
  const i64 qs = prod(a.env(), {s.B, s.Tq, s.H, s.D}), ks = prod(a.env(), {s.B, s.Tk, s.H, s.D});
  if (s.H * s.D > 0x7fffffff) range_error(a.env(), "attention: H * D must fit in an int (BLAS leading dimension)");
  a.need(nq, qs, "q");
  a.need(no, qs, "out");
  a.need(nk, ks, "k");
  a.need(nv, ks, "v");
  a.need(nl, prod(a.env(), {s.B, s.H, s.Tq}), "lse");
  wt::attention(q, k, v, o, l, s);
  return info.Env().Undefined();
}

Value AttentionBackward(const CallbackInfo& info) {
  // (q, k, v, out, lse, dout, dq, dk, dv, ...shape)
  Args a(info, "attentionBackward", 9 + 13);
  size_t nq, nk, nv, no, nl, ndo, ndq, ndk, ndv;
  float* q = a.f32(0, "q", nq);
  float* k = a.f32(1, "k", nk);
  float* v = a.f32(2, "v", nv);
  float* o = a.f32(3, "out", no);
  float* l = a.f32(4, "lse", nl);
  float* dout = a.f32(5, "dout", ndo);
  float* dq = a.f32(6, "dq", ndq);
  float* dk = a.f32(7, "dk", ndk);
  float* dv = a.f32(8, "dv", ndv);
  wt::AttnShape s = attn_shape(a, 9);
  const i64 qs = prod(a.env(), {s.B, s.Tq, s.H, s.D}), ks = prod(a.env(), {s.B, s.Tk, s.H, s.D});
  if (s.H * s.D > 0x7fffffff) range_error(a.env(), "attentionBackward: H * D must fit in an int (BLAS leading dimension)");
  a.need(nq, qs, "q");
  a.need(no, qs, "out");
  a.need(ndo, qs, "dout");
  a.need(ndq, qs, "dq");
  a.need(nk, ks, "k");
  a.need(nv, ks, "v");
  a.need(ndk, ks, "dk");
  a.need(ndv, ks, "dv");
  a.need(nl, prod(a.env(), {s.B, s.H, s.Tq}), "lse");
  wt::attention_backward(q, k, v, o, l, dout, dq, dk, dv, s);
  return info.Env().Undefined();
}

// Shape arguments start at index k: B, T, H, Dk, Dv, chunk, scalarDecay.
wt::RecShape rec_shape(const Args& a, size_t k) {
  wt::RecShape s{};
  s.B = a.integer(k, "B");
  s.T = a.integer(k + 1, "T");
  s.H = a.integer(k + 2, "H");
  s.Dk = a.integer(k + 3, "Dk");
  s.Dv = a.integer(k + 4, "Dv");
  s.chunk = a.integer(k + 5, "chunk", 1, 4096);
  s.scalarDecay = a.boolean(k + 6, "scalarDecay");
  return s;
}

Value GatedRecurrence(const CallbackInfo& info) {
  // (q, k, v, g, s0 | null, out, sOut | null, ...shape)
  Args a(info, "gatedRecurrence", 7 + 7);
  size_t nq, nk, nv, ng, ns0 = 0, no, nso = 0;
  float* q = a.f32(0, "q", nq);
  float* k = a.f32(1, "k", nk);
  float* v = a.f32(2, "v", nv);
  float* g = a.f32(3, "g", ng);
  float* s0 = a.f32n(4, "s0", ns0);
  float* o = a.f32(5, "out", no);
  float* so = a.f32n(6, "sOut", nso);
  wt::RecShape s = rec_shape(a, 7);
  const i64 qs = prod(a.env(), {s.B, s.T, s.H, s.Dk}), vs = prod(a.env(), {s.B, s.T, s.H, s.Dv});
  const i64 ss = prod(a.env(), {s.B, s.H, s.Dk, s.Dv});
  a.need(nq, qs, "q");
  a.need(nk, qs, "k");
  a.need(nv, vs, "v");
  a.need(no, vs, "out");
  a.need(ng, s.scalarDecay ? prod(a.env(), {s.B, s.T, s.H}) : qs, "g");
  if (s0) a.need(ns0, ss, "s0");
  if (so) a.need(nso, ss, "sOut");
  wt::gated_recurrence(q, k, v, g, s0, o, so, s);
  return info.Env().Undefined();
}

Value GatedRecurrenceBackward(const CallbackInfo& info) {
  // (q, k, v, g, s0 | null, dout, dq, dk, dv, dg, ...shape)
  Args a(info, "gatedRecurrenceBackward", 10 + 7);
  size_t nq, nk, nv, ng, ns0 = 0, ndo, ndq, ndk, ndv, ndg;
  float* q = a.f32(0, "q", nq);
  float* k = a.f32(1, "k", nk);
  float* v = a.f32(2, "v", nv);
  float* g = a.f32(3, "g", ng);
  float* s0 = a.f32n(4, "s0", ns0);
  float* dout = a.f32(5, "dout", ndo);
  float* dq = a.f32(6, "dq", ndq);
  float* dk = a.f32(7, "dk", ndk);
  float* dv = a.f32(8, "dv", ndv);
  float* dg = a.f32(9, "dg", ndg);
  wt::RecShape s = rec_shape(a, 10);
  const i64 qs = prod(a.env(), {s.B, s.T, s.H, s.Dk}), vs = prod(a.env(), {s.B, s.T, s.H, s.Dv});
  const i64 gs = s.scalarDecay ? prod(a.env(), {s.B, s.T, s.H}) : qs;
  a.need(nq, qs, "q");
  a.need(nk, qs, "k");
  a.need(ndq, qs, "dq");
  a.need(ndk, qs, "dk");
  a.need(nv, vs, "v");
  a.need(ndo, vs, "dout");
  a.need(ndv, vs, "dv");
  a.need(ng, gs, "g");
  a.need(ndg, gs, "dg");
  if (s0) a.need(ns0, prod(a.env(), {s.B, s.H, s.Dk, s.Dv}), "s0");
  wt::gated_recurrence_backward(q, k, v, g, s0, dout, dq, dk, dv, dg, s);
  return info.Env().Undefined();
}

Value Rope(const CallbackInfo& info) {
  // (x, cos, sin, out, B, T, H, D, pos0, inverse)
  Args a(info, "rope", 10);
  size_t nx, nc, ns, no;
  float* x = a.f32(0, "x", nx);
  float* c = a.f32(1, "cos", nc);
  float* s = a.f32(2, "sin", ns);
  float* o = a.f32(3, "out", no);
  const i64 B = a.integer(4, "B"), T = a.integer(5, "T"), H = a.integer(6, "H"), D = a.integer(7, "D");
  const i64 pos0 = a.integer(8, "pos0");
  const bool inv = a.boolean(9, "inverse");
  if (D % 2 != 0) range_error(a.env(), "rope: D must be even");
  const i64 n = prod(a.env(), {B, T, H, D});
  a.need(nx, n, "x");
  a.need(no, n, "out");
  if (n > 0) {
    a.need(nc, prod(a.env(), {pos0 + T, D / 2}), "cos");
    a.need(ns, prod(a.env(), {pos0 + T, D / 2}), "sin");
  }
  wt::rope(x, c, s, o, B, T, H, D, pos0, inv);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- token mixers

Value SelectiveScan(const CallbackInfo& info) {
  // (x, dt, A, Bm, Cm, h0, y, hT, B, T, C, N)
  Args a(info, "selectiveScan", 12);
  size_t nx, ndt, nA, nB, nC, nh0, ny, nhT;
  const float* x = a.f32(0, "x", nx);
  const float* dt = a.f32(1, "dt", ndt);
  const float* A = a.f32(2, "A", nA);
  const float* Bm = a.f32(3, "Bm", nB);
  const float* Cm = a.f32(4, "Cm", nC);
  const float* h0 = a.f32n(5, "h0", nh0);
  float* y = a.f32(6, "y", ny);
  float* hT = a.f32(7, "hT", nhT);
  const i64 B = a.integer(8, "B"), T = a.integer(9, "T"), C = a.integer(10, "C"), N = a.integer(11, "N");
  const i64 btc = prod(a.env(), {B, T, C}), btn = prod(a.env(), {B, T, N}), bcn = prod(a.env(), {B, C, N});
  a.need(nx, btc, "x");
  a.need(ndt, btc, "dt");
  a.need(ny, btc, "y");
  a.need(nA, prod(a.env(), {C, N}), "A");
  a.need(nB, btn, "Bm");
  a.need(nC, btn, "Cm");
  if (h0) a.need(nh0, bcn, "h0");
  a.need(nhT, bcn, "hT");
  wt::selective_scan(x, dt, A, Bm, Cm, h0, y, hT, B, T, C, N);
  return info.Env().Undefined();
}

Value SelectiveScanBackward(const CallbackInfo& info) {
  // (x, dt, A, Bm, Cm, h0, dy, dx, ddt, dA, dBm, dCm, B, T, C, N)
  Args a(info, "selectiveScanBackward", 16);
  size_t nx, ndt, nA, nB, nC, nh0, ndy, ndx, nddt, ndA, ndB, ndC;
  const float* x = a.f32(0, "x", nx);
  const float* dt = a.f32(1, "dt", ndt);
  const float* A = a.f32(2, "A", nA);
  const float* Bm = a.f32(3, "Bm", nB);
  const float* Cm = a.f32(4, "Cm", nC);
  const float* h0 = a.f32n(5, "h0", nh0);
  const float* dy = a.f32(6, "dy", ndy);
  float* dx = a.f32(7, "dx", ndx);
  float* ddt = a.f32(8, "ddt", nddt);
  float* dA = a.f32(9, "dA", ndA);
  float* dBm = a.f32(10, "dBm", ndB);
  float* dCm = a.f32(11, "dCm", ndC);
  const i64 B = a.integer(12, "B"), T = a.integer(13, "T"), C = a.integer(14, "C"), N = a.integer(15, "N");
  const i64 btc = prod(a.env(), {B, T, C}), btn = prod(a.env(), {B, T, N}), cn = prod(a.env(), {C, N});
  for (auto [len, name] : {std::pair<size_t, const char*>{nx, "x"}, {ndt, "dt"}, {ndy, "dy"}, {ndx, "dx"}, {nddt, "ddt"}})
    a.need(len, btc, name);
  for (auto [len, name] : {std::pair<size_t, const char*>{nB, "Bm"}, {nC, "Cm"}, {ndB, "dBm"}, {ndC, "dCm"}})
    a.need(len, btn, name);
  a.need(nA, cn, "A");
  a.need(ndA, cn, "dA");
  if (h0) a.need(nh0, prod(a.env(), {B, C, N}), "h0");
  wt::selective_scan_backward(x, dt, A, Bm, Cm, h0, dy, dx, ddt, dA, dBm, dCm, B, T, C, N);
  return info.Env().Undefined();
}

Value Rwkv6(const CallbackInfo& info) {
  // (r, k, v, w, u, s0, out, sT, B, T, H, D)
  Args a(info, "rwkv6", 12);
  size_t nr, nk, nv, nw, nu, ns0, no, nsT;
  const float* r = a.f32(0, "r", nr);
  const float* k = a.f32(1, "k", nk);
  const float* v = a.f32(2, "v", nv);
  const float* w = a.f32(3, "w", nw);
  const float* u = a.f32(4, "u", nu);
  const float* s0 = a.f32n(5, "s0", ns0);
  float* out = a.f32(6, "out", no);
  float* sT = a.f32(7, "sT", nsT);
  const i64 B = a.integer(8, "B"), T = a.integer(9, "T"), H = a.integer(10, "H"), D = a.integer(11, "D");
  const i64 n = prod(a.env(), {B, T, H, D}), ns = prod(a.env(), {B, H, D, D});
  for (auto [len, name] : {std::pair<size_t, const char*>{nr, "r"}, {nk, "k"}, {nv, "v"}, {nw, "w"}, {no, "out"}})
    a.need(len, n, name);
  a.need(nu, prod(a.env(), {H, D}), "u");
  if (s0) a.need(ns0, ns, "s0");
  a.need(nsT, ns, "sT");
  wt::rwkv6(r, k, v, w, u, s0, out, sT, B, T, H, D);
  return info.Env().Undefined();
}

Value Rwkv6Backward(const CallbackInfo& info) {
  // (r, k, v, w, u, s0, dout, dr, dk, dv, dw, du, B, T, H, D)
  Args a(info, "rwkv6Backward", 16);
  size_t nr, nk, nv, nw, nu, ns0, ndo, ndr, ndk, ndv, ndw, ndu;
  const float* r = a.f32(0, "r", nr);
  const float* k = a.f32(1, "k", nk);
  const float* v = a.f32(2, "v", nv);
  const float* w = a.f32(3, "w", nw);
  const float* u = a.f32(4, "u", nu);
  const float* s0 = a.f32n(5, "s0", ns0);
  const float* dout = a.f32(6, "dout", ndo);
  float* dr = a.f32(7, "dr", ndr);
  float* dk = a.f32(8, "dk", ndk);
  float* dv = a.f32(9, "dv", ndv);
  float* dw = a.f32(10, "dw", ndw);
  float* du = a.f32(11, "du", ndu);
  const i64 B = a.integer(12, "B"), T = a.integer(13, "T"), H = a.integer(14, "H"), D = a.integer(15, "D");
  const i64 n = prod(a.env(), {B, T, H, D});
  for (auto [len, name] : {std::pair<size_t, const char*>{nr, "r"}, {nk, "k"}, {nv, "v"}, {nw, "w"}, {ndo, "dout"},
                           {ndr, "dr"}, {ndk, "dk"}, {ndv, "dv"}, {ndw, "dw"}})
    a.need(len, n, name);
  a.need(nu, prod(a.env(), {H, D}), "u");
  a.need(ndu, prod(a.env(), {H, D}), "du");
  if (s0) a.need(ns0, prod(a.env(), {B, H, D, D}), "s0");
  wt::rwkv6_backward(r, k, v, w, u, s0, dout, dr, dk, dv, dw, du, B, T, H, D);
  return info.Env().Undefined();
}

struct LowRankArgs {
  i64 B, H, Tq, Tk, D, L, R, nc, pos0;
  float scale;
};

// Shape arguments from index k: B, H, Tq, Tk, D, blockSize, rank, nc, scale, pos0.
LowRankArgs lowrank_shape(const Args& a, size_t k) {
  LowRankArgs s{};
  s.B = a.integer(k, "B");
  s.H = a.integer(k + 1, "H");
  s.Tq = a.integer(k + 2, "Tq");
  s.Tk = a.integer(k + 3, "Tk");
  s.D = a.integer(k + 4, "D");
  s.L = a.integer(k + 5, "blockSize", 1);
  s.R = a.integer(k + 6, "rank", 1);
  s.nc = a.integer(k + 7, "nc");
  s.scale = (float)a.num(k + 8, "scale");
  s.pos0 = a.integer(k + 9, "pos0", 0, (i64)1 << 40);
  if (s.Tq > s.Tk) range_error(a.env(), std::string(a.fn) + ": more queries than keys");
  // Every query's own block must start at or after pos0 (its raw keys are all in k).
  if (s.Tq > 0 && ((s.pos0 + s.Tk - s.Tq) / s.L) * s.L < s.pos0)
    range_error(a.env(), std::string(a.fn) + ": the first query's block starts before pos0");
  if (s.H * s.D > 0x7fffffff || s.nc * s.R + s.L > 0x7fffffff)
    range_error(a.env(), std::string(a.fn) + ": sizes must fit in an int (BLAS dimensions)");
  return s;
}

Value LowrankAttention(const CallbackInfo& info) {
  // (q, k, v, kc, vc, out, lse, ...shape)
  Args a(info, "lowrankAttention", 7 + 10);
  size_t nq, nk, nv, nkc, nvc, no, nl;
  const float* q = a.f32(0, "q", nq);
  const float* k = a.f32(1, "k", nk);
  const float* v = a.f32(2, "v", nv);
  const float* kc = a.f32(3, "kc", nkc);
  const float* vc = a.f32(4, "vc", nvc);
  float* out = a.f32(5, "out", no);
  float* lse = a.f32(6, "lse", nl);
  const LowRankArgs s = lowrank_shape(a, 7);
  const i64 qs = prod(a.env(), {s.B, s.Tq, s.H, s.D}), ks = prod(a.env(), {s.B, s.Tk, s.H, s.D});
  const i64 cs = prod(a.env(), {s.B, s.nc, s.R, s.H, s.D});
  a.need(nq, qs, "q");
  a.need(no, qs, "out");
  a.need(nk, ks, "k");
  a.need(nv, ks, "v");
  a.need(nkc, cs, "kc");
  a.need(nvc, cs, "vc");
  a.need(nl, prod(a.env(), {s.B, s.H, s.Tq}), "lse");
  wt::lowrank_attention(q, k, v, kc, vc, out, lse, s.B, s.H, s.Tq, s.Tk, s.D, s.L, s.R, s.nc, s.scale, s.pos0);
  return info.Env().Undefined();
}

Value LowrankAttentionBackward(const CallbackInfo& info) {
  // (q, k, v, kc, vc, out, lse, dout, dq, dk, dv, dkc, dvc, ...shape)
  Args a(info, "lowrankAttentionBackward", 13 + 10);
  size_t nq, nk, nv, nkc, nvc, no, nl, ndo, ndq, ndk, ndv, ndkc, ndvc;
  const float* q = a.f32(0, "q", nq);
  const float* k = a.f32(1, "k", nk);
  const float* v = a.f32(2, "v", nv);
  const float* kc = a.f32(3, "kc", nkc);
  const float* vc = a.f32(4, "vc", nvc);
  const float* out = a.f32(5, "out", no);
  const float* lse = a.f32(6, "lse", nl);
  const float* dout = a.f32(7, "dout", ndo);
  float* dq = a.f32(8, "dq", ndq);
  float* dk = a.f32(9, "dk", ndk);
  float* dv = a.f32(10, "dv", ndv);
  float* dkc = a.f32(11, "dkc", ndkc);
  float* dvc = a.f32(12, "dvc", ndvc);
  const LowRankArgs s = lowrank_shape(a, 13);
  const i64 qs = prod(a.env(), {s.B, s.Tq, s.H, s.D}), ks = prod(a.env(), {s.B, s.Tk, s.H, s.D});
  const i64 cs = prod(a.env(), {s.B, s.nc, s.R, s.H, s.D});
  for (auto [len, name] : {std::pair<size_t, const char*>{nq, "q"}, {no, "out"}, {ndo, "dout"}, {ndq, "dq"}}) a.need(len, qs, name);
  for (auto [len, name] : {std::pair<size_t, const char*>{nk, "k"}, {nv, "v"}, {ndk, "dk"}, {ndv, "dv"}}) a.need(len, ks, name);
  for (auto [len, name] : {std::pair<size_t, const char*>{nkc, "kc"}, {nvc, "vc"}, {ndkc, "dkc"}, {ndvc, "dvc"}}) a.need(len, cs, name);
  a.need(nl, prod(a.env(), {s.B, s.H, s.Tq}), "lse");
  wt::lowrank_attention_backward(q, k, v, kc, vc, out, lse, dout, dq, dk, dv, dkc, dvc, s.B, s.H, s.Tq, s.Tk, s.D, s.L,
                                 s.R, s.nc, s.scale, s.pos0);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- optimizers

Value Adamw(const CallbackInfo& info) {
  // (p, g, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale)
  Args a(info, "adamw", 12);
  size_t np, ng, nm, nv;
  float* p = a.f32(0, "p", np);
  float* g = a.f32(1, "g", ng);
  float* m = a.f32(2, "m", nm);
  float* v = a.f32(3, "v", nv);
  a.need(ng, (i64)np, "g");
  a.need(nm, (i64)np, "m");
  a.need(nv, (i64)np, "v");
  wt::adamw(p, g, m, v, (i64)np, a.num(4, "lr"), a.num(5, "beta1"), a.num(6, "beta2"), a.num(7, "eps"),
            a.num(8, "weightDecay"), a.num(9, "bc1"), a.num(10, "bc2"), a.num(11, "gradScale"));
  return info.Env().Undefined();
}

Value AdamwMulti(const CallbackInfo& info) {
  // ([p...], [g...], [m...], [v...], lrs: Float64Array, wds: Float64Array, beta1, beta2, eps, bc1, bc2, gradScale)
  Args a(info, "adamwMulti", 12);
  Env env = a.env();
  const char* names[4] = {"params", "grads", "m", "v"};
  Array lists[4];
  for (int k = 0; k < 4; k++) {
    if (!info[k].IsArray()) type_error(env, a.where(k, names[k]) + " must be an array of Float32Array");
    lists[k] = info[k].As<Array>();
  }
  const uint32_t n = lists[0].Length();
  for (int k = 1; k < 4; k++)
    if (lists[k].Length() != n)
      type_error(env, std::string("adamwMulti: ") + names[k] + " has " + std::to_string(lists[k].Length()) +
                          " arrays, params has " + std::to_string(n));
  double* hyper[2];
  for (int k = 0; k < 2; k++) {
    Value v = info[4 + k];
    if (!v.IsTypedArray() || v.As<TypedArray>().TypedArrayType() != napi_float64_array ||
        v.As<Float64Array>().ElementLength() != n)
      type_error(env, a.where(4 + k, k ? "weightDecays" : "lrs") + " must be a Float64Array with one value per parameter");
    hyper[k] = v.As<Float64Array>().Data();
  }
  std::vector<wt::AdamwSeg> segs(n);
  for (uint32_t i = 0; i < n; i++) {
    float* ptr[4];
    size_t len[4];
    for (int k = 0; k < 4; k++) {
      Value v = lists[k].Get(i);
      if (!v.IsTypedArray() || v.As<TypedArray>().TypedArrayType() != napi_float32_array)
        type_error(env, std::string("adamwMulti: ") + names[k] + "[" + std::to_string(i) + "] must be a Float32Array");
      TypedArrayOf<float> t = v.As<TypedArrayOf<float>>();
      ptr[k] = t.Data();
      len[k] = t.ElementLength();
      if (len[k] != len[0])
        range_error(env, std::string("adamwMulti: ") + names[k] + "[" + std::to_string(i) + "] has " +
                             std::to_string(len[k]) + " elements, params[" + std::to_string(i) + "] has " +
                             std::to_string(len[0]));
    }
    segs[i] = wt::AdamwSeg{ptr[0], ptr[1], ptr[2], ptr[3], (i64)len[0], hyper[0][i], hyper[1][i]};
  }
  wt::adamw_multi(segs.data(), (int)n, a.num(6, "beta1"), a.num(7, "beta2"), a.num(8, "eps"), a.num(9, "bc1"),
                  a.num(10, "bc2"), a.num(11, "gradScale"));
  return env.Undefined();
}

Value Sgd(const CallbackInfo& info) {
  // (p, g, buf, lr, momentum, weightDecay, nesterov, gradScale)
  Args a(info, "sgd", 8);
  size_t np, ng, nb;
  float* p = a.f32(0, "p", np);
  float* g = a.f32(1, "g", ng);
  float* buf = a.f32(2, "buf", nb);
  a.need(ng, (i64)np, "g");
  a.need(nb, (i64)np, "buf");
  wt::sgd(p, g, buf, (i64)np, a.num(3, "lr"), a.num(4, "momentum"), a.num(5, "weightDecay"), a.boolean(6, "nesterov"),
          a.num(7, "gradScale"));
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- info and probes

Value Threads(const CallbackInfo& info) { return Number::New(info.Env(), wt::num_threads()); }

Value SetThreads(const CallbackInfo& info) {
  Args a(info, "setThreads", 1);
  wt::set_num_threads((int)a.integer(0, "n", 1, 256));
  return Number::New(info.Env(), wt::num_threads());
}

std::string blas_name() {
  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64" -> "OpenBLAS 0.3.21"
  std::string cfg = openblas_get_config();
  size_t sp = cfg.find(' ', cfg.find(' ') + 1);
  std::string name = sp == std::string::npos ? cfg : cfg.substr(0, sp);
  const int par = openblas_get_parallel();
  name += std::string(" (") + (par == 0 ? "sequential" : par == 1 ? "pthreads" : "openmp") + ", " +
          openblas_get_corename() + ")";
  return name;
}

Value Blas(const CallbackInfo& info) { return String::New(info.Env(), blas_name()); }

Value Info(const CallbackInfo& info) {
  Env env = info.Env();
  Object o = Object::New(env);
  o.Set("threads", wt::num_threads());
  o.Set("cores", wt::available_cores());
  o.Set("blas", blas_name());
  o.Set("blasConfig", std::string(openblas_get_config()));
  o.Set("blasCore", std::string(openblas_get_corename()));
  o.Set("blasThreads", openblas_get_num_threads());
  o.Set("gemmStrategy", wt::gemm_strategy());
  o.Set("compiler", std::string("g++ ") + __VERSION__);
  o.Set("flags", WT_CFLAGS);
  o.Set("isa", wt::isa_name(wt::current_isa()));
  o.Set("isaBest", wt::isa_name(wt::best_isa()));
  return o;
}

Value RawSgemm(const CallbackInfo& info) {
  // (M, N, K, transA, transB, reps, best) -> median (best: fastest) seconds per call
  Args a(info, "rawSgemm", 7);
  const i64 M = a.integer(0, "M", 1, 1 << 15), N = a.integer(1, "N", 1, 1 << 15), K = a.integer(2, "K", 1, 1 << 15);
  const bool ta = a.boolean(3, "transA"), tb = a.boolean(4, "transB");
  const i64 reps = a.integer(5, "reps", 1, 1 << 20);
  const bool best = a.boolean(6, "best");
  return Number::New(info.Env(), wt::raw_sgemm_seconds((int)M, (int)N, (int)K, ta, tb, (int)reps, best));
}

Value MemcpyBandwidth(const CallbackInfo& info) {
  Args a(info, "memcpyBandwidth", 2);
  const i64 bytes = a.integer(0, "bytes", 1, (i64)1 << 34), reps = a.integer(1, "reps", 1, 1 << 20);
  return Number::New(info.Env(), wt::memcpy_bandwidth(bytes, (int)reps));
}

Value SetIsa(const CallbackInfo& info) {
  // ("avx512" | "avx2" | "sse2") -> the ISA now in use; RangeError when the CPU lacks it.
  Args a(info, "setIsa", 1);
  const std::string s = str(a, 0, "isa");
  for (wt::Isa isa : {wt::ISA_SSE2, wt::ISA_AVX2, wt::ISA_AVX512}) {
    if (s != wt::isa_name(isa)) continue;
    if (!wt::set_isa(isa))
      range_error(a.env(), "setIsa: this CPU does not support " + s + " (best: " + wt::isa_name(wt::best_isa()) + ")");
    return String::New(info.Env(), wt::isa_name(wt::current_isa()));
  }
  type_error(a.env(), "setIsa: expected 'avx512', 'avx2' or 'sse2', got '" + s + "'");
}

Value SetGemmStrategy(const CallbackInfo& info) {
  Args a(info, "setGemmStrategy", 1);
  const std::string s = str(a, 0, "strategy");
  if (s == "split") wt::set_gemm_strategy(0);
  else if (s == "blas") wt::set_gemm_strategy(1);
  else type_error(a.env(), "setGemmStrategy: expected 'split' or 'blas'");
  return String::New(info.Env(), wt::gemm_strategy());
}

}  // namespace

Object Init(Env env, Object exports) {
  struct Fn { const char* name; Value (*fn)(const CallbackInfo&); };
  const Fn fns[] = {
      {"copyStrided", CopyStrided}, {"fill", Fill}, {"axpy", Axpy}, {"sumSquares", SumSquares},
      {"matmul", Matmul}, {"binary", Binary}, {"unary", Unary}, {"unaryBackward", UnaryBackward},
      {"where", Where}, {"biasUnary", BiasUnary}, {"reduce", Reduce}, {"argmax", Argmax}, {"softmax", Softmax},
      {"softmaxBackward", SoftmaxBackward}, {"logSoftmax", LogSoftmax}, {"logSoftmaxBackward", LogSoftmaxBackward},
      {"layerNorm", LayerNorm}, {"layerNormBackward", LayerNormBackward}, {"rmsNorm", RmsNorm},
      {"rmsNormBackward", RmsNormBackward}, {"embedding", Embedding}, {"embeddingBackward", EmbeddingBackward},
      {"crossEntropy", CrossEntropy}, {"crossEntropyBackward", CrossEntropyBackward}, {"attention", Attention},
      {"attentionBackward", AttentionBackward}, {"rope", Rope},
      {"selectiveScan", SelectiveScan}, {"selectiveScanBackward", SelectiveScanBackward}, {"rwkv6", Rwkv6},
      {"rwkv6Backward", Rwkv6Backward}, {"lowrankAttention", LowrankAttention},
      {"lowrankAttentionBackward", LowrankAttentionBackward}, {"adamw", Adamw}, {"adamwMulti", AdamwMulti}, {"sgd", Sgd},
      {"gatedRecurrence", GatedRecurrence}, {"gatedRecurrenceBackward", GatedRecurrenceBackward},
      {"threads", Threads}, {"setThreads", SetThreads}, {"blas", Blas}, {"info", Info}, {"rawSgemm", RawSgemm},
      {"memcpyBandwidth", MemcpyBandwidth}, {"setGemmStrategy", SetGemmStrategy}, {"setIsa", SetIsa},
  };
  for (const Fn& f : fns) exports.Set(f.name, Function::New(env, f.fn, f.name));
  return exports;
}

NODE_API_MODULE(windtunnel, Init)
