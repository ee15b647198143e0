// A decoder-only, pre-norm transformer in both common layouts, chosen by the config:
//   GPT-2:  learned positions, LayerNorm, GELU MLP, biases, tied head
//   LLaMA:  rotary positions, RMSNorm, SwiGLU MLP, no biases, separate head
// and any mix of those switches (plus group layer norm, norm 'groupnorm', which no export format
// has). It reads top to bottom in forward order: parameter layout and
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
//     (another mixer in block i: blocks.{i}.<its module>.*, listed in its file in mixers/)
//   blocks.{i}.ln2.weight         [C]      (+ .bias)   (ln2 and mlp.* only in blocks with an MLP)
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
  Rng, Tensor, add, arange, crossEntropy, dropout, embedding, gelu, groupNorm, layerNorm, linear, linearAct,
  mean, mul, reshape, rmsNorm, ropeTables, silu, slice, split, sqrt,
  square, sub, div, tensor, fmtShape,
} from '../engine/index.js';
import { layerPlan, layersPattern, mixerOptionsOf, paramSpecs, parseModelConfig, type ModelConfig, type ModelConfigInput } from './config.js';
import { mixerDef, type Mixer, type MixerState, type SinkCacheOptions } from './mixers/index.js';
import { paddingOf, type Padding } from './padding.js';
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
  const baseShapes = c.initScheme === 'fan-in' && c.mup ? mupBaseShapes(c) : null;
  const params = new Map<string, Tensor>();
  for (const s of paramSpecs(c)) {
    const data = dtype === 'float64' ? new Float64Array(s.shape.reduce((p, n) => p * n, 1)) : new Float32Array(s.shape.reduce((p, n) => p * n, 1));
    const std = c.initScheme === 'fan-in' && isLinearWeight(s.name)
      ? (1 / Math.sqrt((baseShapes?.[s.name] ?? s.shape)[1])) / (s.init === 'residual' ? Math.sqrt(2 * c.nLayer) : 1)
      : s.init === 'residual' ? residualStd : c.initStd;
    if (s.init === 'normal' || s.init === 'residual') rng.fillNormal(data, mupScales ? std * mupScales.get(s.name)! : std);
    else if (s.init === 'ones') data.fill(1);
    else if (s.init === 'custom') s.fill!(data, rng);
    if (mupScales) mupZeroQuery(c, s.name, data);
    const t = new Tensor(data, s.shape, true);
    t.name = s.name;
    params.set(s.name, t);
  }
  return params;
}

