// Model configuration: one flat, typed record for every decoder-only layout we build, a zod
// schema that rejects unknown keys by name, two presets (GPT-2 and LLaMA layouts) and
// parameter counts. Presets fix the layout only; sizes always come from the caller.
//
// Dimension vocabulary (used in code, shape comments and docs): vocabSize V, nCtx (context
// length), dModel C, nLayer, nHead H, dHead D = dModel / nHead, dMlp (MLP hidden size), B batch,
// T tokens.
//
// muP (`mup`, see mup.ts) is an optional section naming the base model's shape; without it the
// config resolves exactly as before (no `mup` key at all, so run ids and stored configs stay put).

import { nonFinitePaths } from '../base/config-file.js';
import { z } from 'zod';
import { ConfigError, fieldIssues, type FieldIssue } from '../base/errors.js';

const positiveInt = z.number().int().positive();

/**
 * muP: the base model the width multipliers are measured from (mup.ts has the tables). The
 * resolved config spells out every base dimension, so a checkpoint's config alone fixes them.
 */
const mupFields = z.object({
  /** dModel of the base model (the width the hyperparameters were tuned at); m = dModel / baseWidth. */
  baseWidth: positiveInt,
  /** dHead of the base model; default baseWidth / nHead (the base has this model's head count). */
  baseHeadDim: positiveInt.optional(),
  /** dMlp of the base model; default this config's dMlp * baseWidth / dModel (mlpRatio's rule at baseWidth when dMlp is derived). */
  baseDMlp: positiveInt.optional(),
  /** Tuned logit multiplier (the mup package's output_mult): logits = outputMult / m * (h W^T). */
  outputMult: z.number().positive().default(1),
  /** Start the untied output head at zero (Tensor Programs V's recommendation; the SP init otherwise). */
  readoutZeroInit: z.boolean().default(false),
  /** Start the query rows of attn.qkv at zero (Tensor Programs V's recommendation). */
  queryZeroInit: z.boolean().default(false),
}).strict();

const fields = z.object({
  vocabSize: positiveInt,
  nCtx: positiveInt,
  dModel: positiveInt,
  nLayer: positiveInt,
  nHead: positiveInt,
  /** Derived (dModel / nHead); accepted only so a resolved config parses again. */
  dHead: positiveInt.optional(),
  /** 'gelu': proj(gelu(fc(x))). 'swiglu': proj(silu(gate(x)) * up(x)), LLaMA's MLP. */
  mlp: z.enum(['gelu', 'swiglu']),
  /** Sets dMlp when it is not given: 'gelu' mlpRatio*dModel; 'swiglu' 2/3 of that, rounded up to a multiple of 8. */
  mlpRatio: z.number().positive().default(4),
  /** MLP hidden size; overrides mlpRatio (LLaMA-7B: 11008, its multiple-of-256 rule). */
  dMlp: positiveInt.optional(),
  /** Which GELU for mlp 'gelu': 'tanh' is GPT-2's (HF "gelu_new"), 'none' the exact erf form (HF "gelu"). */
  geluApproximate: z.enum(['tanh', 'none']).default('tanh'),
  /** 'groupnorm': layer norm over each of normGroups equal slices of the features (Ni et al. 2024's group LN), then a per-feature affine. */
  norm: z.enum(['layernorm', 'rmsnorm', 'groupnorm']),
  /** Groups of norm 'groupnorm' (must divide dModel); only with that norm. */
  normGroups: positiveInt.optional(),
  normEps: z.number().positive().default(1e-5),
  positions: z.enum(['learned', 'rotary']),
  ropeTheta: z.number().positive().default(10000),
  /** The output head reuses the token embedding wte.weight (no lm_head.weight parameter). */
  tiedEmbeddings: z.boolean(),
  /** Biases on the attention and MLP linears, and LayerNorm's bias. The LM head never has one. */
  bias: z.boolean(),
  /** Dropout after the embeddings and on each residual branch (the fused attention has no attention-probability dropout). */
  dropout: z.number().min(0).lt(1).default(0),
  /** Std of the normal init of every matrix and embedding (biases 0, norm weights 1). */
  initStd: z.number().positive().default(0.02),
  /** GPT-2's init: residual projections (attn.proj, mlp.proj) use initStd / sqrt(2 * nLayer). */
  scaledResidualInit: z.boolean().default(false),
  /** muP relative to a base shape (mup.ts); null or absent: the standard parametrization. */
  mup: mupFields.nullable().optional(),
}).strict();

