// muP, the maximal update parametrization (Yang et al. 2022, "Tensor Programs V"), as metadata on
// an ordinary Transformer, the way the `mup` package attaches it: the config's `mup` section names
// a BASE model (baseWidth, baseHeadDim, baseDMlp); every parameter's shape is compared, by name,
// with the same parameter of the base model, and the dimensions that differ are its "infinite"
// ones. From those follow its initialisation, its learning-rate multiplier and its weight-decay
// multiplier; two forward-pass multipliers (attention scale, logit scale) complete the recipe.
// At the base width (m = 1) every multiplier is exactly 1 and the model is the standard one, bit
// for bit, so hyperparameters tuned on the base model carry over to wider ones.
//
// Width multipliers: m = dModel / baseWidth, mF = dMlp / baseDMlp. The classes (mup's InfShape):
//   matrix  two infinite dims (hidden weights: qkv, attn.proj, mlp.fc, mlp.proj)
//   vector  one infinite dim (wte, wpe, lm_head, biases, norm gains): its width_mult is that dim's ratio
//   fixed   none (everything at m = 1)
// For a matrix [out, in], fanIn = in's ratio (mup's width_mult), fanOut = out's ratio.
//
// Initialisation (the standard std is initStd, or initStd / sqrt(2 nLayer) for residual projections):
//   matrix  std / sqrt(fanIn)    variance ~ 1/fan_in, equal to the standard init at m = 1
//   vector  std unchanged        (norm gains stay 1, biases 0); the readout may start at 0 (readoutZeroInit)
//
// Learning-rate multipliers, AdamW (mup's MuAdam). Adam's update is ~ the sign of the gradient,
// Theta(1) per entry whatever the gradient's scale. A hidden matrix sums fan_in such entries
// against Theta(1) inputs, so its update to the activations grows like fan_in: lr / fanIn. A
// vector-like parameter's entries act one at a time (an embedding row, a gain), so lr stays.
//   parameter                  class   init std            AdamW lr   SGD lr
//   wte.weight     [V, C]      vector  initStd             1          m
//   wpe.weight     [nCtx, C]   vector  initStd             1          m
//   ln*.weight, .bias [C]      vector  1, 0                1          m
//   attn.qkv.weight [3C, C]    matrix  initStd / sqrt(m)   1/m        1
//   attn.qkv.bias  [3C]        vector  0                   1          m
//   attn.proj.weight [C, C]    matrix  resStd / sqrt(m)    1/m        1
//   attn.proj.bias [C]         vector  0                   1          m
//   mlp.fc.weight  [F|2F, C]   matrix  initStd / sqrt(m)   1/m        mF/m
//   mlp.fc.bias    [F|2F]      vector  0                   1          mF
//   mlp.proj.weight [C, F]     matrix  resStd / sqrt(mF)   1/mF       m/mF
//   mlp.proj.bias  [C]         vector  0                   1          m
//   lm_head.weight [V, C]      vector  initStd (or 0)      1          m      forward: logits * outputMult / m
// SGD multipliers (mup's MuSGD) differ because SGD's update is proportional to the gradient,
// and under muP the gradient of a vector-like parameter shrinks like 1/width (it reaches the
// loss through the 1/m readout, or is one of width-many coordinates): lr * width_mult restores a
// Theta(1) change. A hidden matrix's gradient is an outer product of Theta(1) inputs with
// Theta(1/width) backward signals; summed over fan_in inputs that is already Theta(1), so lr
// stays, up to fanOut / fanIn when the two sides grow at different rates (mlp.fc, mlp.proj).
// Weight decay (both optimizers, as the mup package does): the group's decay is multiplied by
// 1 / (lr multiplier), so the decay applied per step, lr * wd, is the base model's.
//
// Forward multipliers:
//   attention  softmax(q k^T * scale) with scale = sqrt(baseHeadDim) / dHead (the 1/d_head of
//              muP, anchored so dHead = baseHeadDim gives 1/sqrt(dHead) exactly); computed as
//              (1/sqrt(dHead)) * sqrt(baseHeadDim / dHead) so m = 1 matches bit for bit.
//   logits     the final-norm output times outputMult * baseWidth / dModel before the head (the
//              mup package's MuReadout: output_mult * x / width_mult).
//
// Tied embeddings: allowed, as the mup package's MuSharedReadout does it. The shared matrix is
// vector-like (one infinite dim, C) in both roles, so its rules agree: init std unchanged, AdamW
// lr unchanged, SGD lr * m; the readout's 1/m is applied to the activations, not to the weight,
// so the embedding is untouched. Only readoutZeroInit is refused (the embedding cannot start at 0).
//
// Export (foldMup): a stock GPT-2 / LLaMA loader knows neither multiplier, so both are folded
// into weights. The attention factor sqrt(baseHeadDim / dHead) multiplies the query rows of
// attn.qkv (weight and bias; rotary embedding is linear, so it commutes). The logit factor
// multiplies lm_head.weight, or, with a tied head, ln_final's gain and bias (scaling the norm's
// output scales the logits the same; the embedding must stay as trained). With a tied head the
// exported ln_final activation is therefore outputMult / m times ours; the logits are equal.
//
// Not here (each a separate choice a study can add): depth scaling of the residual branches,
// an embedding multiplier, and weight decay independent of the lr multiplier (we keep mup's
// coupling above). A config's mup section is the whole of the metadata; a resolved config spells
// out baseWidth, baseHeadDim and baseDMlp, and checkpoints also store mupBaseShapes explicitly.
//
import { Tensor } from '../engine/index.js';
import { paramSpecs, type ModelConfig, type MupConfig, type ParamSpec } from './config.js';

