// Mamba (Mamba-1, Gu & Dao 2023): a selective state-space mixer with a diagonal state of
// `dState` per channel, whose step size delta, input matrix B and output matrix C depend on
// the token. Per block (E = expand * dModel channels):
//   x, z  = in_proj(u)                          [B, T, E] each
//   x     = silu(causal depthwise conv_K(x))    (kernel dConv, per channel)
//   dt, B, C = x_proj(x)                        dt: [B, T, dtRank] -> dt_proj -> [B, T, E]
//   y     = selectiveScan(x, dt, -exp(A_log), B, C) + D * x     (delta = softplus(dt))
//   out   = out_proj(y * silu(z))
// Parameters follow Hugging Face's MambaMixer names under blocks.{i}.mamba, so a layer can be
// checked against the PyTorch formula (scripts/fixtures/mixers.py):
//   in_proj.weight [2E, C], conv1d.weight [E, 1, K], conv1d.bias [E], x_proj.weight [R + 2N, E],
//   dt_proj.weight [E, R], dt_proj.bias [E], A_log [E, N], D [E], out_proj.weight [C, E]
// Generation carries the last K - 1 conv inputs and the scan state [B, E, N]: constant memory
// per token. Packed documents are refused (a recurrence would carry one document into the next).

import { z } from 'zod';
import { Tensor, add, exp, linear, mul, neg, reshape, selectiveScan, silu, split } from '../../engine/index.js';
import { causalConv, softplus } from './parts.js';
import type { Rng } from '../../engine/index.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, MixerModelSizes, MixerState, ParamSpec } from './types.js';

const mambaFields = z.object({
  /** State size per channel (N). */
  dState: z.number().int().positive().default(16),
  /** Inner channels per model channel (E = expand * dModel). */
  expand: z.number().int().positive().default(2),
  /** Causal depthwise convolution width. */
  dConv: z.number().int().positive().default(4),
  /** Rank of the step-size projection; null: ceil(dModel / 16). */
  dtRank: z.number().int().positive().nullable().default(null),
  /** Range of the initial step sizes (log-uniform), as in the paper. */
  dtMin: z.number().positive().default(0.001),
  dtMax: z.number().positive().default(0.1),
}).strict();

export type MambaOptions = z.output<typeof mambaFields>;

const dims = (sz: MixerModelSizes, o: MambaOptions) => ({
  E: o.expand * sz.dModel, N: o.dState, K: o.dConv, R: o.dtRank ?? Math.ceil(sz.dModel / 16),
});

export function mambaHookNames(prefix: string) {
  return {
    x: `${prefix}.hook_x`, // [B, T, E] scan input (after conv and silu)
    dt: `${prefix}.hook_dt`, // [B, T, E] step size before softplus (delta = softplus(dt))
    B: `${prefix}.hook_B`, // [B, T, N] input matrix per token
    C: `${prefix}.hook_C`, // [B, T, N] output matrix per token
    decay: `${prefix}.hook_decay`, // [B, T, E, N] exp(delta A), the state's per-token decay (computed only when hooked)
    state: `${prefix}.hook_state`, // [B, E, N] scan state after the last token (no gradient)
    gate: `${prefix}.hook_gate`, // [B, T, E] silu(z), multiplying the scan output
    y: `${prefix}.hook_y`, // [B, T, E] gated scan output, before out_proj
  };
}

/** Generation state of one Mamba layer: the conv's last K - 1 inputs and the scan state. */
export class MambaState implements MixerState {
  constructor(readonly conv: Tensor, readonly ssm: Tensor) {}
  floats(): number { return this.conv.size + this.ssm.size; }
}

