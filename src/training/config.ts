// The configuration of a training run: one flat, typed record (so `--set lr=3e-4` style overrides
// are plain keys), validated with zod. Unknown keys are rejected by name and every error names
// its field path (`schedule.decaySteps`, `model.nHead`). The model section is the model layer's
// own schema; the data section is passed through untouched to the data layer, which validates it.

import { z } from 'zod';
import { ConfigError, fieldIssues, type FieldIssue } from '../base/errors.js';
import { modelConfigSchema } from '../models/config.js';
import { ScheduleConfig } from './schedules.js';
import { nonFinitePaths } from '../base/config-file.js';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

export const trainConfigFields = z.object({
  model: modelConfigSchema,
  /** Corpus, tokenizer, sampler, split...: the data layer's spec, not interpreted here. */
  data: z.record(z.string(), z.unknown()).default({}),

  optimizer: z.enum(['adamw', 'sgd']).default('adamw'),
  /** Peak learning rate (the schedule scales it). */
  lr: z.number().positive(),
  /** AdamW only. */
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.95]),
  /** AdamW only; added outside the sqrt, as in PyTorch. */
  eps: z.number().nonnegative().default(1e-8),
  /** Decoupled weight decay (AdamW) or L2 added to the gradient (SGD). */
  weightDecay: z.number().nonnegative().default(0.1),
  /** Which parameters skip weight decay (see optimizers.ts makeNoDecay); default: norms, biases, embeddings. */
  noDecay: z.object({
    minDecayDims: nonNegInt.optional(),
    patterns: z.array(z.string()).optional(),
  }).strict().default({}),
  /** SGD only. */
  momentum: z.number().min(0).lt(1).default(0.9),
  nesterov: z.boolean().default(false),

  schedule: ScheduleConfig.default({ kind: 'cosine', warmupSteps: 0, minLrRatio: 0.1 }),

  /** Sequences per micro-batch. */
  batchSize: posInt,
  /** Tokens per sequence (at most model.nCtx). */
  context: posInt,
  /** Micro-batches per optimizer step; tokens per step = batchSize * context * gradAccum. */
  gradAccum: posInt.default(1),
  /** Max global gradient norm; 0 turns clipping off. */
  clip: z.number().nonnegative().default(1),
  /**
   * Log the gradient noise scale B_simple (McCandlish et al. 2018) every `every` steps into
   * metrics.jsonl (trainer.ts noiseScaleEvery). Absent: not measured (and run ids unchanged).
   */
  noiseScale: z.object({ every: posInt }).strict().optional(),

  /** Length of the run: optimizer steps, or a token budget (exactly one). */
  steps: posInt.optional(),
  tokens: posInt.optional(),

  /** Evaluate every N steps (0: only at the end). */
  evalInterval: nonNegInt.default(0),
  /** Held-out batches per evaluation. */
  evalBatches: posInt.default(20),
  /** Checkpoint every N steps (0: only at the end). */
  checkpointInterval: nonNegInt.default(0),
  /** Checkpoints kept (0: all). */
  keepCheckpoints: nonNegInt.default(3),
  /** Write a metrics line every N steps. */
  logInterval: posInt.default(1),
  seed: z.number().int().default(0),
  /**
   * Text samples logged into metrics.jsonl every `every` steps and at the end (greedy by default,
   * so reproducible); drawn with their own RNG, so they change nothing in training.
   */
  samples: z.object({
    every: posInt,
    /** "" starts a new document (after <|endoftext|>, when the data separates documents with it). */
    prompts: z.array(z.string()).min(1).default(['']),
    maxTokens: posInt.default(64),
    /** 0: greedy. */
    temperature: z.number().nonnegative().default(0),
    /** With temperature > 0: keep the k most likely tokens. */
    topK: posInt.optional(),
    /** With temperature > 0: keep the smallest set of tokens whose probability reaches topP. */
    topP: z.number().gt(0).max(1).optional(),
    /** Also sample before the first step (what the untrained model writes). */
    atStart: z.boolean().optional(),
  }).strict().superRefine((s, ctx) => {
    for (const k of ['topK', 'topP'] as const) {
      if (s[k] !== undefined && s.temperature === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: `${k} filters a sampled distribution; it has no effect with temperature 0 (greedy): set a temperature` });
    }
  }).optional(),
  /**
   * Representation rank and whitening of the residual stream (after the embeddings and after each
   * block), logged into metrics.jsonl every `every` steps and at the end: effective rank, stable
   * rank and isotropy distance (models/spectra.ts) over the tokens of the first `rows` sequences of
   * the first validation batch. A forward pass without gradients: training is unchanged.
   */
  rank: z.object({
    every: posInt,
    rows: posInt.default(2),
  }).strict().optional(),
  /**
   * Start from trained weights (fine-tuning): a Hugging Face folder or a run folder (its latest
   * checkpoint unless `checkpoint`). Without a model section the source's model config is used;
   * the tokenizer is the source's (data.tokenizer is then not used).
   */
  init: z.object({
    from: z.enum(['hf', 'run']),
    path: z.string().min(1),
    checkpoint: nonNegInt.optional(),
  }).strict().optional(),
}).strict();

