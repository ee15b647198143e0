// Training a run config from code: what `windtunnel train` does, without the terminal. The
// library's entry point for "train this config and tell me how it goes" (progress arrives as
// TrainerEvents), and the one place that turns a config into a prepared run folder, which the
// CLI's train command also uses.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileDurable } from '../base/durable.js';
import type { Transformer } from '../models/transformer.js';
import type { Tokenizer } from '../data/index.js';
import { listCheckpoints, latestStep } from './checkpoint.js';
import {
  TOKENIZER_FILE, assembleRun, buildTokenizer, openData, readRunConfig, readRunTokenizer, resolveRunConfig,
  type RunConfig, type RunData,
} from './assemble.js';
import type { TrainResult, TrainerEvent } from './trainer.js';

/**
 * A fresh run folder for a resolved config: learns (or reuses) the tokenizer, writes it into
 * the folder, and opens the token files. Refuses a folder that already holds checkpoints.
 */
export function prepareRun(config: RunConfig, runDir: string, log: (msg: string) => void = () => {}): RunData {
  if (latestStep(runDir) !== null || listCheckpoints(runDir).length > 0) {
    throw new Error(`${runDir} already holds a run with checkpoints; resume it, or choose another run folder`);
  }
  const tokenizer = buildTokenizer(config.data, log);
  mkdirSync(runDir, { recursive: true });
  writeFileDurable(join(runDir, TOKENIZER_FILE), JSON.stringify(tokenizer.toJSON()) + '\n');
  return openData(config, tokenizer, log);
}

export interface TrainRunOptions {
  /** The run folder (config.json, tokenizer.json, metrics.jsonl, checkpoints). */
  runDir: string;
  /** Continue the run in runDir from its latest checkpoint instead of starting fresh. */
  resume?: boolean;
  /** Every step, evaluation, checkpoint, start and end, as they happen. */
  onEvent?: (e: TrainerEvent) => void;
  /** Messages (tokenizer learned, token files built). */
  log?: (msg: string) => void;
  /** Aborting stops training after the current step, with a checkpoint (result status "stopped"). */
  signal?: AbortSignal;
}

export interface TrainRunResult extends TrainResult {
  runDir: string;
  config: RunConfig;
  tokenizer: Tokenizer;
  /** The trained model, in memory (also in the run folder's latest checkpoint). */
  model: Transformer;
}

/**
 * Trains a run config (the object a config file holds; validated and resolved here, so a bad
 * field throws a TrainConfigError naming it) into runDir.
 */
export async function trainRun(configInput: unknown, o: TrainRunOptions): Promise<TrainRunResult> {
  const runDir = resolve(o.runDir);
  const config = o.resume ? readRunConfig(runDir) : resolveRunConfig(configInput);
  const data = o.resume ? openData(config, readRunTokenizer(runDir), o.log) : prepareRun(config, runDir, o.log);
  try {
    const run = assembleRun(config, data, { runDir, resume: o.resume ? 'latest' : false, onEvent: o.onEvent });
    const stop = () => run.trainer.requestStop();
    if (o.signal?.aborted) stop();
    o.signal?.addEventListener('abort', stop, { once: true });
    try {
      const result = await run.trainer.run();
      return { ...result, runDir, config, tokenizer: data.tokenizer, model: run.model };
    } finally {
      o.signal?.removeEventListener('abort', stop);
    }
  } finally {
    data.train.close();
    data.valid.close();
  }
}
