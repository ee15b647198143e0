// The reference backend: every kernel of backend.ts as plain loops, in TypeScript with
// no Node-only API (it must also run in a browser). It is the definition of what each
// kernel means and the oracle the native backend is tested against, so clarity wins
// over speed here. Works on Float32Array and Float64Array alike.

import { gatedRecurrenceBackwardRef, gatedRecurrenceRef } from './recurrence.js';
import type { AttentionShape, Backend, BinaryOp, FloatArray, ReduceOp, UnaryOp } from './backend.js';
import { referenceSequenceKernels } from './reference-sequence.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** erf from a Maclaurin series (small |x|) and a continued fraction for erfc (large |x|); error < 1e-15 in float64. */
export function erf(x: number): number {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? NaN : Math.sign(x);
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series converges fast for small |x|.
    let sum = x, term = x, n = 0;
    const x2 = x * x;
    do {
      n++;
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    } while (n < 200);
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc at large |x| (Lentz).
  const z = ax;
  let f = z, c = z, d = 0;
  const tiny = 1e-300;
  for (let i = 1; i < 300; i++) {
    const an = i / 2;
    d = z + an * d; d = Math.abs(d) < tiny ? tiny : d; d = 1 / d;
    c = z + an / c; c = Math.abs(c) < tiny ? tiny : c;
    const delta = c * d; f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
  return x > 0 ? 1 - erfc : erfc - 1;
}

function applyBinary(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return a / b;
    case 'pow': return Math.pow(a, b);
    case 'maximum': return a > b || Number.isNaN(a) ? a : b;
    case 'minimum': return a < b || Number.isNaN(a) ? a : b;
    case 'eq': return a === b ? 1 : 0;
    case 'lt': return a < b ? 1 : 0;
    case 'gt': return a > b ? 1 : 0;
  }
}

export function applyUnary(op: UnaryOp, x: number): number {
  switch (op) {
    case 'neg': return -x;
    case 'exp': return Math.exp(x);
    case 'log': return Math.log(x);
    case 'sqrt': return Math.sqrt(x);
    case 'rsqrt': return 1 / Math.sqrt(x);
    case 'tanh': return Math.tanh(x);
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'relu': return x > 0 ? x : 0;
    case 'gelu_tanh': return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
    case 'gelu_erf': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'silu': return x / (1 + Math.exp(-x));
    case 'abs': return Math.abs(x);
    case 'square': return x * x;
    case 'reciprocal': return 1 / x;
    case 'sin': return Math.sin(x);
    case 'cos': return Math.cos(x);
  }
}

/** f'(x), given x and y = f(x). */
export function unaryDerivative(op: UnaryOp, x: number, y: number): number {
  switch (op) {
    case 'neg': return -1;
    case 'exp': return y;
    case 'log': return 1 / x;
    case 'sqrt': return 0.5 / y;
    case 'rsqrt': return -0.5 * y * y * y;
    case 'tanh': return 1 - y * y;
    case 'sigmoid': return y * (1 - y);
    case 'relu': return x > 0 ? 1 : 0;
    case 'gelu_tanh': {
      const inner = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
      const t = Math.tanh(inner);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
    }
    case 'gelu_erf': {
      const cdf = 0.5 * (1 + erf(x / Math.SQRT2));
      const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
      return cdf + x * pdf;
    }
    case 'silu': {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    }
    case 'abs': return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'square': return 2 * x;
    case 'reciprocal': return -y * y;
    case 'sin': return Math.cos(x);
    case 'cos': return -Math.sin(x);
  }
}

