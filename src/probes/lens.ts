// The logit lens: read the residual stream after each layer through the model's own final norm
// and head, as if the remaining layers were not there (nostalgebraist 2020). Per layer it reports
// the loss on the next tokens, the KL divergence from the full model's distribution and how often
// the layer's top token is the model's final one.

import { Tensor, logSoftmax, noGrad } from '../engine/index.js';
import type { Transformer } from '../models/transformer.js';
import { blockHookNames } from '../models/hooks.js';

export interface LensLayer {
  /** 'embed' for the embeddings (block 0's input), then 'blocks.i' for block i's output. */
  layer: string;
  /** Mean next-token cross-entropy of the lens logits (nats), when targets were given. */
  loss: number | null;
  /** Mean KL(final || lens) over positions (nats). */
  klToFinal: number;
  /** Fraction of positions whose lens argmax equals the model's final argmax. */
  top1AgreesWithFinal: number;
  /** The lens's top tokens at the last position of the first row (ids, most likely first). */
  lastPositionTop: number[];
}

/** Residual-stream hook names the lens reads: the embeddings, then every block's output. */
export function lensPoints(nLayer: number): string[] {
  return [blockHookNames(0).residPre, ...Array.from({ length: nLayer }, (_, l) => blockHookNames(l).residPost)];
}

/** ids int32 [B, T]; targets int32 [B, T] (optional, -1 skipped). */
export function logitLens(model: Transformer, ids: Tensor, o: { targets?: Tensor; topK?: number } = {}): LensLayer[] {
  return noGrad(() => {
    const points = lensPoints(model.config.nLayer);
    const { cache, logits } = model.runWithCache(ids, { names: points });
    const finalLogp = logSoftmax(logits).f;
    const V = model.config.vocabSize, [B, T] = ids.shape;
    const topK = o.topK ?? 5;
    return points.map((name, i): LensLayer => {
      const logp = logSoftmax(model.unembed(cache.get(name))).f; // [B, T, V]
      let kl = 0, agree = 0, loss = 0, counted = 0;
      for (let r = 0; r < B * T; r++) {
        const off = r * V;
        let argLens = 0, argFinal = 0;
        for (let v = 0; v < V; v++) {
          const pf = Math.exp(finalLogp[off + v]);
          if (pf > 0) kl += pf * (finalLogp[off + v] - logp[off + v]);
          if (logp[off + v] > logp[off + argLens]) argLens = v;
          if (finalLogp[off + v] > finalLogp[off + argFinal]) argFinal = v;
        }
        if (argLens === argFinal) agree++;
        if (o.targets) {
          const t = o.targets.i[r];
          if (t >= 0) { loss -= logp[off + t]; counted++; }
        }
      }
      const last = Array.from(logp.subarray((T - 1) * V, T * V));
      const order = last.map((_, v) => v).sort((a, b) => last[b] - last[a]).slice(0, topK);
      return {
        layer: i === 0 ? 'embed' : `blocks.${i - 1}`,
        loss: o.targets ? (counted ? loss / counted : Number.NaN) : null,
        klToFinal: kl / (B * T),
        top1AgreesWithFinal: agree / (B * T),
        lastPositionTop: order,
      };
    });
  });
}
