// A decoder-only, pre-norm transformer in both common layouts, chosen by the config:
//   GPT-2:  learned positions, LayerNorm, GELU MLP, biases, tied head
//   LLaMA:  rotary positions, RMSNorm, SwiGLU MLP, no biases, separate head
// and any mix of those switches. It reads top to bottom in forward order: parameter layout and
// init, attention, MLP, block, model. Hook points are in hooks.ts; generation in sampling.ts.
//
// Legend: B batch, T tokens (Tk keys, with a KV cache), C dModel, H nHead, D dHead,
// F dMlp, V vocabSize.
//
// Parameter names (a flat, ordered Map; the module paths are also the hook paths):
//   wte.weight                    [V, C]   token embedding (also the head when tied)
//   wpe.weight                    [nCtx, C] learned positions only
//   blocks.{i}.ln1.weight         [C]      (+ .bias [C] for LayerNorm with bias)
//   blocks.{i}.attn.qkv.weight    [3C, C]  rows: q, then k, then v; head h owns rows h*D..h*D+D-1 of each
//   blocks.{i}.attn.qkv.bias      [3C]     (bias on)
//   blocks.{i}.attn.proj.weight   [C, C]   (+ .bias [C])
//   blocks.{i}.ln2.weight         [C]      (+ .bias)
//   blocks.{i}.mlp.fc.weight      [F, C] gelu, [2F, C] swiglu (rows: gate, then up)   (+ .bias)
//   blocks.{i}.mlp.proj.weight    [C, F]   (+ .bias [C])
//   ln_final.weight               [C]      (+ .bias)
//   lm_head.weight                [V, C]   untied only
// Linear weights are [out, in] (y = x W^T + b). q/k/v and gate/up are fused so one GEMM does them.
//
// muP (config.mup; the rules are in mup.ts) changes three things here and nothing else: the init
// std of each parameter, the attention scale (1/dHead instead of 1/sqrt(dHead), anchored at the
// base head size) and a multiplier on the final norm's output before the head. Without it every
// value is computed exactly as before.

import {
  Rng, Tensor, add, arange, attention, attentionQkv, concat, crossEntropy, dropout, embedding, gelu, layerNorm, linear, linearAct,
  matmul, maskedFill, mean, mul, permute, reshape, rmsNorm, rope, ropeTables, silu, slice, softmax, split, sqrt,
  square, sub, div, sum, tensor, fmtShape,
} from '../engine/index.js';
import { paramSpecs, parseModelConfig, type ModelConfig, type ModelConfigInput } from './config.js';
import { mupAttentionScale, mupBaseShapes, mupInitScales, mupOutputMultiplier, mupZeroQuery } from './mup.js';
import {
  ActivationCache, blockHookNames, compileHooks, hookPairs, runHooks, topHookNames,
  type BlockHookNames, type HookFn, type HookPair, type HookSpec, type HookTable,
} from './hooks.js';

export type FloatDType = 'float32' | 'float64';

// ---- init ----------------------------------------------------------------------------

/**
 * Fresh parameters, drawn in paramSpecs order from one Rng(seed): the same seed gives the same
 * model. Under muP each std is multiplied by its mup.ts init scale (the draws are the same, so
 * widths and parametrizations stay comparable draw for draw).
 */
export function initParams(c: ModelConfig, seed: number, dtype: FloatDType = 'float32'): Map<string, Tensor> {
  const rng = new Rng(seed);
  const residualStd = c.initStd / Math.sqrt(2 * c.nLayer);
  const mupScales = c.mup ? mupInitScales(c) : null;
  const params = new Map<string, Tensor>();
  for (const s of paramSpecs(c)) {
    const data = dtype === 'float64' ? new Float64Array(s.shape.reduce((p, n) => p * n, 1)) : new Float32Array(s.shape.reduce((p, n) => p * n, 1));
    const std = s.init === 'residual' ? residualStd : c.initStd;
    if (s.init === 'normal' || s.init === 'residual') rng.fillNormal(data, mupScales ? std * mupScales.get(s.name)! : std);
    else if (s.init === 'ones') data.fill(1);
    if (mupScales) mupZeroQuery(c, s.name, data);
    const t = new Tensor(data, s.shape, true);
    t.name = s.name;
    params.set(s.name, t);
  }
  return params;
}

