// RWKV-6 ("Finch", Peng et al. 2024): why 6 and not 5 or 7. RWKV-5 has a fixed decay per
// channel; RWKV-6 makes the decay data-dependent (a LoRA of the token) and interpolates the
// token shift per token (ddlerp), which is what the issue asks for; RWKV-7 replaces the outer
// product update by a generalised delta rule, a different kernel. Two mixers, because an
// RWKV block is two residual sublayers, each with its own norm:
//   rwkv         time mix: token shift with data-dependent interpolation, r, k, v, gate, a
//                data-dependent decay w, the wkv recurrence (engine rwkv6), a per-head group
//                norm, the gate, the output projection.
//   rwkvChannel  channel mix (RWKV's FFN): token shift, sigmoid(r) * value(relu(key(x))^2).
// A faithful RWKV-6 stack is `layers: "WKWK..."` in lower case ("wkwk...": no transformer MLP);
// `mixer: "rwkv"` alone gives time mix followed by the model's MLP.
//
// Parameters follow RWKV-LM's v6 names under blocks.{i}.rwkv and blocks.{i}.rwkv_ffn
// (time_maa_* as [C] vectors, time_maa_w2 [5, L, C], time_faaaa [H, D]); initialisation
// follows RWKV-LM's by layer depth. Generation carries the previous token's input (token
// shift) and the wkv state [B, H, D, D]: constant memory per token. Packed documents are
// refused (a recurrence would carry one document into the next).

import { z } from 'zod';
import {
  Tensor, add, concat, groupNorm, linear, matmul, mul, relu, reshape, rwkv6, sigmoid, silu, slice, split, square, sub, tanh, zeros,
} from '../../engine/index.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, MixerModelSizes, MixerState, ParamSpec } from './types.js';

const rwkvFields = z.object({
  /** Rank of the token-shift interpolation LoRA (five of them: w, k, v, r, g). */
  mixRank: z.number().int().positive().default(32),
  /** Rank of the decay LoRA. */
  decayRank: z.number().int().positive().default(64),
  /** Group norm epsilon after the recurrence (RWKV-LM: 1e-5 * head_size_divisor^2 = 64e-5). */
  normEps: z.number().positive().default(64e-5),
}).strict();

const rwkvChannelFields = z.object({
  /** Hidden width of the channel mix as a multiple of dModel (RWKV-6: 3.5). */
  hiddenMult: z.number().positive().default(3.5),
}).strict();

export type RwkvOptions = z.output<typeof rwkvFields>;
export type RwkvChannelOptions = z.output<typeof rwkvChannelFields>;

export function rwkvHookNames(prefix: string) {
  return {
    r: `${prefix}.hook_r`, // [B, T, H, D] receptance
    k: `${prefix}.hook_k`, // [B, T, H, D]
    v: `${prefix}.hook_v`, // [B, T, H, D]
    decay: `${prefix}.hook_decay`, // [B, T, H, D] w; the per-token decay is exp(-exp(w))
    gate: `${prefix}.hook_gate`, // [B, T, C] silu(gate(x_g))
    state: `${prefix}.hook_state`, // [B, H, D, D] wkv state after the last token (key index first; no gradient)
    wkv: `${prefix}.hook_wkv`, // [B, T, H, D] recurrence output, before the group norm
  };
}

export function rwkvChannelHookNames(prefix: string) {
  return {
    key: `${prefix}.hook_key`, // [B, T, hidden] relu(key(x_k))^2
    gate: `${prefix}.hook_gate`, // [B, T, C] sigmoid(receptance(x_r))
  };
}

/** Token shift state of a channel mix. */
export class ShiftState implements MixerState {
  constructor(readonly last: Tensor) {}
  floats(): number { return this.last.size; }
}

/** Token shift and wkv state of a time mix. */
export class RwkvState implements MixerState {
  constructor(readonly last: Tensor, readonly wkv: Tensor) {}
  floats(): number { return this.last.size + this.wkv.size; }
}

/** x shifted one token later: row t holds x[t - 1], row 0 holds `prev` [B, 1, C] (zeros when null). */
function tokenShift(x: Tensor, prev: Tensor | null): Tensor {
  const [B, T, C] = x.shape;
  const first = prev ?? zeros([B, 1, C], { dtype: x.dtype });
  return T === 1 ? first : concat([first, slice(x, 1, 0, T - 1)], 1);
}

/** Depth ratios RWKV-LM's initialisation uses, from the layer index in the prefix. */
function depthRatios(sz: MixerModelSizes, prefix: string): { r01: number; r1: number } {
  const m = /blocks\.(\d+)\./.exec(`${prefix}.`);
  const layer = m ? Number(m[1]) : 0;
  return { r01: sz.nLayer > 1 ? layer / (sz.nLayer - 1) : 0, r1: 1 - layer / sz.nLayer };
}

