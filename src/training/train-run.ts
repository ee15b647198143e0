// Training a run config from code: what `windtunnel train` and `resume` do, without the
// terminal. The library's entry point for "train this config and tell me how it goes"
// (progress arrives as TrainerEvents); the run folder is prepared by assemble.ts's prepareRun,
// as for the CLI and the lab.

import { resolve } from 'node:path';
import type { Tokenizer } from '../data/index.js';
import type { Transformer } from '../models/transformer.js';
import { prepareRun, resolveRunConfig, type RunConfig } from './assemble.js';
import type { TrainResult, TrainerEvent } from './trainer.js';

export interface TrainRunOptions {
  /** The run folder (config.json, tokenizer.json, metrics.jsonl, checkpoints). */
  runDir: string;
  /** Continue the run in runDir from its latest checkpoint instead of starting fresh (the config argument is then ignored). */
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
  const run = prepareRun({ runDir, config: o.resume ? undefined : resolveRunConfig(configInput), log: o.log, onEvent: o.onEvent, command: 'trainRun (library)' });
  const stop = () => run.trainer.requestStop();
  if (o.signal?.aborted) stop();
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    const result = await run.trainer.run();
    return { ...result, runDir, config: run.config, tokenizer: run.data.tokenizer, model: run.model };
  } finally {
    o.signal?.removeEventListener('abort', stop);
    run.close();
  }
}