export const trainConfigSchema = trainConfigFields.superRefine((c, ctx) => {
  if ((c.steps === undefined) === (c.tokens === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['steps'], message: 'give exactly one of steps or tokens (the token budget)' });
  }
  if (c.context > c.model.nCtx) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['context'], message: `context ${c.context} exceeds model.nCtx ${c.model.nCtx}` });
  }
  if (c.optimizer === 'sgd' && c.nesterov && c.momentum === 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['nesterov'], message: 'Nesterov momentum needs momentum > 0' });
  }
  if (c.noiseScale && c.gradAccum === 1 && c.batchSize % 2 !== 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['noiseScale'], message: `the noise scale compares a small and a big batch: with gradAccum 1 the step is split in two equal halves, so batchSize must be even (got ${c.batchSize}); or use gradAccum >= 2` });
  }
  const total = c.steps ?? (c.tokens !== undefined ? Math.ceil(c.tokens / (c.batchSize * c.context * c.gradAccum)) : 1);
  if (c.schedule.warmupSteps > total) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['schedule', 'warmupSteps'], message: `warm-up of ${c.schedule.warmupSteps} steps exceeds the run's ${total} steps` });
  }
});

export type TrainConfigInput = z.input<typeof trainConfigSchema>;
export type TrainConfig = z.output<typeof trainConfigSchema>;

export class TrainConfigError extends ConfigError {
  constructor(issues: FieldIssue[]) {
    super('invalid training config', issues);
    this.name = 'TrainConfigError';
  }
}

/**
 * The "must be finite" issues of a config (zod's number() lets Infinity through), and the other
 * issues minus those about the same fields (a field is reported once, for its first problem).
 */
export function withFiniteIssues(input: unknown, issues: { field: string; message: string }[]): { field: string; message: string }[] {
  const bad = nonFinitePaths(input).map((p) => ({ field: p.field, message: `must be a finite number, got ${p.value}` }));
  const covered = (f: string) => bad.some((b) => f === b.field || f.startsWith(b.field + '.'));
  return [...bad, ...issues.filter((i) => !covered(i.field))];
}

/** Validates a run config (defaults filled in); throws TrainConfigError naming every bad field. */
export function parseTrainConfig(input: unknown): TrainConfig {
  const r = trainConfigSchema.safeParse(input);
  const all = withFiniteIssues(input, r.success ? [] : fieldIssues(r.error));
  if (r.success && all.length === 0) return r.data;
  throw new TrainConfigError(all);
}

/** Optimizer steps of a run: `steps`, or the token budget over the tokens per step, rounded up. */
export function totalSteps(c: Pick<TrainConfig, 'steps' | 'tokens' | 'batchSize' | 'context' | 'gradAccum'>): number {
  if (c.steps !== undefined) return c.steps;
  if (c.tokens === undefined) throw new Error('totalSteps: the config has neither steps nor tokens');
  return Math.ceil(c.tokens / tokensPerStep(c));
}

export function tokensPerStep(c: Pick<TrainConfig, 'batchSize' | 'context' | 'gradAccum'>): number {
  return c.batchSize * c.context * c.gradAccum;
}