/** Throws listing every missing, unexpected or misshapen parameter. */
export function checkParams(c: ModelConfig, params: Map<string, Tensor>): void {
  const problems: string[] = [];
  const specs = paramSpecs(c);
  const expected = new Set(specs.map((s) => s.name));
  for (const s of specs) {
    const t = params.get(s.name);
    if (!t) problems.push(`missing ${s.name} ${fmtShape(s.shape)}`);
    else if (t.shape.length !== s.shape.length || t.shape.some((n, i) => n !== s.shape[i])) problems.push(`${s.name} is ${fmtShape(t.shape)}, expected ${fmtShape(s.shape)}`);
    else if (t.dtype === 'int32') problems.push(`${s.name} is int32, expected a float tensor`);
  }
  for (const name of params.keys()) if (!expected.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length) throw new Error(`parameters do not match the config: ${problems.join('; ')}`);
}

// ---- pieces --------------------------------------------------------------------------

interface Linear { weight: Tensor; bias: Tensor | null }
interface Norm { weight: Tensor; bias: Tensor | null }
interface Block { ln1: Norm; qkv: Linear; proj: Linear; ln2: Norm; fc: Linear; mlpProj: Linear; hooks: BlockHookNames }

/** Per-layer keys and values from earlier calls; forward appends to it. Keys are stored after rotary. */
export class KVCache {
  readonly k: (Tensor | null)[];
  readonly v: (Tensor | null)[];
  /** Tokens cached so far: the position of the next token. */
  length = 0;
  constructor(nLayer: number) {
    this.k = new Array(nLayer).fill(null);
    this.v = new Array(nLayer).fill(null);
  }
}

export interface ForwardOptions {
  /** int32 [B, T]; with them the result has `loss` (mean cross-entropy over non-ignored tokens). */
  targets?: Tensor;
  /** Targets equal to this are skipped. Default -1. */
  ignoreIndex?: number;
  /** Float [B, T] per-token loss weights; the mean divides by their sum over non-ignored tokens. */
  lossWeights?: Tensor;
  /** int32 [B, T] document ids: a token attends only within its document (packed sequences). */
  docIds?: Tensor;
  /** Dropout on (needs config.dropout > 0). */
  training?: boolean;
  /** Dropout randomness; defaults to model.dropoutRng. */
  rng?: Rng;
  hooks?: HookSpec;
  /** Decoding: attend to cached keys too, start positions at cache.length, append this call's keys. */
  kvCache?: KVCache;
  /** Compute logits for the last position only ([B, 1, V]); for sampling. */
  lastLogitsOnly?: boolean;
}

export interface ForwardResult {
  logits: Tensor; // [B, T, V]
  loss?: Tensor; // []
}

export interface CacheOptions extends ForwardOptions {
  /** Which points to cache (default: all, which includes hook_pattern and so runs attention unfused). */
  names?: string[] | ((name: string) => boolean);
  /** Keep .grad on the cached activations after backward. */
  retainGrad?: boolean;
}

// ---- the model -------------------------------------------------------------------------

export class Transformer {
  readonly config: ModelConfig;
  /** All parameters in a fixed order; the tensors are what forward reads (load with loadParams). */
  readonly params: Map<string, Tensor>;
  readonly dtype: FloatDType;
  /** Randomness for dropout, seeded from the init seed; save its state with checkpoints. */
  readonly dropoutRng: Rng;
  private readonly wte: Tensor;
  private readonly wpe: Tensor | null;
  private readonly blocks: Block[];
  private readonly lnFinal: Norm;
  private readonly head: Tensor;
  private readonly rotary: { cos: Tensor; sin: Tensor } | null;
  private readonly points: string[];
  /** muP's attention scale; undefined: the kernel's 1/sqrt(dHead). */
  private readonly attnScale: number | undefined;
  /** muP's multiplier on the final norm's output (outputMult * baseWidth / dModel); 1 without muP. */
  private readonly logitScale: number;