export const modelConfigSchema = fields.superRefine((c, ctx) => {
  if (c.dModel % c.nHead !== 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['nHead'], message: `dModel ${c.dModel} is not divisible by nHead ${c.nHead}` });
    return;
  }
  const dHead = c.dModel / c.nHead;
  if (c.dHead !== undefined && c.dHead !== dHead) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['dHead'], message: `dHead ${c.dHead} disagrees with dModel / nHead = ${dHead} (leave it out; it is derived)` });
  }
  if (c.norm === 'groupnorm' && (c.normGroups === undefined || c.dModel % c.normGroups !== 0)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['normGroups'], message: `norm groupnorm needs normGroups dividing dModel ${c.dModel}, got ${c.normGroups ?? 'none'}` });
  }
  if (c.norm !== 'groupnorm' && c.normGroups !== undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['normGroups'], message: `normGroups is only for norm groupnorm (norm is ${c.norm})` });
  }
  if (c.positions === 'rotary' && dHead % 2 !== 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['positions'], message: `rotary positions need an even head size, dHead is ${dHead}` });
  }
  if (c.mup) {
    const issue = (field: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['mup', field], message });
    const mu = resolveMupBase(c);
    if (!Number.isInteger(mu.baseHeadDim)) issue('baseHeadDim', `baseWidth ${c.mup.baseWidth} is not divisible by nHead ${c.nHead}; give baseHeadDim`);
    else if (c.mup.baseWidth % mu.baseHeadDim !== 0) issue('baseHeadDim', `baseWidth ${c.mup.baseWidth} is not divisible by baseHeadDim ${mu.baseHeadDim}`);
    if (!Number.isInteger(mu.baseDMlp) || mu.baseDMlp < 1) issue('baseDMlp', `dMlp * baseWidth / dModel = ${mu.baseDMlp} is not a positive integer; give baseDMlp`);
    const dMlp = c.dMlp ?? defaultDMlp(c.mlp, c.mlpRatio, c.dModel);
    // A matrix with only its fan-in wider than the base (mlp.fc when only dModel grows) is an
    // output layer in muP's terms and would need its own 1/width multiplier; refuse instead.
    if ((c.dModel === c.mup.baseWidth) !== (dMlp === mu.baseDMlp)) {
      issue('baseDMlp', `muP needs dMlp to scale with dModel: dModel ${c.dModel} vs baseWidth ${c.mup.baseWidth}, dMlp ${dMlp} vs baseDMlp ${mu.baseDMlp} (both equal to the base, or both different)`);
    }
    if (c.mup.readoutZeroInit && c.tiedEmbeddings) issue('readoutZeroInit', 'needs an untied head (tiedEmbeddings: false): a tied head is the token embedding, which cannot start at zero');
  }
}).transform((c) => {
  const { mup, ...rest } = c;
  const resolved: typeof rest & { dHead: number; dMlp: number; mup?: ResolvedMup } = {
    ...rest, dHead: c.dModel / c.nHead, dMlp: c.dMlp ?? defaultDMlp(c.mlp, c.mlpRatio, c.dModel),
  };
  // No mup key at all without muP: the resolved config (and every run id hashed from it) is unchanged.
  if (mup) resolved.mup = { ...mup, ...resolveMupBase(c) };
  return resolved;
});

type ResolvedMup = z.output<typeof mupFields> & { baseHeadDim: number; baseDMlp: number };

/** The base head size and MLP width a mup section implies (may be non-integers; the schema checks). */
function resolveMupBase(c: { dModel: number; nHead: number; dMlp?: number; mlp: 'gelu' | 'swiglu'; mlpRatio: number; mup?: { baseWidth: number; baseHeadDim?: number; baseDMlp?: number } | null }) {
  const b = c.mup!.baseWidth;
  return {
    baseHeadDim: c.mup!.baseHeadDim ?? b / c.nHead,
    baseDMlp: c.mup!.baseDMlp ?? (c.dMlp === undefined ? defaultDMlp(c.mlp, c.mlpRatio, b) : (c.dMlp * b) / c.dModel),
  };
}

export type ModelConfigInput = z.input<typeof modelConfigSchema>;
/** A validated config with every default filled in and dHead, dMlp resolved (the schema's output). */
export type ModelConfig = z.output<typeof modelConfigSchema>;
/** A resolved mup section: every base dimension explicit. */
export type MupConfig = NonNullable<ModelConfig['mup']>;

export class ModelConfigError extends ConfigError {
  constructor(issues: FieldIssue[]) {
    super('invalid model config', issues, 'inline');
    this.name = 'ModelConfigError';
  }
}

const knownKeys = Object.keys(fields.shape);
const knownMupKeys = Object.keys(mupFields.shape);

/** Validates and resolves a config; throws ModelConfigError naming each bad field. */
export function parseModelConfig(input: unknown): ModelConfig {
  const r = modelConfigSchema.safeParse(input);
  // zod's number() lets Infinity through; a config holding one could not be saved as JSON.
  const nonFinite = nonFinitePaths(input).map((p) => ({ field: p.field, message: `must be a finite number, got ${p.value}` }));
  if (!r.success || nonFinite.length) {
    const issues = r.success ? [] : fieldIssues(r.error, { unknownKey: (path) => `unknown key (known: ${(path[0] === 'mup' ? knownMupKeys : knownKeys).join(', ')})` });
    throw new ModelConfigError([...nonFinite, ...issues.filter((i) => !nonFinite.some((n) => n.field === i.field))]);
  }
  return r.data;
}

/**
 * The MLP hidden size when dMlp is not given. SwiGLU has three matrices instead of two, so
 * LLaMA shrinks the hidden size by 2/3 to keep the parameter count: 8/3 * dModel at ratio 4,
 * rounded up to a multiple of 8 (LLaMA rounds to 256, too coarse for small models).
 */
