// Head finders on repeated random tokens (Olsson et al. 2022, "In-context learning and induction
// heads"): a sequence of n random tokens followed by the same n tokens again. On the second copy
// an induction head at position i attends to the token after the earlier occurrence of the
// current token (position i - n + 1) and copies it into the logits.
//
//   prefix matching  mean attention from i in the second copy to i - n + 1
//   copying          how high the head's own direct logit contribution (its hook_result through the
//                    final norm's frozen scale and the head) ranks the token it attends to most:
//                    1 - rank / (V - 1), averaged over second-copy positions (1: always the top
//                    token, about 0.5: no preference)
//   previous token   mean attention from i to i - 1 over all positions i >= 1

import { Rng, Tensor, noGrad, tensor } from '../engine/index.js';
import type { Transformer } from '../models/transformer.js';
import { blockHookNames, topHookNames } from '../models/hooks.js';

/** int32 [B, 2n]: each row n random tokens from [lo, vocabSize) repeated once. */
export function repeatedRandomTokens(vocabSize: number, n: number, batch: number, seed: number, lo = 0): Tensor {
  if (!(n >= 2) || !(vocabSize - lo >= 2)) throw new Error(`repeatedRandomTokens: need n >= 2 and at least 2 tokens to draw from (n ${n}, tokens ${lo}..${vocabSize - 1})`);
  const rng = new Rng(seed);
  const out = new Int32Array(batch * 2 * n);
  for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) {
    const t = lo + rng.int(vocabSize - lo);
    out[b * 2 * n + i] = t;
    out[b * 2 * n + n + i] = t;
  }
  return tensor(out, [batch, 2 * n], { dtype: 'int32' });
}

export interface HeadScore { layer: number; head: number; prefixMatching: number; copying: number; previousToken: number }

/** Scores of every head on ids [B, 2n] made of two copies of n tokens (repeatedRandomTokens). */
export function headScores(model: Transformer, ids: Tensor): HeadScore[] {
  const [B, T2] = ids.shape;
  if (T2 % 2) throw new Error(`headScores: ids must be two copies of n tokens, got length ${T2}`);
  const n = T2 / 2;
  for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) {
    if (ids.i[b * T2 + i] !== ids.i[b * T2 + n + i]) throw new Error(`headScores: row ${b} is not one sequence repeated (position ${i} vs ${n + i})`);
  }
  const { nLayer: L, nHead: H, dModel: C, vocabSize: V } = model.config;
  if (model.config.norm === 'groupnorm') throw new Error('headScores: the copying score reads the final norm\'s single scale, which group layer norm does not have');
  const names = [topHookNames.lnFinalScale];
  for (let l = 0; l < L; l++) names.push(blockHookNames(l).pattern, blockHookNames(l).result);
  return noGrad(() => {
    const { cache } = model.runWithCache(ids, { names });
    const scale = cache.get(topHookNames.lnFinalScale).f; // [B, T, 1]
    const lnW = model.params.get('ln_final.weight')!.f;
    const centre = model.config.norm === 'layernorm';
    const scores: HeadScore[] = [];
    for (let l = 0; l < L; l++) {
      const pat = cache.get(blockHookNames(l).pattern).f; // [B, H, T, T]
      const res = cache.get(blockHookNames(l).result).f; // [B, T, H, C]
      for (let h = 0; h < H; h++) {
        let prefix = 0, prev = 0, prevCount = 0;
        const rows: number[] = [], sources: number[] = []; // destination rows (b*T+i) and their attended token
        for (let b = 0; b < B; b++) for (let i = 0; i < T2; i++) {
          const row = ((b * H + h) * T2 + i) * T2;
          if (i >= 1) { prev += pat[row + i - 1]; prevCount++; }
          if (i >= n) {
            prefix += pat[row + i - n + 1];
            let best = 0;
            for (let j = 1; j <= i; j++) if (pat[row + j] > pat[row + best]) best = j;
            rows.push(b * T2 + i);
            sources.push(ids.i[b * T2 + best]);
          }
        }
        // The head's direct logits: its result through the final norm with the run's scale frozen (no bias).
        const x = new Float32Array(rows.length * C);
        rows.forEach((r, k) => {
          const off = (r * H + h) * C;
          let mu = 0;
          if (centre) { for (let c = 0; c < C; c++) mu += res[off + c]; mu /= C; }
          for (let c = 0; c < C; c++) x[k * C + c] = ((res[off + c] - mu) / scale[r]) * lnW[c];
        });
        const logits = model.logitsFromNormalized(new Tensor(model.dtype === 'float64' ? Float64Array.from(x) : x, [rows.length, C])).f;
        let copying = 0;
        rows.forEach((_, k) => {
          const own = logits[k * V + sources[k]];
          let above = 0;
          for (let v = 0; v < V; v++) if (logits[k * V + v] > own) above++;
          copying += 1 - above / (V - 1);
        });
        scores.push({
          layer: l, head: h,
          prefixMatching: prefix / (B * n),
          copying: copying / rows.length,
          previousToken: prev / prevCount,
        });
      }
    }
    return scores;
  });
}

/** The k heads with the highest value of `by`, best first. */
export function topHeads(scores: HeadScore[], by: 'prefixMatching' | 'copying' | 'previousToken' | 'induction', k = 3): HeadScore[] {
  const value = (s: HeadScore) => (by === 'induction' ? s.prefixMatching * s.copying : s[by]);
  return [...scores].sort((a, b) => value(b) - value(a)).slice(0, k);
}
