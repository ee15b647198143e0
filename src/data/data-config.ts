// The data section of a run config, and what it builds: which corpus, how it is split, which
// tokenizer (bytes, or BPE learned on the training split and cached), how batches are drawn.
// The training layer's run config embeds it as `data` (training/assemble.ts).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { MAX_BPE_VOCAB, trainBpe } from './bpe.js';
import { corpusFingerprint, loadSplit, type CorpusSpec, type SplitOptions } from './corpora.js';
import { ByteTokenizer, END_OF_TEXT, loadTokenizer, type Tokenizer } from './tokenizer.js';
import { writeFileDurable } from '../base/durable.js';
import { defaultSplit, getTask, resolveTaskOptions, taskNames } from './tasks/generate.js';
import { taskFormats, type TaskFormat } from './tasks/format.js';
import { defaultFactWorld } from './fact-world.js';

const posInt = z.number().int().positive();

const brownCorpus = z.object({ kind: z.literal('brown'), categories: z.array(z.string()).nonempty().optional() }).strict();
/** A .txt file, or a folder searched for .txt files; one document per file. */
const textCorpus = z.object({ kind: z.literal('text'), path: z.string().min(1) }).strict();
/** A .jsonl file or folder; one document per line, its text under `field` (default "text"). */
const jsonlCorpus = z.object({ kind: z.literal('jsonl'), path: z.string().min(1), field: z.string().min(1).optional() }).strict();
/**
 * The synthetic fact world (data/fact-world.ts) as documents: every fact once per training
 * template, two-hop chains (`chains`), question forms (`questions`); validation is the held-out
 * paraphrases of the same facts (corpora.ts FactsCorpusSpec).
 */
const factsCorpus = z.object({
  kind: z.literal('facts'),
  world: z.object({
    seed: z.number().int().optional(),
    people: z.number().int().min(2).optional(),
    cities: z.number().int().min(2).optional(),
    countries: z.number().int().min(2).optional(),
    companies: z.number().int().min(2).optional(),
  }).strict().superRefine((w, ctx) => {
    const cities = w.cities ?? defaultFactWorld.cities, countries = w.countries ?? defaultFactWorld.countries;
    if (cities < countries) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['cities'], message: `cities (${cities}) must be at least countries (${countries}): every country needs a capital` });
  }).default({}),
  seed: z.number().int().optional(),
  templatesPerFact: posInt.optional(),
  chains: z.boolean().default(true),
  questions: z.boolean().default(false),
}).strict();
/**
 * A weighted mixture: each component split on its own, training documents repeated so that each
 * component's share of training bytes is weight / total (corpora.ts MixCorpusSpec).
 */
const mixCorpus = z.object({
  kind: z.literal('mix'),
  components: z.array(z.object({
    corpus: z.discriminatedUnion('kind', [brownCorpus, textCorpus, jsonlCorpus, factsCorpus]),
    weight: z.number().positive().finite(),
  }).strict()).nonempty(),
}).strict();

const corpusSchema = z.discriminatedUnion('kind', [
  brownCorpus, textCorpus, jsonlCorpus, factsCorpus, mixCorpus,
  /**
   * Reasoning task instances drawn from a seed (data/tasks): `train` of each of `sizes` for
   * training, `test` distinct ones of each of `testSizes` (default: sizes) for validation; the
   * loss covers the completion only (the chain of thought too, in format "cot").
   */
  z.object({
    kind: z.literal('task'),
    task: z.enum(taskNames as [string, ...string[]]),
    format: z.enum(taskFormats as [TaskFormat, ...TaskFormat[]]),
    sizes: z.array(posInt).nonempty(),
    testSizes: z.array(posInt).nonempty().optional(),
    train: posInt,
    test: posInt.default(200),
    seed: z.number().int().default(0),
    testFraction: z.number().gt(0).lt(1).default(defaultSplit.testFraction),
    salt: z.string().default(defaultSplit.salt),
    /** p (modulus), values (lis), alphabet (edit-distance). */
    options: z.object({ p: posInt.optional(), values: posInt.optional(), alphabet: z.string().optional() }).strict().default({}),
  }).strict(),
  /** A task file written by `windtunnel tasks make` (its train and test instances), in a format. */
  z.object({ kind: z.literal('task-file'), path: z.string().min(1), format: z.enum(taskFormats as [TaskFormat, ...TaskFormat[]]) }).strict(),
]);

/** Task corpora (reasoning task instances) train with the instances sampler and the byte tokenizer. */
export const isTaskCorpus = (kind: string): boolean => kind === 'task' || kind === 'task-file';

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
  /** Task corpora only (their default): whole instances packed per row, prompts masked (data/tasks/packing.ts). */
  z.object({ kind: z.literal('instances') }).strict(),
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
}).strict().superRefine((d, ctx) => {
  const task = isTaskCorpus(d.corpus.kind);
  if (task && d.tokenizer.kind !== 'byte') ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tokenizer'], message: 'task corpora use the byte tokenizer (a learned BPE would merge prompt and answer)' });
  if (task !== (d.sampler.kind === 'instances')) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['sampler', 'kind'], message: task ? 'task corpora train with the "instances" sampler (the default for them)' : 'the "instances" sampler is for task corpora only' });
  }
  if (d.corpus.kind === 'task') {
    const t = getTask(d.corpus.task);
    for (const [field, sizes] of [['sizes', d.corpus.sizes], ['testSizes', d.corpus.testSizes ?? []]] as const) {
      sizes.forEach((n, i) => {
        if (n < t.minSize || n > t.maxSize) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['corpus', field, i], message: `${t.name} sizes (${t.sizeMeaning}) lie in ${t.minSize}..${t.maxSize}, got ${n}` });
      });
    }
    try {
      resolveTaskOptions(d.corpus.options);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['corpus', 'options'], message: (e as Error).message });
    }
  }
});

export type DataConfig = z.output<typeof dataConfigSchema>;
export type DataConfigInput = z.input<typeof dataConfigSchema>;

/** Vocabulary of the tokenizer a data config asks for (BPE: at most; it can come out smaller). */
export function tokenizerVocabSize(data: DataConfig): number {
  return data.tokenizer.kind === 'byte' ? 257 : data.tokenizer.vocabSize;
}

export const splitOptions = (d: DataConfig): SplitOptions => ({ validFraction: d.validFraction, salt: d.splitSalt });

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

