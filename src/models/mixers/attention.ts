// Softmax attention, the transformer's own mixer, with two sparse options that run on the
// fused kernel's masks (which visit only the key range each query tile can see):
//   window       sliding window: a query sees its last `window` keys (O(T * window) work and,
//                in generation, a rolling cache of window - 1 keys)
//   blockSparse  the Sparse Transformer's fixed pattern at block granularity: a query block sees
//                its `localBlocks` nearest key blocks (itself included) and every `stride`-th
//                block (blocks stride-1, 2*stride-1, ...: the "summary" columns), causally.
// Parameters (names unchanged from before mixers existed):
//   blocks.{i}.attn.qkv.weight [3C, C]  rows q, k, v; head h owns rows h*D..h*D+D-1 of each  (+ .bias)
//   blocks.{i}.attn.proj.weight [C, C]  (+ .bias)
// Generation keeps keys (after rotary) and values per layer. With attention sinks (StreamingLLM)
// keys are kept before rotary and rotated by their index in the cache at every call, so the
// positions a query sees stay inside the trained range however long the text grows.

import { z } from 'zod';
import {
  Tensor, add, attention, attentionQkv, concat, matmul, maskedFill, mul, permute, reshape, rope, slice, softmax, split, sum, linear,
  type AttentionMask,
} from '../../engine/index.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, MixerModelSizes, MixerState, ParamSpec } from './types.js';

const positiveInt = z.number().int().positive();

const blockSparseFields = z.object({
  /** Tokens per block (the mask's granularity). */
  blockSize: positiveInt.default(16),
  /** Key blocks a query block sees ending at its own (1: only its own block). */
  localBlocks: positiveInt.default(2),
  /** Every stride-th key block (index stride-1, 2*stride-1, ...) is visible to all later query blocks. */
  stride: positiveInt.default(4),
}).strict();

const attentionFields = z.object({
  /** Sliding window in tokens (a query sees itself and the window - 1 keys before it); null: full causal. */
  window: positiveInt.nullable().default(null),
  /** Fixed strided + local block-sparse pattern; null: dense. */
  blockSparse: blockSparseFields.nullable().default(null),
}).strict();

export type AttentionMixerOptions = z.output<typeof attentionFields>;
export type BlockSparseOptions = z.output<typeof blockSparseFields>;

/** The block layout of a blockSparse pattern over n blocks ([n, n], causal). */
export function blockSparseLayout(o: BlockSparseOptions, nBlocks: number): Uint8Array {
  const layout = new Uint8Array(nBlocks * nBlocks);
  for (let qb = 0; qb < nBlocks; qb++) {
    for (let kb = 0; kb <= qb; kb++) {
      if (qb - kb < o.localBlocks || kb % o.stride === o.stride - 1) layout[qb * nBlocks + kb] = 1;
    }
  }
  return layout;
}

/** The kernel mask for these options, covering nCtx positions. */
export function attentionMask(o: AttentionMixerOptions, nCtx: number): AttentionMask {
  if (o.window !== null) return { kind: 'sliding', window: o.window };
  if (o.blockSparse) {
    const n = Math.ceil(nCtx / o.blockSparse.blockSize);
    return { kind: 'block', blockSize: o.blockSparse.blockSize, layout: blockSparseLayout(o.blockSparse, n), nKeyBlocks: n };
  }
  return { kind: 'causal' };
}

/** Hook names of the attention of block i (TransformerLens's; unchanged). */
export function attentionHookNames(prefix: string) {
  return {
    q: `${prefix}.hook_q`, // [B, T, H, D] (before rotary)
    k: `${prefix}.hook_k`, // [B, T, H, D] (before rotary)
    v: `${prefix}.hook_v`, // [B, T, H, D]
    rotQ: `${prefix}.hook_rot_q`, // [B, T, H, D] (rotary only)
    rotK: `${prefix}.hook_rot_k`, // [B, T, H, D] (rotary only)
    attnScores: `${prefix}.hook_attn_scores`, // [B, H, Tq, Tk] scaled, masked scores before softmax (runs attention unfused)
    pattern: `${prefix}.hook_pattern`, // [B, H, Tq, Tk] (runs the layer's attention unfused)
    z: `${prefix}.hook_z`, // [B, T, H, D] attention output per head, before attn.proj
    result: `${prefix}.hook_result`, // [B, T, H, C] each head's share of attn.proj's output, without its bias
  };
}