  /** A fresh model from `seed`, or one over given parameters (checked against the config, used as is). */
  constructor(config: ModelConfig | ModelConfigInput, opts: { seed?: number; dtype?: FloatDType; params?: Map<string, Tensor> } = {}) {
    this.config = parseModelConfig(config);
    const c = this.config;
    const seed = opts.seed ?? 0;
    if (opts.params) {
      checkParams(c, opts.params);
      const dts = new Set([...opts.params.values()].map((t) => t.dtype));
      if (dts.size > 1) throw new Error(`parameters mix dtypes: ${[...dts].join(', ')}`);
      this.params = opts.params;
      this.dtype = [...dts][0] as FloatDType;
      if (opts.dtype && opts.dtype !== this.dtype) throw new Error(`dtype ${opts.dtype} asked but the parameters are ${this.dtype}`);
      for (const [name, t] of this.params) { t.requireGrad(); t.name ??= name; }
    } else {
      this.dtype = opts.dtype ?? 'float32';
      this.params = initParams(c, seed, this.dtype);
    }
    this.dropoutRng = new Rng((seed + 0x9e3779b9) >>> 0);
    const p = (name: string) => this.params.get(name)!;
    const opt = (name: string) => this.params.get(name) ?? null;
    const lin = (n: string): Linear => ({ weight: p(`${n}.weight`), bias: opt(`${n}.bias`) });
    this.wte = p('wte.weight');
    this.wpe = opt('wpe.weight');
    this.blocks = Array.from({ length: c.nLayer }, (_, i) => ({
      ln1: lin(`blocks.${i}.ln1`), qkv: lin(`blocks.${i}.attn.qkv`), proj: lin(`blocks.${i}.attn.proj`),
      ln2: lin(`blocks.${i}.ln2`), fc: lin(`blocks.${i}.mlp.fc`), mlpProj: lin(`blocks.${i}.mlp.proj`),
      hooks: blockHookNames(i),
    }));
    this.lnFinal = lin('ln_final');
    this.head = c.tiedEmbeddings ? this.wte : p('lm_head.weight');
    this.rotary = c.positions === 'rotary' ? ropeTables(c.nCtx, c.dHead, c.ropeTheta, this.dtype) : null;
    this.points = this.listHookPoints();
    this.attnScale = c.mup ? mupAttentionScale(c) : undefined;
    this.logitScale = c.mup ? mupOutputMultiplier(c) : 1;
  }

  /** muP's base shapes by parameter name (what checkpoints store and resume checks); null without muP. */
  baseShapes(): Record<string, number[]> | null {
    return this.config.mup ? mupBaseShapes(this.config) : null;
  }

  parameters(): Tensor[] { return [...this.params.values()]; }

  numParams(): number { return this.parameters().reduce((n, t) => n + t.size, 0); }

  zeroGrad(): void { for (const t of this.params.values()) t.grad = null; }

  /** Copies values into the existing parameter tensors (so optimizers keep their references). */
  loadParams(values: Map<string, Tensor>): void {
    checkParams(this.config, values);
    for (const [name, t] of this.params) t.data.set(values.get(name)!.data);
  }

  /** Every hook point of this model, in forward order. */
  hookPoints(): string[] { return [...this.points]; }

  private listHookPoints(): string[] {
    const rotary = this.config.positions === 'rotary', swiglu = this.config.mlp === 'swiglu';
    const out: string[] = [topHookNames.embed];
    if (!rotary) out.push(topHookNames.posEmbed);
    for (const b of this.blocks) {
      const h = b.hooks;
      out.push(h.residPre, h.ln1Scale, h.ln1, h.q, h.k, h.v, ...(rotary ? [h.rotQ, h.rotK] : []), h.attnScores, h.pattern, h.z,
        h.result, h.attnOut, h.residMid, h.ln2Scale, h.ln2, h.mlpPre, ...(swiglu ? [h.mlpPreLinear] : []), h.mlpPost, h.mlpOut, h.residPost);
    }
    out.push(topHookNames.lnFinalScale, topHookNames.lnFinal);
    return out;
  }

