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
//
// Token mixers (mixers/): `mixer` names the mixer of every block (default 'attention'), `layers`
// gives one per block as a pattern ("MMMAMMMA", letters in mixers/index.ts) or a list, and
// `mixerOptions.<name>` holds each kind's options. They resolve to `layers` (the pattern) and
// `mixerOptions` (every option of each kind in use spelled out), and to no key at all for plain
// attention in every block, so existing configs, run ids and stored configs are unchanged.

import { nonFinitePaths } from '../base/config-file.js';
import { z } from 'zod';
import { ConfigError, fieldIssues, type FieldIssue } from '../base/errors.js';
import { MLP_ONLY_LETTER, mixerDef, mixerDefs, mixerNames, type ParamSpec } from './mixers/index.js';

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
  /**
   * How weight matrices are initialised. Absent or 'constant-std': every matrix and embedding
   * draws from N(0, initStd^2) (GPT-2's choice). 'fan-in': Tensor Programs V's standard
   * parametrization, variance 1/fan-in for every linear weight and the untied head ([out, in]:
   * std 1/sqrt(in); under muP the base model's fan-in, then muP's own scaling); the embedding
   * tables keep initStd. Absent unless set, so existing configs and run ids stay put.
   */
  initScheme: z.enum(['constant-std', 'fan-in']).optional(),
  /** GPT-2's init: residual projections (attn.proj, mlp.proj) use initStd / sqrt(2 * nLayer) (with 'fan-in', the fan-in std / sqrt(2 * nLayer)). */
  scaledResidualInit: z.boolean().default(false),
  /** muP relative to a base shape (mup.ts); null or absent: the standard parametrization. */
  mup: mupFields.nullable().optional(),
  /** The token mixer of every block (mixers/index.ts lists them); default 'attention'. Give this or layers. */
  mixer: z.enum(mixerNames() as [string, ...string[]]).optional(),
  /**
   * One entry per block: a pattern string (one letter per block: upper case the mixer and then an MLP,
   * lower case the mixer alone, 'F' an MLP alone) or a list of mixer names ('mlp' for an MLP alone)
   * and { mixer, mlp } records.
   */
  layers: z.union([
    z.string().min(1),
    z.array(z.union([
      z.string(),
      z.object({ mixer: z.string().nullable(), mlp: z.boolean().default(true) }).strict(),
    ])).min(1),
  ]).optional(),
  /** Options per mixer kind (each kind's fields are in its file in mixers/). */
  mixerOptions: z.object(Object.fromEntries(mixerDefs.map((d) => [d.name, d.options.optional()]))).strict().optional(),
}).strict();

/** One block: its mixer kind (null: none) and whether an MLP follows. */
export interface LayerSpec { mixer: string | null; mlp: boolean }

const letterOf = (name: string) => mixerDef(name).letter;

/** Parses a layers pattern or list; problems are returned as messages. */
function parseLayers(layers: string | (string | { mixer: string | null; mlp: boolean })[]): { specs: LayerSpec[]; problems: string[] } {
  const problems: string[] = [];
  const specs: LayerSpec[] = [];
  const byLetter = new Map(mixerDefs.map((d) => [d.letter, d.name]));
  const known = () => `known letters: ${mixerDefs.map((d) => `${d.letter} ${d.name}`).join(', ')}, ${MLP_ONLY_LETTER} MLP only; lower case: no MLP after the mixer`;
  if (typeof layers === 'string') {
    for (const ch of layers) {
      if (ch === MLP_ONLY_LETTER) { specs.push({ mixer: null, mlp: true }); continue; }
      const name = byLetter.get(ch.toUpperCase());
      if (!name) { problems.push(`unknown letter "${ch}" (${known()})`); continue; }
      specs.push({ mixer: name, mlp: ch === ch.toUpperCase() });
    }
  } else {
    for (const item of layers) {
      const spec = typeof item === 'string' ? (item === 'mlp' ? { mixer: null, mlp: true } : { mixer: item, mlp: true }) : item;
      if (spec.mixer !== null && !mixerNames().includes(spec.mixer)) problems.push(`unknown mixer "${spec.mixer}" (known: ${mixerNames().join(', ')}, or 'mlp' for an MLP alone)`);
      else if (spec.mixer === null && !spec.mlp) problems.push('a block needs a mixer or an MLP');
      else specs.push(spec);
    }
  }
  return { specs, problems };
}

/** The canonical pattern string of a list of blocks. */
export function layersPattern(specs: LayerSpec[]): string {
  return specs.map((s) => (s.mixer === null ? MLP_ONLY_LETTER : s.mlp ? letterOf(s.mixer) : letterOf(s.mixer).toLowerCase())).join('');
}

/** The blocks of a resolved config, in order (every block attention + MLP unless `layers` says otherwise). */
export function layerPlan(c: { nLayer: number; layers?: string }): LayerSpec[] {
  if (c.layers === undefined) return Array.from({ length: c.nLayer }, () => ({ mixer: 'attention', mlp: true }));
  return parseLayers(c.layers).specs;
}

/** Options of one mixer kind in a resolved config (its defaults when the config has none). */
export function mixerOptionsOf<O = unknown>(c: { mixerOptions?: Record<string, unknown> }, name: string): O {
  const given = c.mixerOptions?.[name];
  return (given ?? mixerDef(name).options.parse({})) as O;
}

