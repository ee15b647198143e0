// The second moment of an MLP's keys, C = E[k k^T], where a key k is the input of the MLP's
// output projection (mlp.hook_post) at one token. ROME and MEMIT spread an edit along C^-1 k so
// that keys the model meets in ordinary text move as little as possible. C is estimated on the
// training corpus and cached per model (a hash of its weights), layer and sample, because every
// edit of a model reuses the statistics of the model it started from.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Tensor, noGrad } from '../engine/index.js';
import { blockHookNames, type Transformer } from '../models/index.js';
import type { TokenSource } from '../data/index.js';
import { writeFileDurable } from '../base/durable.js';

export interface KeyStatsOptions {
  /** Windows of `context` tokens read from the source (evenly spaced, so the sample is fixed). */
  windows?: number;
  context?: number;
  /** Cache folder (default .cache/edit-stats); null: do not cache. */
  cacheDir?: string | null;
}

/** A hash of the model's config and weights: the cache key's model part. */
export function modelHash(model: Transformer): string {
  const h = createHash('sha256').update(JSON.stringify(model.config));
  for (const [name, t] of model.params) h.update(name).update(new Uint8Array(t.f.buffer, t.f.byteOffset, t.f.byteLength));
  return h.digest('hex').slice(0, 24);
}

/** E[k k^T] at layer l, [F, F] row-major, from the source's tokens; read from the cache when there. */
export function keySecondMoment(model: Transformer, layer: number, source: TokenSource, o: KeyStatsOptions = {}): { moment: Float64Array; dim: number; count: number; cached: boolean } {
  const { nLayer, nCtx } = model.config;
  if (!(Number.isInteger(layer) && layer >= 0 && layer < nLayer)) throw new Error(`key statistics: layer ${layer} outside 0..${nLayer - 1}`);
  const T = Math.min(o.context ?? nCtx, nCtx, source.length);
  const W = Math.max(1, Math.min(o.windows ?? 64, Math.floor(source.length / T)));
  const cacheDir = o.cacheDir === undefined ? '.cache/edit-stats' : o.cacheDir;
  const key = `${modelHash(model)}-l${layer}-w${W}x${T}-n${source.length}`;
  const path = cacheDir === null ? null : join(resolve(cacheDir), `keys-${key}.f64`);
  const F = model.config.dMlp;
  if (path && existsSync(path)) {
    const buf = readFileSync(path);
    if (buf.byteLength === (F * F + 1) * 8) {
      const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      return { moment: all.slice(0, F * F), dim: F, count: all[F * F], cached: true };
    }
  }
  const moment = new Float64Array(F * F);
  let count = 0;
  const name = blockHookNames(layer).mlpPost;
  const stride = W > 1 ? Math.floor((source.length - T) / (W - 1)) : 0;
  noGrad(() => {
    for (let w = 0; w < W; w++) {
      const ids = new Int32Array(T);
      source.read(w * stride, T, ids);
      const k = model.runWithCache(new Tensor(ids, [1, T]), { names: [name] }).cache.get(name).f; // [1, T, F]
      for (let t = 0; t < T; t++) {
        const row = k.subarray(t * F, (t + 1) * F);
        for (let i = 0; i < F; i++) {
          const ki = row[i];
          if (ki === 0) continue;
          const off = i * F;
          for (let j = 0; j < F; j++) moment[off + j] += ki * row[j];
        }
      }
      count += T;
    }
  });
  for (let i = 0; i < moment.length; i++) moment[i] /= count;
  if (path) {
    mkdirSync(resolve(cacheDir!), { recursive: true });
    const all = new Float64Array(F * F + 1);
    all.set(moment);
    all[F * F] = count;
    writeFileDurable(path, new Uint8Array(all.buffer));
  }
  return { moment, dim: F, count, cached: false };
}

/** Solves A X = B for symmetric positive definite A [n, n] and B [n, m] (Cholesky, float64). */
export function solveSpd(A: Float64Array, n: number, B: Float64Array, m: number): Float64Array {
  const Lc = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= Lc[i * n + k] * Lc[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new Error(`solveSpd: the matrix is not positive definite (pivot ${i} is ${s}); add regularisation`);
        Lc[i * n + i] = Math.sqrt(s);
      } else Lc[i * n + j] = s / Lc[j * n + j];
    }
  }
  const X = Float64Array.from(B);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) { // forward: L y = b
      let s = X[i * m + c];
      for (let k = 0; k < i; k++) s -= Lc[i * n + k] * X[k * m + c];
      X[i * m + c] = s / Lc[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) { // back: L^T x = y
      let s = X[i * m + c];
      for (let k = i + 1; k < n; k++) s -= Lc[k * n + i] * X[k * m + c];
      X[i * m + c] = s / Lc[i * n + i];
    }
  }
  return X;
}
