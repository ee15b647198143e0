// Attention patterns per head, and heads that attend to in-context demonstrations more as there
// are more of them.
//
// Demonstration heads: a prompt made of k demonstrations followed by a query (for facts:
// "subject relation object" lines, then "subject relation"). For each head, the attention mass
// that the query's last position puts on the demonstration tokens, averaged over prompts, is
// measured for k = 1..K; a head's slope (least squares over k) says whether it looks at the
// demonstrations more as they accumulate. A head that attends to the demonstrations uniformly
// keeps a constant mass; a head recruited by them rises.

import { noGrad, tensor, type Tensor } from '../engine/index.js';
import type { Transformer } from '../models/transformer.js';
import { blockHookNames } from '../models/hooks.js';

export interface HeadPattern { layer: number; head: number; /** [T, T] row-major: query row, key column. */ pattern: number[]; size: number }

/** The attention pattern of every head (or the chosen layers) on row `row` of ids [B, T]. */
export function attentionPatterns(model: Transformer, ids: Tensor, o: { row?: number; layers?: number[] } = {}): HeadPattern[] {
  const [B, T] = ids.shape;
  const row = o.row ?? 0;
  if (row < 0 || row >= B) throw new Error(`attentionPatterns: row ${row} outside 0..${B - 1}`);
  const L = model.config.nLayer, H = model.config.nHead;
  const layers = o.layers ?? Array.from({ length: L }, (_, l) => l);
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`attentionPatterns: layer ${l} outside 0..${L - 1}`);
  return noGrad(() => {
    const { cache } = model.runWithCache(ids, { names: layers.map((l) => blockHookNames(l).pattern) });
    return layers.flatMap((l) => {
      const p = cache.get(blockHookNames(l).pattern).f; // [B, H, T, T]
      return Array.from({ length: H }, (_, h): HeadPattern => ({ layer: l, head: h, size: T, pattern: Array.from(p.subarray(((row * H + h) * T) * T, ((row * H + h) * T + T) * T)) }));
    });
  });
}

/** A prompt with its demonstrations marked: ids and, per token, whether it belongs to a demonstration. */
export interface DemonstrationPrompt { ids: number[]; demonstration: boolean[] }

export interface DemonstrationHead {
  layer: number;
  head: number;
  /** Mean attention mass from the last position onto demonstration tokens, for k = 1..K. */
  massByCount: number[];
  /** Least-squares slope of massByCount against k. */
  slope: number;
}

/**
 * prompts[k - 1] holds prompts with k demonstrations (all of one length per k). Heads sorted by
 * slope, steepest rise first.
 */
export function demonstrationHeads(model: Transformer, prompts: DemonstrationPrompt[][]): DemonstrationHead[] {
  const L = model.config.nLayer, H = model.config.nHead;
  if (prompts.length < 2) throw new Error('demonstrationHeads: needs prompts for at least two demonstration counts');
  const names = Array.from({ length: L }, (_, l) => blockHookNames(l).pattern);
  const mass = Array.from({ length: L * H }, () => new Array<number>(prompts.length).fill(0));
  prompts.forEach((set, ki) => {
    if (!set.length) throw new Error(`demonstrationHeads: no prompts with ${ki + 1} demonstrations`);
    const T = set[0].ids.length;
    for (const p of set) {
      if (p.ids.length !== T || p.demonstration.length !== T) throw new Error(`demonstrationHeads: prompts with ${ki + 1} demonstrations must share one length (${T}) and mark every token`);
      if (!p.demonstration.some(Boolean)) throw new Error(`demonstrationHeads: a prompt with ${ki + 1} demonstrations marks no demonstration token`);
    }
    const ids = tensor(Int32Array.from(set.flatMap((p) => p.ids)), [set.length, T], { dtype: 'int32' });
    noGrad(() => {
      const { cache } = model.runWithCache(ids, { names });
      for (let l = 0; l < L; l++) {
        const pat = cache.get(names[l]).f; // [B, H, T, T]
        for (let h = 0; h < H; h++) {
          let m = 0;
          set.forEach((p, b) => {
            const rowOff = ((b * H + h) * T + T - 1) * T;
            for (let j = 0; j < T; j++) if (p.demonstration[j]) m += pat[rowOff + j];
          });
          mass[l * H + h][ki] = m / set.length;
        }
      }
    });
  });
  const ks = prompts.map((_, i) => i + 1);
  const kMean = ks.reduce((a, b) => a + b, 0) / ks.length;
  const kVar = ks.reduce((a, k) => a + (k - kMean) ** 2, 0);
  const heads = mass.map((m, i): DemonstrationHead => {
    const mMean = m.reduce((a, b) => a + b, 0) / m.length;
    const slope = ks.reduce((a, k, j) => a + (k - kMean) * (m[j] - mMean), 0) / kVar;
    return { layer: Math.floor(i / H), head: i % H, massByCount: m, slope };
  });
  return heads.sort((a, b) => b.slope - a.slope);
}