/** Mixer kinds in use, in the order the blocks first use them. */
export function mixersInUse(c: { nLayer: number; layers?: string }): string[] {
  return [...new Set(layerPlan(c).flatMap((s) => (s.mixer ? [s.mixer] : [])))];
}

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
  const plan = resolveLayers(c);
  for (const p of plan.problems) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [p.field], message: p.message });
  if (plan.problems.length) return;
  for (const name of new Set(plan.specs.flatMap((s) => (s.mixer ? [s.mixer] : [])))) {
    const d = mixerDef(name);
    const o = (c.mixerOptions as Record<string, unknown> | undefined)?.[name] ?? d.options.parse({});
    for (const p of d.check?.({ ...c, dHead }, o) ?? []) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['mixerOptions', name, p.field], message: p.message });
    if (c.mup && !d.mup) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['mup'], message: `muP is defined here for attention only; mixer "${name}" has no muP rules (drop mup, or use attention in every block)` });
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
  const { mup, mixer: _mixer, layers: _layers, mixerOptions, ...rest } = c;
  const resolved: typeof rest & { dHead: number; dMlp: number; mup?: ResolvedMup; layers?: string; mixerOptions?: Record<string, unknown> } = {
    ...rest, dHead: c.dModel / c.nHead, dMlp: c.dMlp ?? defaultDMlp(c.mlp, c.mlpRatio, c.dModel),
  };
  // No mup key at all without muP: the resolved config (and every run id hashed from it) is unchanged.
  if (mup) resolved.mup = { ...mup, ...resolveMupBase(c) };
  // Likewise no mixer keys for plain attention everywhere; otherwise the pattern and every option of each kind in use.
  const { specs } = resolveLayers(c);
  const pattern = layersPattern(specs);
  const used = [...new Set(specs.flatMap((s) => (s.mixer ? [s.mixer] : [])))];
  const options = Object.fromEntries(used.map((n) => [n, (mixerOptions as Record<string, unknown> | undefined)?.[n] ?? mixerDef(n).options.parse({})]));
  const defaultOptions = used.every((n) => JSON.stringify(options[n]) === JSON.stringify(mixerDef(n).options.parse({})));
  if (pattern !== letterOf('attention').repeat(c.nLayer) || !defaultOptions) {
    resolved.layers = pattern;
    resolved.mixerOptions = options;
  }
  return resolved;
});

/** The blocks a config asks for, with problems named by field. */
function resolveLayers(c: { nLayer: number; mixer?: string; layers?: string | (string | { mixer: string | null; mlp: boolean })[]; mixerOptions?: object }): { specs: LayerSpec[]; problems: { field: string; message: string }[] } {
  const problems: { field: string; message: string }[] = [];
  let specs: LayerSpec[];
  if (c.layers !== undefined) {
    if (c.mixer !== undefined) problems.push({ field: 'mixer', message: 'give mixer (every block) or layers (each block), not both' });
    const r = parseLayers(c.layers);
    for (const m of r.problems) problems.push({ field: 'layers', message: m });
    specs = r.specs;
    if (!r.problems.length && specs.length !== c.nLayer) problems.push({ field: 'layers', message: `has ${specs.length} blocks but nLayer is ${c.nLayer}` });
  } else {
    specs = Array.from({ length: c.nLayer }, () => ({ mixer: c.mixer ?? 'attention', mlp: true }));
  }
  const used = new Set(specs.flatMap((s) => (s.mixer ? [s.mixer] : [])));
  for (const name of Object.keys(c.mixerOptions ?? {})) {
    if ((c.mixerOptions as Record<string, unknown>)[name] !== undefined && !used.has(name)) problems.push({ field: `mixerOptions.${name}`, message: `no block uses mixer "${name}"` });
  }
  return { specs, problems };
}

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
  // Other mixers or blocks without an MLP: count each block's parameters from the layout.
  const blocks = c.layers === undefined ? c.nLayer * (2 * norm + attn + mlp)
    : paramSpecs(c).filter((s) => s.name.startsWith('blocks.')).reduce((n, s) => n + s.shape.reduce((p, d) => p * d, 1), 0);
  const nonEmbedding = blocks + norm + lmHead;
  return { embedding, lmHead, blocks, finalNorm: norm, nonEmbedding, total: embedding + nonEmbedding };
}

// ---- parameter layout ------------------------------------------------------------------
// The names and shapes are listed at the top of transformer.ts; mup.ts and hf.ts read them from here.

export type { ParamSpec } from './mixers/index.js';

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
  layerPlan(c).forEach((layer, i) => {
    const p = `blocks.${i}`;
    if (layer.mixer !== null) {
      const d = mixerDef(layer.mixer);
      normSpecs(`${p}.ln1`);
      specs.push(...d.params(c, mixerOptionsOf(c, layer.mixer), `${p}.${d.module}`));
    }
    if (layer.mlp) {
      normSpecs(`${p}.ln2`);
      linearSpecs(`${p}.mlp.fc`, c.mlp === 'swiglu' ? 2 * F : F, C);
      linearSpecs(`${p}.mlp.proj`, C, F, true);
    }
  });
  normSpecs('ln_final');
  if (!c.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, C], init: 'normal' });
  return specs;
}
