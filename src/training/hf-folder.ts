// A Hugging Face model folder as the run commands see it: written from a run (weights,
// config.json and generation_config.json with the special-token ids, and the tokenizer as
// tokenizer.json, tokenizer_config.json and special_tokens_map.json, plus our own
// windtunnel-tokenizer.json), and read back as a model with its tokenizer, so `sample`, `eval`
// and `train`'s init accept such a folder wherever they accept a run.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../base/durable.js';
import { END_OF_TEXT, fromHFTokenizer, loadTokenizer, toHFTokenizer, type Tokenizer } from '../data/index.js';
import { exportHF, importHF, type HFFamily } from '../models/hf.js';
import type { Transformer } from '../models/transformer.js';
import { loadRun, type RunConfig } from './assemble.js';

export const OUR_TOKENIZER_FILE = 'windtunnel-tokenizer.json';

/** The files exportRunHF writes, for messages. */
export const HF_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', OUR_TOKENIZER_FILE];

/** Writes a model and its tokenizer as a Hugging Face folder. */
export function exportModelHF(model: Transformer, tokenizer: Tokenizer, dir: string, family?: HFFamily): void {
  const hf = toHFTokenizer(tokenizer, model.config.nCtx);
  const eot = hf.endOfTextId;
  exportHF(model, dir, family, { bos: eot, eos: eot, pad: eot });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  writeFileDurable(join(dir, 'tokenizer.json'), json(hf.tokenizer));
  writeFileDurable(join(dir, 'tokenizer_config.json'), json(hf.config));
  writeFileDurable(join(dir, 'special_tokens_map.json'), json(hf.specialTokensMap));
  writeFileDurable(join(dir, OUR_TOKENIZER_FILE), JSON.stringify(tokenizer.toJSON()) + '\n');
}

/** A folder with config.json and model.safetensors, and no run checkpoints. */
export function isHFFolder(dir: string): boolean {
  return existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'model.safetensors')) && !existsSync(join(dir, 'latest'));
}

/** The tokenizer of an HF folder when we understand it: ours beside it, else its tokenizer.json if laid out as ours. */
export function readHFTokenizer(dir: string): Tokenizer {
  const ours = join(dir, OUR_TOKENIZER_FILE);
  if (existsSync(ours)) return loadTokenizer(readFileSync(ours, 'utf8'));
  const hfPath = join(dir, 'tokenizer.json');
  if (!existsSync(hfPath)) throw new Error(`${dir} has neither ${OUR_TOKENIZER_FILE} nor tokenizer.json; no tokenizer to read text with`);
  const r = fromHFTokenizer(JSON.parse(readFileSync(hfPath, 'utf8')));
  if (!r.tokenizer) throw new Error(`${hfPath} is a tokenizer windtunnel cannot reproduce exactly (${r.reason})`);
  return r.tokenizer;
}

/** A model to sample from, evaluate or start training from: a run folder's checkpoint, or an HF folder. */
export interface ModelSource {
  kind: 'run' | 'hf';
  model: Transformer;
  tokenizer: Tokenizer;
  /** Optimizer steps behind the weights (0 for an HF folder: unknown). */
  step: number;
  /** The run's config (null for an HF folder). */
  config: RunConfig | null;
  /** Whether documents start with <|endoftext|> (a run's data.separator; for an HF folder, whether the tokenizer has it). */
  separator: boolean;
}

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
