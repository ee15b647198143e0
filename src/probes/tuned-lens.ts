// The tuned lens (Belrose et al. 2023, "Eliciting latent predictions from transformers with the
// tuned lens"): like the logit lens, read the residual stream after each layer through the final
// norm and head, but first pass it through a per-layer affine translator h -> h + h A^T + b trained
// so that the result's distribution matches the full model's (minimising KL(final || lens) on a
// calibration set). A and b start at zero, so an untrained tuned lens is the logit lens. The last
// layer needs no translator (it is the model).
//
// Training needs an optimizer, which lives in the training layer; probes sit beside training and
// may not import it, so the caller passes a factory (the CLI passes AdamW).

import { Rng, Tensor, backward, linear, logSoftmax, mul, noGrad, softmax, sum, add } from '../engine/index.js';
import type { Transformer } from '../models/transformer.js';
import { lensPoints } from './lens.js';
import type { TokenBatch } from './redundancy.js';

/** What the training layer's optimizers offer (AdamW, Sgd): one update at a learning rate. */
export interface LensOptimizer { step(lr: number): void }
export type LensOptimizerFactory = (params: ReadonlyMap<string, Tensor>) => LensOptimizer;

export interface TunedLens {
  /** Hook names the translators read (all residual points but the last). */
  points: string[];
  /** Per point: A [C, C] and b [C]. */
  translators: { weight: Tensor; bias: Tensor }[];
  /** Training loss (mean KL over positions, averaged over layers) per step. */
  trainLoss: number[];
}

export interface TunedLensOptions {
  optimizer: LensOptimizerFactory;
  steps?: number;
  lr?: number;
  /** Positions per step, drawn (with the seed) from the calibration tokens. */
  tokensPerStep?: number;
  /** The lens's own seed: which calibration positions each step uses. */
  seed?: number;
}

interface Gathered { acts: Float64Array[]; finalProbs: Float64Array; n: number }

/** Residual streams at the lens points and the final distribution, for every calibration token. */
function gather(model: Transformer, batches: Iterable<TokenBatch>, points: string[]): Gathered {
  const V = model.config.vocabSize;
  const acts: number[][] = points.map(() => []), probs: number[] = [];
  noGrad(() => {
    for (const b of batches) {
      const { cache, logits } = model.runWithCache(b.ids, { names: points, ...(b.docIds ? { docIds: b.docIds } : {}) });
      points.forEach((p, i) => { for (const v of cache.get(p).f) acts[i].push(v); });
      for (const v of softmax(logits).f) probs.push(v);
    }
  });
  const n = probs.length / V;
  if (n === 0) throw new Error('tuned lens: no calibration tokens');
  return { acts: acts.map((a) => Float64Array.from(a)), finalProbs: Float64Array.from(probs), n };
}

function translate(h: Tensor, t: { weight: Tensor; bias: Tensor }): Tensor {
  return add(h, linear(h, t.weight, t.bias));
}

/** Mean over rows of KL(p || softmax(logits)) as a differentiable scalar (up to p's own entropy, which is added back). */
function klToFinal(logits: Tensor, p: Tensor, negEntropy: number, rows: number): Tensor {
  return add(mul(sum(mul(p, logSoftmax(logits))), -1 / rows), negEntropy / rows);
}