export function defaultDMlp(mlp: 'gelu' | 'swiglu', mlpRatio: number, dModel: number): number {
  const hidden = Math.round(mlpRatio * dModel);
  if (mlp === 'gelu') return hidden;
  return 8 * Math.ceil(Math.floor((2 * hidden) / 3) / 8);
}

export const presets = {
  /** GPT-2: learned positions, LayerNorm with bias, tanh-GELU MLP, biases, tied head, scaled residual init. */
  gpt2: {
    positions: 'learned', norm: 'layernorm', normEps: 1e-5, mlp: 'gelu', geluApproximate: 'tanh',
    bias: true, tiedEmbeddings: true, scaledResidualInit: true,
  },
  /** LLaMA: rotary positions, RMSNorm, SwiGLU MLP, no biases, separate head. */
  llama: {
    positions: 'rotary', ropeTheta: 10000, norm: 'rmsnorm', normEps: 1e-6, mlp: 'swiglu',
    bias: false, tiedEmbeddings: false, scaledResidualInit: false,
  },
} as const satisfies Record<string, Partial<ModelConfigInput>>;

export type PresetName = keyof typeof presets;

/** A preset's layout merged with overrides (sizes at least), validated. */
export function modelConfig(preset: PresetName, overrides: Partial<ModelConfigInput>): ModelConfig {
  if (!(preset in presets)) throw new Error(`unknown model preset "${preset}" (known: ${Object.keys(presets).join(', ')})`);
  return parseModelConfig({ ...presets[preset], ...overrides });
}

/**
 * Parameter counts, split in the Kaplan / Chinchilla manner: `embedding` is the token table
 * plus the learned position table; `nonEmbedding` is everything else. A tied head is the token
 * table, so it is counted once, under embedding. An untied head (lm_head) is a matrix the model
 * multiplies by at every token, so it is counted under nonEmbedding and also reported alone.
 */
export interface ParamCounts {
  embedding: number;
  /** Untied output head; 0 when tied. */
  lmHead: number;
  /** All nLayer blocks. */
  blocks: number;
  finalNorm: number;
  nonEmbedding: number;
  total: number;
}

export function countParams(c: ModelConfig): ParamCounts {
  const C = c.dModel, F = c.dMlp, b = c.bias ? 1 : 0;
  const norm = c.norm !== 'rmsnorm' && c.bias ? 2 * C : C;
  const attn = 3 * C * C + 3 * C * b + C * C + C * b;
  const mlpIn = c.mlp === 'swiglu' ? 2 * F : F;
  const mlp = mlpIn * C + mlpIn * b + F * C + C * b;
  const embedding = c.vocabSize * C + (c.positions === 'learned' ? c.nCtx * C : 0);
  const lmHead = c.tiedEmbeddings ? 0 : c.vocabSize * C;
  const blocks = c.nLayer * (2 * norm + attn + mlp);
  const nonEmbedding = blocks + norm + lmHead;
  return { embedding, lmHead, blocks, finalNorm: norm, nonEmbedding, total: embedding + nonEmbedding };
}

// ---- parameter layout ------------------------------------------------------------------
// The names and shapes are listed at the top of transformer.ts; mup.ts and hf.ts read them from here.

export interface ParamSpec { name: string; shape: number[]; init: 'normal' | 'residual' | 'zeros' | 'ones' }

/** Every parameter of a config, in the model's order, with how it is initialised. */
export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const C = c.dModel, F = c.dMlp;
  const specs: ParamSpec[] = [{ name: 'wte.weight', shape: [c.vocabSize, C], init: 'normal' }];
  if (c.positions === 'learned') specs.push({ name: 'wpe.weight', shape: [c.nCtx, C], init: 'normal' });
  const normSpecs = (p: string) => {
    specs.push({ name: `${p}.weight`, shape: [C], init: 'ones' });
    if (c.norm !== 'rmsnorm' && c.bias) specs.push({ name: `${p}.bias`, shape: [C], init: 'zeros' });
  };
  const linearSpecs = (p: string, out: number, inp: number, residual = false) => {
    specs.push({ name: `${p}.weight`, shape: [out, inp], init: residual && c.scaledResidualInit ? 'residual' : 'normal' });
    if (c.bias) specs.push({ name: `${p}.bias`, shape: [out], init: 'zeros' });
  };
  for (let i = 0; i < c.nLayer; i++) {
    const p = `blocks.${i}`;
    normSpecs(`${p}.ln1`);
    linearSpecs(`${p}.attn.qkv`, 3 * C, C);
    linearSpecs(`${p}.attn.proj`, C, C, true);
    normSpecs(`${p}.ln2`);
    linearSpecs(`${p}.mlp.fc`, c.mlp === 'swiglu' ? 2 * F : F, C);
    linearSpecs(`${p}.mlp.proj`, C, F, true);
  }
  normSpecs('ln_final');
  if (!c.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, C], init: 'normal' });
  return specs;
}
