// A model on the built-in evaluation tasks (src/data/evals/): test items of a task, with k-shot
// prompts from the train split, scored by the harness. Metrics by name (what the results store
// keeps, per run, step, task and shots):
//   target tasks   exact_match (greedy generation), forced_exact_match, token_accuracy,
//                  target_logprob (per item, nats), token_logprob (per token), brier (per token)
//   choice tasks   acc, acc_norm_tokens, acc_norm_chars, correct_logprob, choice_prob, brier
// Chance levels come with them: 1 / choices for the accuracies, 0 for exact match.

import type { Tokenizer } from '../data/tokenizer.js';
import { drawEvalItems, withShots, type EvalTask } from '../data/evals/index.js';
import type { Transformer } from '../models/transformer.js';
import { scoreChoices, scoreItems, summarize, summarizeChoices } from './harness.js';
import { listCheckpoints } from './checkpoint.js';
import { loadRun } from './assemble.js';

export interface TaskEvalOptions {
  /** Test items per task (default 200). */
  count?: number;
  /** Seed of the test items and of their shots (default 0). */
  seed?: number;
  shots?: number;
  batchSize?: number;
}

export interface EvalTaskResult {
  task: string;
  size: number;
  shots: number;
  kind: EvalTask['kind'];
  items: number;
  metrics: Record<string, number>;
  /** The metric a model that guesses gets, where it is known. */
  chance: Record<string, number>;
  seconds: number;
}

export const targetMetrics = ['exact_match', 'forced_exact_match', 'token_accuracy', 'target_logprob', 'token_logprob', 'brier'] as const;
export const choiceMetrics = ['acc', 'acc_norm_tokens', 'acc_norm_chars', 'correct_logprob', 'choice_prob', 'brier'] as const;

/** Whether larger values of a metric are better (log-probabilities and accuracies) or smaller (Brier). */
export const higherIsBetter = (metric: string): boolean => metric !== 'brier';

export function evaluateEvalTask(model: Transformer, tokenizer: Tokenizer, task: EvalTask, size: number, o: TaskEvalOptions = {}): EvalTaskResult {
  try {
    return evaluateOne(model, tokenizer, task, size, o);
  } catch (e) {
    const hint = /nCtx/.test((e as Error).message) ? ' (fewer --shots or a smaller size fit a shorter context)' : '';
    throw new Error(`${task.name}:${size} with ${o.shots ?? 0} shots: ${(e as Error).message}${hint}`);
  }
}

function evaluateOne(model: Transformer, tokenizer: Tokenizer, task: EvalTask, size: number, o: TaskEvalOptions): EvalTaskResult {
  const t0 = performance.now();
  const seed = o.seed ?? 0, shots = o.shots ?? 0;
  const items = withShots(task, drawEvalItems(task, { size, count: o.count ?? 200, seed, split: 'test' }), { shots, seed });
  const base = { task: task.name, size, shots, kind: task.kind, items: items.length };
  if (task.kind === 'choices') {
    const s = summarizeChoices(scoreChoices(model, tokenizer, items.map((it) => ({ prompt: it.prompt, choices: it.choices!, answer: it.answer! })), { batchSize: o.batchSize }));
    const n = items[0].choices!.length;
    return {
      ...base, seconds: (performance.now() - t0) / 1000,
      metrics: { acc: s.acc, acc_norm_tokens: s.accNormTokens, acc_norm_chars: s.accNormChars, correct_logprob: s.correctLogProb, choice_prob: s.choiceProb, brier: s.brier },
      chance: { acc: 1 / n, acc_norm_tokens: 1 / n, acc_norm_chars: 1 / n, choice_prob: 1 / n, brier: 1 - 1 / n },
    };
  }
  const s = summarize(scoreItems(model, tokenizer, items.map((it) => ({ prompt: it.prompt, target: it.target! })), { batchSize: o.batchSize }));
  return {
    ...base, seconds: (performance.now() - t0) / 1000,
    metrics: { exact_match: s.exactMatch, forced_exact_match: s.forcedExactMatch, token_accuracy: s.tokenAccuracy, target_logprob: s.meanTargetLogProb, token_logprob: s.meanTokenLogProb, brier: s.brier },
    chance: { exact_match: 0, forced_exact_match: 0 },
  };
}

/** Scores of one checkpoint of a run on every requested task. */
export interface CheckpointTaskEvals {
  step: number;
  results: EvalTaskResult[];
}

/**
 * A run folder's checkpoints (`steps`: 'latest', 'all' or a list) each evaluated on every task;
 * one model in memory at a time.
 */
export function evaluateRunCheckpoints(
  runDir: string, refs: readonly { task: EvalTask; size: number }[], o: TaskEvalOptions & { steps: 'latest' | 'all' | readonly number[] },
): CheckpointTaskEvals[] {
  const available = listCheckpoints(runDir);
  if (available.length === 0) throw new Error(`${runDir} has no checkpoints to evaluate`);
  const steps = o.steps === 'latest' ? [available[available.length - 1]] : o.steps === 'all' ? available : [...o.steps];
  for (const s of steps) if (!available.includes(s)) throw new Error(`${runDir} has no checkpoint at step ${s} (it has ${available.join(', ')})`);
  return steps.map((step) => {
    const run = loadRun(runDir, step);
    return { step, results: refs.map((r) => evaluateEvalTask(run.model, run.tokenizer, r.task, r.size, o)) };
  });
}
