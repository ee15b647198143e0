// A training run assembled from its config file: the run config format, the tokenizer, the
// token files, samplers, model, optimizer, schedule and Trainer. No command-line concerns, so
// the CLI (src/interfaces) and the lab mean the same thing by a config.
//
// The run config is the training layer's TrainConfig (config.ts) with two conveniences and a
// typed data section:
//   model  may name a preset ({ "preset": "gpt2", "dModel": 128, ... }: the preset's layout,
//          then the given fields); vocabSize defaults to the tokenizer's, nCtx to `context`.
//   data   { corpus, tokenizer, sampler, ... } (the data layer's dataConfigSchema, data/data-config.ts).
//   init   { from: 'hf' | 'run', path } fine-tunes from trained weights (model and tokenizer from there).
// resolveRunConfig() returns the fully resolved config (preset expanded, every default filled
// in); that is what a run stores in config.json and its checkpoints, and it resolves to itself.
// Run folders are read through their owner, run-folder.ts.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, type Tensor } from '../engine/index.js';
import { UsageError, fieldIssues, type FieldIssue } from '../base/errors.js';
import { isPlainObject } from '../base/config-file.js';
import {
  END_OF_TEXT, MemoryTokens, bytesPerToken, countEvalWindows, createSampler, evalBatches, loadOrBuildTokens,
  type CorpusSpec, type TokenFile, type TokenSource, type Tokenizer,
} from '../data/index.js';
import { buildTokenizer, dataConfigSchema, isTaskCorpus, splitOptions, tokenizerVocabSize, type DataConfig } from '../data/data-config.js';
import {
  InstanceSampler, buildTaskSets, encodeTasks, instanceBatches, readTaskFile, type EncodedTasks, type TaskFormat, type TaskSets,
} from '../data/tasks/index.js';
import { presets, type PresetName } from '../models/config.js';
import { Transformer } from '../models/transformer.js';
import { generate, type SamplingOptions } from '../models/sampling.js';
import { mupOptimizerOptions } from '../models/mup.js';
import { activationSpectra } from '../models/spectra.js';
import { TrainConfigError, parseTrainConfig, withFiniteIssues, totalSteps, type TrainConfig } from './config.js';
import { createOptimizer, type Optimizer } from './optimizers.js';
import { Trainer, type TrainerOptions } from './trainer.js';
import { loadCheckpoint } from './checkpoint.js';
import { RUN_CONFIG_FILE, RunFolder } from './run-folder.js';
import { isHFFolder, readHFTokenizer } from './hf-folder.js';
import { configFromHF, importHF } from '../models/hf.js';

/** A resolved run config: the training config with its data section (data/data-config.ts). */
export type RunConfig = Omit<TrainConfig, 'data'> & { data: DataConfig };
export type { DataConfig };


/**
 * Validates a run config and resolves it (preset expanded, vocabSize and nCtx derived, defaults
 * filled). Throws TrainConfigError listing every bad field by its path (`model.nHead`, `data.corpus.kind`).
 */
