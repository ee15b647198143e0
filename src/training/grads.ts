// Gradient utilities: the global gradient norm, norm clipping, and accumulation over
// micro-batches. Clipping is expressed as a gradScale for the fused optimizer update, so the
// gradients are read once for the norm and once by the update, never rewritten in between.

import { Tensor, backend } from '../engine/index.js';
import type { ResolvedParam } from './optimizers.js';
import type { Batch } from '../data/index.js';

type ParamList = readonly ResolvedParam[] | ReadonlyMap<string, Tensor> | readonly Tensor[];

function tensorsOf(params: ParamList): Tensor[] {
  if (params instanceof Map) return [...new Set(params.values())];
  const list = params as readonly (ResolvedParam | Tensor)[];
  return [...new Set(list.map((p) => (p instanceof Tensor ? p : p.tensor)))];
}

/**
 * sqrt(sum of g^2) over every parameter gradient (missing gradients count as zero). Each
 * tensor's sum of squares comes from the backend in float64 and they are added in float64 in
 * parameter order, so the same gradients always give the same norm, bit for bit.
 */
export function globalGradNorm(params: ParamList): number {
  let total = 0;
  for (const t of tensorsOf(params)) if (t.grad) total += backend().sumSquares(t.grad.f);
  return Math.sqrt(total);
}

export interface ClipResult {
  /** The gradient norm before clipping (times any pre-scale given). */
  norm: number;
  /** Factor to apply to the gradients (1 when not clipped). */
  scale: number;
  clipped: boolean;
}

/**
 * PyTorch's clip_grad_norm_ rule: scale = maxNorm / (norm + 1e-6) when that is below 1.
 * `maxNorm` null, 0 or Infinity disables clipping (the norm is still reported). A non-finite
 * norm is returned as is with scale 1; the caller decides (the trainer stops the run).
 */
export function clipScale(norm: number, maxNorm: number | null | undefined): ClipResult {
  if (!maxNorm || maxNorm === Infinity || !Number.isFinite(norm)) return { norm, scale: 1, clipped: false };
  const s = maxNorm / (norm + 1e-6);
  return s < 1 ? { norm, scale: s, clipped: true } : { norm, scale: 1, clipped: false };
}

/**
 * The norm of (preScale * gradients) and the clip factor on top of it: pass
 * gradScale = preScale * result.scale to Optimizer.step. preScale is for gradients that are
 * not yet in their final units (a sum over micro-batches still to be averaged).
 */
export function clipGradients(params: ParamList, maxNorm: number | null | undefined, preScale = 1): ClipResult {
  return clipScale(globalGradNorm(params) * Math.abs(preScale), maxNorm);
}

/** Multiplies every gradient in place (for callers that cannot fold the scale into the update). */
export function scaleGradients(params: ParamList, scale: number): void {
  if (scale === 1) return;
  for (const t of tensorsOf(params)) {
    if (!t.grad) continue;
    const g = t.grad.f;
    for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
}

/**
 * Gradient accumulation: runs `microSteps` forward passes and a backward pass after each with
 * the loss scaled by 1 / microSteps (as the backward seed, so no extra op and no extra pass), so
 * the accumulated gradient is the mean of the micro-batch gradients: for equal-sized micro-batches
 * with a token-mean loss, exactly the gradient of the whole batch up to float rounding.
 * `inspect` sees each unscaled loss before its backward (the trainer checks for NaN there, while
 * the graph still exists for findFirstNonFinite); `afterBackward` runs once each micro-batch's
 * gradient has been added (the noise-scale estimate reads the first one there). Returns the
 * mean of the micro-batch losses.
 */
export function accumulateGradients(microSteps: number, forward: (micro: number) => Tensor, inspect?: (loss: Tensor, micro: number) => void, afterBackward?: (micro: number) => void): number {
  if (!Number.isInteger(microSteps) || microSteps < 1) throw new Error(`accumulateGradients: microSteps must be a positive integer, got ${microSteps}`);
  let sum = 0;
  for (let k = 0; k < microSteps; k++) {
    const loss = forward(k);
    if (loss.size !== 1) throw new Error(`accumulateGradients: the loss must be a scalar, got shape [${loss.shape.join(', ')}]`);
    inspect?.(loss, k);
    sum += loss.item();
    const seed = loss.dtype === 'float64' ? new Float64Array([1 / microSteps]) : new Float32Array([1 / microSteps]);
    loss.backward({ grad: new Tensor(seed, loss.shape) });
    afterBackward?.(k);
  }
  return sum / microSteps;
}

// ---- gradient noise scale ---------------------------------------------------------------------

/**
 * The unbiased estimates of McCandlish et al. 2018 ("An Empirical Model of Large-Batch
 * Training", appendix A.1) from the squared norms of one gradient over a small batch and one over
 * a big batch (sizes in examples, small < big): E|G_B|^2 = |G|^2 + tr(Sigma)/B gives
 *   |G|^2     ~ (big |G_big|^2 - small |G_small|^2) / (big - small)
 *   tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1/small - 1/big)
 * and the simple noise scale B_simple = tr(Sigma) / |G|^2, in examples. Each estimate is noisy
 * (either may come out negative); average many before taking the ratio, as the paper does.
 */
export function noiseScaleEstimates(small: number, smallSq: number, big: number, bigSq: number): { gradSq: number; trace: number; bSimple: number } {
  if (!(small > 0 && big > small)) throw new Error(`noiseScaleEstimates: need 0 < small < big, got ${small} and ${big}`);
  const gradSq = (big * bigSq - small * smallSq) / (big - small);
  const trace = (smallSq - bigSq) / (1 / small - 1 / big);
  return { gradSq, trace, bSimple: trace / gradSq };
}

/** Rows [from, to) of a batch, as a batch of its own (for a step split in two to measure the noise scale). */
export function batchRows(b: Batch, from: number, to: number): Batch {
  const n = b.T;
  return {
    inputs: b.inputs.subarray(from * n, to * n), targets: b.targets.subarray(from * n, to * n),
    ...(b.docIds ? { docIds: b.docIds.subarray(from * n, to * n) } : {}), B: to - from, T: b.T,
  };
}
