// Hook points in the TransformerLens manner: every activation a researcher may want passes
// through a named point, and the name is the module path plus `hook_<what>`
// (`blocks.3.attn.hook_z`, `blocks.3.hook_resid_post`, `ln_final.hook_normalized`).
// A hook function sees the activation and may return a replacement of the same shape.
// With no hooks registered the model pays one null check per point.
//
// Blocks with another token mixer (config `layers`, mixers/) have that mixer's points instead of
// the attention ones, under its module name, and `hook_mixer_out` in place of `hook_attn_out`:
//   linear  blocks.{i}.linear.hook_{q,k,v} [B,T,H,D], hook_phi_{q,k} [B,T,H,M] (feature maps),
//           hook_state [B,H,M,D+1] (sum of phi(k) v^T and of phi(k)), hook_z [B,T,H,D]
//   retnet  blocks.{i}.retnet.hook_{q,k,v} [B,T,H,D], hook_decay [B,T,H] (log gamma), hook_state [B,H,D,D],
//           hook_z [B,T,H,D] (after the group norm), hook_gate [B,T,C] (swish gate)
//   gla     blocks.{i}.gla.hook_{q,k,v} [B,T,H,D], hook_decay [B,T,H,D] (log alpha), hook_state [B,H,D,D],
//           hook_z [B,T,H,D], hook_gate [B,T,C]
//   mamba2  blocks.{i}.mamba2.hook_x [B,T,nH,P], hook_b, hook_c [B,T,N], hook_dt [B,T,nH], hook_decay [B,T,nH]
//           (dt * A), hook_state [B,nH,N,P], hook_y [B,T,dInner], hook_gate [B,T,dInner] (silu(z))
//   mamba   blocks.{i}.mamba.hook_x [B,T,E] (scan input), hook_dt [B,T,E] (before softplus), hook_B, hook_C [B,T,N],
//           hook_decay [B,T,E,N] (exp(delta A); only when hooked), hook_state [B,E,N], hook_gate [B,T,E] (silu(z)), hook_y [B,T,E]
//   rwkv    blocks.{i}.rwkv.hook_{r,k,v} [B,T,H,D], hook_decay [B,T,H,D] (w; decay = exp(-exp(w))), hook_gate [B,T,C],
//           hook_state [B,H,D,D], hook_wkv [B,T,H,D] (before the group norm)
//   rwkvChannel  blocks.{i}.rwkv_ffn.hook_key [B,T,hidden] (relu(key)^2), hook_gate [B,T,C] (sigmoid(receptance))
//   lowrank blocks.{i}.attn_lowrank.hook_{q,k,v} [B,T,H,D], hook_{k,v}_compressed [B,nBlocks*rank,H,D], hook_z [B,T,H,D]
// hook_state is the state after the call's last token; it runs only when hooked or generating, and
// in generation a replacement is what the next call starts from. Blocks without an MLP have no
// ln2/mlp points and no hook_resid_mid; MLP-only blocks have no ln1 or mixer points.
//
// Gradients of activations come from the engine: cache with { retainGrad: true } and read
// cache.get(name).grad after backward, or call act.registerGradHook(fn) inside a hook.

import { fmtShape, type Tensor } from '../engine/index.js';

/** Sees the activation at `name`; may return a replacement (same shape), or nothing to keep it. */
export type HookFn = (activation: Tensor, name: string) => Tensor | void;

/**
 * By name, or as [name or predicate over names, fn] pairs (several hooks per point run in order).
 * (The object form's keys are typed `...hook_...` so that in the pair form TypeScript can infer a
 * predicate's parameter; every hook name has that shape and a Record<string, HookFn> still fits.)
 */
export type HookSpec = { readonly [name: `${string}hook_${string}`]: HookFn | HookFn[] } | HookPair[];

