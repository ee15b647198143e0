// Pieces the recurrent mixers share: their generation state, the activations written from
// engine primitives (softplus, log-sigmoid, elu + 1), a norm per head, a short causal
// depthwise convolution, and the step that runs the engine's gated recurrence with the
// state carried between generation calls and shown at hook_state.

import {
  Tensor, abs, add, concat, exp, gatedRecurrence, log, maximum, minimum, mul, neg, relu, reshape, rmsNorm, slice, sub, zeros,
} from '../../engine/index.js';
import type { MixerCall, MixerState } from './types.js';

/** A recurrent layer's generation state: the recurrence's [B, H, Dk, Dv] and, for mixers with a convolution, its last inputs. */
export class RecurrentState implements MixerState {
  constructor(readonly s: Tensor, readonly conv: Tensor | null = null) {}
  floats(): number { return this.s.size + (this.conv?.size ?? 0); }
}

/** log(1 + exp(x)), stable for large |x|. */
export function softplus(x: Tensor): Tensor {
  return add(maximum(x, 0), log(add(exp(neg(abs(x))), 1)));
}

/** log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), stable for large |x|. */
export function logSigmoid(x: Tensor): Tensor {
  return sub(minimum(x, 0), log(add(exp(neg(abs(x))), 1)));
}

/** elu(x) + 1: x + 1 above 0, exp(x) below (positive everywhere: a linear-attention feature map). */
export function eluPlusOne(x: Tensor): Tensor {
  return add(relu(x), exp(minimum(x, 0)));
}

/** RMS norm of each head's vector [B, T, H, D] without a gain (RetNet's and GLA's group norm). */
export function headNorm(x: Tensor, eps: number): Tensor {
  return rmsNorm(x, null, eps);
}

/**
 * Depthwise causal convolution over time: x [B, T, Ch], weight [Ch, K], bias [Ch];
 * out[t] = bias + sum_i weight[:, i] * x[t - K + 1 + i], with `prev` [B, K - 1, Ch] (zeros when
 * null) standing before x. Returns the output and the last K - 1 inputs (the next call's prev).
 */
export function causalConv(x: Tensor, weight: Tensor, bias: Tensor | null, prev: Tensor | null): { y: Tensor; tail: Tensor } {
  const [B, T, Ch] = x.shape;
  const K = weight.shape[1];
  const before = prev ?? zeros([B, K - 1, Ch], { dtype: x.dtype as 'float32' | 'float64' });
  const xp = K > 1 ? concat([before, x], 1) : x; // [B, T + K - 1, Ch]
  let y: Tensor | null = null;
  for (let i = 0; i < K; i++) {
    const term = mul(slice(xp, 1, i, i + T), reshape(slice(weight, 1, i, i + 1), [Ch])); // [B, T, Ch]
    y = y ? add(y, term) : term;
  }
  if (bias) y = add(y!, bias);
  const tail = slice(xp, 1, T, T + K - 1); // [B, K - 1, Ch]
  return { y: y!, tail };
}

/**
 * The recurrence of a mixer's layer: in a training forward from a zero state; in generation from
 * the layer's state, storing the new one. The final state passes hook_state ([B, H, Dk, Dv];
 * computed only when decoding or hooked; a replacement is what the next call starts from).
 */
export function recurrenceStep(
  call: MixerCall, stateHook: string, q: Tensor, k: Tensor, v: Tensor, logDecay: Tensor, chunk: number, conv: Tensor | null = null,
  mixerName = 'this mixer',
): Tensor {
  if (call.docIds) throw new Error(`${mixerName}: packed documents (docIds) are not supported by recurrent mixers; turn document masking off in the data config`);
  const decoding = call.setState !== undefined;
  const prev = (call.state ?? null) as RecurrentState | null;
  const wantState = decoding || call.hooks?.has(stateHook);
  let final: Tensor | null = null;
  const out = gatedRecurrence(q, k, v, logDecay, {
    chunk, initialState: decoding && prev ? prev.s : null, ...(wantState ? { onFinalState: (s: Tensor) => { final = s; } } : {}),
  });
  if (final) {
    const shown = call.at(stateHook, final);
    if (decoding) call.setState!(new RecurrentState(shown, conv));
  }
  return out;
}

/** The state's previous convolution inputs (generation), or null. */
export function previousConv(call: MixerCall): Tensor | null {
  return call.setState !== undefined ? ((call.state ?? null) as RecurrentState | null)?.conv ?? null : null;
}