/** A weight that multiplies activations (a linear layer or the untied head), as opposed to an embedding table: what 'fan-in' init scales. */
export function isLinearWeight(name: string): boolean {
  return name === 'lm_head.weight' || /^blocks\.\d+\.(attn|mlp)\.\w+\.weight$/.test(name);
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
/** A block: its mixer (null in an MLP-only block) and its MLP (null in a mixer-only block). */
interface Block {
  ln1: Norm | null; mixer: Mixer | null; isAttention: boolean;
  ln2: Norm | null; fc: Linear | null; mlpProj: Linear | null; hooks: BlockHookNames;
}

/**
 * Generation state from earlier calls, one entry per layer, owned by each layer's mixer:
 * attention keeps keys and values (after rotary; with sinks before it), recurrent mixers keep a
 * fixed-size state. forward appends to it.
 *
 * With `sinks` (StreamingLLM) the attention layers keep the first `keep` tokens and the most
 * recent ones, `keep + window` in all, and positions are counted inside the cache, so text may
 * run on past nCtx; needs keep + window <= nCtx, and each call feeds at most `window` tokens.
 */
export class KVCache {
  /** Each layer's state (null until its first call; always null for MLP-only blocks). */
  readonly state: (MixerState | null)[];
  /** Tokens fed so far. */
  length = 0;
  /** Tokens an attention layer holds (equal to length without sinks). */
  held = 0;
  readonly sinks: SinkCacheOptions | null;
  constructor(nLayer: number, opts: { sinks?: SinkCacheOptions } = {}) {
    this.state = new Array(nLayer).fill(null);
    const k = opts.sinks;
    if (k && !(Number.isInteger(k.keep) && k.keep >= 0 && Number.isInteger(k.window) && k.window >= 1)) {
      throw new Error(`KVCache: sinks need keep >= 0 and window >= 1 (integers), got keep ${k.keep}, window ${k.window}`);
    }
    this.sinks = k ?? null;
  }

  /** Floats held by every layer's state (the memory that grows, or not, per generated token). */
  floats(): number { return this.state.reduce((n, s) => n + (s ? s.floats() : 0), 0); }

  /** Where the next `T` tokens go: the position of the first (evicting down to keep + window with sinks). */
  nextPosition(T: number): number {
    if (!this.sinks) return this.length;
    const { keep, window } = this.sinks;
    if (T > window) throw new Error(`forward: a call with attention sinks feeds at most window = ${window} tokens, got ${T}`);
    return Math.min(this.held, keep + window - T);
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
  /**
   * Batches of unequal prompts, left-padded: row b's first leftPad[b] columns (counted over the
   * cache and this call) are padding. No token attends to them, and row b's real tokens take
   * positions 0, 1, ... from its first real column, so each row computes what it would alone.
   */
  leftPad?: readonly number[];
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
    this.rotary = c.positions === 'rotary' ? ropeTables(c.nCtx, c.dHead, c.ropeTheta, this.dtype) : null;
    this.attnScale = c.mup ? mupAttentionScale(c) : undefined;
    this.logitScale = c.mup ? mupOutputMultiplier(c) : 1;
    this.blocks = layerPlan(c).map((layer, i) => {
      const d = layer.mixer === null ? null : mixerDef(layer.mixer);
      const mixer = d && d.build({
        sizes: c, options: mixerOptionsOf(c, d.name), layer: i, prefix: `blocks.${i}.${d.module}`, param: p, optParam: opt,
        dtype: this.dtype, rotary: this.rotary, attnScale: this.attnScale,
      });
      return {
        ln1: d ? lin(`blocks.${i}.ln1`) : null, mixer, isAttention: d?.name === 'attention',
        ln2: layer.mlp ? lin(`blocks.${i}.ln2`) : null, fc: layer.mlp ? lin(`blocks.${i}.mlp.fc`) : null,
        mlpProj: layer.mlp ? lin(`blocks.${i}.mlp.proj`) : null, hooks: blockHookNames(i),
      };
    });
    this.lnFinal = lin('ln_final');
    this.head = c.tiedEmbeddings ? this.wte : p('lm_head.weight');
    this.points = this.listHookPoints();
  }

  /**
   * Whether forward takes leftPad: only attention can leave padding keys out (recurrent mixers
   * would carry the padding in their state; a block-sparse layout is fixed to absolute columns).
   */
  get takesLeftPadding(): boolean {
    return layerPlan(this.config).every((l) => l.mixer === null || (l.mixer === 'attention' && mixerOptionsOf<{ blockSparse: unknown }>(this.config, 'attention').blockSparse === null));
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
      out.push(h.residPre);
      if (b.mixer) out.push(h.ln1Scale, h.ln1, ...b.mixer.hookPoints, b.isAttention ? h.attnOut : h.mixerOut);
      if (b.mixer && b.fc) out.push(h.residMid);
      if (b.fc) out.push(h.ln2Scale, h.ln2, h.mlpPre, ...(swiglu ? [h.mlpPreLinear] : []), h.mlpPost, h.mlpOut);
      out.push(h.residPost);
    }
    out.push(topHookNames.lnFinalScale, topHookNames.lnFinal);
    return out;
  }

  forward(ids: Tensor, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    if (ids.dtype !== 'int32' || ids.ndim !== 2) throw new Error(`forward: ids must be int32 [B, T], got ${ids.dtype} ${fmtShape(ids.shape)}`);
    const [B, T] = ids.shape;
    const cache = opts.kvCache ?? null;
    if (cache && cache.state.length !== this.blocks.length) throw new Error(`forward: the cache has ${cache.state.length} layers, the model ${this.blocks.length}`);
    if (cache?.sinks && cache.sinks.keep + cache.sinks.window > c.nCtx) {
      throw new Error(`forward: attention sinks need keep + window <= nCtx = ${c.nCtx}, have ${cache.sinks.keep} + ${cache.sinks.window}`);
    }
    const pos0 = cache ? cache.nextPosition(T) : 0;
    if (pos0 + T > c.nCtx) throw new Error(`forward: positions ${pos0}..${pos0 + T - 1} exceed the context length nCtx = ${c.nCtx}`);
    for (const [name, t] of [['targets', opts.targets], ['docIds', opts.docIds], ['lossWeights', opts.lossWeights]] as const) {
      if (t && (t.ndim !== 2 || t.shape[0] !== B || t.shape[1] !== T)) throw new Error(`forward: ${name} must be [${B}, ${T}] like ids, got ${fmtShape(t.shape)}`);
    }
    if (opts.docIds && cache) throw new Error('forward: docIds cannot be combined with a KV cache');
    const pads = opts.leftPad ?? null;
    if (pads) {
      if (pads.length !== B || pads.some((n) => !(Number.isInteger(n) && n >= 0))) throw new Error(`forward: leftPad must be ${B} non-negative integers, one per row`);
      if (opts.docIds) throw new Error('forward: leftPad cannot be combined with docIds');
      if (cache?.sinks) throw new Error('forward: leftPad cannot be combined with attention sinks');
      if (pads.some((n) => n > 0) && !this.takesLeftPadding) throw new Error(`forward: leftPad needs attention mixers without a block-sparse layout (this model's layers: ${layersPattern(layerPlan(this.config))}); batch prompts of one length instead`);
    }
    if (opts.targets && opts.lastLogitsOnly) throw new Error('forward: targets need logits at every position; drop lastLogitsOnly');
    const hooks = compileHooks(opts.hooks, this.points);
    const at = hooks ? (name: string, x: Tensor) => runHooks(hooks, name, x) : (_: string, x: Tensor) => x;
    const p = c.dropout, rng = opts.rng ?? this.dropoutRng;
    const drop = opts.training && p > 0 ? (x: Tensor) => dropout(x, p, rng, true) : (x: Tensor) => x;

    let x = at(topHookNames.embed, embedding(ids, this.wte)); // [B, T, C]
    const padding = pads ? paddingOf(pads, B, T, pos0) : null;
    if (this.wpe) {
      const positions = padding ? padding.positions : tensor(arange(T).i.map((i) => i + pos0), [T], { dtype: 'int32' });
      x = add(x, at(topHookNames.posEmbed, embedding(positions, this.wpe))); // [B, T, C] + [T, C] or [B, T, C]
    }
    x = drop(x);
    for (let l = 0; l < this.blocks.length; l++) {
      x = this.block(this.blocks[l], x, { l, pos0, cache, docIds: opts.docIds ?? null, padding, at, hooks, drop });
    }
    if (cache) { cache.length += T; cache.held = pos0 + T; }
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
    if (this.config.norm === 'groupnorm') return groupLayerNorm(x, this.config.normGroups!, n.weight, n.bias, eps);
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
    if (b.mixer) {
      const cache = s.cache;
      const mixed = b.mixer.forward(s.at(h.ln1, this.norm(x, b.ln1!, h.ln1Scale, s.hooks, s.at)), {
        at: s.at, hooks: s.hooks, pos0: s.pos0, docIds: s.docIds, padding: s.padding,
        ...(cache ? { state: cache.state[s.l], setState: (st: MixerState) => { cache.state[s.l] = st; }, sinks: cache.sinks } : {}),
      }); // [B, T, C]
      x = add(x, s.at(b.isAttention ? h.attnOut : h.mixerOut, s.drop(mixed))); // [B, T, C]
      if (b.fc) x = s.at(h.residMid, x);
    }
    if (b.fc) {
      const mlpOut = s.at(h.mlpOut, s.drop(this.mlp(b, s.at(h.ln2, this.norm(x, b.ln2!, h.ln2Scale, s.hooks, s.at)), s))); // [B, T, C]
      x = add(x, mlpOut); // [B, T, C]
    }
    return s.at(h.residPost, x); // [B, T, C]
  }

  private mlp(b: Block, x: Tensor, s: BlockState): Tensor {
    const h = b.hooks;
    const c = this.config;
    const fcW = b.fc!, proj = b.mlpProj!;
    if (c.mlp === 'gelu' && fcW.bias && !s.hooks?.has(h.mlpPre)) {
      // No hook reads the pre-activation: bias add and GELU in one fused pass (same values).
      const act = linearAct(x, fcW.weight, fcW.bias, c.geluApproximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf'); // [B, T, F]
      return linear(s.at(h.mlpPost, act), proj.weight, proj.bias); // [B, T, C]
    }
    const fc = linear(x, fcW.weight, fcW.bias); // [B, T, F] gelu, [B, T, 2F] swiglu
    let act: Tensor;
    if (c.mlp === 'swiglu') {
      const [gate, up] = split(fc, 2, -1); // 2 x [B, T, F]
      act = mul(silu(s.at(h.mlpPre, gate)), s.at(h.mlpPreLinear, up)); // [B, T, F]
    } else {
      act = gelu(s.at(h.mlpPre, fc), c.geluApproximate); // [B, T, F]
    }
    return linear(s.at(h.mlpPost, act), proj.weight, proj.bias); // [B, T, C]
  }
}

interface BlockState {
  l: number;
  pos0: number;
  cache: KVCache | null;
  docIds: Tensor | null;
  padding: Padding | null;
  at: (name: string, x: Tensor) => Tensor;
  hooks: HookTable | null;
  drop: (x: Tensor) => Tensor;
}

export { attentionUnfused } from './mixers/index.js';

/**
 * Group layer norm over the last axis: each of `groups` equal slices of the features [..., C] is
 * normalised on its own (the engine's groupNorm on [N, C]), then the per-feature affine. Its
 * divisors are per group, so it has no single hook_scale: that hook point does not fire for it.
 */
export function groupLayerNorm(x: Tensor, groups: number, w: Tensor, b: Tensor | null, eps: number): Tensor {
  const C = x.shape[x.ndim - 1];
  return reshape(groupNorm(reshape(x, [x.size / C, C]), groups, w, b, eps), [...x.shape]);
}
