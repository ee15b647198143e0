// Retention (RetNet, Sun et al. 2023), multi-scale: head h has the fixed decay
// gamma_h = 1 - 2^(-5 - h), as torchscale's MultiScaleRetention, so
//   S_t = gamma_h S_{t-1} + k_t v_t^T,  o_t = S_t^T q_t   (the engine's gated recurrence, scalar decay)
//   out = W_O (swish(x W_G) * groupnorm(o))              groupnorm: RMS norm of each head, no gain
// with k scaled by dHead^-1/2. Positions come from the decay (no rotary inside; RetNet's xPos is left out).
// Parameters (blocks.{i}.retnet.*): qkv.weight [3C, C] (+ bias), gate.weight [C, C] (+ bias), proj.weight [C, C] (+ bias).
// Hooks (blocks.{i}.retnet.*): hook_q, hook_k, hook_v [B, T, H, D]; hook_decay [B, T, H] (log gamma);
// hook_state [B, H, D, D]; hook_z [B, T, H, D] (normed retention); hook_gate [B, T, C] (swish gate).

import { z } from 'zod';
import { Tensor, expand, linear, mul, reshape, silu, split, tensor } from '../../engine/index.js';
import { headNorm, recurrenceStep } from './parts.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, ParamSpec } from './types.js';

const retnetFields = z.object({
  /** Chunk length of the recurrence kernel (speed only). */
  chunk: z.number().int().positive().default(32),
}).strict();

export type RetnetOptions = z.output<typeof retnetFields>;

/** log gamma_h = log(1 - 2^(-5 - h)) for h < H (RetNet's decays). */
export function retnetLogDecays(H: number): number[] {
  return Array.from({ length: H }, (_, h) => Math.log(1 - Math.pow(2, -5 - h)));
}

export function retnetHookNames(prefix: string) {
  return {
    q: `${prefix}.hook_q`, k: `${prefix}.hook_k`, v: `${prefix}.hook_v`, decay: `${prefix}.hook_decay`,
    state: `${prefix}.hook_state`, z: `${prefix}.hook_z`, gate: `${prefix}.hook_gate`,
  };
}

class RetnetMixer implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof retnetHookNames>;
  private readonly w: Record<'qkv' | 'gate' | 'proj', { weight: Tensor; bias: Tensor | null }>;
  private readonly logGamma: Tensor; // [H]

  constructor(private readonly b: MixerBuild<RetnetOptions>) {
    this.h = retnetHookNames(b.prefix);
    const h = this.h;
    this.hookPoints = [h.q, h.k, h.v, h.decay, h.state, h.z, h.gate];
    const lin = (n: string) => ({ weight: b.param(`${b.prefix}.${n}.weight`), bias: b.optParam(`${b.prefix}.${n}.bias`) });
    this.w = { qkv: lin('qkv'), gate: lin('gate'), proj: lin('proj') };
    this.logGamma = tensor(retnetLogDecays(b.sizes.nHead), [b.sizes.nHead], { dtype: b.dtype });
  }

  forward(x: Tensor, s: MixerCall): Tensor {
    const { nHead: H, dHead: D, dModel: C, normEps } = this.b.sizes;
    const h = this.h;
    const [B, T] = x.shape;
    const [q0, k0, v0] = split(linear(x, this.w.qkv.weight, this.w.qkv.bias), 3, -1); // 3 x [B, T, C]
    const q = s.at(h.q, reshape(q0, [B, T, H, D]));
    const k = s.at(h.k, mul(reshape(k0, [B, T, H, D]), 1 / Math.sqrt(D)));
    const v = s.at(h.v, reshape(v0, [B, T, H, D]));
    const g = s.at(h.decay, expand(this.logGamma, [B, T, H])); // [B, T, H]
    const o = recurrenceStep(s, h.state, q, k, v, g, this.b.options.chunk, null, 'retnet'); // [B, T, H, D]
    const zt = s.at(h.z, headNorm(o, normEps)); // [B, T, H, D]
    const gate = s.at(h.gate, silu(linear(x, this.w.gate.weight, this.w.gate.bias))); // [B, T, C]
    return linear(mul(gate, reshape(zt, [B, T, C])), this.w.proj.weight, this.w.proj.bias); // [B, T, C]
  }
}

export const retnetMixer: MixerDef<RetnetOptions> = {
  name: 'retnet',
  letter: 'R',
  summary: 'retention: fixed per-head decay (RetNet), chunked',
  options: retnetFields,
  module: 'retnet',
  params: (sz, _o, p): ParamSpec[] => {
    const C = sz.dModel;
    const specs: ParamSpec[] = [];
    const lin = (n: string, out: number, residual = false) => {
      specs.push({ name: `${p}.${n}.weight`, shape: [out, C], init: residual && sz.scaledResidualInit ? 'residual' : 'normal' });
      if (sz.bias) specs.push({ name: `${p}.${n}.bias`, shape: [out], init: 'zeros' });
    };
    lin('qkv', 3 * C);
    lin('gate', C);
    lin('proj', C, true);
    return specs;
  },
  build: (b) => new RetnetMixer(b),
  stateFloats: (sz) => sz.nHead * sz.dHead * sz.dHead,
  mup: false,
  exportable: () => false,
};