export function trainTunedLens(model: Transformer, calibration: Iterable<TokenBatch>, o: TunedLensOptions): TunedLens {
  const C = model.config.dModel, V = model.config.vocabSize;
  const all = lensPoints(model.config.nLayer);
  const points = all.slice(0, -1);
  const steps = o.steps ?? 200, lr = o.lr ?? 1e-3, perStep = o.tokensPerStep ?? 256;
  if (!(steps >= 0) || !(perStep >= 1)) throw new Error(`tuned lens: steps ${steps} and tokensPerStep ${perStep} must be positive`);
  const g = gather(model, calibration, points);
  const float = (n: number) => (model.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
  const translators = points.map(() => ({ weight: new Tensor(float(C * C), [C, C], true), bias: new Tensor(float(C), [C], true) }));
  const params = new Map<string, Tensor>();
  translators.forEach((t, i) => { params.set(`${points[i]}.translator.weight`, t.weight); params.set(`${points[i]}.translator.bias`, t.bias); });
  const opt = o.optimizer(params);
  const rng = new Rng(o.seed ?? 0);
  const rows = Math.min(perStep, g.n);
  const trainLoss: number[] = [];
  const make = (n: number, fill: (a: Float32Array | Float64Array) => void) => { const a = float(n); fill(a); return a; };
  for (let step = 0; step < steps; step++) {
    const pick = Array.from({ length: rows }, () => rng.int(g.n));
    let negEntropy = 0;
    const p = new Tensor(make(rows * V, (a) => pick.forEach((r, k) => {
      for (let v = 0; v < V; v++) {
        const pv = g.finalProbs[r * V + v];
        a[k * V + v] = pv;
        if (pv > 0) negEntropy += pv * Math.log(pv);
      }
    })), [rows, V]);
    let total: Tensor | null = null;
    translators.forEach((t, i) => {
      const h = new Tensor(make(rows * C, (a) => pick.forEach((r, k) => { for (let c = 0; c < C; c++) a[k * C + c] = g.acts[i][r * C + c]; })), [rows, C]);
      const kl = klToFinal(model.unembed(translate(h, t)), p, negEntropy, rows);
      total = total ? add(total, kl) : kl;
    });
    const loss = mul(total!, 1 / translators.length);
    for (const t of params.values()) t.grad = null;
    backward(loss);
    opt.step(lr);
    trainLoss.push(loss.item());
  }
  model.zeroGrad(); // the head's parameters took gradients on the way; they are not trained here
  for (const t of params.values()) t.grad = null;
  return { points, translators, trainLoss };
}

export interface LensComparison {
  layer: string;
  /** Mean KL(final || lens) over positions (nats). */
  klLogitLens: number;
  klTunedLens: number;
  /** Mean next-token loss of each lens, when targets were given. */
  lossLogitLens: number | null;
  lossTunedLens: number | null;
}

/** Logit lens and tuned lens side by side on ids [B, T], per layer (the last layer is the model for both). */
export function compareLenses(model: Transformer, lens: TunedLens, ids: Tensor, o: { targets?: Tensor; docIds?: Tensor } = {}): LensComparison[] {
  const all = lensPoints(model.config.nLayer);
  if (lens.points.length !== all.length - 1 || lens.points.some((p, i) => p !== all[i])) throw new Error(`compareLenses: the tuned lens was trained for ${lens.points.length + 1} residual points, the model has ${all.length}`);
  const V = model.config.vocabSize;
  return noGrad(() => {
    const { cache, logits } = model.runWithCache(ids, { names: all, ...(o.docIds ? { docIds: o.docIds } : {}) });
    const finalLogp = logSoftmax(logits).f;
    const rows = ids.size;
    const score = (logp: ArrayLike<number>) => {
      let kl = 0, loss = 0, counted = 0;
      for (let r = 0; r < rows; r++) {
        for (let v = 0; v < V; v++) { const pf = Math.exp(finalLogp[r * V + v]); if (pf > 0) kl += pf * (finalLogp[r * V + v] - logp[r * V + v]); }
        const t = o.targets?.i[r];
        if (t !== undefined && t >= 0) { loss -= logp[r * V + t]; counted++; }
      }
      return { kl: kl / rows, loss: o.targets ? (counted ? loss / counted : Number.NaN) : null };
    };
    return all.map((name, i): LensComparison => {
      const h = cache.get(name);
      const plain = score(logSoftmax(model.unembed(h)).f);
      const tuned = i < lens.points.length ? score(logSoftmax(model.unembed(translate(h, lens.translators[i]))).f) : plain;
      return { layer: i === 0 ? 'embed' : `blocks.${i - 1}`, klLogitLens: plain.kl, klTunedLens: tuned.kl, lossLogitLens: plain.loss, lossTunedLens: tuned.loss };
    });
  });
}

/** The translators as one flat record (for saving or comparing). */
export function tunedLensWeights(lens: TunedLens): Float64Array {
  return Float64Array.from(lens.translators.flatMap((t) => [...t.weight.f, ...t.bias.f]));
}