/** Keys and values of one attention layer during generation. */
class AttentionState implements MixerState {
  constructor(readonly k: Tensor, readonly v: Tensor) {}
  floats(): number { return this.k.size + this.v.size; }
}

/** Rows [0, keep) and the last `tail` rows of a [B, T, H, D] tensor along T. */
function keepEnds(x: Tensor, keep: number, tail: number): Tensor {
  const T = x.shape[1];
  if (keep + tail >= T) return x;
  const parts = [];
  if (keep > 0) parts.push(slice(x, 1, 0, keep));
  if (tail > 0) parts.push(slice(x, 1, T - tail, T));
  return parts.length === 1 ? parts[0] : concat(parts, 1);
}

class AttentionMixer implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof attentionHookNames>;
  private readonly qkv: { weight: Tensor; bias: Tensor | null };
  private readonly proj: { weight: Tensor; bias: Tensor | null };
  private readonly mask: AttentionMask;

  constructor(private readonly b: MixerBuild<AttentionMixerOptions>) {
    this.h = attentionHookNames(b.prefix);
    const h = this.h;
    this.hookPoints = [h.q, h.k, h.v, ...(b.rotary ? [h.rotQ, h.rotK] : []), h.attnScores, h.pattern, h.z, h.result];
    this.qkv = { weight: b.param(`${b.prefix}.qkv.weight`), bias: b.optParam(`${b.prefix}.qkv.bias`) };
    this.proj = { weight: b.param(`${b.prefix}.proj.weight`), bias: b.optParam(`${b.prefix}.proj.bias`) };
    this.mask = attentionMask(b.options, b.sizes.nCtx);
  }

  forward(x: Tensor, s: MixerCall): Tensor {
    const { nHead: H, dHead: D, dModel: C } = this.b.sizes;
    const o = this.b.options, rotary = this.b.rotary, h = this.h;
    const [B, T] = x.shape;
    const qkv = linear(x, this.qkv.weight, this.qkv.bias); // [B, T, 3C]
    const decoding = s.setState !== undefined;
    // Nothing needs q, k and v as tensors of their own (no rotation, no generation state, no
    // padding, no hook on them or on the pattern): the kernel reads them in place from qkv, which
    // saves the split copies and their gradients' concatenation, and gives the same numbers.
    const inPlace = !rotary && !decoding && !s.padding && ![h.q, h.k, h.v, h.pattern, h.attnScores].some((n) => s.hooks?.has(n));
    if (inPlace) {
      const z = s.at(h.z, attentionQkv(qkv, H, { mask: this.mask, docQ: s.docIds, docK: s.docIds, scale: this.b.attnScale })); // [B, T, H, D]
      return this.project(z, s);
    }
    const [q0, k0, v0] = split(qkv, 3, -1); // 3 x [B, T, C]
    let q = s.at(h.q, reshape(q0, [B, T, H, D])); // [B, T, H, D]
    let k = s.at(h.k, reshape(k0, [B, T, H, D])); // [B, T, H, D]
    let v = s.at(h.v, reshape(v0, [B, T, H, D])); // [B, T, H, D]
    const prev = (s.state ?? null) as AttentionState | null;
    if (decoding && s.sinks) {
      if (o.blockSparse) throw new Error(`${this.b.prefix}: attention sinks need positions inside the cache, which a block-sparse layout (fixed to absolute positions) cannot use`);
      // StreamingLLM: keys cached before rotary; positions are indices inside the cache.
      let kc = k, vc = v;
      const held = !prev ? 0 : o.window !== null ? Math.min(o.window - 1, prev.k.shape[1]) : s.pos0;
      // held 0: the chunk fills the whole window, so nothing before it stays in view.
      if (prev && held > 0) {
        const keep = o.window !== null ? 0 : Math.min(s.sinks.keep, held);
        kc = concat([keepEnds(prev.k, keep, held - keep), k], 1); // [B, Tk, H, D]
        vc = concat([keepEnds(prev.v, keep, held - keep), v], 1);
      }
      const Tk = kc.shape[1];
      s.setState!(new AttentionState(o.window !== null ? keepEnds(kc, 0, o.window - 1) : kc, o.window !== null ? keepEnds(vc, 0, o.window - 1) : vc));
      if (rotary) {
        q = s.at(h.rotQ, rope(q, rotary, Tk - T)); // [B, T, H, D]
        kc = rope(kc, rotary, 0); // [B, Tk, H, D] (hook_rot_k is not run here: the cached keys are re-rotated each call)
      }
      k = kc; v = vc;
    } else {
      if (rotary && s.padding) {
        // Per-row positions: rotate all B*T rows as one sequence against tables gathered at each row's positions.
        const tables = s.padding.ropeTables(rotary);
        q = s.at(h.rotQ, reshape(rope(reshape(q, [1, B * T, H, D]), tables, 0), [B, T, H, D])); // [B, T, H, D]
        k = s.at(h.rotK, reshape(rope(reshape(k, [1, B * T, H, D]), tables, 0), [B, T, H, D])); // [B, T, H, D]
      } else if (rotary) {
        q = s.at(h.rotQ, rope(q, rotary, s.pos0)); // [B, T, H, D]
        k = s.at(h.rotK, rope(k, rotary, s.pos0)); // [B, T, H, D]
      }
      if (decoding) {
        if (prev) { k = concat([prev.k, k], 1); v = concat([prev.v, v], 1); } // [B, Tk, H, D]
        // A sliding window never looks further back than window - 1 keys: the cache rolls.
        s.setState!(o.window !== null ? new AttentionState(keepEnds(k, 0, o.window - 1), keepEnds(v, 0, o.window - 1)) : new AttentionState(k, v));
      }
    }
    // Left padding as documents: padding is document 0, real tokens document 1, so real queries never see padding keys.
    const docQ = s.padding ? s.padding.realQ : s.docIds, docK = s.padding ? s.padding.realK(k.shape[1]) : s.docIds;
    const z = s.at(h.z, s.hooks?.has(h.pattern) || s.hooks?.has(h.attnScores)
      ? attentionUnfused(q, k, v, docQ && docK ? { q: docQ, k: docK } : null, (pat) => s.at(h.pattern, pat), this.b.attnScale, (sc) => s.at(h.attnScores, sc), this.mask)
      : attention(q, k, v, { mask: this.mask, docQ, docK, scale: this.b.attnScale })); // [B, T, H, D]
    return this.project(z, s);
  }

  /** attn.proj of z [B, T, H, D] -> [B, T, C]; per head through hook_result when it is hooked. */
  private project(z: Tensor, s: MixerCall): Tensor {
    const { nHead: H, dHead: D, dModel: C } = this.b.sizes;
    const [B, T] = z.shape;
    const h = this.h;
    if (!s.hooks?.has(h.result)) return linear(reshape(z, [B, T, C]), this.proj.weight, this.proj.bias); // [B, T, C]
    // Per head: result[b, t, h] = z[b, t, h] W_O[:, hD:(h+1)D]^T; their sum (plus the bias) is the projection.
    const wo = permute(reshape(this.proj.weight, [C, H, D]), [1, 2, 0]); // [H, D, C]
    const zh = permute(reshape(z, [B * T, H, D]), [1, 0, 2]); // [H, B*T, D]
    const result = s.at(h.result, reshape(permute(matmul(zh, wo), [1, 0, 2]), [B, T, H, C])); // [B, T, H, C]
    const out = sum(result, 2); // [B, T, C]
    return this.proj.bias ? add(out, this.proj.bias) : out;
  }
}