  forward(ids: Tensor, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    if (ids.dtype !== 'int32' || ids.ndim !== 2) throw new Error(`forward: ids must be int32 [B, T], got ${ids.dtype} ${fmtShape(ids.shape)}`);
    const [B, T] = ids.shape;
    const cache = opts.kvCache ?? null;
    const pos0 = cache ? cache.length : 0;
    if (pos0 + T > c.nCtx) throw new Error(`forward: positions ${pos0}..${pos0 + T - 1} exceed the context length nCtx = ${c.nCtx}`);
    for (const [name, t] of [['targets', opts.targets], ['docIds', opts.docIds], ['lossWeights', opts.lossWeights]] as const) {
      if (t && (t.ndim !== 2 || t.shape[0] !== B || t.shape[1] !== T)) throw new Error(`forward: ${name} must be [${B}, ${T}] like ids, got ${fmtShape(t.shape)}`);
    }
    if (opts.docIds && cache) throw new Error('forward: docIds cannot be combined with a KV cache');
    if (opts.targets && opts.lastLogitsOnly) throw new Error('forward: targets need logits at every position; drop lastLogitsOnly');
    const hooks = compileHooks(opts.hooks, this.points);
    const at = hooks ? (name: string, x: Tensor) => runHooks(hooks, name, x) : (_: string, x: Tensor) => x;
    const p = c.dropout, rng = opts.rng ?? this.dropoutRng;
    const drop = opts.training && p > 0 ? (x: Tensor) => dropout(x, p, rng, true) : (x: Tensor) => x;

    let x = at(topHookNames.embed, embedding(ids, this.wte)); // [B, T, C]
    if (this.wpe) {
      const positions = tensor(arange(T).i.map((i) => i + pos0), [T], { dtype: 'int32' });
      x = add(x, at(topHookNames.posEmbed, embedding(positions, this.wpe))); // [B, T, C] + [T, C]
    }
    x = drop(x);
    for (let l = 0; l < this.blocks.length; l++) {
      x = this.block(this.blocks[l], x, { l, pos0, cache, docIds: opts.docIds ?? null, at, hooks, drop });
    }
    if (cache) cache.length += T;
    if (opts.lastLogitsOnly && T > 1) x = slice(x, 1, T - 1, T); // [B, 1, C]
    x = at(topHookNames.lnFinal, this.norm(x, this.lnFinal, topHookNames.lnFinalScale, hooks, at)); // [B, T, C]
    const logits = this.logitsFromNormalized(x); // [B, T, V]
    if (!opts.targets) return { logits };
    const loss = crossEntropy(logits, opts.targets, { ignoreIndex: opts.ignoreIndex ?? -1, weights: opts.lossWeights ?? null });
    return { logits, loss };
  }

  /** forward, keeping the activations at the chosen hook points (after any user hooks ran). */
  runWithCache(ids: Tensor, opts: CacheOptions = {}): ForwardResult & { cache: ActivationCache } {
    const cache = new ActivationCache();
    const wanted = opts.names;
    const select = wanted === undefined ? () => true : typeof wanted === 'function' ? wanted : ((set) => (n: string) => set.has(n))(new Set(wanted));
    if (Array.isArray(wanted)) compileHooks(wanted.map((n): HookPair => [n, () => {}]), this.points); // validates the names
    const store: HookFn = (act, name) => {
      if (opts.retainGrad && act.requiresGrad) act.retainGrad();
      cache.activations.set(name, act);
    };
    const result = this.forward(ids, { ...opts, hooks: [...hookPairs(opts.hooks), [select, store]] });
    return { ...result, cache };
  }

  /** The residual stream [..., C] to logits through the final norm and the head, without hooks (the logit lens reads layers this way). */
  unembed(x: Tensor): Tensor {
    return this.logitsFromNormalized(this.norm(x, this.lnFinal));
  }

  /** The final norm's output [..., C] to logits [..., V] (direct logit attribution starts here). */
  logitsFromNormalized(x: Tensor): Tensor {
    if (this.logitScale !== 1) x = mul(x, this.logitScale); // muP: logits * outputMult / m, applied before the head
    return linear(x, this.head);
  }