export type OptimizerKind = 'adamw' | 'sgd';

export interface MupWidths {
  /** dModel / baseWidth. */
  m: number;
  /** dMlp / baseDMlp. */
  mF: number;
  /** dHead / baseHeadDim. */
  mHead: number;
}

function mupOf(c: ModelConfig, who: string): MupConfig {
  if (!c.mup) throw new Error(`${who}: the model config has no mup section (the standard parametrization)`);
  return c.mup;
}

export function mupWidths(c: ModelConfig): MupWidths {
  const u = mupOf(c, 'mupWidths');
  return { m: c.dModel / u.baseWidth, mF: c.dMlp / u.baseDMlp, mHead: c.dHead / u.baseHeadDim };
}

/** The base model's config: this layout at the base dimensions, without muP. */
export function mupBaseConfig(c: ModelConfig): ModelConfig {
  const { mup: _, ...rest } = c;
  const u = mupOf(c, 'mupBaseConfig');
  const nHead = u.baseWidth / u.baseHeadDim;
  return { ...rest, dModel: u.baseWidth, nHead, dHead: u.baseHeadDim, dMlp: u.baseDMlp };
}

/** Every parameter's shape in the base model, by name: what checkpoints store as the muP metadata. */
export function mupBaseShapes(c: ModelConfig): Record<string, number[]> {
  return Object.fromEntries(paramSpecs(mupBaseConfig(c)).map((s) => [s.name, s.shape]));
}

// ---- per-parameter rules ----------------------------------------------------------------

export interface MupParam {
  name: string;
  shape: number[];
  baseShape: number[];
  /** Indices of the dimensions that differ from the base ("infinite"). */
  infDims: number[];
  kind: 'matrix' | 'vector' | 'fixed';
  /** The ratio of the last infinite dimension (fan-in for a matrix); 1 when fixed (mup's width_mult). */
  widthMult: number;
  /** fan-in ratio / fan-out ratio for a matrix, else 1 (mup's fanin_fanout_mult_ratio). */
  fanRatio: number;
  /** Init std relative to the standard init's std for this parameter (0: starts at zero). */
  initScale: number;
  /** Learning-rate multiplier for each optimizer. */
  lr: Record<OptimizerKind, number>;
  /** Weight-decay multiplier for each optimizer (1 / lr: lr * wd stays the base model's). */
  weightDecay: Record<OptimizerKind, number>;
}

function classify(c: ModelConfig, s: ParamSpec, base: number[] | undefined): MupParam {
  if (!base || base.length !== s.shape.length) throw new Error(`muP: parameter ${s.name} has no counterpart in the base model`);
  const infDims = s.shape.flatMap((n, i) => (n !== base[i] ? [i] : []));
  const ratio = (i: number) => s.shape[i] / base[i];
  if (infDims.length > 2) throw new Error(`muP: ${s.name} has more than two infinite dimensions`);
  const kind = infDims.length === 2 ? 'matrix' : infDims.length === 1 ? 'vector' : 'fixed';
  const widthMult = infDims.length ? ratio(infDims[infDims.length - 1]) : 1;
  const fanRatio = kind === 'matrix' ? ratio(1) / ratio(0) : 1;
  let initScale = kind === 'matrix' ? 1 / Math.sqrt(widthMult) : 1;
  if (s.name === 'lm_head.weight' && c.mup!.readoutZeroInit) initScale = 0;
  const lr = {
    adamw: kind === 'matrix' ? 1 / widthMult : 1,
    sgd: kind === 'matrix' ? 1 / fanRatio : kind === 'vector' ? widthMult : 1,
  };
  return {
    name: s.name, shape: s.shape, baseShape: base, infDims, kind, widthMult, fanRatio, initScale, lr,
    weightDecay: { adamw: 1 / lr.adamw, sgd: 1 / lr.sgd },
  };
}

