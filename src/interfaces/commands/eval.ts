// `windtunnel eval RUN|HF_DIR`: validation loss, perplexity and bits per byte of a run's model on its
// held-out split (every validation window unless --batches), shaped like its training batches.
// A Hugging Face folder has no data of its own: --config names a run config whose data,
// batchSize and context it is evaluated with (for a run, --config replaces the run's own).
// With --tasks lis:6,arithmetic:4: accuracy on reasoning-task test instances instead (exact match
// of the greedily generated final answer, teacher-forced per-token accuracy; src/training/harness.ts).

import type { Command } from 'commander';
import { evaluate } from '../../training/evaluate.js';
import { loadModelSource, openData, resolveRunConfig, validationBatches, type ModelSource, type RunConfig } from '../../training/assemble.js';
import { evaluateTasks, type TaskEvalResult } from '../../training/harness.js';
import { parseTaskRef, taskFormats, type TaskFormat } from '../../data/tasks/index.js';
import { readConfigFile } from '../../base/config-file.js';
import { UsageError } from '../../base/errors.js';
import { action, intOption, usageExits } from './run-common.js';

interface TaskFlags { tasks: string; format?: string; n: number; seed: number; batchSize: number; json?: boolean }

function evalTasks(runDir: string, run: ModelSource, o: TaskFlags): void {
  let requests;
  try {
    requests = o.tasks.split(',').map(parseTaskRef);
  } catch (e) {
    throw new UsageError(`--tasks: ${(e as Error).message}`);
  }
  const c = run.config?.data.corpus;
  const trained = c?.kind === 'task' || c?.kind === 'task-file' ? c : null;
  const format = (o.format ?? trained?.format ?? 'direct') as TaskFormat;
  if (!taskFormats.includes(format)) throw new UsageError(`--format must be one of ${taskFormats.join(', ')}, got ${JSON.stringify(o.format)}`);
  // Test instances with the run's own split and options when it trained on generated instances of the task.
  const own = c?.kind === 'task' ? c : null;
  const results: TaskEvalResult[] = [];
  for (const r of requests) {
    const same = own !== null && own.task === r.task;
    results.push(...evaluateTasks(run.model, run.tokenizer, [r], {
      format, count: o.n, seed: o.seed, batchSize: o.batchSize,
      ...(same ? { split: { testFraction: own.testFraction, salt: own.salt }, options: own.options } : {}),
    }));
  }
  for (const r of results) {
    if (o.json) {
      console.log(JSON.stringify({ run: runDir, step: run.step, task: r.task, size: r.size, format: r.format, items: r.items, exact_match: r.exactMatch,
        token_accuracy: r.tokenAccuracy, mean_token_logprob: r.meanTokenLogProb, forced_exact_match: r.forcedExactMatch, seconds: r.seconds }));
    } else {
      console.log(`${`${r.task}:${r.size}`.padEnd(18)} ${r.format.padEnd(6)} exact match ${(100 * r.exactMatch).toFixed(1).padStart(5)}%   token accuracy ${(100 * r.tokenAccuracy).toFixed(1).padStart(5)}%   ` +
        `log p/token ${r.meanTokenLogProb.toFixed(3)}   (${r.items} items, ${r.seconds.toFixed(1)} s)`);
    }
  }
}

export function registerEval(program: Command): void {
  usageExits(program
    .command('eval')
    .description("evaluate a run's model on its validation split: loss, perplexity, bits per byte")
    .argument('<run>', 'run folder, or a Hugging Face folder (with --config, or with --tasks)')
    .option('--config <file>', 'run config whose data, batchSize and context to evaluate with (needed for a Hugging Face folder)')
    .option('--checkpoint <step>', 'evaluate this checkpoint instead of the latest', intOption('--checkpoint'))
    .option('--batches <n>', 'only the first n validation batches (default: all)', intOption('--batches', 1))
    .option('--tasks <list>', 'instead: accuracy on reasoning tasks, e.g. lis:6,lis:8,arithmetic:4 (NAME or NAME:SIZE)')
    .option('--format <f>', `with --tasks: ${taskFormats.join(' or ')} (default: the run's training format, else direct)`)
    .option('--n <k>', 'with --tasks: test instances per task', intOption('--n', 1), 200)
    .option('--seed <s>', 'with --tasks: seed of the test instances', intOption('--seed'), 0)
    .option('--batch-size <b>', 'with --tasks: sequences per forward pass', intOption('--batch-size', 1), 64)
    .option('--json', 'print one JSON object (with --tasks: one per task)'))
    .action(action((runDir: string, o: { checkpoint?: number; batches?: number; json?: boolean; config?: string } & Partial<TaskFlags>) => {
      const src = loadModelSource(runDir, o.checkpoint);
      if (o.tasks !== undefined) return evalTasks(runDir, src, o as TaskFlags);
      let config: RunConfig;
      if (o.config) {
        config = resolveRunConfig({ ...readConfigFile(o.config), model: src.model.config });
      } else if (src.config) config = src.config;
      else throw new UsageError(`${runDir} is a Hugging Face folder: give --config FILE, a run config whose data, batchSize and context to evaluate with`);
      const run = { ...src, config };
      const data = openData(run.config, run.tokenizer);
      try {
        const t0 = Date.now();
        const r = evaluate(run.model, validationBatches(run.config, data, o.batches), data.bytesPerToken);
        const seconds = (Date.now() - t0) / 1000;
        if (o.json) {
          console.log(JSON.stringify({
            run: runDir, step: run.step, loss: r.loss, perplexity: r.perplexity, bits_per_byte: r.bitsPerByte ?? null,
            tokens: r.tokens, batches: r.batches, seconds,
          }));
          return;
        }
        console.log(`run          ${runDir} (checkpoint step ${run.step})`);
        console.log(`loss         ${r.loss.toFixed(4)} nats/token`);
        console.log(`perplexity   ${r.perplexity.toFixed(2)}`);
        if (r.bitsPerByte !== undefined) console.log(`bits/byte    ${r.bitsPerByte.toFixed(4)}`);
        console.log(`evaluated    ${r.tokens} tokens in ${r.batches} batches of ${run.config.batchSize} x ${run.config.context} (${seconds.toFixed(1)} s)`);
      } finally {
        data.train.close();
        data.valid.close();
      }
    }));
}
