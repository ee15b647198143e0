// N-d strided iteration shared by copyStrided, binary and where: size-1 dims are
// dropped, adjacent dims that are contiguous for every operand are merged, then a flat
// index range is walked as runs along the innermost dim (so threads can split anywhere).
#pragma once
#include "kernels.h"

namespace wt {
namespace WT_ISA {

template <int NOPS>
struct NdPlan {
  int rank = 0;
  i64 total = 1;
  i64 shape[kMaxRank];
  i64 st[NOPS][kMaxRank];

  NdPlan(const i64* shp, int r, const i64* const* strides) {
    for (int d = 0; d < r; d++) total *= shp[d];
    for (int d = 0; d < r; d++) {
      if (shp[d] == 1) continue;
      if (rank > 0) {
        bool merge = true;
        for (int k = 0; k < NOPS; k++) merge &= st[k][rank - 1] == strides[k][d] * shp[d];
        if (merge) {
          shape[rank - 1] *= shp[d];
          for (int k = 0; k < NOPS; k++) st[k][rank - 1] = strides[k][d];
          continue;
        }
      }
      shape[rank] = shp[d];
      for (int k = 0; k < NOPS; k++) st[k][rank] = strides[k][d];
      rank++;
    }
    if (rank == 0) {  // scalar (or all-ones shape)
      shape[0] = 1;
      for (int k = 0; k < NOPS; k++) st[k][0] = 0;
      rank = 1;
    }
  }

  /** Calls f(len, offs) for every innermost run covering flat indices [begin, end). */
  template <class F>
  void runs(i64 begin, i64 end, F&& f) const {
    if (begin >= end) return;
    i64 idx[kMaxRank];
    i64 off[NOPS];
    i64 rem = begin;
    for (int k = 0; k < NOPS; k++) off[k] = 0;
    for (int d = rank - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      for (int k = 0; k < NOPS; k++) off[k] += idx[d] * st[k][d];
    }
    const int last = rank - 1;
    i64 pos = begin;
    while (pos < end) {
      i64 len = shape[last] - idx[last];
      if (len > end - pos) len = end - pos;
      f(len, (const i64*)off);
      pos += len;
      if (pos >= end) break;
      // advance the odometer past this run
      for (int k = 0; k < NOPS; k++) off[k] += (shape[last] - idx[last]) * st[k][last] - shape[last] * st[k][last];
      idx[last] = 0;
      for (int d = last - 1; d >= 0; d--) {
        idx[d]++;
        for (int k = 0; k < NOPS; k++) off[k] += st[k][d];
        if (idx[d] < shape[d]) break;
        for (int k = 0; k < NOPS; k++) off[k] -= st[k][d] * shape[d];
        idx[d] = 0;
      }
    }
  }
};

}  // namespace WT_ISA
}  // namespace wt
