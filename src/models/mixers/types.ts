// The contract every token mixer implements (one file per mixer in this folder, listed in
// index.ts). A mixer is the part of a block that moves information between positions:
// softmax attention, linear attention, a gated linear recurrence, a state-space layer. The
// block around it (norms, residuals, the optional MLP) is the Transformer's, so a new mixer
// only says which parameters it has, how to run a whole sequence in parallel (training,
// prefill), and how to carry its generation state from one call to the next.
//
// Legend: B batch, T tokens, C dModel, H heads.

import type { Rng, Tensor } from '../../engine/index.js';
import type { z } from 'zod';
import type { HookTable } from '../hooks.js';
import type { Padding } from '../padding.js';

/** How a parameter starts: normal(initStd), normal(initStd / sqrt(2 nLayer)), zeros, ones, or a mixer's own rule. */
export type ParamInit = 'normal' | 'residual' | 'zeros' | 'ones' | 'custom';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: ParamInit;
  /** For init 'custom': fills the values from the model's init Rng (draws in paramSpecs order). */
  fill?: (data: Float32Array | Float64Array, rng: Rng) => void;
}

/** The model-wide sizes a mixer reads (a ModelConfig has all of them). */
export interface MixerModelSizes {
  dModel: number; nHead: number; dHead: number; nLayer: number; nCtx: number;
  bias: boolean; positions: 'learned' | 'rotary'; normEps: number; initStd: number; scaledResidualInit: boolean;
}

/** One layer's state carried between generation calls; each mixer owns its shape. */
export interface MixerState {
  /** Floats this state holds now (for memory accounting and the constant-memory tests). */
  floats(): number;
}

/** Attention sinks (StreamingLLM): the cache keeps the first `keep` tokens and the most recent ones, `keep + window` in all. */
export interface SinkCacheOptions { keep: number; window: number }

/** What a mixer's forward sees besides its input. */
export interface MixerCall {
  /** Runs the user's hooks at a point of this mixer (identity when none is registered). */
  at: (name: string, x: Tensor) => Tensor;
  hooks: HookTable | null;
  /** Position of the first token of x (the cache's next position; 0 without a cache). */
  pos0: number;
  /** int32 [B, T] document ids for packed sequences, or null. */
  docIds: Tensor | null;
  /** Generation: this layer's state from the previous call (null on the first), or undefined when not decoding. */
  state?: MixerState | null;
  /** Generation: stores this layer's state for the next call. */
  setState?: (s: MixerState) => void;
  /** Generation with attention sinks (the cache's policy; recurrent mixers ignore it). */
  sinks?: SinkCacheOptions | null;
  /** Left padding (attention only; the model refuses it for other mixers). */
  padding?: Padding | null;
}

/** A built mixer of one layer, holding references to its parameter tensors. */
export interface Mixer {
  /** Hook points of this mixer, full names, in forward order. */
  readonly hookPoints: string[];
  /** x [B, T, C] (after the block's first norm) -> [B, T, C] (before the residual add). */
  forward(x: Tensor, call: MixerCall): Tensor;
}

export interface MixerBuild<O> {
  sizes: MixerModelSizes;
  options: O;
  layer: number;
  /** Module path of this mixer, e.g. "blocks.3.attn" (parameter names and hook names start with it). */
  prefix: string;
  param: (name: string) => Tensor;
  optParam: (name: string) => Tensor | null;
  dtype: 'float32' | 'float64';
  /** Rotary tables when the model uses rotary positions. */
  rotary: { cos: Tensor; sin: Tensor } | null;
  /** muP's attention scale (attention only; undefined: 1/sqrt(dHead)). */
  attnScale?: number;
}

/** A mixer kind: its name in configs, its letter in layer patterns, options, parameters and builder. */
export interface MixerDef<O = unknown> {
  name: string;
  /** The letter for `model.layers` patterns (upper case: with an MLP after it; lower case: without). */
  letter: string;
  summary: string;
  /** Options under model.mixerOptions.<name> (strict, every field defaulted). */
  options: z.ZodType<O, z.ZodTypeDef, unknown>;
  /** The module name inside a block: parameters are blocks.{i}.<module>.*, hooks blocks.{i}.<module>.hook_*. */
  module: string;
  /** Problems with these options for this model (named fields); empty when fine. */
  check?: (sizes: MixerModelSizes, o: O) => { field: string; message: string }[];
  params(sizes: MixerModelSizes, o: O, prefix: string): ParamSpec[];
  build(b: MixerBuild<O>): Mixer;
  /** Floats of generation state per sequence after `tokens` tokens (constant for recurrent mixers). */
  stateFloats(sizes: MixerModelSizes, o: O, tokens: number): number;
  /** muP is defined for this mixer (its parameters follow mup.ts's rules); otherwise a mup section is refused. */
  mup: boolean;
  /** A Hugging Face or GGUF export can hold it (only plain attention can). */
  exportable: (o: O) => boolean;
}
