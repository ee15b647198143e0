// `windtunnel eval RUN|HF_DIR`: validation loss, perplexity and bits per byte of a run's model on its
// held-out split (every validation window unless --batches), shaped like its training batches.
// A Hugging Face folder has no data of its own: --config names a run config whose data,
// batchSize and context it is evaluated with (for a run, --config replaces the run's own).
// With --tasks: task scores instead. Built-in evaluation tasks (addition:3, icl-mapping, brown-cloze,
// ...; src/data/evals/) with --shots k, over --checkpoints latest|all|S1,S2 (src/training/task-eval.ts);
// reasoning tasks (lis:6, arithmetic:4; src/data/tasks/) by exact match of the greedily generated
// final answer and teacher-forced per-token accuracy. Scores of a run folder go into its results
// store (table task_evals; `runs show` and the dashboard's run page show them) unless --no-record.

import type { Command } from 'commander';
import { evaluate } from '../../training/evaluate.js';
import { loadModelSource, openData, readRunConfig, resolveRunConfig, validationBatches, type ModelSource, type RunConfig } from '../../training/assemble.js';
import { evaluateTasks, type TaskEvalResult } from '../../training/harness.js';
import { parseTaskRef, taskFormats, type TaskFormat } from '../../data/tasks/index.js';
import { isEvalTaskRef, parseEvalTaskRef } from '../../data/evals/index.js';
import { evaluateEvalTask, evaluateRunCheckpoints, type CheckpointTaskEvals } from '../../training/task-eval.js';
import { recordTaskEvals } from '../../lab/results/run-record.js';
import { isHFFolder } from '../../training/hf-folder.js';
import type { TaskEvalRow } from '../../lab/results/store.js';
import { readConfigFile } from '../../base/config-file.js';
import { UsageError } from '../../base/errors.js';
import { action, intOption, usageExits } from './run-common.js';

interface TaskFlags {
  tasks: string; format?: string; n: number; seed: number; batchSize: number; json?: boolean;
  shots: number; checkpoints?: string; checkpoint?: number; db?: string; record: boolean;
}

function parseCheckpoints(v: string | undefined, single: number | undefined): 'latest' | 'all' | number[] {
  if (v !== undefined && single !== undefined) throw new UsageError('give --checkpoint or --checkpoints, not both');
  if (single !== undefined) return [single];
  if (v === undefined || v === 'latest') return 'latest';
  if (v === 'all') return 'all';
  const steps = v.split(',').map((x) => Number(x));
  if (steps.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`--checkpoints must be latest, all or a list of steps (e.g. 100,200), got ${JSON.stringify(v)}`);
  return steps;
}

/** Built-in evaluation tasks over checkpoints; recorded in the run's store. */
function evalBuiltinTasks(runDir: string, refs: string[], o: TaskFlags): TaskEvalRow[] {
  let tasks;
  try {
    tasks = refs.map(parseEvalTaskRef);
  } catch (e) {
    throw new UsageError(`--tasks: ${(e as Error).message}`);
  }
  const steps = parseCheckpoints(o.checkpoints, o.checkpoint);
  const opts = { count: o.n, seed: o.seed, shots: o.shots, batchSize: o.batchSize };
  let evals: CheckpointTaskEvals[];
  if (isHFFolder(runDir)) {
    if (steps !== 'latest') throw new UsageError(`${runDir} is a Hugging Face folder: it has no checkpoints to choose from`);
    const src = loadModelSource(runDir);
    evals = [{ step: 0, results: tasks.map((t) => evaluateEvalTask(src.model, src.tokenizer, t.task, t.size, opts)) }];
  } else {
    evals = evaluateRunCheckpoints(runDir, tasks, { ...opts, steps });
  }
  const rows: TaskEvalRow[] = [];
  for (const { step, results } of evals) {
    for (const r of results) {
      rows.push({ step, task: `${r.task}:${r.size}`, shots: r.shots, items: r.items, seed: o.seed, metrics: r.metrics });
      if (o.json) {
        console.log(JSON.stringify({ run: runDir, step, task: r.task, size: r.size, shots: r.shots, kind: r.kind, items: r.items, ...r.metrics, seconds: r.seconds }));
      } else {
        const shown = Object.entries(r.metrics).map(([k, v]) => `${k} ${Math.abs(v) < 10 ? v.toFixed(3) : v.toFixed(1)}`).join('  ');
        console.log(`step ${String(step).padEnd(7)} ${`${r.task}:${r.size}`.padEnd(16)} ${r.shots}-shot  ${shown}  (${r.items} items, ${r.seconds.toFixed(1)} s)`);
      }
    }
  }
  return rows;
}

