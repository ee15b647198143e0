// Mamba-2 (Dao and Gu 2024), the SSD layer with one group: a scalar data-dependent decay per head.
//   [z, xBC, dt] = in_proj(u)                 z, x [dInner], B, C [N] (shared by the heads), dt [nHeads]
//   xBC = silu(conv1d(xBC))                    depthwise causal convolution of `convKernel` taps
//   dt = softplus(dt + dt_bias), A = -exp(A_log), a_t = exp(dt A)            per head
//   h_t = a_t h_{t-1} + (dt x_t) B_t^T,  y_t = h_t C_t + D x_t              state [P, N] per head
//   out = out_proj(rmsnorm(y * silu(z)) * norm.weight)                       (gated RMS norm)
// The scan is the engine's gated recurrence with q = C, k = B, v = dt x and g = dt A (scalar decay).
// dInner = expand * dModel, nHeads = dInner / headDim (P), N = dState.
// Parameters (blocks.{i}.mamba2.*): in_proj.weight [2 dInner + 2N + nHeads, C], conv.weight [dInner + 2N, K],
// conv.bias [dInner + 2N], dt_bias [nHeads], A_log [nHeads], D [nHeads], norm.weight [dInner], out_proj.weight [C, dInner].
// Init as Mamba-2's reference: dt from log-uniform [dtMin, dtMax] through inverse softplus, A from
// uniform [1, 16], D ones, the convolution uniform within +-1/sqrt(K).
// Hooks (blocks.{i}.mamba2.*): hook_x [B, T, nHeads, P] (after the convolution), hook_b, hook_c [B, T, N],
// hook_dt [B, T, nHeads], hook_decay [B, T, nHeads] (log a_t = dt A), hook_state [B, nHeads, N, P],
// hook_y [B, T, dInner] (before the gate), hook_gate [B, T, dInner] (silu(z)).

import { z } from 'zod';
import { Tensor, add, exp, expand, linear, mul, neg, reshape, rmsNorm, silu, split } from '../../engine/index.js';
import { causalConv, previousConv, recurrenceStep, softplus } from './parts.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, MixerModelSizes, ParamSpec } from './types.js';

const mamba2Fields = z.object({
  /** N: state size per head channel. */
  dState: z.number().int().positive().default(16),
  /** dInner = expand * dModel. */
  expand: z.number().int().positive().default(2),
  /** P: channels per head (nHeads = dInner / headDim). */
  headDim: z.number().int().positive().default(16),
  /** Taps of the causal convolution. */
  convKernel: z.number().int().positive().default(4),
  dtMin: z.number().positive().default(0.001),
  dtMax: z.number().positive().default(0.1),
  /** Chunk length of the recurrence kernel (speed only). */
  chunk: z.number().int().positive().default(32),
}).strict();

export type Mamba2Options = z.output<typeof mamba2Fields>;

export function mamba2Dims(sz: MixerModelSizes, o: Mamba2Options) {
  const dInner = o.expand * sz.dModel;
  return { dInner, nHeads: dInner / o.headDim, N: o.dState, P: o.headDim, convCh: dInner + 2 * o.dState };
}

export function mamba2HookNames(prefix: string) {
  return {
    x: `${prefix}.hook_x`, b: `${prefix}.hook_b`, c: `${prefix}.hook_c`, dt: `${prefix}.hook_dt`, decay: `${prefix}.hook_decay`,
    state: `${prefix}.hook_state`, y: `${prefix}.hook_y`, gate: `${prefix}.hook_gate`,
  };
}

