// Layer redundancy (ShortGPT, Men et al. 2024): how much each block changes the residual stream,
// and what is left of the model when whole blocks are deleted.
//
// Block Influence of block l: BI_l = 1 - mean over tokens of cos(x_l, x_{l+1}), where x_l is the
// block's input (hook_resid_pre) and x_{l+1} its output (hook_resid_post). Deleting a block keeps
// the residual stream flowing past it; the remaining blocks are renumbered in order.
//
// The score a deletion curve reports comes from downstreamScore(): validation loss for now, one
// function so that the evaluation harness can take its place (issue 14).

import { Rng, Tensor, crossEntropy, noGrad } from '../engine/index.js';
import { Transformer } from '../models/transformer.js';
import { blockHookNames } from '../models/hooks.js';

/**
 * A calibration or evaluation batch: ids int32 [B, T], for scoring next-token targets int32 [B, T]
 * (-1 skipped), and document ids when the windows pack several documents.
 */
export interface TokenBatch { ids: Tensor; targets?: Tensor; docIds?: Tensor }

/** BI per block over the tokens of the batches. */
export function blockInfluence(model: Transformer, batches: Iterable<TokenBatch>): number[] {
  const L = model.config.nLayer, C = model.config.dModel;
  const names = Array.from({ length: L }, (_, l) => [blockHookNames(l).residPre, blockHookNames(l).residPost]).flat();
  const cosSum = new Float64Array(L);
  let tokens = 0;
  noGrad(() => {
    for (const b of batches) {
      const { cache } = model.runWithCache(b.ids, { names, ...(b.docIds ? { docIds: b.docIds } : {}) });
      const N = b.ids.size;
      for (let l = 0; l < L; l++) {
        const x = cache.get(names[2 * l]).f, y = cache.get(names[2 * l + 1]).f;
        for (let r = 0; r < N; r++) {
          let xy = 0, xx = 0, yy = 0;
          for (let c = r * C; c < (r + 1) * C; c++) { xy += x[c] * y[c]; xx += x[c] * x[c]; yy += y[c] * y[c]; }
          cosSum[l] += xx > 0 && yy > 0 ? xy / Math.sqrt(xx * yy) : 1;
        }
      }
      tokens += N;
    }
  });
  if (tokens === 0) throw new Error('blockInfluence: no calibration tokens');
  return Array.from(cosSum, (s) => 1 - s / tokens);
}

/** A new model without the given blocks (0-based), the rest renumbered in order; weights are copied. */
export function deleteLayers(model: Transformer, drop: readonly number[]): Transformer {
  const L = model.config.nLayer;
  const gone = new Set(drop);
  for (const l of gone) if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`deleteLayers: layer ${l} outside 0..${L - 1}`);
  if (gone.size >= L) throw new Error(`deleteLayers: deleting ${gone.size} of ${L} layers leaves none`);
  const kept = Array.from({ length: L }, (_, l) => l).filter((l) => !gone.has(l));
  const params = new Map<string, Tensor>();
  for (const [name, t] of model.params) {
    const m = /^blocks\.(\d+)\.(.*)$/.exec(name);
    const copy = (to: string) => { const c = new Tensor(t.f.slice(), t.shape, true); c.name = to; params.set(to, c); };
    if (!m) copy(name);
    else if (!gone.has(Number(m[1]))) copy(`blocks.${kept.indexOf(Number(m[1]))}.${m[2]}`);
  }
  // The source's order is block by block, so skipping and renaming keeps the model's parameter order.
  return new Transformer({ ...model.config, nLayer: kept.length }, { params });
}

export interface Score { metric: 'validation-loss'; value: number; higherIsBetter: false; tokens: number }

/**
 * The one place a probe asks "how good is this model downstream": mean next-token loss over the
 * batches (targets required). To be switched to the evaluation harness's tasks when it lands.
 */
export function downstreamScore(model: Transformer, batches: Iterable<TokenBatch>): Score {
  let total = 0, tokens = 0;
  noGrad(() => {
    for (const b of batches) {
      if (!b.targets) throw new Error('downstreamScore: batches need targets');
      let n = 0;
      for (const t of b.targets.i) if (t >= 0) n++;
      if (n === 0) continue;
      total += crossEntropy(model.forward(b.ids, b.docIds ? { docIds: b.docIds } : {}).logits, b.targets, { ignoreIndex: -1 }).item() * n;
      tokens += n;
    }
  });
  if (tokens === 0) throw new Error('downstreamScore: no target tokens');
  return { metric: 'validation-loss', value: total / tokens, higherIsBetter: false, tokens };
}

export type DeletionOrderKind = 'bi' | 'last-first' | 'random' | 'loss-increase';
export const deletionOrderKinds: readonly DeletionOrderKind[] = ['bi', 'last-first', 'random', 'loss-increase'];

/**
 * The order in which blocks are deleted:
 *   bi             lowest Block Influence first
 *   last-first     the last block first, then the one before it, ...
 *   random         a seeded permutation
 *   loss-increase  smallest increase in loss when that block alone is deleted, first
 */
export function deletionOrder(
  model: Transformer, kind: DeletionOrderKind,
  o: { calibration?: () => Iterable<TokenBatch>; seed?: number; bi?: number[] } = {},
): number[] {
  const L = model.config.nLayer;
  const all = Array.from({ length: L }, (_, l) => l);
  const need = () => { if (!o.calibration) throw new Error(`deletionOrder ${kind}: needs calibration batches`); return o.calibration; };
  switch (kind) {
    case 'bi': {
      const bi = o.bi ?? blockInfluence(model, need()());
      return all.sort((a, b) => bi[a] - bi[b] || a - b);
    }
    case 'last-first': return all.reverse();
    case 'random': {
      const rng = new Rng(o.seed ?? 0);
      for (let i = L - 1; i > 0; i--) { const j = rng.int(i + 1); [all[i], all[j]] = [all[j], all[i]]; }
      return all;
    }
    case 'loss-increase': {
      const cal = need();
      const loss = all.map((l) => downstreamScore(deleteLayers(model, [l]), cal()).value);
      return all.sort((a, b) => loss[a] - loss[b] || a - b);
    }
  }
}

export interface DeletionPoint { deleted: number[]; fraction: number; score: Score }

/** The score with the first k blocks of `order` deleted, for each k in ks (0 is the full model). */
export function deletionCurve(model: Transformer, order: readonly number[], ks: readonly number[], evalBatches: () => Iterable<TokenBatch>): DeletionPoint[] {
  return ks.map((k) => {
    if (!Number.isInteger(k) || k < 0 || k >= model.config.nLayer) throw new Error(`deletionCurve: cannot delete ${k} of ${model.config.nLayer} layers`);
    const deleted = order.slice(0, k);
    const m = k === 0 ? model : deleteLayers(model, deleted);
    return { deleted, fraction: k / model.config.nLayer, score: downstreamScore(m, evalBatches()) };
  });
}