/** A [C] vector 1 - (i / C)^power (RWKV-LM's time_maa initialisation); `shift` is added to the power's result first. */
const maaFill = (power: number, shift = 0) => (d: Float32Array | Float64Array) => {
  const C = d.length;
  for (let i = 0; i < C; i++) d[i] = 1 - (Math.pow(i / C, power) + shift);
};

class RwkvTimeMix implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof rwkvHookNames>;
  private readonly p: (n: string) => Tensor;

  constructor(private readonly b: MixerBuild<RwkvOptions>) {
    this.h = rwkvHookNames(b.prefix);
    this.hookPoints = Object.values(this.h);
    this.p = (n) => b.param(`${b.prefix}.${n}`);
  }

  forward(x: Tensor, s: MixerCall): Tensor {
    if (s.docIds) throw new Error(`${this.b.prefix}: rwkv does not support packed documents (a recurrence would carry one document into the next)`);
    const { nHead: H, dHead: D, dModel: C } = this.b.sizes;
    const L = this.b.options.mixRank;
    const p = this.p, h = this.h;
    const [B, T] = x.shape;
    const prev = (s.state ?? null) as RwkvState | null;
    const xx = sub(tokenShift(x, prev?.last ?? null), x); // [B, T, C]
    // ddlerp: five data-dependent interpolations between x and the previous token
    const xxx = tanh(matmul(add(x, mul(xx, p('time_maa_x'))), p('time_maa_w1'))); // [B, T, 5L]
    const w2 = p('time_maa_w2'); // [5, L, C]
    const mixed = split(xxx, 5, -1).map((part, i) => matmul(part, reshape(slice(w2, 0, i, i + 1), [L, C]))); // 5 x [B, T, C]
    const lerp = (name: string, i: number) => add(x, mul(xx, add(p(name), mixed[i])));
    const xw = lerp('time_maa_w', 0), xk = lerp('time_maa_k', 1), xv = lerp('time_maa_v', 2), xr = lerp('time_maa_r', 3), xg = lerp('time_maa_g', 4);
    const heads = (t: Tensor) => reshape(t, [B, T, H, D]);
    const r = s.at(h.r, heads(linear(xr, p('receptance.weight'))));
    const k = s.at(h.k, heads(linear(xk, p('key.weight'))));
    const v = s.at(h.v, heads(linear(xv, p('value.weight'))));
    const g = s.at(h.gate, silu(linear(xg, p('gate.weight')))); // [B, T, C]
    const w = s.at(h.decay, heads(add(p('time_decay'), matmul(tanh(matmul(xw, p('time_decay_w1'))), p('time_decay_w2')))));
    const wkv = rwkv6(r, k, v, w, p('time_faaaa'), { s0: prev?.wkv ?? null });
    const state = s.at(h.state, wkv.state);
    if (s.setState) s.setState(new RwkvState(slice(x, 1, T - 1, T), state));
    const y = s.at(h.wkv, wkv.y); // [B, T, H, D]
    const normed = reshape(groupNorm(reshape(y, [B * T, C]), H, p('ln_x.weight'), p('ln_x.bias'), this.b.options.normEps), [B, T, C]);
    return linear(mul(normed, g), p('output.weight')); // [B, T, C]
  }
}

class RwkvChannelMix implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof rwkvChannelHookNames>;
  private readonly p: (n: string) => Tensor;

  constructor(private readonly b: MixerBuild<RwkvChannelOptions>) {
    this.h = rwkvChannelHookNames(b.prefix);
    this.hookPoints = Object.values(this.h);
    this.p = (n) => b.param(`${b.prefix}.${n}`);
  }

  forward(x: Tensor, s: MixerCall): Tensor {
    if (s.docIds) throw new Error(`${this.b.prefix}: rwkvChannel does not support packed documents (its token shift would cross documents)`);
    const p = this.p, h = this.h;
    const T = x.shape[1];
    const prev = (s.state ?? null) as ShiftState | null;
    const xx = sub(tokenShift(x, prev?.last ?? null), x);
    if (s.setState) s.setState(new ShiftState(slice(x, 1, T - 1, T)));
    const xk = add(x, mul(xx, p('time_maa_k'))), xr = add(x, mul(xx, p('time_maa_r')));
    const key = s.at(h.key, square(relu(linear(xk, p('key.weight'))))); // [B, T, hidden]
    const gate = s.at(h.gate, sigmoid(linear(xr, p('receptance.weight')))); // [B, T, C]
    return mul(gate, linear(key, p('value.weight')));
  }
}