/** The muP rule of every parameter, in the model's order. */
export function mupTable(c: ModelConfig): MupParam[] {
  const base = mupBaseShapes(c);
  return paramSpecs(c).map((s) => classify(c, s, base[s.name]));
}

/** Init std multipliers by parameter name (the Transformer's initParams reads these). */
export function mupInitScales(c: ModelConfig): Map<string, number> {
  return new Map(mupTable(c).map((r) => [r.name, r.initScale]));
}

/** Zeroes the query rows (the first dModel rows) of a qkv weight when queryZeroInit is on. */
export function mupZeroQuery(c: ModelConfig, name: string, data: Float32Array | Float64Array): void {
  if (c.mup?.queryZeroInit && /^blocks\.\d+\.attn\.qkv\.weight$/.test(name)) data.fill(0, 0, c.dModel * c.dModel);
}

// ---- forward multipliers ------------------------------------------------------------------

/** The attention scale under muP: sqrt(baseHeadDim) / dHead, written so dHead = baseHeadDim gives exactly 1/sqrt(dHead). */
export function mupAttentionScale(c: ModelConfig): number {
  const u = mupOf(c, 'mupAttentionScale');
  return (1 / Math.sqrt(c.dHead)) * Math.sqrt(u.baseHeadDim / c.dHead);
}

/** What the final norm's output is multiplied by before the head: outputMult * baseWidth / dModel. */
export function mupOutputMultiplier(c: ModelConfig): number {
  const u = mupOf(c, 'mupOutputMultiplier');
  return u.outputMult * (u.baseWidth / c.dModel);
}

// ---- optimizer hooks --------------------------------------------------------------------

/**
 * Per-parameter multipliers for the optimizer, in the shape createOptimizer's `extra` takes:
 *   createOptimizer(model.params, runConfig, mupOptimizerOptions(model.config, runConfig.optimizer))
 * Empty (so nothing changes) when the config has no mup section. The hooks refuse a parameter
 * the config does not have, or one of another shape, instead of guessing its multiplier.
 */
export function mupOptimizerOptions(c: ModelConfig, optimizer: OptimizerKind): {
  lrScale?: (name: string, p: Tensor) => number;
  weightDecayScale?: (name: string, p: Tensor) => number;
} {
  if (!c.mup) return {};
  const table = new Map(mupTable(c).map((r) => [r.name, r]));
  const rule = (name: string, p: Tensor) => {
    const r = table.get(name);
    if (!r) throw new Error(`muP: the optimizer got parameter ${name}, which this model config does not have`);
    if (p.shape.length !== r.shape.length || p.shape.some((n, i) => n !== r.shape[i])) {
      throw new Error(`muP: parameter ${name} is [${p.shape.join(', ')}] but the config says [${r.shape.join(', ')}]`);
    }
    return r;
  };
  return { lrScale: (name, p) => rule(name, p).lr[optimizer], weightDecayScale: (name, p) => rule(name, p).weightDecay[optimizer] };
}

/** Just the learning-rate multiplier hook (1 everywhere without muP). */
export function mupLrScale(c: ModelConfig, optimizer: OptimizerKind): (name: string, p: Tensor) => number {
  return mupOptimizerOptions(c, optimizer).lrScale ?? (() => 1);
}

// ---- export ---------------------------------------------------------------------------------

/**
 * The standard-parametrization twin of a muP model: the same config without `mup`, and new
 * parameter tensors with the attention and logit multipliers folded in (module header). The
 * inputs are not modified; tensors that need no change are shared, not copied.
 */
export function foldMup(c: ModelConfig, params: ReadonlyMap<string, Tensor>): { config: ModelConfig; params: Map<string, Tensor> } {
  const { mup: _, ...config } = c;
  const out = new Map(params);
  if (!c.mup) return { config, params: out };
  const scaled = (name: string, f: number, rows?: number) => {
    const t = params.get(name);
    if (!t) throw new Error(`foldMup: parameter ${name} is missing`);
    if (f === 1) return;
    const d = (t.data as Float32Array | Float64Array).slice();
    const n = rows === undefined ? d.length : rows * t.shape.slice(1).reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) d[i] *= f;
    const x = new Tensor(d, t.shape, t.requiresGrad);
    x.name = name;
    out.set(name, x);
  };
  const q = Math.sqrt(c.mup.baseHeadDim / c.dHead);
  for (let l = 0; l < c.nLayer; l++) {
    scaled(`blocks.${l}.attn.qkv.weight`, q, c.dModel); // the query rows
    if (c.bias) scaled(`blocks.${l}.attn.qkv.bias`, q, c.dModel);
  }
  const o = mupOutputMultiplier(c);
  if (c.tiedEmbeddings) {
    scaled('ln_final.weight', o);
    if (params.has('ln_final.bias')) scaled('ln_final.bias', o);
  } else {
    scaled('lm_head.weight', o);
  }
  return { config, params: out };
}