class MambaMixer implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof mambaHookNames>;
  private readonly p: Record<string, Tensor>;

  constructor(private readonly b: MixerBuild<MambaOptions>) {
    this.h = mambaHookNames(b.prefix);
    this.hookPoints = Object.values(this.h);
    const names = ['in_proj.weight', 'conv1d.weight', 'conv1d.bias', 'x_proj.weight', 'dt_proj.weight', 'dt_proj.bias', 'A_log', 'D', 'out_proj.weight'];
    this.p = Object.fromEntries(names.map((n) => [n, b.param(`${b.prefix}.${n}`)]));
  }

  forward(u: Tensor, s: MixerCall): Tensor {
    if (s.docIds) throw new Error(`${this.b.prefix}: mamba does not support packed documents (a recurrence would carry one document into the next)`);
    const { E, N, R } = dims(this.b.sizes, this.b.options);
    const p = this.p, h = this.h;
    const [B, T] = u.shape;
    const prev = (s.state ?? null) as MambaState | null;
    const [x0, zg] = split(linear(u, p['in_proj.weight']), [E, E], -1); // [B, T, E] each
    const conv = causalConv(x0, reshape(p['conv1d.weight'], [E, -1]), p['conv1d.bias'], prev?.conv ?? null);
    const x = s.at(h.x, silu(conv.y)); // [B, T, E]
    const [dtLow, Bm0, Cm0] = split(linear(x, p['x_proj.weight']), [R, N, N], -1);
    const dt = s.at(h.dt, linear(dtLow, p['dt_proj.weight'], p['dt_proj.bias'])); // [B, T, E]
    const Bm = s.at(h.B, Bm0), Cm = s.at(h.C, Cm0); // [B, T, N]
    const A = neg(exp(p.A_log)); // [E, N]
    if (s.hooks?.has(h.decay)) {
      // delta = softplus(dt) as ops (the scan computes it inside), only to show the decay to a hook.
      const delta = reshape(softplus(dt), [B, T, E, 1]);
      s.at(h.decay, exp(mul(delta, A))); // [B, T, E, N]
    }
    const scan = selectiveScan(x, dt, A, Bm, Cm, { h0: prev?.ssm ?? null });
    const state = s.at(h.state, scan.state); // [B, E, N]
    if (s.setState) s.setState(new MambaState(conv.tail, state));
    const gate = s.at(h.gate, silu(zg)); // [B, T, E]
    const y = s.at(h.y, mul(add(scan.y, mul(x, p.D)), gate)); // [B, T, E]
    return linear(y, p['out_proj.weight']); // [B, T, C]
  }
}

/** log(exp(y) - 1): the dt bias whose softplus is y. */
const inverseSoftplus = (y: number) => y + Math.log(-Math.expm1(-y));

export const mambaMixer: MixerDef<MambaOptions> = {
  name: 'mamba',
  letter: 'S',
  summary: 'Mamba-1 selective state space (options: dState, expand, dConv, dtRank, dtMin, dtMax)',
  options: mambaFields,
  module: 'mamba',
  check: (_sz, o) => (o.dtMin > o.dtMax ? [{ field: 'dtMin', message: `must not exceed dtMax (${o.dtMax})` }] : []),
  params: (sz, o, p): ParamSpec[] => {
    const { E, N, K, R } = dims(sz, o);
    const C = sz.dModel;
    return [
      { name: `${p}.in_proj.weight`, shape: [2 * E, C], init: 'normal' },
      // PyTorch's conv1d default: uniform(+-1/sqrt(fan_in)), fan_in = K for a depthwise conv.
      { name: `${p}.conv1d.weight`, shape: [E, 1, K], init: 'custom', fill: (d, rng) => rng.fillUniform(d, -1 / Math.sqrt(K), 1 / Math.sqrt(K)) },
      { name: `${p}.conv1d.bias`, shape: [E], init: 'zeros' },
      { name: `${p}.x_proj.weight`, shape: [R + 2 * N, E], init: 'normal' },
      { name: `${p}.dt_proj.weight`, shape: [E, R], init: 'custom', fill: (d, rng) => rng.fillUniform(d, -1 / Math.sqrt(R), 1 / Math.sqrt(R)) },
      {
        name: `${p}.dt_proj.bias`, shape: [E], init: 'custom',
        fill: (d, rng: Rng) => {
          const lo = Math.log(o.dtMin), hi = Math.log(o.dtMax);
          for (let i = 0; i < d.length; i++) d[i] = inverseSoftplus(Math.max(Math.exp(lo + (hi - lo) * rng.uniform()), 1e-4));
        },
      },
      // S4D-real: A[e, n] = -(n + 1).
      { name: `${p}.A_log`, shape: [E, N], init: 'custom', fill: (d) => { for (let i = 0; i < d.length; i++) d[i] = Math.log((i % N) + 1); } },
      { name: `${p}.D`, shape: [E], init: 'ones' },
      { name: `${p}.out_proj.weight`, shape: [C, E], init: sz.scaledResidualInit ? 'residual' : 'normal' },
    ];
  },
  build: (b) => new MambaMixer(b),
  stateFloats: (sz, o) => { const { E, N, K } = dims(sz, o); return E * (K - 1) + E * N; },
  mup: false,
  exportable: () => false,
};
