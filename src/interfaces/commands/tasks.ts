// `windtunnel tasks list|sample|make`: the reasoning tasks (src/data/tasks). `sample` prints
// instances (JSON lines: prompt, answer, cot in the cot format, data) so anyone can check the
// answers; `make` writes a task file with disjoint train and test instances that a run config
// trains on ({"corpus": {"kind": "task-file", "path": ..., "format": ...}}).

import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import {
  buildTaskSets, checkSize, documentText, drawInstances, getTask, resolveTaskOptions, sampleRecord, taskFileText, taskFormats, tasks,
  type TaskFormat, type TaskOptions, type TaskSetSpec,
} from '../../data/tasks/index.js';
import { writeFileDurable } from '../../base/durable.js';
import { UsageError } from '../../base/errors.js';
import { action, intOption, numberOption, usageExits } from './run-common.js';

interface OptionFlags { p?: number; values?: number; alphabet?: string }

function taskOptions(o: OptionFlags): Partial<TaskOptions> {
  const out: Partial<TaskOptions> = {};
  if (o.p !== undefined) out.p = o.p;
  if (o.values !== undefined) out.values = o.values;
  if (o.alphabet !== undefined) out.alphabet = o.alphabet;
  try {
    resolveTaskOptions(out);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return out;
}

function format(f: string): TaskFormat {
  if (!taskFormats.includes(f as TaskFormat)) throw new UsageError(`--format must be one of ${taskFormats.join(', ')}, got ${JSON.stringify(f)}`);
  return f as TaskFormat;
}

function task(name: string) {
  try {
    return getTask(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** "4", "4,6,8" or "4-8". */
function sizeList(flag: string): (v: string) => number[] {
  return (v) => {
    const range = /^(\d+)-(\d+)$/.exec(v.trim());
    const sizes = range ? Array.from({ length: Math.max(0, +range[2] - +range[1] + 1) }, (_, i) => +range[1] + i) : v.split(',').map((s) => Number(s.trim()));
    if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError(`${flag} must be sizes like 4, 4,6,8 or 4-8; got ${JSON.stringify(v)}`);
    return sizes;
  };
}

const withTaskOptions = (cmd: Command): Command => cmd
  .option('--p <prime>', 'modulus of arithmetic and equations (default 11)', intOption('--p', 2))
  .option('--values <k>', 'lis: values 0..k-1 (default 10)', intOption('--values', 2))
  .option('--alphabet <chars>', 'edit-distance: the alphabet (default abc)');

export function registerTasks(program: Command): void {
  const cmd = program.command('tasks').description('reasoning tasks: arithmetic, equations, lis, edit-distance (list, sample, make)');

  usageExits(cmd.command('list')
    .description('the tasks, what their size means, and their markers')
    .option('--json', 'one JSON object per task'))
    .action(action((o: { json?: boolean }) => {
      for (const t of Object.values(tasks)) {
        if (o.json) console.log(JSON.stringify({ name: t.name, description: t.description, size: t.sizeMeaning, minSize: t.minSize, maxSize: t.maxSize, defaultSize: t.defaultSize, marker: t.marker }));
        else console.log(`${t.name.padEnd(14)} size = ${t.sizeMeaning} (${t.minSize}..${t.maxSize}, default ${t.defaultSize})\n${' '.repeat(14)} ${t.description}`);
      }
    }));

  usageExits(withTaskOptions(cmd.command('sample')
    .description('print instances of a task: the text the model sees, or JSON lines (prompt, answer, cot, data)')
    .argument('<name>', 'task name (see tasks list)')
    .option('--n <k>', 'how many', intOption('--n', 1), 5)
    .option('--size <n>', "the task's size (default: the task's default)", intOption('--size', 1))
    .option('--seed <s>', 'seed', intOption('--seed'), 0)
    .option('--format <f>', `${taskFormats.join(' or ')}`, 'cot')
    .option('--split <s>', 'draw from the train or test split only (default: either)')
    .option('--json', 'JSON lines: prompt, answer, cot (cot format), data')))
    .action(action((name: string, o: OptionFlags & { n: number; size?: number; seed: number; format: string; split?: string; json?: boolean }) => {
      const t = task(name);
      const size = o.size ?? t.defaultSize;
      try {
        checkSize(t, size);
      } catch (e) {
        throw new UsageError(`--size: ${(e as Error).message}`);
      }
      if (o.split !== undefined && o.split !== 'train' && o.split !== 'test') throw new UsageError(`--split must be train or test, got ${JSON.stringify(o.split)}`);
      const f = format(o.format);
      const instances = drawInstances(t.name, { size, count: o.n, seed: o.seed, split: o.split as 'train' | 'test' | undefined, options: taskOptions(o) });
      for (const inst of instances) console.log(o.json ? JSON.stringify(sampleRecord(inst, f)) : documentText(inst, f));
    }));

  usageExits(withTaskOptions(cmd.command('make')
    .description('write a task file (JSON lines) with disjoint train and test instances, for data.corpus {"kind": "task-file"}')
    .argument('<name>', 'task name')
    .requiredOption('--out <file>', 'the file to write')
    .requiredOption('--sizes <list>', 'training sizes: 4, 4,6,8 or 4-8', sizeList('--sizes'))
    .option('--test-sizes <list>', 'test sizes (default: the training sizes; larger ones test length generalisation)', sizeList('--test-sizes'))
    .option('--train <k>', 'training instances per size', intOption('--train', 1), 10000)
    .option('--test <k>', 'distinct test instances per test size', intOption('--test', 1), 500)
    .option('--seed <s>', 'seed', intOption('--seed'), 0)
    .option('--test-fraction <f>', 'fraction of the instance space reserved for testing', numberOption('--test-fraction', (x) => x > 0 && x < 1, 'in (0, 1)'), 0.1)))
    .action(action((name: string, o: OptionFlags & { out: string; sizes: number[]; testSizes?: number[]; train: number; test: number; seed: number; testFraction: number }) => {
      const t = task(name);
      for (const n of [...o.sizes, ...(o.testSizes ?? [])]) {
        try {
          checkSize(t, n);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      const spec: TaskSetSpec = {
        task: t.name, sizes: o.sizes, ...(o.testSizes ? { testSizes: o.testSizes } : {}), train: o.train, test: o.test, seed: o.seed,
        testFraction: o.testFraction, options: taskOptions(o),
      };
      const sets = buildTaskSets(spec);
      const out = resolve(o.out);
      writeFileDurable(out, taskFileText(spec, sets));
      console.error(`wrote ${out}: ${sets.train.length} training and ${sets.test.length} test instances of ${t.name} (sizes ${o.sizes.join(',')}; test sizes ${(o.testSizes ?? o.sizes).join(',')})`);
    }));
}
