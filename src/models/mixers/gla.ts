// Gated linear attention (GLA, Yang et al. 2023): a data-dependent decay per key channel,
//   alpha_t = sigmoid(x_t W1^T W2^T + b)^(1/tau)              (low-rank gate, tau = gateTemperature)
//   S_t = diag(alpha_t) S_{t-1} + k_t v_t^T,  o_t = S_t^T q_t  (the engine's gated recurrence, g = log alpha)
//   out = W_O (swish(x W_R) * headnorm(o))                    headnorm: RMS norm of each head, no gain
// with q scaled by dHead^-1/2. Positions come from the gates (no rotary inside).
// Parameters (blocks.{i}.gla.*): qkv.weight [3C, C] (+ bias), gk1.weight [r, C], gk2.weight [C, r],
// gk2.bias [C], gate.weight [C, C] (+ bias), proj.weight [C, C] (+ bias); r = gateRank.
// Hooks (blocks.{i}.gla.*): hook_q, hook_k, hook_v [B, T, H, D]; hook_decay [B, T, H, D] (log alpha);
// hook_state [B, H, D, D]; hook_z [B, T, H, D]; hook_gate [B, T, C] (the swish output gate).

import { z } from 'zod';
import { Tensor, linear, mul, reshape, silu, split } from '../../engine/index.js';
import { headNorm, logSigmoid, recurrenceStep } from './parts.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, ParamSpec } from './types.js';

const glaFields = z.object({
  /** Rank of the decay gate's projection (GLA: 16). */
  gateRank: z.number().int().positive().default(16),
  /** tau: log alpha = logsigmoid(.) / tau keeps decays near 1 (GLA: 16). */
  gateTemperature: z.number().positive().default(16),
  /** Chunk length of the recurrence kernel (speed only). */
  chunk: z.number().int().positive().default(32),
}).strict();

export type GlaOptions = z.output<typeof glaFields>;

export function glaHookNames(prefix: string) {
  return {
    q: `${prefix}.hook_q`, k: `${prefix}.hook_k`, v: `${prefix}.hook_v`, decay: `${prefix}.hook_decay`,
    state: `${prefix}.hook_state`, z: `${prefix}.hook_z`, gate: `${prefix}.hook_gate`,
  };
}

class GlaMixer implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof glaHookNames>;
  private readonly w: Record<'qkv' | 'gk1' | 'gk2' | 'gate' | 'proj', { weight: Tensor; bias: Tensor | null }>;

  constructor(private readonly b: MixerBuild<GlaOptions>) {
    this.h = glaHookNames(b.prefix);
    const h = this.h;
    this.hookPoints = [h.q, h.k, h.v, h.decay, h.state, h.z, h.gate];
    const lin = (n: string) => ({ weight: b.param(`${b.prefix}.${n}.weight`), bias: b.optParam(`${b.prefix}.${n}.bias`) });
    this.w = { qkv: lin('qkv'), gk1: lin('gk1'), gk2: lin('gk2'), gate: lin('gate'), proj: lin('proj') };
  }

  forward(x: Tensor, s: MixerCall): Tensor {
    const { nHead: H, dHead: D, dModel: C, normEps } = this.b.sizes;
    const o = this.b.options, h = this.h;
    const [B, T] = x.shape;
    const [q0, k0, v0] = split(linear(x, this.w.qkv.weight, this.w.qkv.bias), 3, -1); // 3 x [B, T, C]
    const q = s.at(h.q, mul(reshape(q0, [B, T, H, D]), 1 / Math.sqrt(D)));
    const k = s.at(h.k, reshape(k0, [B, T, H, D]));
    const v = s.at(h.v, reshape(v0, [B, T, H, D]));
    const gk = linear(linear(x, this.w.gk1.weight), this.w.gk2.weight, this.w.gk2.bias); // [B, T, C]
    const g = s.at(h.decay, reshape(mul(logSigmoid(gk), 1 / o.gateTemperature), [B, T, H, D])); // [B, T, H, D]
    const out = recurrenceStep(s, h.state, q, k, v, g, o.chunk, null, 'gla'); // [B, T, H, D]
    const zt = s.at(h.z, headNorm(out, normEps)); // [B, T, H, D]
    const gate = s.at(h.gate, silu(linear(x, this.w.gate.weight, this.w.gate.bias))); // [B, T, C]
    return linear(mul(gate, reshape(zt, [B, T, C])), this.w.proj.weight, this.w.proj.bias); // [B, T, C]
  }
}

export const glaMixer: MixerDef<GlaOptions> = {
  name: 'gla',
  letter: 'G',
  summary: 'gated linear attention: data-dependent decay per key channel (GLA), chunked',
  options: glaFields,
  module: 'gla',
  params: (sz, o, p): ParamSpec[] => {
    const C = sz.dModel, r = o.gateRank;
    const specs: ParamSpec[] = [];
    const lin = (n: string, out: number, inp: number, bias: boolean, residual = false) => {
      specs.push({ name: `${p}.${n}.weight`, shape: [out, inp], init: residual && sz.scaledResidualInit ? 'residual' : 'normal' });
      if (bias) specs.push({ name: `${p}.${n}.bias`, shape: [out], init: 'zeros' });
    };
    lin('qkv', 3 * C, C, sz.bias);
    lin('gk1', r, C, false);
    lin('gk2', C, r, true);
    lin('gate', C, C, sz.bias);
    lin('proj', C, C, sz.bias, true);
    return specs;
  },
  build: (b) => new GlaMixer(b),
  stateFloats: (sz) => sz.nHead * sz.dHead * sz.dHead,
  mup: false,
  exportable: () => false,
};
