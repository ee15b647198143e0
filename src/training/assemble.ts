// A training run assembled from its config file: the run config format, the tokenizer, the
// token files, samplers, model, optimizer, schedule and Trainer. No command-line concerns, so
// the CLI (src/interfaces) and the lab mean the same thing by a config.
//
// The run config is the training layer's TrainConfig (config.ts) with two conveniences and a
// typed data section:
//   model  may name a preset ({ "preset": "gpt2", "dModel": 128, ... }: the preset's layout,
//          then the given fields); vocabSize defaults to the tokenizer's, nCtx to `context`.
//   data   { corpus, tokenizer, sampler, ... } (dataConfigSchema below).
// resolveRunConfig() returns the fully resolved config (preset expanded, every default filled
// in); that is what a run stores in config.json and its checkpoints, and it resolves to itself.
//
// Run folder: config.json, tokenizer.json, metrics.jsonl, ckpt-<step>/ and `latest` (the last
// three written by the Trainer).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  ByteTokenizer, END_OF_TEXT, bytesPerToken, corpusFingerprint, countEvalWindows, createSampler, evalBatches,
  loadOrBuildTokens, loadSplit, loadTokenizer, trainBpe, MAX_BPE_VOCAB,
  type CorpusSpec, type SplitOptions, type TokenFile, type Tokenizer,
} from '../data/index.js';
import { presets, type PresetName } from '../models/config.js';
import { Transformer } from '../models/transformer.js';
import { mupOptimizerOptions } from '../models/mup.js';
import { TrainConfigError, parseTrainConfig, totalSteps, type TrainConfig } from './config.js';
import { createOptimizer, type Optimizer } from './optimizers.js';
import { Trainer, type TrainerOptions } from './trainer.js';
import { latestStep, loadCheckpoint } from './checkpoint.js';
import { writeFileDurable } from '../base/durable.js';

export const TOKENIZER_FILE = 'tokenizer.json';
export const CONFIG_FILE = 'config.json';

// ---- the data section ------------------------------------------------------------------------

const posInt = z.number().int().positive();

const corpusSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('brown'), categories: z.array(z.string()).nonempty().optional() }).strict(),
  /** A .txt file, or a folder searched for .txt files; one document per file. */
  z.object({ kind: z.literal('text'), path: z.string().min(1) }).strict(),
  /** A .jsonl file or folder; one document per line, its text under `field` (default "text"). */
  z.object({ kind: z.literal('jsonl'), path: z.string().min(1), field: z.string().min(1).optional() }).strict(),
]);

const tokenizerSchema = z.discriminatedUnion('kind', [
  /** One token per UTF-8 byte, plus <|endoftext|>: vocabulary 257. */
  z.object({ kind: z.literal('byte') }).strict(),
  /** Byte-level BPE learned on the training split; vocabSize counts the 256 bytes and <|endoftext|>. */
  z.object({
    kind: z.literal('bpe'),
    vocabSize: z.number().int().min(257).max(MAX_BPE_VOCAB),
    /** Stop merging when the best pair is rarer than this (the vocabulary may then come out smaller). */
    minFrequency: posInt.default(2),
  }).strict(),
]);

const samplerSchema = z.discriminatedUnion('kind', [
  /** Random windows of the concatenated training split. */
  z.object({ kind: z.literal('windows'), keepInDocument: z.boolean().default(false) }).strict(),
  /** Documents packed back to back in shuffled epochs; every token is a target once per epoch. */
  z.object({ kind: z.literal('packing'), keepInDocument: z.boolean().default(false), shuffle: z.boolean().default(true) }).strict(),
]);

export const dataConfigSchema = z.object({
  corpus: corpusSchema,
  /** Fraction of documents held out for validation (by a hash of the document id). */
  validFraction: z.number().gt(0).lt(1).default(0.1),
  /** Changing the salt draws a different (still deterministic) split. */
  splitSalt: z.string().default('windtunnel-split-v1'),
  tokenizer: tokenizerSchema.default({ kind: 'byte' }),
  /** Put <|endoftext|> after every document (and before sampling prompts). */
  separator: z.boolean().default(true),
  sampler: samplerSchema.default({ kind: 'windows' }),
  /** Token files and learned BPE tokenizers are cached here, keyed by what determines them. */
  cacheDir: z.string().default('.cache/tokens'),
}).strict();

export type DataConfig = z.output<typeof dataConfigSchema>;
export type DataConfigInput = z.input<typeof dataConfigSchema>;
export type RunConfig = Omit<TrainConfig, 'data'> & { data: DataConfig };

type Issue = { field: string; message: string };