/** Hook point names of block `i`, derived from module paths. Values are the full names. */
export function blockHookNames(i: number) {
  const p = `blocks.${i}`;
  return {
    residPre: `${p}.hook_resid_pre`, // [B, T, C]
    ln1: `${p}.ln1.hook_normalized`, // [B, T, C]
    ln1Scale: `${p}.ln1.hook_scale`, // [B, T, 1] the norm's divisor (hooking it runs the norm unfused)
    q: `${p}.attn.hook_q`, // [B, T, H, D] (before rotary)
    k: `${p}.attn.hook_k`, // [B, T, H, D] (before rotary)
    v: `${p}.attn.hook_v`, // [B, T, H, D]
    rotQ: `${p}.attn.hook_rot_q`, // [B, T, H, D] (rotary only)
    rotK: `${p}.attn.hook_rot_k`, // [B, T, H, D] (rotary only)
    attnScores: `${p}.attn.hook_attn_scores`, // [B, H, Tq, Tk] scaled, masked scores before softmax (runs attention unfused)
    pattern: `${p}.attn.hook_pattern`, // [B, H, Tq, Tk] (hooking it runs the layer's attention unfused)
    z: `${p}.attn.hook_z`, // [B, T, H, D] attention output per head, before attn.proj
    result: `${p}.attn.hook_result`, // [B, T, H, C] each head's share of attn.proj's output, without its bias (runs the projection per head)
    attnOut: `${p}.hook_attn_out`, // [B, T, C] (attention blocks)
    mixerOut: `${p}.hook_mixer_out`, // [B, T, C] the output of any other mixer (its own points: its file in mixers/)
    residMid: `${p}.hook_resid_mid`, // [B, T, C]
    ln2: `${p}.ln2.hook_normalized`, // [B, T, C]
    ln2Scale: `${p}.ln2.hook_scale`, // [B, T, 1]
    mlpPre: `${p}.mlp.hook_pre`, // [B, T, dMlp] before the activation (swiglu: the gate)
    mlpPreLinear: `${p}.mlp.hook_pre_linear`, // [B, T, dMlp] swiglu's up projection
    mlpPost: `${p}.mlp.hook_post`, // [B, T, dMlp] after the activation (swiglu: silu(gate) * up)
    mlpOut: `${p}.hook_mlp_out`, // [B, T, C]
    residPost: `${p}.hook_resid_post`, // [B, T, C]
  };
}

export type BlockHookNames = ReturnType<typeof blockHookNames>;

export const topHookNames = {
  embed: 'hook_embed', // [B, T, C] token embeddings
  posEmbed: 'hook_pos_embed', // [T, C] learned position embeddings (shared across the batch)
  lnFinalScale: 'ln_final.hook_scale', // [B, T, 1]
  lnFinal: 'ln_final.hook_normalized', // [B, T, C]
};

/** Compiled hooks: name -> functions, only for points that have some. */
export type HookTable = Map<string, HookFn[]>;

/** Resolves a spec against the model's hook points; an unknown name is an error that suggests close ones. */
export function compileHooks(spec: HookSpec | undefined, points: readonly string[]): HookTable | null {
  if (!spec) return null;
  const table: HookTable = new Map();
  const add = (name: string, fn: HookFn) => {
    const list = table.get(name);
    if (list) list.push(fn); else table.set(name, [fn]);
  };
  const known = new Set(points);
  for (const [sel, fn] of hookPairs(spec)) {
    if (typeof sel === 'string') {
      if (!known.has(sel)) throw new Error(`unknown hook point "${sel}"${suggest(sel, points)}`);
      add(sel, fn);
    } else {
      for (const n of points) if (sel(n)) add(n, fn);
    }
  }
  return table.size ? table : null;
}

export type HookPair = [string | ((name: string) => boolean), HookFn];

/** A spec as a list of [selector, fn] pairs, in order. */
export function hookPairs(spec: HookSpec | undefined): HookPair[] {
  if (!spec) return [];
  if (Array.isArray(spec)) return spec;
  return Object.entries(spec).flatMap(([n, f]) => (Array.isArray(f) ? f : [f]).map((g): HookPair => [n, g]));
}

function suggest(name: string, points: readonly string[]): string {
  const tail = name.split('.').pop() ?? name;
  const close = points.filter((p) => p.endsWith(tail)).slice(0, 4);
  return close.length ? `; did you mean ${close.map((c) => `"${c}"`).join(', ')}?` : ` (model.hookPoints() lists them)`;
}

/** Runs the hooks at `name`, checking that a replacement keeps the shape. */
export function runHooks(table: HookTable, name: string, x: Tensor): Tensor {
  const fns = table.get(name);
  if (!fns) return x;
  for (const fn of fns) {
    const y = fn(x, name);
    if (y && y !== x) {
      if (y.shape.length !== x.shape.length || y.shape.some((s, i) => s !== x.shape[i])) {
        throw new Error(`hook at ${name} returned shape ${fmtShape(y.shape)}, expected ${fmtShape(x.shape)}`);
      }
      x = y;
    }
  }
  return x;
}

/** Activations by hook name, from Transformer.runWithCache. */
export class ActivationCache {
  readonly activations = new Map<string, Tensor>();

  get(name: string): Tensor {
    const t = this.activations.get(name);
    if (!t) {
      const names = [...this.activations.keys()];
      throw new Error(`activation "${name}" is not in the cache${suggest(name, names)}`);
    }
    return t;
  }

  has(name: string): boolean { return this.activations.has(name); }

  /** `block(3, 'hook_resid_post')` is `get('blocks.3.hook_resid_post')`. */
  block(layer: number, rel: string): Tensor { return this.get(`blocks.${layer}.${rel}`); }

  names(): string[] { return [...this.activations.keys()]; }
}