/** True when query i of Tq (at position Tk - Tq + i) may see key j under `mask` (the kernel's rule). */
function visible(mask: AttentionMask, Tq: number, Tk: number, i: number, j: number): boolean {
  const p = Tk - Tq + i;
  if (mask.kind !== 'none' && j > p) return false;
  if (mask.kind === 'sliding' && j <= p - mask.window) return false;
  if (mask.kind === 'block' && !mask.layout[Math.floor(p / mask.blockSize) * mask.nKeyBlocks + Math.floor(j / mask.blockSize)]) return false;
  return true;
}

/**
 * The attention the fused kernel computes, written out so the pattern [B, H, Tq, Tk] exists
 * as a tensor (for hook_pattern). Same masks; queries are the last Tq positions.
 * `scale` defaults to 1/sqrt(D), as the kernel's does. `onScores` sees the masked scores before softmax (hook_attn_scores).
 */
export function attentionUnfused(
  q: Tensor, k: Tensor, v: Tensor, docIds: Tensor | { q: Tensor; k: Tensor } | null, onPattern: (p: Tensor) => Tensor = (p) => p, scale?: number,
  onScores: (s: Tensor) => Tensor = (s) => s, mask: AttentionMask = { kind: 'causal' },
): Tensor {
  const [B, Tq, , D] = q.shape;
  const Tk = k.shape[1];
  // Document ids of queries and keys (the same tensor for packed sequences; left padding gives two).
  const docQ = docIds instanceof Tensor ? docIds : docIds?.q ?? null, docK = docIds instanceof Tensor ? docIds : docIds?.k ?? null;
  const blocked = new Float32Array(B * Tq * Tk); // 1 where query i may not see key j
  for (let b = 0; b < B; b++) for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) {
    const otherDoc = docQ !== null && docK !== null && docQ.i[b * Tq + i] !== docK.i[b * Tk + j];
    blocked[(b * Tq + i) * Tk + j] = !visible(mask, Tq, Tk, i, j) || otherDoc ? 1 : 0;
  }
  const qh = permute(q, [0, 2, 1, 3]); // [B, H, Tq, D]
  const kh = permute(k, [0, 2, 1, 3]); // [B, H, Tk, D]
  const vh = permute(v, [0, 2, 1, 3]); // [B, H, Tk, D]
  const scores = mul(matmul(qh, kh, { transB: true }), scale ?? 1 / Math.sqrt(D)); // [B, H, Tq, Tk]
  const m = new Tensor(q.dtype === 'float64' ? Float64Array.from(blocked) : blocked, [B, 1, Tq, Tk]);
  const pattern = onPattern(softmax(onScores(maskedFill(scores, m, -Infinity)))); // [B, H, Tq, Tk]
  return permute(matmul(pattern, vh), [0, 2, 1, 3]); // [B, Tq, H, D]
}

