// Spectra of a model's weights and of its residual stream (representation rank and whitening),
// measured with engine/linalg.ts. Shared by the probes (inspect RUN rank) and by training, which
// can log them every N steps (the run config's `rank` section).

import { noGrad, type Tensor } from '../engine/index.js';
import { effectiveRank, isotropyDistance, singularValues, stableRank } from '../engine/linalg.js';
import type { Transformer } from './transformer.js';
import { blockHookNames } from './hooks.js';

export interface SpectrumSummary {
  name: string;
  shape: [number, number];
  effectiveRank: number;
  stableRank: number;
  /** Singular values divided by the largest, descending (first `keep`). */
  spectrum: number[];
  /** Activations only (rows are tokens). */
  isotropyDistance?: number;
}

function summarise(name: string, data: ArrayLike<number>, rows: number, cols: number, keep: number, centre: boolean): SpectrumSummary {
  let m = data;
  if (centre) { // the spectrum of the centred activations: a shared mean direction would dominate it otherwise
    const mean = new Float64Array(cols), out = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c] += data[r * cols + c] / rows;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = data[r * cols + c] - mean[c];
    m = out;
  }
  const s = singularValues(m, rows, cols);
  return {
    name, shape: [rows, cols], effectiveRank: effectiveRank(s), stableRank: stableRank(s),
    spectrum: s.slice(0, keep).map((v) => (s[0] > 0 ? v / s[0] : 0)),
    ...(centre ? { isotropyDistance: isotropyDistance(data, rows, cols) } : {}),
  };
}

/** Every 2-D parameter (matrices and embeddings). */
export function weightSpectra(model: Transformer, o: { keep?: number } = {}): SpectrumSummary[] {
  const out: SpectrumSummary[] = [];
  for (const [name, t] of model.params) if (t.ndim === 2) out.push(summarise(name, t.f, t.shape[0], t.shape[1], o.keep ?? 16, false));
  return out;
}

/**
 * The residual stream after the embeddings and after each block, over the tokens of ids [B, T]
 * (rows: tokens; centred before the spectrum).
 */
export function activationSpectra(model: Transformer, ids: Tensor, o: { keep?: number; points?: string[] } = {}): SpectrumSummary[] {
  const L = model.config.nLayer;
  const points = o.points ?? [blockHookNames(0).residPre, ...Array.from({ length: L }, (_, l) => blockHookNames(l).residPost)];
  return noGrad(() => {
    const { cache } = model.runWithCache(ids, { names: points });
    return points.map((p) => {
      const a = cache.get(p);
      const d = a.shape[a.ndim - 1];
      return summarise(p, a.f, a.size / d, d, o.keep ?? 16, true);
    });
  });
}
