// Held-out evaluation: mean cross-entropy over every scored target of a set of batches, and
// the numbers derived from it (perplexity, bits per byte). Runs without recording a graph and
// with dropout off, so it draws no randomness and leaves training bit-for-bit unaffected.

import { Tensor, noGrad } from '../engine/index.js';
import type { Batch } from '../data/index.js';

/** What the trainer needs from a model: named parameters and a forward pass returning a mean loss. */
export interface TrainableModel {
  /** Named parameters (a tied weight may appear under two names). */
  readonly params: ReadonlyMap<string, Tensor>;
  forward(ids: Tensor, o: { targets?: Tensor; docIds?: Tensor; training?: boolean }): { logits: Tensor; loss?: Tensor };
  /** Dropout randomness, saved with checkpoints when present. */
  readonly dropoutRng?: { state(): unknown; setState(s: unknown): void };
  /** muP base shapes by parameter name (null: standard parametrization), saved with checkpoints and checked on resume. */
  baseShapes?(): Record<string, number[]> | null;
}

export interface EvalResult {
  /** Mean cross-entropy in nats per scored target. */
  loss: number;
  perplexity: number;
  /** loss / ln 2 / bytesPerToken, when the bytes per token are known. */
  bitsPerByte?: number;
  /** Targets scored (ignored targets, < 0, excluded). */
  tokens: number;
  batches: number;
}

/** [B, T] int32 tensors for a batch's inputs, targets and (if present) document ids. */
export function batchTensors(b: Batch): { ids: Tensor; targets: Tensor; docIds?: Tensor } {
  const shape = [b.B, b.T];
  return {
    ids: new Tensor(b.inputs, shape),
    targets: new Tensor(b.targets, shape),
    ...(b.docIds ? { docIds: new Tensor(b.docIds, shape) } : {}),
  };
}

/** The model's mean loss on one batch (with the graph, unless called under noGrad). */
export function batchLoss(model: TrainableModel, b: Batch, training: boolean): Tensor {
  const { ids, targets, docIds } = batchTensors(b);
  const { loss } = model.forward(ids, { targets, ...(docIds ? { docIds } : {}), training });
  if (!loss) throw new Error('trainer: model.forward returned no loss although targets were given');
  return loss;
}

export function evaluate(model: TrainableModel, batches: Iterable<Batch>, bytesPerToken?: number): EvalResult {
  let sum = 0, tokens = 0, n = 0;
  noGrad(() => {
    for (const b of batches) {
      let scored = 0;
      for (let i = 0; i < b.targets.length; i++) if (b.targets[i] >= 0) scored++;
      if (scored === 0) continue;
      // The model's loss is a mean over scored targets: weight it back to a sum.
      sum += batchLoss(model, b, false).item() * scored;
      tokens += scored;
      n++;
    }
  });
  if (tokens === 0) throw new Error('evaluate: the evaluation data has no scored targets');
  const loss = sum / tokens;
  return {
    loss, perplexity: Math.exp(loss), tokens, batches: n,
    ...(bytesPerToken ? { bitsPerByte: loss / Math.LN2 / bytesPerToken } : {}),
  };
}
