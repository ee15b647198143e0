// Causal low-rank attention: Linformer's compression of keys and values along the length,
// made causal by compressing block by block. Linformer projects all T keys to k rows with a
// learned [k, T] matrix, which lets every query see the future. Here the sequence is cut
// into blocks of `blockSize` (L) tokens and each complete block j is compressed to `rank` (r)
// rows, K~_j = E_k K_j and V~_j = E_v V_j with learned E_k, E_v [r, L] shared by the heads. A
// query in block b attends, in one softmax, to the compressed rows of blocks 0..b-1 and to
// the raw keys of its own block up to itself (engine lowrankAttention), so nothing it sees
// lies in its future and no summary mixes in a key after it.
//
// Cost: a query sees b r + (its offset in the block) keys, so training work is
// O(T (T r / L + L) D) - the quadratic term shrinks by L / r (with L = 64, r = 8: 8 times
// fewer keys than full attention at long T) but stays quadratic. Generation keeps the
// compressed rows and the raw keys of the current block only: T r / L + L rows instead of T.
// Parameters: qkv and proj as attention's (blocks.{i}.attn_lowrank.qkv.weight [3C, C],
// proj.weight [C, C], biases with model.bias), compress_k and compress_v [r, L] (init
// normal(0, 1/sqrt(L)), as Linformer's projections). Rotary positions are applied to q and k
// before compression; packed documents are refused (summaries would mix documents).

import { z } from 'zod';
import { Tensor, concat, linear, lowrankAttention, matmul, reshape, rope, slice, split } from '../../engine/index.js';
import type { Mixer, MixerBuild, MixerCall, MixerDef, MixerState, ParamSpec } from './types.js';

const lowrankFields = z.object({
  /** Tokens per block (L): each complete block is compressed to `rank` rows. */
  blockSize: z.number().int().positive().default(64),
  /** Compressed rows per block (r). */
  rank: z.number().int().positive().default(8),
}).strict();

export type LowRankOptions = z.output<typeof lowrankFields>;

export function lowrankHookNames(prefix: string) {
  return {
    q: `${prefix}.hook_q`, // [B, T, H, D] (after rotary when the model uses it)
    k: `${prefix}.hook_k`, // [B, T, H, D]
    v: `${prefix}.hook_v`, // [B, T, H, D]
    kc: `${prefix}.hook_k_compressed`, // [B, nBlocks * r, H, D] compressed keys of the complete blocks
    vc: `${prefix}.hook_v_compressed`, // [B, nBlocks * r, H, D]
    z: `${prefix}.hook_z`, // [B, T, H, D] attention output per head, before proj
  };
}

/** Generation state: compressed rows of the complete blocks and the raw keys/values since the current block began. */
export class LowRankState implements MixerState {
  constructor(readonly kc: Tensor, readonly vc: Tensor, readonly k: Tensor, readonly v: Tensor, readonly rawStart: number) {}
  floats(): number { return this.kc.size + this.vc.size + this.k.size + this.v.size; }
}

/** Compresses the complete blocks of x [B, n L, H, D] with E [r, L]: [B, n r, H, D]. */
function compress(x: Tensor, E: Tensor): Tensor {
  const [B, T, H, D] = x.shape;
  const [r, L] = E.shape;
  const n = T / L;
  if (n === 0) return new Tensor(x.dtype === 'float64' ? new Float64Array(0) : new Float32Array(0), [B, 0, H, D]);
  const blocks = reshape(x, [B * n, L, H * D]);
  return reshape(matmul(E, blocks), [B, n * r, H, D]); // [B n, r, H D] -> [B, n r, H, D]
}

class LowRankMixer implements Mixer {
  readonly hookPoints: string[];
  private readonly h: ReturnType<typeof lowrankHookNames>;
  private readonly p: (n: string) => Tensor;
  private readonly op: (n: string) => Tensor | null;

  constructor(private readonly b: MixerBuild<LowRankOptions>) {
    this.h = lowrankHookNames(b.prefix);
    this.hookPoints = Object.values(this.h);
    this.p = (n) => b.param(`${b.prefix}.${n}`);
    this.op = (n) => b.optParam(`${b.prefix}.${n}`);
  }