function issuesOf(error: z.ZodError, prefix: string[]): Issue[] {
  return error.issues.flatMap((i) => (i.code === 'unrecognized_keys'
    ? i.keys.map((k) => ({ field: [...prefix, ...i.path, k].join('.'), message: 'unknown key' }))
    : [{ field: [...prefix, ...i.path].join('.') || '(config)', message: i.message }]));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Vocabulary of the tokenizer a data config asks for (BPE: at most; it can come out smaller). */
export function tokenizerVocabSize(data: DataConfig): number {
  return data.tokenizer.kind === 'byte' ? 257 : data.tokenizer.vocabSize;
}

/**
 * Validates a run config and resolves it (preset expanded, vocabSize and nCtx derived, defaults
 * filled). Throws TrainConfigError listing every bad field by its path (`model.nHead`, `data.corpus.kind`).
 */
export function resolveRunConfig(input: unknown): RunConfig {
  if (!isObject(input)) throw new TrainConfigError([{ field: '(config)', message: `expected an object, got ${Array.isArray(input) ? 'an array' : typeof input}` }]);
  const issues: Issue[] = [];
  const data = dataConfigSchema.safeParse(input.data);
  if (!data.success) issues.push(...issuesOf(data.error, ['data']));

  let model: unknown = input.model;
  if (isObject(model)) {
    const { preset, ...fields } = model;
    let base = {};
    if (preset !== undefined) {
      if (typeof preset === 'string' && preset in presets) base = presets[preset as PresetName];
      else {
        issues.push({ field: 'model.preset', message: `unknown preset ${JSON.stringify(preset)} (known: ${Object.keys(presets).join(', ')})` });
        base = presets.gpt2; // a stand-in, so the layout fields the preset would give are not reported missing too
      }
    }
    model = { ...base, ...fields };
    const m = model as Record<string, unknown>;
    // From the tokenizer; when the data section is invalid (already reported), a stand-in.
    if (m.vocabSize === undefined) m.vocabSize = data.success ? tokenizerVocabSize(data.data) : 257;
    if (m.nCtx === undefined && typeof input.context === 'number') m.nCtx = input.context;
  }

  let train: TrainConfig | null = null;
  try {
    train = parseTrainConfig({ ...input, model, data: {} });
  } catch (e) {
    if (!(e instanceof TrainConfigError)) throw e;
    issues.push(...e.issues);
  }
  if (train && data.success && train.model.vocabSize < tokenizerVocabSize(data.data)) {
    issues.push({ field: 'model.vocabSize', message: `${train.model.vocabSize} is smaller than the tokenizer's vocabulary (${tokenizerVocabSize(data.data)}); leave it out to use the tokenizer's` });
  }
  if (issues.length || !train || !data.success) throw new TrainConfigError(issues);
  return { ...train, data: data.data };
}

// ---- tokenizer and tokens --------------------------------------------------------------------

const splitOptions = (d: DataConfig): SplitOptions => ({ validFraction: d.validFraction, salt: d.splitSalt });

/**
 * The run's tokenizer: bytes, or BPE learned on the training split. A learned BPE is cached in
 * data.cacheDir under a hash of the corpus (with its fingerprint), the split and the tokenizer
 * spec, so sweeps over one dataset learn it once.
 */
export function buildTokenizer(data: DataConfig, log: (msg: string) => void = () => {}): Tokenizer {
  if (data.tokenizer.kind === 'byte') return new ByteTokenizer({ specialTokens: [END_OF_TEXT] });
  const spec = data.tokenizer;
  const key = createHash('sha256').update(JSON.stringify({
    format: 1, corpus: data.corpus, fingerprint: corpusFingerprint(data.corpus as CorpusSpec), split: splitOptions(data), tokenizer: spec,
  })).digest('hex').slice(0, 24);
  const path = join(resolve(data.cacheDir), `bpe-${spec.vocabSize}-${key}.tokenizer.json`);
  if (existsSync(path)) return loadTokenizer(readFileSync(path, 'utf8'));
  const t0 = Date.now();
  const docs = loadSplit(data.corpus as CorpusSpec, 'train', splitOptions(data));
  const tok = trainBpe(docs.map((d) => d.text), { vocabSize: spec.vocabSize, minFrequency: spec.minFrequency, specialTokens: [END_OF_TEXT] });
  mkdirSync(resolve(data.cacheDir), { recursive: true });
  writeFileDurable(path, JSON.stringify(tok.toJSON()) + '\n');
  log(`learned a BPE tokenizer (${tok.vocabSize} tokens) on ${docs.length} training documents in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return tok;
}

export interface RunData {
  tokenizer: Tokenizer;
  train: TokenFile;
  valid: TokenFile;
  /** <|endoftext|> between documents, when data.separator is on. */
  separatorId: number | undefined;
  /** Of the validation split (for bits per byte). */
  bytesPerToken: number;
}

/** Opens (building them first if needed) the token files of both splits for this tokenizer. */
export function openData(config: RunConfig, tokenizer: Tokenizer, log: (msg: string) => void = () => {}): RunData {
  const d = config.data;
  if (tokenizer.vocabSize > config.model.vocabSize) {
    throw new Error(`the tokenizer has ${tokenizer.vocabSize} tokens but model.vocabSize is ${config.model.vocabSize}`);
  }
  const separatorId = d.separator ? tokenizer.specialId(END_OF_TEXT) : undefined;
  if (d.separator && separatorId === undefined) throw new Error(`data.separator is on but the tokenizer has no ${END_OF_TEXT} token`);
  const open = (split: 'train' | 'valid') =>
    loadOrBuildTokens({ corpus: d.corpus as CorpusSpec, split, splitOptions: splitOptions(d), tokenizer, cacheDir: d.cacheDir, log }).file;
  const train = open('train'), valid = open('valid');
  const extra = (f: TokenFile) => f.length + (separatorId === undefined ? 0 : f.numDocs);
  if (extra(train) < config.context + 1) throw new Error(`the training split has ${extra(train)} tokens, fewer than context + 1 = ${config.context + 1}`);
  if (countEvalWindows(extra(valid), config.context) === 0) {
    throw new Error(`the validation split has ${extra(valid)} tokens, fewer than context + 1 = ${config.context + 1} (raise data.validFraction or use a bigger corpus)`);
  }
  return { tokenizer, train, valid, separatorId, bytesPerToken: bytesPerToken(valid, separatorId) };
}

/** A fresh iterator over (the first maxBatches of) the validation windows, shaped like training batches. */
export function validationBatches(config: RunConfig, data: RunData, maxBatches?: number) {
  return evalBatches(data.valid, {
    B: config.batchSize, T: config.context, maxBatches, separatorId: data.separatorId, keepInDocument: config.data.sampler.keepInDocument,
  });
}

// ---- model, optimizer, trainer ---------------------------------------------------------------

export interface AssembledRun {
  model: Transformer;
  optimizer: Optimizer;
  trainer: Trainer;
  totalSteps: number;
}

/**
 * Model, optimizer, sampler and Trainer for a run folder. resume false: a fresh run with the
 * config's schedule; otherwise the Trainer restores everything (schedule included) from the checkpoint.
 */
export function assembleRun(config: RunConfig, data: RunData, o: Pick<TrainerOptions, 'runDir' | 'resume' | 'onEvent'>): AssembledRun {
  const model = new Transformer(config.model, { seed: config.seed });
  const optimizer = createOptimizer(model.params, config, mupOptimizerOptions(model.config, config.optimizer)); // {} without muP
  const s = config.data.sampler;
  const train = createSampler(data.train, {
    ...s, B: config.batchSize, T: config.context, seed: `train:${config.seed}`, separatorId: data.separatorId,
  });
  const steps = totalSteps(config);
  const trainer = new Trainer({
    ...o,
    model, optimizer, train,
    schedule: o.resume ? undefined : { config: config.schedule, lr: config.lr, totalSteps: steps },
    eval: { batches: () => validationBatches(config, data, config.evalBatches), bytesPerToken: data.bytesPerToken },
    gradAccum: config.gradAccum, clip: config.clip,
    evalInterval: config.evalInterval, checkpointInterval: config.checkpointInterval, keepCheckpoints: config.keepCheckpoints,
    logInterval: config.logInterval, config,
  });
  return { model, optimizer, trainer, totalSteps: steps };
}

// ---- reading a run folder --------------------------------------------------------------------

/** The run's config: the one its latest checkpoint carries (a branch rewrites it), else config.json. */
export function readRunConfig(runDir: string, step?: number): RunConfig {
  if (!existsSync(runDir)) throw new Error(`run folder ${runDir} does not exist`);
  const which = step ?? latestStep(runDir);
  let raw: unknown = null;
  if (which !== null) raw = loadCheckpoint(runDir, which).state.config;
  if (raw === null || raw === undefined) {
    const p = join(runDir, CONFIG_FILE);
    if (!existsSync(p)) throw new Error(`${runDir} has neither a checkpoint with a config nor ${CONFIG_FILE}; is it a run folder?`);
    raw = JSON.parse(readFileSync(p, 'utf8'));
  }
  return resolveRunConfig(raw);
}

export function readRunTokenizer(runDir: string): Tokenizer {
  const p = join(runDir, TOKENIZER_FILE);
  if (!existsSync(p)) throw new Error(`${p} is missing; the run's tokenizer is needed to read its tokens`);
  return loadTokenizer(readFileSync(p, 'utf8'));
}

export interface LoadedRun {
  config: RunConfig;
  tokenizer: Tokenizer;
  model: Transformer;
  /** Optimizer steps the weights have seen. */
  step: number;
}

/** The trained model of a run folder at a checkpoint (default: latest), with its config and tokenizer. */
export function loadRun(runDir: string, step?: number): LoadedRun {
  const which = step ?? latestStep(runDir);
  if (which === null) throw new Error(`${runDir} has no checkpoint yet`);
  const ck = loadCheckpoint(runDir, which);
  const config = resolveRunConfig(ck.state.config ?? JSON.parse(readFileSync(join(runDir, CONFIG_FILE), 'utf8')));
  const model = new Transformer(config.model, { params: ck.model });
  return { config, tokenizer: readRunTokenizer(runDir), model, step: ck.step };
}
