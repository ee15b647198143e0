// A run made from another run's checkpoint by an operation on its weights (layers deleted,
// facts edited, ...): a new run folder whose one checkpoint holds the new model, with the
// source's step, schedule and token count, the run config with the new model config, the
// source's tokenizer, and derived-from.json naming the source and the operation. Every command
// that reads a run (eval, sample, export, inspect) takes it. Its optimizer state starts fresh
// (the source's moments no longer fit the changed weights), so resuming it continues training
// the new model from zeroed moments.

import { Transformer } from '../models/transformer.js';
import { mupOptimizerOptions } from '../models/mup.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { createOptimizer } from './optimizers.js';
import { resolveRunConfig } from './assemble.js';
import { RunFolder } from './run-folder.js';

export interface DerivedRunOptions {
  /** Source run folder (only read). */
  from: string;
  /** Source checkpoint step (default: latest). */
  step?: number;
  /** New run folder; must not exist or be empty. */
  to: string;
  /** The new model (its config replaces the run config's model section). */
  model: Transformer;
  /** What was done, recorded in derived-from.json ({ kind: 'delete-layers', layers: [...] }, ...). */
  operation: { kind: string } & Record<string, unknown>;
}

export function saveDerivedRun(o: DerivedRunOptions): { runDir: string; step: number } {
  const from = new RunFolder(o.from), to = new RunFolder(o.to);
  const step = o.step ?? from.latestStep();
  if (step === null) throw new Error(`${o.from} has no checkpoint to derive a run from`);
  if (!to.isEmpty()) throw new Error(`${o.to} already exists and is not empty`);
  const ck = loadCheckpoint(o.from, step);
  const source = resolveRunConfig(ck.state.config ?? from.readConfigFile());
  const config = resolveRunConfig({ ...source, model: o.model.config });
  if (config.model.vocabSize !== source.model.vocabSize) throw new Error('saveDerivedRun: the new model must keep the vocabulary of its source');
  const lock = to.lock('windtunnel derived run');
  try {
    const optimizer = createOptimizer(o.model.params, config, mupOptimizerOptions(o.model.config, config.optimizer));
    saveCheckpoint(o.to, step, o.model.params, optimizer, {
      tokensSeen: ck.state.tokensSeen, elapsedSec: ck.state.elapsedSec, schedule: ck.state.schedule,
      rngs: {}, samplers: {}, config, ...(o.model.baseShapes() ? { baseShapes: o.model.baseShapes()! } : {}),
    });
    to.writeConfig(config);
    to.copyTokenizerFrom(from);
    to.writeDerivation({ from: o.from, step, operation: o.operation });
    return { runDir: o.to, step };
  } finally {
    lock.release();
  }
}
