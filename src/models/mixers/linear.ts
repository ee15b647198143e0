// Causal linear attention (Katharopoulos et al. 2020): softmax(q k^T) replaced by a positive
// feature map phi, so that
//   z_t = sum_{s <= t} (phi(q_t) . phi(k_s)) v_s / (sum_{s <= t} phi(q_t) . phi(k_s) + eps)
// is a recurrence with a [M, D + 1] state per head (numerator and normaliser): the engine's
// gated recurrence with no decay (g = 0) on v with a column of ones appended.
// Feature maps:
//   elu         phi(x) = elu(x) + 1                              (M = dHead)
//   performer   phi(x) = exp(W x' - |x'|^2 / 2) / sqrt(M), x' = x / dHead^(1/4), W [M, dHead] ~ N(0, 1)
//               fixed from featureSeed and the layer index (Performer's positive random features,
//               softmax-kernel estimate; not trained, not stored: rebuilt from the config).
// Parameters: blocks.{i}.linear.qkv.weight [3C, C] (+ bias), blocks.{i}.linear.proj.weight [C, C] (+ bias).
// Hooks (blocks.{i}.linear.*): hook_q, hook_k, hook_v [B, T, H, D]; hook_phi_q, hook_phi_k [B, T, H, M];
// hook_z [B, T, H, D] (normalised output per head); hook_state [B, H, M, D + 1].

import { z } from 'zod';
import {
  Rng, Tensor, add, concat, div, exp, linear, matmul, max, mul, ones, reshape, slice, split, square, sub, sum, zeros,
} from '../../engine/index.js';
import { eluPlusOne, recurrenceStep } from './parts.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, MixerModelSizes, ParamSpec } from './types.js';

const linearFields = z.object({
  /** 'elu': elu + 1; 'performer': positive random features (FAVOR+ without orthogonalisation). */
  featureMap: z.enum(['elu', 'performer']).default('elu'),
  /** Random features per head (performer only). */
  nFeatures: z.number().int().positive().default(32),
  /** Seed of the performer's random projection (per layer: featureSeed + layer index). */
  featureSeed: z.number().int().nonnegative().default(0),
  /** Added to the normaliser. */
  eps: z.number().positive().default(1e-6),
  /** Chunk length of the recurrence kernel (speed only). */
  chunk: z.number().int().positive().default(32),
}).strict();

export type LinearOptions = z.output<typeof linearFields>;

export function linearHookNames(prefix: string) {
  return {
    q: `${prefix}.hook_q`, k: `${prefix}.hook_k`, v: `${prefix}.hook_v`,
    phiQ: `${prefix}.hook_phi_q`, phiK: `${prefix}.hook_phi_k`,
    z: `${prefix}.hook_z`, state: `${prefix}.hook_state`,
  };
}

const featureCount = (sz: MixerModelSizes, o: LinearOptions) => (o.featureMap === 'elu' ? sz.dHead : o.nFeatures);

class LinearMixer implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof linearHookNames>;
  private readonly qkv: { weight: Tensor; bias: Tensor | null };
  private readonly proj: { weight: Tensor; bias: Tensor | null };
  private readonly features: Tensor | null; // [D, M] for the performer map

  constructor(private readonly b: MixerBuild<LinearOptions>) {
    this.h = linearHookNames(b.prefix);
    const h = this.h;
    this.hookPoints = [h.q, h.k, h.v, h.phiQ, h.phiK, h.state, h.z];
    this.qkv = { weight: b.param(`${b.prefix}.qkv.weight`), bias: b.optParam(`${b.prefix}.qkv.bias`) };
    this.proj = { weight: b.param(`${b.prefix}.proj.weight`), bias: b.optParam(`${b.prefix}.proj.bias`) };
    if (b.options.featureMap === 'performer') {
      const D = b.sizes.dHead, M = b.options.nFeatures;
      const w = b.dtype === 'float64' ? new Float64Array(D * M) : new Float32Array(D * M);
      new Rng(b.options.featureSeed + b.layer).fillNormal(w, 1);
      this.features = new Tensor(w, [D, M]);
    } else this.features = null;
  }

  /** The feature map over [B, T, H, D] -> [B, T, H, M]; `query` lets a per-token constant cancel in the ratio. */
  private phi(x: Tensor, query: boolean): Tensor {
    if (!this.features) return eluPlusOne(x);
    const D = this.b.sizes.dHead, M = this.b.options.nFeatures;
    const xs = mul(x, Math.pow(D, -0.25)); // [B, T, H, D]
    let logits = sub(matmul(xs, this.features), mul(sum(square(xs), -1, true), 0.5)); // [B, T, H, M]
    // A query's features may be scaled by any per-token constant (it cancels between the
    // numerator and the normaliser): subtract their max so exp stays in range.
    if (query) logits = sub(logits, max(logits, -1, true));
    return mul(exp(logits), 1 / Math.sqrt(M));
  }

  forward(x: Tensor, s: MixerCall): Tensor {
    const { nHead: H, dHead: D, dModel: C } = this.b.sizes;
    const o = this.b.options, h = this.h;
    const [B, T] = x.shape;
    const [q0, k0, v0] = split(linear(x, this.qkv.weight, this.qkv.bias), 3, -1); // 3 x [B, T, C]
    const q = s.at(h.q, reshape(q0, [B, T, H, D]));
    const k = s.at(h.k, reshape(k0, [B, T, H, D]));
    const v = s.at(h.v, reshape(v0, [B, T, H, D]));
    const pq = s.at(h.phiQ, this.phi(q, true)); // [B, T, H, M]
    const pk = s.at(h.phiK, this.phi(k, false)); // [B, T, H, M]
    const dt = x.dtype as 'float32' | 'float64';
    const vAug = concat([v, ones([B, T, H, 1], { dtype: dt })], -1); // [B, T, H, D + 1]
    const g = zeros([B, T, H], { dtype: dt }); // no decay
    const y = recurrenceStep(s, h.state, pq, pk, vAug, g, o.chunk, null, 'linear'); // [B, T, H, D + 1]
    const zt = s.at(h.z, div(slice(y, 3, 0, D), add(slice(y, 3, D, D + 1), o.eps))); // [B, T, H, D]
    return linear(reshape(zt, [B, T, C]), this.proj.weight, this.proj.bias); // [B, T, C]
  }
}

export const linearMixer: MixerDef<LinearOptions> = {
  name: 'linear',
  letter: 'L',
  summary: 'causal linear attention (feature maps: elu + 1, performer random features)',
  options: linearFields,
  module: 'linear',
  params: (sz, _o, p): ParamSpec[] => {
    const C = sz.dModel;
    const specs: ParamSpec[] = [{ name: `${p}.qkv.weight`, shape: [3 * C, C], init: 'normal' }];
    if (sz.bias) specs.push({ name: `${p}.qkv.bias`, shape: [3 * C], init: 'zeros' });
    specs.push({ name: `${p}.proj.weight`, shape: [C, C], init: sz.scaledResidualInit ? 'residual' : 'normal' });
    if (sz.bias) specs.push({ name: `${p}.proj.bias`, shape: [C], init: 'zeros' });
    return specs;
  },
  build: (b) => new LinearMixer(b),
  stateFloats: (sz, o) => sz.nHead * featureCount(sz, o) * (sz.dHead + 1),
  mup: false,
  exportable: () => false,
};