export const attentionMixer: MixerDef<AttentionMixerOptions> = {
  name: 'attention',
  letter: 'A',
  summary: 'softmax attention (options: window, blockSparse)',
  options: attentionFields,
  module: 'attn',
  check: (sz, o) => {
    const out: { field: string; message: string }[] = [];
    if (o.window !== null && o.blockSparse !== null) out.push({ field: 'window', message: 'give window or blockSparse, not both' });
    return out;
  },
  params: (sz: MixerModelSizes, _o, p): ParamSpec[] => {
    const C = sz.dModel;
    const specs: ParamSpec[] = [{ name: `${p}.qkv.weight`, shape: [3 * C, C], init: 'normal' }];
    if (sz.bias) specs.push({ name: `${p}.qkv.bias`, shape: [3 * C], init: 'zeros' });
    specs.push({ name: `${p}.proj.weight`, shape: [C, C], init: sz.scaledResidualInit ? 'residual' : 'normal' });
    if (sz.bias) specs.push({ name: `${p}.proj.bias`, shape: [C], init: 'zeros' });
    return specs;
  },
  build: (b) => new AttentionMixer(b),
  stateFloats: (sz, o, tokens) => 2 * sz.dModel * (o.window !== null ? Math.min(tokens, o.window - 1) : tokens),
  mup: true,
  exportable: (o) => o.window === null && o.blockSparse === null,
};