function evalTasks(runDir: string, run: ModelSource, o: TaskFlags, refs: string[]): TaskEvalRow[] {
  let requests;
  try {
    requests = refs.map(parseTaskRef);
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
  const rows = results.map((r): TaskEvalRow => ({
    step: run.step, task: `${r.task}:${r.size}`, shots: 0, items: r.items, seed: o.seed,
    metrics: { exact_match: r.exactMatch, token_accuracy: r.tokenAccuracy, token_logprob: r.meanTokenLogProb, forced_exact_match: r.forcedExactMatch, brier: r.brier },
  }));
  for (const r of results) {
    if (o.json) {
      console.log(JSON.stringify({ run: runDir, step: run.step, task: r.task, size: r.size, format: r.format, items: r.items, exact_match: r.exactMatch,
        token_accuracy: r.tokenAccuracy, mean_token_logprob: r.meanTokenLogProb, forced_exact_match: r.forcedExactMatch, seconds: r.seconds }));
    } else {
      console.log(`${`${r.task}:${r.size}`.padEnd(18)} ${r.format.padEnd(6)} exact match ${(100 * r.exactMatch).toFixed(1).padStart(5)}%   token accuracy ${(100 * r.tokenAccuracy).toFixed(1).padStart(5)}%   ` +
        `log p/token ${r.meanTokenLogProb.toFixed(3)}   (${r.items} items, ${r.seconds.toFixed(1)} s)`);
    }
  }
  return rows;
}

export function registerEval(program: Command): void {
  usageExits(program
    .command('eval')
    .description("evaluate a run's model: validation loss, perplexity, bits per byte; or task scores over its checkpoints (--tasks)")
    .argument('<run>', 'run folder, or a Hugging Face folder (with --config, or with --tasks)')
    .option('--config <file>', 'run config whose data, batchSize and context to evaluate with (needed for a Hugging Face folder)')
    .option('--checkpoint <step>', 'evaluate this checkpoint instead of the latest', intOption('--checkpoint'))
    .option('--batches <n>', 'only the first n validation batches (default: all)', intOption('--batches', 1))
    .option('--tasks <list>', 'instead: task scores, e.g. addition:3,icl-mapping,brown-cloze or lis:6,arithmetic:4 (NAME or NAME:SIZE)')
    .option('--shots <k>', 'with built-in --tasks: examples from the train split before each item', intOption('--shots'), 0)
    .option('--checkpoints <which>', 'with built-in --tasks: latest (default), all, or steps like 100,200')
    .option('--db <file>', "with --tasks: results store to record into (default: the run's, as train uses)")
    .option('--no-record', 'with --tasks: print the scores only')
    .option('--format <f>', `with --tasks: ${taskFormats.join(' or ')} (default: the run's training format, else direct)`)
    .option('--n <k>', 'with --tasks: test items per task', intOption('--n', 1), 200)
    .option('--seed <s>', 'with --tasks: seed of the test instances', intOption('--seed'), 0)
    .option('--batch-size <b>', 'with --tasks: sequences per forward pass', intOption('--batch-size', 1), 64)
    .option('--json', 'print one JSON object (with --tasks: one per task)'))
    .action(action((runDir: string, o: { checkpoint?: number; batches?: number; json?: boolean; config?: string } & Partial<TaskFlags>) => {
      if (o.tasks !== undefined) {
        const f = o as TaskFlags;
        const refs = f.tasks.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
        if (refs.length === 0) throw new UsageError('--tasks: name at least one task');
        const builtin = refs.filter(isEvalTaskRef), reasoning = refs.filter((r) => !isEvalTaskRef(r));
        if (reasoning.length > 0 && (f.checkpoints !== undefined || f.shots > 0)) throw new UsageError(`--checkpoints and --shots are for the built-in evaluation tasks, not ${reasoning.join(', ')}`);
        const rows: TaskEvalRow[] = [];
        if (builtin.length > 0) rows.push(...evalBuiltinTasks(runDir, builtin, f));
        if (reasoning.length > 0) rows.push(...evalTasks(runDir, loadModelSource(runDir, o.checkpoint), f, reasoning));
        if (f.record && !isHFFolder(runDir)) {
          const where = recordTaskEvals({ runDir, db: f.db, config: readRunConfig(runDir), rows });
          if (!f.json) console.log(`recorded ${rows.length} task scores in ${where.path} (run ${where.id})`);
        }
        return;
      }
      const src = loadModelSource(runDir, o.checkpoint);
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