/** Calls fn(outIndex, offsets...) over every index of `shape`, tracking one strided offset per operand. */
function forEachStrided(shape: number[], strides: number[][], fn: (i: number, offs: number[]) => void): void {
  const nd = shape.length;
  const total = shape.reduce((p, s) => p * s, 1);
  if (total === 0) return;
  const idx = new Array<number>(nd).fill(0);
  const offs = strides.map(() => 0);
  for (let i = 0; i < total; i++) {
    fn(i, offs);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < strides.length; k++) offs[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (let k = 0; k < strides.length; k++) offs[k] -= strides[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** True when query at absolute position pq may attend to key at absolute position pk. */
export function attentionAllowed(s: AttentionShape, b: number, iq: number, jk: number): boolean {
  const pq = s.Tk - s.Tq + iq;
  const m = s.mask;
  if (m.kind !== 'none' && jk > pq) return false;
  if (m.kind === 'sliding' && jk <= pq - m.window) return false;
  if (m.kind === 'block') {
    const qb = Math.floor(pq / m.blockSize), kb = Math.floor(jk / m.blockSize);
    if (!m.layout[qb * m.nKeyBlocks + kb]) return false;
  }
  if (s.docQ && s.docK && s.docQ[b * s.Tq + iq] !== s.docK[b * s.Tk + jk]) return false;
  return true;
}

function newLike(x: FloatArray, n: number): FloatArray {
  return x instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

export const referenceBackend: Backend = {
  ...referenceSequenceKernels,
  name: 'reference',
  threads: () => 1,
  blas: () => 'none (TypeScript loops)',
  isa: () => 'none (TypeScript loops)',

  copyStrided(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape) {
    forEachStrided(shape, [srcStrides, dstStrides], (_i, o) => { dst[dstOff + o[1]] = src[srcOff + o[0]]; });
  },
  fill(dst, value) { dst.fill(value); },
  axpy(alpha, x, acc) { for (let i = 0; i < x.length; i++) acc[i] += alpha * x[i]; },
  sumSquares(x) { let s = 0; for (let i = 0; i < x.length; i++) s += x[i] * x[i]; return s; },

  matmul(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, accumulate) {
    for (let bi = 0; bi < batch; bi++) {
      const ao = bi * strideA, bo = bi * strideB, co = bi * M * N;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) {
            const av = transA ? a[ao + k * M + i] : a[ao + i * K + k];
            const bv = transB ? b[bo + j * K + k] : b[bo + k * N + j];
            s += av * bv;
          }
          c[co + i * N + j] = accumulate ? c[co + i * N + j] + s : s;
        }
      }
    }
  },

  binary(op, a, aStrides, b, bStrides, out, shape) {
    forEachStrided(shape, [aStrides, bStrides], (i, o) => { out[i] = applyBinary(op, a[o[0]], b[o[1]]); });
  },
  unary(op, x, out) { for (let i = 0; i < x.length; i++) out[i] = applyUnary(op, x[i]); },
  biasUnary(op, x, bias, pre, out, N, C) {
    for (let r = 0; r < N; r++) {
      for (let j = 0; j < C; j++) {
        const h = x[r * C + j] + bias[j];
        pre[r * C + j] = h;
        out[r * C + j] = applyUnary(op, h);
      }
    }
  },
  unaryBackward(op, x, y, dy, dx) { for (let i = 0; i < x.length; i++) dx[i] = dy[i] * unaryDerivative(op, x[i], y[i]); },
  where(cond, cStrides, a, aStrides, b, bStrides, out, shape) {
    forEachStrided(shape, [cStrides, aStrides, bStrides], (i, o) => { out[i] = cond[o[0]] !== 0 ? a[o[1]] : b[o[2]]; });
  },

  reduce(op: ReduceOp, x, out, outer, n, inner) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = op === 'sum' ? 0 : -Infinity;
        for (let k = 0; k < n; k++) {
          const v = x[(o * n + k) * inner + i];
          acc = op === 'sum' ? acc + v : (v > acc || Number.isNaN(v) ? v : acc);
        }
        out[o * inner + i] = acc;
      }
    }
  },
  argmax(x, out, outer, n, inner) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = 0, bv = x[o * n * inner + i];
        for (let k = 1; k < n; k++) {
          const v = x[(o * n + k) * inner + i];
          if (v > bv) { bv = v; best = k; }
        }
        out[o * inner + i] = best;
      }
    }
  },

  softmax(x, out, N, C) {
    for (let r = 0; r < N; r++) {
      const o = r * C;
      let mx = -Infinity;
      for (let j = 0; j < C; j++) mx = Math.max(mx, x[o + j]);
      let sum = 0;
      for (let j = 0; j < C; j++) { const e = Math.exp(x[o + j] - mx); out[o + j] = e; sum += e; }
      for (let j = 0; j < C; j++) out[o + j] /= sum;
    }
  },
  softmaxBackward(y, dy, dx, N, C) {
    for (let r = 0; r < N; r++) {
      const o = r * C;
      let dot = 0;
      for (let j = 0; j < C; j++) dot += dy[o + j] * y[o + j];
      for (let j = 0; j < C; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
    }
  },
  logSoftmax(x, out, N, C) {
    for (let r = 0; r < N; r++) {
      const o = r * C;
      let mx = -Infinity;
      for (let j = 0; j < C; j++) mx = Math.max(mx, x[o + j]);
      let sum = 0;
      for (let j = 0; j < C; j++) sum += Math.exp(x[o + j] - mx);
      const lse = mx + Math.log(sum);
      for (let j = 0; j < C; j++) out[o + j] = x[o + j] - lse;
    }
  },
  logSoftmaxBackward(y, dy, dx, N, C) {
    for (let r = 0; r < N; r++) {
      const o = r * C;
      let s = 0;
      for (let j = 0; j < C; j++) s += dy[o + j];
      for (let j = 0; j < C; j++) dx[o + j] = dy[o + j] - Math.exp(y[o + j]) * s;
    }
  },

  layerNorm(x, w, b, out, mean, rstd, N, C, eps) {
    for (let r = 0; r < N; r++) {
      const o = r * C;
      let m = 0;
      for (let j = 0; j < C; j++) m += x[o + j];
      m /= C;
      let v = 0;
      for (let j = 0; j < C; j++) { const d = x[o + j] - m; v += d * d; }
      v /= C;
      const rs = 1 / Math.sqrt(v + eps);
      mean[r] = m; rstd[r] = rs;
      for (let j = 0; j < C; j++) {
        const n = (x[o + j] - m) * rs;
        out[o + j] = n * (w ? w[j] : 1) + (b ? b[j] : 0);
      }
    }
  },
  layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, N, C) {
    if (dw) dw.fill(0);
    if (db) db.fill(0);
    for (let r = 0; r < N; r++) {
      const o = r * C, m = mean[r], rs = rstd[r];
      let sumG = 0, sumGN = 0;
      for (let j = 0; j < C; j++) {
        const n = (x[o + j] - m) * rs;
        const g = dy[o + j] * (w ? w[j] : 1);
        sumG += g; sumGN += g * n;
        if (dw) dw[j] += dy[o + j] * n;
        if (db) db[j] += dy[o + j];
      }
      sumG /= C; sumGN /= C;
      for (let j = 0; j < C; j++) {
        const n = (x[o + j] - m) * rs;
        const g = dy[o + j] * (w ? w[j] : 1);
        dx[o + j] = rs * (g - sumG - n * sumGN);
      }
    }
  },
  rmsNorm(x, w, out, rstd, N, C, eps) {
    for (let r = 0; r < N; r++) {
      const o = r * C;
      let ss = 0;
      for (let j = 0; j < C; j++) ss += x[o + j] * x[o + j];
      const rs = 1 / Math.sqrt(ss / C + eps);
      rstd[r] = rs;
      for (let j = 0; j < C; j++) out[o + j] = x[o + j] * rs * (w ? w[j] : 1);
    }
  },
  rmsNormBackward(x, w, rstd, dy, dx, dw, N, C) {
    if (dw) dw.fill(0);
    for (let r = 0; r < N; r++) {
      const o = r * C, rs = rstd[r];
      let dot = 0;
      for (let j = 0; j < C; j++) {
        const g = dy[o + j] * (w ? w[j] : 1);
        dot += g * x[o + j];
        if (dw) dw[j] += dy[o + j] * x[o + j] * rs;
      }
      const k = (rs * rs * rs * dot) / C;
      for (let j = 0; j < C; j++) dx[o + j] = dy[o + j] * (w ? w[j] : 1) * rs - x[o + j] * k;
    }
  },

  embedding(ids, table, out, N, C) {
    for (let i = 0; i < N; i++) {
      const src = ids[i] * C;
      for (let j = 0; j < C; j++) out[i * C + j] = table[src + j];
    }
  },
  embeddingBackward(ids, dout, accTable, N, C) {
    for (let i = 0; i < N; i++) {
      const dst = ids[i] * C;
      for (let j = 0; j < C; j++) accTable[dst + j] += dout[i * C + j];
    }
  },
  crossEntropy(logits, targets, weights, ignoreIndex, loss, lse, N, V) {
    for (let r = 0; r < N; r++) {
      const o = r * V;
      let mx = -Infinity;
      for (let j = 0; j < V; j++) mx = Math.max(mx, logits[o + j]);
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j] - mx);
      const l = mx + Math.log(sum);
      lse[r] = l;
      const t = targets[r];
      loss[r] = t === ignoreIndex ? 0 : (weights ? weights[r] : 1) * (l - logits[o + t]);
    }
  },
  crossEntropyBackward(logits, targets, weights, ignoreIndex, lse, dloss, dlogits, N, V) {
    for (let r = 0; r < N; r++) {
      const o = r * V, t = targets[r];
      if (t === ignoreIndex) { for (let j = 0; j < V; j++) dlogits[o + j] = 0; continue; }
      const scale = dloss[r] * (weights ? weights[r] : 1);
      for (let j = 0; j < V; j++) dlogits[o + j] = scale * Math.exp(logits[o + j] - lse[r]);
      dlogits[o + t] -= scale;
    }
  },

  gatedRecurrence: gatedRecurrenceRef,
  gatedRecurrenceBackward: gatedRecurrenceBackwardRef,

  attention(q, k, v, out, lse, s) {
    const { B, H, Tq, Tk, D, scale } = s;
    const scores = newLike(q, Tk);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
      const qo = ((b * Tq + i) * H + h) * D;
      let mx = -Infinity;
      for (let j = 0; j < Tk; j++) {
        if (!attentionAllowed(s, b, i, j)) { scores[j] = -Infinity; continue; }
        const ko = ((b * Tk + j) * H + h) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
        scores[j] = dot * scale;
        if (scores[j] > mx) mx = scores[j];
      }
      const oo = qo;
      for (let d = 0; d < D; d++) out[oo + d] = 0;
      const li = (b * H + h) * Tq + i;
      if (mx === -Infinity) { lse[li] = -Infinity; continue; }
      let sum = 0;
      for (let j = 0; j < Tk; j++) sum += scores[j] === -Infinity ? 0 : Math.exp(scores[j] - mx);
      lse[li] = mx + Math.log(sum);
      for (let j = 0; j < Tk; j++) {
        if (scores[j] === -Infinity) continue;
        const p = Math.exp(scores[j] - lse[li]);
        const vo = ((b * Tk + j) * H + h) * D;
        for (let d = 0; d < D; d++) out[oo + d] += p * v[vo + d];
      }
    }
  },
  attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, s) {
    const { B, H, Tq, Tk, D, scale } = s;
    dq.fill(0); dk.fill(0); dv.fill(0);
    const p = newLike(q, Tk);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
      const qo = ((b * Tq + i) * H + h) * D;
      const li = (b * H + h) * Tq + i;
      if (lse[li] === -Infinity) continue;
      // dsum = sum_j p_ij * (dout_i . v_j) = dout_i . out_i
      let dsum = 0;
      for (let d = 0; d < D; d++) dsum += dout[qo + d] * out[qo + d];
      for (let j = 0; j < Tk; j++) {
        if (!attentionAllowed(s, b, i, j)) { p[j] = 0; continue; }
        const ko = ((b * Tk + j) * H + h) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
        p[j] = Math.exp(dot * scale - lse[li]);
      }
      for (let j = 0; j < Tk; j++) {
        if (p[j] === 0) continue;
        const ko = ((b * Tk + j) * H + h) * D;
        let dp = 0;
        for (let d = 0; d < D; d++) dp += dout[qo + d] * v[ko + d];
        const ds = p[j] * (dp - dsum) * scale;
        for (let d = 0; d < D; d++) {
          dv[ko + d] += p[j] * dout[qo + d];
          dq[qo + d] += ds * k[ko + d];
          dk[ko + d] += ds * q[qo + d];
        }
      }
    }
  },

  rope(x, cos, sin, out, B, T, H, D, pos0, inverse) {
    const half = D / 2;
    const sign = inverse ? -1 : 1;
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      const po = (pos0 + t) * half;
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D;
        for (let i = 0; i < half; i++) {
          const c = cos[po + i], sn = sign * sin[po + i];
          const x1 = x[o + i], x2 = x[o + i + half];
          out[o + i] = x1 * c - x2 * sn;
          out[o + i + half] = x2 * c + x1 * sn;
        }
      }
    }
  },

  adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * gradScale;
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      const mhat = m[i] / bc1, vhat = v[i] / bc2;
      p[i] -= lr * (weightDecay * p[i] + mhat / (Math.sqrt(vhat) + eps));
    }
  },
  adamwMulti(params, beta1, beta2, eps, bc1, bc2, gradScale) {
    for (const q of params) this.adamw(q.p, q.g, q.m, q.v, q.lr, beta1, beta2, eps, q.weightDecay, bc1, bc2, gradScale);
  },
  sgd(p, g, buf, lr, momentum, weightDecay, nesterov, gradScale) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * gradScale + weightDecay * p[i];
      buf[i] = momentum * buf[i] + gi;
      p[i] -= lr * (nesterov ? gi + momentum * buf[i] : buf[i]);
    }
  },
};