export function resolveRunConfig(input: unknown): RunConfig {
  if (!isPlainObject(input)) throw new TrainConfigError([{ field: '(config)', message: `expected an object, got ${Array.isArray(input) ? 'an array' : typeof input}` }]);
  const issues: FieldIssue[] = [];
  let dataInput = input.data;
  if (isPlainObject(dataInput) && isPlainObject(dataInput.corpus) && typeof dataInput.corpus.kind === 'string' && isTaskCorpus(dataInput.corpus.kind) && dataInput.sampler === undefined) {
    dataInput = { ...dataInput, sampler: { kind: 'instances' } }; // the only sampler for task corpora
  }
  const data = dataConfigSchema.safeParse(dataInput);
  if (!data.success) issues.push(...fieldIssues(data.error, { prefix: ['data'] }));

  let model: unknown = input.model;
  if (model === undefined && isPlainObject(input.init)) {
    // Fine-tuning without a model section: the source's model config.
    try {
      model = initModelConfig(input.init as InitSpec);
    } catch (e) {
      issues.push({ field: 'init.path', message: (e as Error).message });
    }
  }
  if (isPlainObject(model)) {
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
  const all = withFiniteIssues(input, issues);
  if (all.length || !train || !data.success) throw new TrainConfigError(all);
  return { ...train, data: data.data };
}

export interface RunData {
  tokenizer: Tokenizer;
  train: TokenSource & { close(): void };
  valid: TokenSource & { close(): void };
  /** <|endoftext|> between documents, when data.separator is on. */
  separatorId: number | undefined;
  /** Of the validation split (for bits per byte); not given for task corpora (only answers are scored). */
  bytesPerToken: number | undefined;
  /** Task corpora: the instances and their encodings (train: training split; valid: test split). */
  tasks?: { sets: TaskSets; format: TaskFormat; train: EncodedTasks; valid: EncodedTasks };
}

/** A task corpus's instances and their encodings; the token sources hold one document per instance. */
function openTaskData(config: RunConfig, tokenizer: Tokenizer): RunData {
  const c = config.data.corpus;
  if (c.kind !== 'task' && c.kind !== 'task-file') throw new Error('openTaskData: not a task corpus');
  const eot = tokenizer.specialId(END_OF_TEXT);
  if (eot === undefined) throw new Error(`task corpora need a tokenizer with ${END_OF_TEXT}`);
  const sets = c.kind === 'task'
    ? buildTaskSets({ task: c.task, sizes: c.sizes, testSizes: c.testSizes, train: c.train, test: c.test, seed: c.seed, testFraction: c.testFraction, salt: c.salt, options: c.options })
    : readTaskFile(c.path);
  const encode = (split: 'train' | 'test') => encodeTasks(sets[split], c.format, (t) => tokenizer.encode(t), eot);
  const train = encode('train'), valid = encode('test');
  const source = (e: EncodedTasks) => Object.assign(new MemoryTokens(Array.from({ length: e.bounds.length - 1 }, (_, d) => e.tokens.subarray(e.bounds[d], e.bounds[d + 1]))), { close() {} });
  return { tokenizer, train: source(train), valid: source(valid), separatorId: eot, bytesPerToken: undefined, tasks: { sets, format: c.format, train, valid } };
}

/** Opens (building them first if needed) the token files of both splits for this tokenizer. */
export function openData(config: RunConfig, tokenizer: Tokenizer, log: (msg: string) => void = () => {}): RunData {
  const d = config.data;
  if (tokenizer.vocabSize > config.model.vocabSize) {
    throw new Error(`the tokenizer has ${tokenizer.vocabSize} tokens but model.vocabSize is ${config.model.vocabSize}`);
  }
  if (isTaskCorpus(d.corpus.kind)) return openTaskData(config, tokenizer);
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
  const s = config.data.sampler;
  if (data.tasks) return instanceBatches(data.tasks.valid, { B: config.batchSize, T: config.context, maxBatches });
  return evalBatches(data.valid, {
    B: config.batchSize, T: config.context, maxBatches, separatorId: data.separatorId, keepInDocument: s.kind !== 'instances' && s.keepInDocument,
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
export function assembleRun(config: RunConfig, data: RunData, o: Pick<TrainerOptions, 'runDir' | 'resume' | 'onEvent' | 'lock'>): AssembledRun {
  // A fine-tuning run starts from its source's weights; a resumed one gets them from its checkpoint.
  const init = config.init && !o.resume ? loadInit(config.init) : null;
  const model = new Transformer(config.model, init ? { params: init.params } : { seed: config.seed });
  const optimizer = createOptimizer(model.params, config, mupOptimizerOptions(model.config, config.optimizer)); // {} without muP
  const s = config.data.sampler;
  const seed = `train:${config.seed}`;
  const train = s.kind === 'instances'
    ? new InstanceSampler(data.tasks?.train ?? fail('the "instances" sampler needs a task corpus'), { B: config.batchSize, T: config.context, seed })
    : createSampler(data.train, { ...s, B: config.batchSize, T: config.context, seed, separatorId: data.separatorId });
  const steps = totalSteps(config);
  const samples = config.samples;
  const source = { model, tokenizer: data.tokenizer, separator: data.separatorId !== undefined };
  if (samples?.prompts.includes('') && (!source.separator || data.tokenizer.specialId(END_OF_TEXT) === undefined)) {
    throw new UsageError(`samples.prompts: an empty prompt starts a document after ${END_OF_TEXT}, but this run's data does not separate documents with it; give a non-empty prompt`);
  }
  const rank = config.rank;
  const trainer = new Trainer({
    ...o,
    model, optimizer, train,
    schedule: o.resume ? undefined : { config: config.schedule, lr: config.lr, totalSteps: steps },
    eval: { batches: () => validationBatches(config, data, config.evalBatches), bytesPerToken: data.bytesPerToken },
    gradAccum: config.gradAccum, clip: config.clip, noiseScaleEvery: config.noiseScale?.every ?? 0,
    evalInterval: config.evalInterval, checkpointInterval: config.checkpointInterval, keepCheckpoints: config.keepCheckpoints,
    logInterval: config.logInterval, config,
    // Seeded by the step, with its own RNG (inside generate), and dropout off: training is unchanged.
    ...(samples ? {
      sampleInterval: samples.every,
      sampleAtStart: samples.atStart ?? false,
      sample: (step: number) => samples.prompts.map((prompt) => ({
        prompt, text: sampleText(source, prompt, { maxTokens: samples.maxTokens, temperature: samples.temperature, topK: samples.topK, topP: samples.topP, seed: step }).text,
      })),
    } : {}),
    ...(rank ? { diagnosticsInterval: rank.every, diagnostics: rankDiagnostics(model, config, data, rank.rows) } : {}),
  });
  return { model, optimizer, trainer, totalSteps: steps };
}

/**
 * The `rank` section's measurement: effective rank, stable rank and isotropy distance of the
 * residual stream at each point, on a fixed set of validation tokens, as flat metric keys
 * (rank.eff.embed, rank.eff.block0, ..., rank.stable.*, rank.isotropy.*).
 */
function rankDiagnostics(model: Transformer, config: RunConfig, data: RunData, rows: number): () => Record<string, number> {
  const first = validationBatches(config, data, 1)[Symbol.iterator]().next();
  if (first.done) throw new UsageError('rank: the run has no validation batch to measure on');
  const b = first.value, B = Math.min(rows, b.B);
  const ids = tensor(b.inputs.slice(0, B * b.T), [B, b.T], { dtype: 'int32' });
  return () => {
    const out: Record<string, number> = {};
    activationSpectra(model, ids, { keep: 1 }).forEach((s, i) => {
      const at = i === 0 ? 'embed' : `block${i - 1}`;
      out[`rank.eff.${at}`] = s.effectiveRank;
      out[`rank.stable.${at}`] = s.stableRank;
      out[`rank.isotropy.${at}`] = s.isotropyDistance!;
    });
    return out;
  };
}

function fail(message: string): never {
  throw new Error(message);
}

// ---- sampling ----------------------------------------------------------------------------------

export interface SampleOptions extends SamplingOptions {
  maxTokens: number;
  seed: number;
  /** Attention sinks: keep the first `keep` tokens and the last ones in the cache, and run past nCtx. */
  sinks?: { keep: number; window: number };
}

/** The prompt followed by the model's continuation, as text. */
export function sampleText(run: Pick<ModelSource, 'model' | 'tokenizer' | 'separator'>, prompt: string, o: SampleOptions): { text: string; newTokens: number } {
  const eot = run.tokenizer.specialId(END_OF_TEXT);
  const useEot = run.separator && eot !== undefined;
  const ids = [...(useEot ? [eot] : []), ...run.tokenizer.encode(prompt)];
  if (ids.length === 0) throw new UsageError('the prompt is empty (and this run has no <|endoftext|> token to start a document from)');
  const out = generate(run.model, ids, {
    maxNewTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed,
    stopToken: useEot ? eot : undefined, ...(o.sinks ? { sinks: o.sinks } : {}),
  });
  const continuation = Array.from(out.i.subarray(ids.length)).filter((id) => id !== eot);
  return { text: prompt + run.tokenizer.decode(continuation), newTokens: continuation.length };
}

// ---- reading a run folder --------------------------------------------------------------------

/** The run's config: the one its latest checkpoint carries (a branch rewrites it), else config.json. */
export function readRunConfig(runDir: string, step?: number): RunConfig {
  const folder = new RunFolder(runDir);
  if (!folder.exists()) throw new Error(`run folder ${runDir} does not exist`);
  const which = step ?? folder.latestStep();
  let raw: unknown = null;
  if (which !== null) raw = loadCheckpoint(runDir, which).state.config;
  if (raw === null || raw === undefined) {
    raw = folder.readConfigFile();
    if (raw === null) throw new Error(`${runDir} has neither a checkpoint with a config nor ${RUN_CONFIG_FILE}; is it a run folder?`);
  }
  return resolveRunConfig(raw);
}

export function readRunTokenizer(runDir: string): Tokenizer {
  return new RunFolder(runDir).readTokenizer();
}

export interface LoadedRun {
  config: RunConfig;
  tokenizer: Tokenizer;
  model: Transformer;
  /** Optimizer steps the weights have seen. */
  step: number;
}

/** A model to sample from, evaluate or start training from: a run folder's checkpoint, or a Hugging Face folder. */
export interface ModelSource {
  kind: 'run' | 'hf';
  model: Transformer;
  tokenizer: Tokenizer;
  /** Optimizer steps behind the weights (0 for a Hugging Face folder: unknown). */
  step: number;
  /** The run's config (null for a Hugging Face folder). */
  config: RunConfig | null;
  /** Whether documents start with <|endoftext|> (a run's data.separator; for a Hugging Face folder, whether the tokenizer has it). */
  separator: boolean;
}

/** A run folder (at a checkpoint, default latest) or a Hugging Face folder (hf-folder.ts), as a model with its tokenizer. */
export function loadModelSource(path: string, step?: number): ModelSource {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  if (isHFFolder(path)) {
    if (step !== undefined) throw new Error(`${path} is a Hugging Face folder, which has no checkpoints to choose from`);
    const tokenizer = readHFTokenizer(path);
    const model = importHF(path);
    if (tokenizer.vocabSize > model.config.vocabSize) throw new Error(`${path}: the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${model.config.vocabSize}`);
    return { kind: 'hf', model, tokenizer, step: 0, config: null, separator: tokenizer.specialId(END_OF_TEXT) !== undefined };
  }
  const run = loadRun(path, step);
  return { kind: 'run', ...run, separator: run.config.data.separator };
}

type InitSpec = NonNullable<TrainConfig['init']>;

function checkInitKind(init: InitSpec): void {
  const hf = isHFFolder(init.path);
  if (!existsSync(init.path)) throw new Error(`${init.path} does not exist`);
  if (init.from === 'hf' && !hf) throw new Error(`${init.path} is not a Hugging Face folder (config.json + model.safetensors)`);
  if (init.from === 'run' && hf) throw new Error(`${init.path} is a Hugging Face folder; say init.from "hf"`);
  if (init.from === 'hf' && init.checkpoint !== undefined) throw new Error('init.checkpoint is for a run folder; a Hugging Face folder has one set of weights');
}

/** The model config of a fine-tuning source (a run's resolved model section, or the HF config's). */
function initModelConfig(init: InitSpec): unknown {
  checkInitKind(init);
  if (init.from === 'hf') return configFromHF(JSON.parse(readFileSync(join(init.path, 'config.json'), 'utf8')) as Record<string, unknown>).config;
  return readRunConfig(init.path, init.checkpoint).model;
}

/** The weights and tokenizer a fine-tuning run starts from. */
function loadInit(init: InitSpec): { params: Map<string, Tensor>; tokenizer: Tokenizer } {
  checkInitKind(init);
  const src = loadModelSource(init.path, init.checkpoint);
  return { params: src.model.params, tokenizer: src.tokenizer };
}

/** The trained model of a run folder at a checkpoint (default: latest), with its config and tokenizer. */
export function loadRun(runDir: string, step?: number): LoadedRun {
  const folder = new RunFolder(runDir);
  const which = step ?? folder.latestStep();
  if (which === null) throw new Error(`${runDir} has no checkpoint yet`);
  const ck = loadCheckpoint(runDir, which);
  const config = resolveRunConfig(ck.state.config ?? folder.readConfigFile());
  const model = new Transformer(config.model, { params: ck.model });
  return { config, tokenizer: folder.readTokenizer(), model, step: ck.step };
}

// ---- a run ready to train --------------------------------------------------------------------

export interface PreparedRun extends AssembledRun {
  config: RunConfig;
  data: RunData;
  /** Closes the token files and releases the run folder's lock. */
  close(): void;
}

export interface PrepareRunOptions {
  runDir: string;
  /** A fresh run of this (resolved) config; without it, the folder's run resumes from its latest checkpoint. */
  config?: RunConfig;
  log?: (msg: string) => void;
  onEvent?: TrainerOptions['onEvent'];
  /** Recorded in the lock as the holder's command (default: this process's command line). */
  command?: string;
}

/**
 * Everything before the first step, under the run folder's lock (taken first, so a folder
 * another process writes is refused before anything is written): a fresh run builds its
 * tokenizer and writes it into the folder; a resumed one reads the folder's config and tokenizer.
 * Then the token files, model, optimizer and Trainer. The caller runs `trainer.run()` and then `close()`.
 */
export function prepareRun(o: PrepareRunOptions): PreparedRun {
  const folder = new RunFolder(o.runDir);
  const log = o.log ?? (() => {});
  if (!o.config && !folder.exists()) throw new Error(`run folder ${o.runDir} does not exist`);
  const lock = folder.lock(o.command);
  try {
    let config: RunConfig, tokenizer: Tokenizer;
    if (o.config) {
      config = o.config;
      if (config.init) {
        tokenizer = loadInit(config.init).tokenizer;
        log(`fine-tuning from ${config.init.path}; its tokenizer (${tokenizer.kind}, ${tokenizer.vocabSize} tokens) replaces data.tokenizer`);
      } else tokenizer = buildTokenizer(config.data, log);
      folder.writeTokenizer(tokenizer);
    } else {
      config = readRunConfig(o.runDir);
      tokenizer = folder.readTokenizer();
    }
    const data = openData(config, tokenizer, log);
    const run = assembleRun(config, data, { runDir: o.runDir, resume: o.config ? false : 'latest', onEvent: o.onEvent, lock });
    return {
      ...run, config, data,
      close() {
        data.train.close();
        data.valid.close();
        lock.release();
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}
