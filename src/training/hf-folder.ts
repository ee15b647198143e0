// A Hugging Face model folder as the run commands see it: written from a run (weights,
// config.json and generation_config.json with the special-token ids, and the tokenizer as
// tokenizer.json, tokenizer_config.json and special_tokens_map.json, plus our own
// windtunnel-tokenizer.json), and its tokenizer read back (assemble.ts's loadModelSource reads
// the whole folder, so `sample`, `eval` and `train`'s init accept it wherever they accept a run).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../base/durable.js';
import { fromHFTokenizer, loadTokenizer, toHFTokenizer, type Tokenizer } from '../data/index.js';
import { exportHF, type HFFamily } from '../models/hf.js';
import type { Transformer } from '../models/transformer.js';

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