const hiddenOf = (sz: MixerModelSizes, o: RwkvChannelOptions) => Math.max(1, Math.round(sz.dModel * o.hiddenMult));

export const rwkvMixer: MixerDef<RwkvOptions> = {
  name: 'rwkv',
  letter: 'W',
  summary: 'RWKV-6 time mix: data-dependent decay and token shift (options: mixRank, decayRank, normEps)',
  options: rwkvFields,
  module: 'rwkv',
  params: (sz, o, p): ParamSpec[] => {
    const C = sz.dModel, H = sz.nHead, D = sz.dHead, L = o.mixRank, Ld = o.decayRank;
    const { r01, r1 } = depthRatios(sz, p);
    const small = (d: Float32Array | Float64Array, rng: { fillUniform: (a: Float32Array | Float64Array, lo: number, hi: number) => void }) => rng.fillUniform(d, -0.01, 0.01);
    return [
      { name: `${p}.time_maa_x`, shape: [C], init: 'custom', fill: maaFill(r1) },
      { name: `${p}.time_maa_w`, shape: [C], init: 'custom', fill: maaFill(r1) },
      { name: `${p}.time_maa_k`, shape: [C], init: 'custom', fill: maaFill(r1) },
      { name: `${p}.time_maa_v`, shape: [C], init: 'custom', fill: maaFill(r1, 0.3 * r01) },
      { name: `${p}.time_maa_r`, shape: [C], init: 'custom', fill: maaFill(0.5 * r1) },
      { name: `${p}.time_maa_g`, shape: [C], init: 'custom', fill: maaFill(0.5 * r1) },
      { name: `${p}.time_maa_w1`, shape: [C, 5 * L], init: 'zeros' },
      { name: `${p}.time_maa_w2`, shape: [5, L, C], init: 'custom', fill: small },
      {
        name: `${p}.time_decay`, shape: [C], init: 'custom',
        fill: (d) => { for (let i = 0; i < C; i++) d[i] = -6 + 5 * Math.pow(i / Math.max(1, C - 1), 0.7 + 1.3 * r01); },
      },
      { name: `${p}.time_decay_w1`, shape: [C, Ld], init: 'zeros' },
      { name: `${p}.time_decay_w2`, shape: [Ld, C], init: 'custom', fill: small },
      {
        name: `${p}.time_faaaa`, shape: [H, D], init: 'custom',
        fill: (d) => { for (let i = 0; i < C; i++) d[i] = r01 * (1 - i / Math.max(1, C - 1)) + (((i + 1) % 3) - 1) * 0.1; },
      },
      { name: `${p}.receptance.weight`, shape: [C, C], init: 'normal' },
      { name: `${p}.key.weight`, shape: [C, C], init: 'normal' },
      { name: `${p}.value.weight`, shape: [C, C], init: 'normal' },
      { name: `${p}.gate.weight`, shape: [C, C], init: 'normal' },
      { name: `${p}.ln_x.weight`, shape: [C], init: 'ones' },
      { name: `${p}.ln_x.bias`, shape: [C], init: 'zeros' },
      { name: `${p}.output.weight`, shape: [C, C], init: sz.scaledResidualInit ? 'residual' : 'normal' },
    ];
  },
  build: (b) => new RwkvTimeMix(b),
  stateFloats: (sz) => sz.dModel + sz.nHead * sz.dHead * sz.dHead,
  mup: false,
  exportable: () => false,
};

export const rwkvChannelMixer: MixerDef<RwkvChannelOptions> = {
  name: 'rwkvChannel',
  letter: 'K',
  summary: 'RWKV-6 channel mix, the FFN of an RWKV block, with token shift (options: hiddenMult)',
  options: rwkvChannelFields,
  module: 'rwkv_ffn',
  params: (sz, o, p): ParamSpec[] => {
    const C = sz.dModel, F = hiddenOf(sz, o);
    const { r1 } = depthRatios(sz, p);
    return [
      { name: `${p}.time_maa_k`, shape: [C], init: 'custom', fill: maaFill(r1) },
      { name: `${p}.time_maa_r`, shape: [C], init: 'custom', fill: maaFill(r1) },
      { name: `${p}.key.weight`, shape: [F, C], init: 'normal' },
      { name: `${p}.receptance.weight`, shape: [C, C], init: 'normal' },
      { name: `${p}.value.weight`, shape: [C, F], init: sz.scaledResidualInit ? 'residual' : 'normal' },
    ];
  },
  build: (b) => new RwkvChannelMix(b),
  stateFloats: (sz) => sz.dModel,
  mup: false,
  exportable: () => false,
};