class Mamba2Mixer implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof mamba2HookNames>;
  private readonly p: (n: string) => Tensor;

  constructor(private readonly b: MixerBuild<Mamba2Options>) {
    this.h = mamba2HookNames(b.prefix);
    const h = this.h;
    this.hookPoints = [h.x, h.b, h.c, h.dt, h.decay, h.state, h.y, h.gate];
    this.p = (n) => b.param(`${b.prefix}.${n}`);
  }

  forward(u: Tensor, s: MixerCall): Tensor {
    const o = this.b.options, h = this.h, p = this.p;
    const { dInner, nHeads, N, P, convCh } = mamba2Dims(this.b.sizes, o);
    const [B, T] = u.shape;
    const [zg, xbc0, dt0] = split(linear(u, p('in_proj.weight')), [dInner, convCh, nHeads], -1);
    const conv = causalConv(xbc0, p('conv.weight'), p('conv.bias'), previousConv(s));
    const [x0, b0, c0] = split(silu(conv.y), [dInner, N, N], -1); // [B, T, dInner], [B, T, N] x 2
    const x = s.at(h.x, reshape(x0, [B, T, nHeads, P]));
    const bm = s.at(h.b, b0), cm = s.at(h.c, c0);
    const dt = s.at(h.dt, softplus(add(dt0, p('dt_bias')))); // [B, T, nHeads]
    const g = s.at(h.decay, mul(dt, neg(exp(p('A_log'))))); // [B, T, nHeads]
    const kq = (t: Tensor) => expand(reshape(t, [B, T, 1, N]), [B, T, nHeads, N]);
    const v = mul(x, reshape(dt, [B, T, nHeads, 1])); // [B, T, nHeads, P]
    const yh = recurrenceStep(s, h.state, kq(cm), kq(bm), v, g, o.chunk, conv.tail, 'mamba2'); // [B, T, nHeads, P]
    const y = s.at(h.y, reshape(add(yh, mul(x, reshape(p('D'), [nHeads, 1]))), [B, T, dInner])); // [B, T, dInner]
    const gate = s.at(h.gate, silu(zg)); // [B, T, dInner]
    const normed = rmsNorm(mul(y, gate), p('norm.weight'), this.b.sizes.normEps);
    return linear(normed, p('out_proj.weight')); // [B, T, C]
  }
}

export const mamba2Mixer: MixerDef<Mamba2Options> = {
  name: 'mamba2',
  letter: 'M',
  summary: 'Mamba-2 SSD: scalar data-dependent decay per head, short convolution, gated output',
  options: mamba2Fields,
  module: 'mamba2',
  check: (sz, o) => {
    const out: { field: string; message: string }[] = [];
    if ((o.expand * sz.dModel) % o.headDim !== 0) out.push({ field: 'headDim', message: `expand * dModel = ${o.expand * sz.dModel} is not divisible by headDim ${o.headDim}` });
    if (o.dtMin > o.dtMax) out.push({ field: 'dtMin', message: `dtMin ${o.dtMin} exceeds dtMax ${o.dtMax}` });
    return out;
  },
  params: (sz, o, p): ParamSpec[] => {
    const { dInner, nHeads, convCh } = mamba2Dims(sz, o);
    const bound = 1 / Math.sqrt(o.convKernel);
    const uniform = (lo: number, hi: number) => (d: Float32Array | Float64Array, rng: { uniform(): number }) => {
      for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rng.uniform();
    };
    return [
      { name: `${p}.in_proj.weight`, shape: [2 * dInner + 2 * o.dState + nHeads, sz.dModel], init: 'normal' },
      { name: `${p}.conv.weight`, shape: [convCh, o.convKernel], init: 'custom', fill: uniform(-bound, bound) },
      { name: `${p}.conv.bias`, shape: [convCh], init: 'custom', fill: uniform(-bound, bound) },
      {
        name: `${p}.dt_bias`, shape: [nHeads], init: 'custom',
        fill: (d, rng) => {
          for (let i = 0; i < d.length; i++) {
            const dt = Math.exp(Math.log(o.dtMin) + rng.uniform() * (Math.log(o.dtMax) - Math.log(o.dtMin)));
            d[i] = dt + Math.log(-Math.expm1(-dt)); // softplus^-1(dt)
          }
        },
      },
      { name: `${p}.A_log`, shape: [nHeads], init: 'custom', fill: (d, rng) => { for (let i = 0; i < d.length; i++) d[i] = Math.log(1 + 15 * rng.uniform()); } },
      { name: `${p}.D`, shape: [nHeads], init: 'ones' },
      { name: `${p}.norm.weight`, shape: [dInner], init: 'ones' },
      { name: `${p}.out_proj.weight`, shape: [sz.dModel, dInner], init: sz.scaledResidualInit ? 'residual' : 'normal' },
    ];
  },
  build: (b) => new Mamba2Mixer(b),
  stateFloats: (sz, o) => {
    const { nHeads, N, P, convCh } = mamba2Dims(sz, o);
    return nHeads * N * P + (o.convKernel - 1) * convCh;
  },
  mup: false,
  exportable: () => false,
};