  /**
   * The fused norm; when `scaleName` is hooked, the same norm written out so its divisor
   * (sqrt(var + eps) for LayerNorm, sqrt(mean(x^2) + eps) for RMSNorm, [..., 1]) passes that hook.
   */
  private norm(x: Tensor, n: Norm, scaleName?: string, hooks?: HookTable | null, at?: (name: string, x: Tensor) => Tensor): Tensor {
    const eps = this.config.normEps;
    if (scaleName && hooks?.has(scaleName) && at) {
      const centred = this.config.norm === 'layernorm' ? sub(x, mean(x, -1, true)) : x;
      const scale = at(scaleName, sqrt(add(mean(square(centred), -1, true), eps))); // [..., 1]
      const y = mul(div(centred, scale), n.weight);
      return n.bias ? add(y, n.bias) : y;
    }
    return this.config.norm === 'layernorm' ? layerNorm(x, n.weight, n.bias, eps) : rmsNorm(x, n.weight, eps);
  }

  private block(b: Block, x: Tensor, s: BlockState): Tensor {
    const h = b.hooks;
    x = s.at(h.residPre, x); // [B, T, C]
    const attnOut = s.at(h.attnOut, s.drop(this.attention(b, s.at(h.ln1, this.norm(x, b.ln1, h.ln1Scale, s.hooks, s.at)), s))); // [B, T, C]
    x = s.at(h.residMid, add(x, attnOut)); // [B, T, C]
    const mlpOut = s.at(h.mlpOut, s.drop(this.mlp(b, s.at(h.ln2, this.norm(x, b.ln2, h.ln2Scale, s.hooks, s.at)), s))); // [B, T, C]
    return s.at(h.residPost, add(x, mlpOut)); // [B, T, C]
  }

  private attention(b: Block, x: Tensor, s: BlockState): Tensor {
    const { nHead: H, dHead: D, dModel: C } = this.config;
    const [B, T] = x.shape;
    const h = b.hooks;
    const qkv = linear(x, b.qkv.weight, b.qkv.bias); // [B, T, 3C]
    const doc = s.docIds;
    // Nothing needs q, k and v as tensors of their own (no rotation, no KV cache, no hook on
    // them or on the pattern): the kernel reads them in place from qkv, which saves the split
    // copies and their gradients' concatenation, and gives the same numbers.
    const inPlace = !this.rotary && !s.cache && ![h.q, h.k, h.v, h.pattern, h.attnScores].some((n) => s.hooks?.has(n));
    const z = inPlace
      ? s.at(h.z, attentionQkv(qkv, H, { mask: { kind: 'causal' }, docQ: doc, docK: doc, scale: this.attnScale })) // [B, T, H, D]
      : this.attentionOfParts(b, qkv, s);
    if (!s.hooks?.has(h.result)) return linear(reshape(z, [B, T, C]), b.proj.weight, b.proj.bias); // [B, T, C]
    // Per head: result[b, t, h] = z[b, t, h] W_O[:, hD:(h+1)D]^T; their sum (plus the bias) is the projection.
    const wo = permute(reshape(b.proj.weight, [C, H, D]), [1, 2, 0]); // [H, D, C]
    const zh = permute(reshape(z, [B * T, H, D]), [1, 0, 2]); // [H, B*T, D]
    const result = s.at(h.result, reshape(permute(matmul(zh, wo), [1, 0, 2]), [B, T, H, C])); // [B, T, H, C]
    const out = sum(result, 2); // [B, T, C]
    return b.proj.bias ? add(out, b.proj.bias) : out;
  }

  /** Attention on q, k and v split out of qkv [B, T, 3C] (rotation, KV cache, hooks on them). -> z [B, T, H, D] */
  private attentionOfParts(b: Block, qkv: Tensor, s: BlockState): Tensor {
    const { nHead: H, dHead: D } = this.config;
    const [B, T] = qkv.shape;
    const h = b.hooks;
    const [q0, k0, v0] = split(qkv, 3, -1); // 3 x [B, T, C]
    let q = s.at(h.q, reshape(q0, [B, T, H, D])); // [B, T, H, D]
    let k = s.at(h.k, reshape(k0, [B, T, H, D])); // [B, T, H, D]
    let v = s.at(h.v, reshape(v0, [B, T, H, D])); // [B, T, H, D]
    if (this.rotary) {
      q = s.at(h.rotQ, rope(q, this.rotary, s.pos0)); // [B, T, H, D]
      k = s.at(h.rotK, rope(k, this.rotary, s.pos0)); // [B, T, H, D]
    }
    if (s.cache) {
      const kc = s.cache.k[s.l], vc = s.cache.v[s.l];
      if (kc && vc) { k = concat([kc, k], 1); v = concat([vc, v], 1); } // [B, Tk, H, D]
      s.cache.k[s.l] = k; s.cache.v[s.l] = v;
    }
    const doc = s.docIds;
    return s.at(h.z, s.hooks?.has(h.pattern) || s.hooks?.has(h.attnScores)
      ? attentionUnfused(q, k, v, doc, (pat) => s.at(h.pattern, pat), this.attnScale, (sc) => s.at(h.attnScores, sc))
      : attention(q, k, v, { mask: { kind: 'causal' }, docQ: doc, docK: doc, scale: this.attnScale })); // [B, T, H, D]
  }