  forward(x: Tensor, s: MixerCall): Tensor {
    if (s.docIds) throw new Error(`${this.b.prefix}: lowrank attention does not support packed documents (a block summary would mix documents)`);
    if (s.sinks) throw new Error(`${this.b.prefix}: lowrank attention keeps block summaries by absolute position; attention sinks (positions inside a rolling cache) do not apply to it`);
    const { nHead: H, dHead: D, dModel: C } = this.b.sizes;
    const { blockSize: L, rank } = this.b.options;
    const h = this.h, rotary = this.b.rotary;
    const [B, T] = x.shape;
    const [q0, k0, v0] = split(linear(x, this.p('qkv.weight'), this.op('qkv.bias')), 3, -1);
    let q = reshape(q0, [B, T, H, D]), k = reshape(k0, [B, T, H, D]);
    if (rotary) { q = rope(q, rotary, s.pos0); k = rope(k, rotary, s.pos0); }
    q = s.at(h.q, q); k = s.at(h.k, k);
    const v = s.at(h.v, reshape(v0, [B, T, H, D]));
    const Ek = this.p('compress_k'), Ev = this.p('compress_v');
    // Raw keys from rawStart (a block start) to the end of this call, and the summaries of every complete block before.
    const prev = (s.state ?? null) as LowRankState | null;
    const rawStart = prev ? prev.rawStart : s.pos0;
    if (rawStart % L !== 0) throw new Error(`${this.b.prefix}: a lowrank cache must start at a block boundary (position ${rawStart}, blockSize ${L})`);
    const kr = prev ? concat([prev.k, k], 1) : k, vr = prev ? concat([prev.v, v], 1) : v;
    const rawEnd = rawStart + kr.shape[1];
    const lastBlock = Math.floor((rawEnd - 1) / L) * L; // start of the block of the call's last query
    const nNew = (lastBlock - rawStart) / L; // complete blocks of the raw keys that later queries need compressed
    let kc = compress(slice(kr, 1, 0, nNew * L), Ek), vc = compress(slice(vr, 1, 0, nNew * L), Ev);
    if (prev) { kc = concat([prev.kc, kc], 1); vc = concat([prev.vc, vc], 1); }
    kc = s.at(h.kc, kc); vc = s.at(h.vc, vc);
    const z = s.at(h.z, lowrankAttention(q, kr, vr, kc, vc, { blockSize: L, rank, pos0: rawStart, scale: this.b.attnScale }));
    if (s.setState) {
      // Keep the raw keys of the block the next token falls in; a block just completed is compressed now.
      const keepFrom = Math.floor(rawEnd / L) * L;
      let kcNext = kc, vcNext = vc;
      if (keepFrom > lastBlock) {
        const done = (t: Tensor) => slice(t, 1, lastBlock - rawStart, keepFrom - rawStart);
        kcNext = concat([kc, compress(done(kr), Ek)], 1);
        vcNext = concat([vc, compress(done(vr), Ev)], 1);
      }
      const tail = (t: Tensor) => slice(t, 1, keepFrom - rawStart, rawEnd - rawStart);
      s.setState(new LowRankState(kcNext, vcNext, tail(kr), tail(vr), keepFrom));
    }
    return linear(reshape(z, [B, T, C]), this.p('proj.weight'), this.op('proj.bias'));
  }
}

export const lowrankMixer: MixerDef<LowRankOptions> = {
  name: 'lowrank',
  letter: 'P',
  summary: 'causal low-rank attention: blocks compressed Linformer-style, own block exact (options: blockSize, rank)',
  options: lowrankFields,
  module: 'attn_lowrank',
  check: (_sz, o) => (o.rank > o.blockSize ? [{ field: 'rank', message: `must not exceed blockSize (${o.blockSize}): a summary larger than its block compresses nothing` }] : []),
  params: (sz, o, p): ParamSpec[] => {
    const C = sz.dModel, L = o.blockSize;
    const specs: ParamSpec[] = [{ name: `${p}.qkv.weight`, shape: [3 * C, C], init: 'normal' }];
    if (sz.bias) specs.push({ name: `${p}.qkv.bias`, shape: [3 * C], init: 'zeros' });
    specs.push(
      { name: `${p}.compress_k`, shape: [o.rank, L], init: 'custom', fill: (d, rng) => rng.fillNormal(d, 1 / Math.sqrt(L)) },
      { name: `${p}.compress_v`, shape: [o.rank, L], init: 'custom', fill: (d, rng) => rng.fillNormal(d, 1 / Math.sqrt(L)) },
      { name: `${p}.proj.weight`, shape: [C, C], init: sz.scaledResidualInit ? 'residual' : 'normal' },
    );
    if (sz.bias) specs.push({ name: `${p}.proj.bias`, shape: [C], init: 'zeros' });
    return specs;
  },
  build: (b) => new LowRankMixer(b),
  stateFloats: (sz, o, tokens) => 2 * sz.dModel * (Math.floor(tokens / o.blockSize) * o.rank + (tokens % o.blockSize)),
  mup: false,
  exportable: () => false,
};