  private mlp(b: Block, x: Tensor, s: BlockState): Tensor {
    const h = b.hooks;
    const c = this.config;
    if (c.mlp === 'gelu' && b.fc.bias && !s.hooks?.has(h.mlpPre)) {
      // No hook reads the pre-activation: bias add and GELU in one fused pass (same values).
      const act = linearAct(x, b.fc.weight, b.fc.bias, c.geluApproximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf'); // [B, T, F]
      return linear(s.at(h.mlpPost, act), b.mlpProj.weight, b.mlpProj.bias); // [B, T, C]
    }
    const fc = linear(x, b.fc.weight, b.fc.bias); // [B, T, F] gelu, [B, T, 2F] swiglu
    let act: Tensor;
    if (c.mlp === 'swiglu') {
      const [gate, up] = split(fc, 2, -1); // 2 x [B, T, F]
      act = mul(silu(s.at(h.mlpPre, gate)), s.at(h.mlpPreLinear, up)); // [B, T, F]
    } else {
      act = gelu(s.at(h.mlpPre, fc), c.geluApproximate); // [B, T, F]
    }
    return linear(s.at(h.mlpPost, act), b.mlpProj.weight, b.mlpProj.bias); // [B, T, C]
  }
}

interface BlockState {
  l: number;
  pos0: number;
  cache: KVCache | null;
  docIds: Tensor | null;
  at: (name: string, x: Tensor) => Tensor;
  hooks: HookTable | null;
  drop: (x: Tensor) => Tensor;
}

/**
 * The attention the fused kernel computes, written out so the pattern [B, H, Tq, Tk] exists
 * as a tensor (for hook_pattern). Same causal and document masks; queries are the last Tq positions.
 * `scale` defaults to 1/sqrt(D), as the kernel's does. `onScores` sees the masked scores before softmax (hook_attn_scores).
 */
export function attentionUnfused(
  q: Tensor, k: Tensor, v: Tensor, docIds: Tensor | null, onPattern: (p: Tensor) => Tensor = (p) => p, scale?: number,
  onScores: (s: Tensor) => Tensor = (s) => s,
): Tensor {
  const [B, Tq, , D] = q.shape;
  const Tk = k.shape[1];
  const blocked = new Float32Array(B * Tq * Tk); // 1 where query i may not see key j
  for (let b = 0; b < B; b++) for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) {
    const pos = Tk - Tq + i;
    const otherDoc = docIds !== null && docIds.i[b * Tq + i] !== docIds.i[b * Tk + j];
    blocked[(b * Tq + i) * Tk + j] = j > pos || otherDoc ? 1 : 0;
  }
  const qh = permute(q, [0, 2, 1, 3]); // [B, H, Tq, D]
  const kh = permute(k, [0, 2, 1, 3]); // [B, H, Tk, D]
  const vh = permute(v, [0, 2, 1, 3]); // [B, H, Tk, D]
  const scores = mul(matmul(qh, kh, { transB: true }), scale ?? 1 / Math.sqrt(D)); // [B, H, Tq, Tk]
  const mask = new Tensor(q.dtype === 'float64' ? Float64Array.from(blocked) : blocked, [B, 1, Tq, Tk]);
  const pattern = onPattern(softmax(onScores(maskedFill(scores, mask, -Infinity)))); // [B, H, Tq, Tk]
  return permute(matmul(pattern, vh), [0, 2, 1, 3]); // [B, Tq, H, D]
}
