// Task datasets: which instances a run trains and is tested on (from a spec, or from a file that
// `windtunnel tasks make` wrote), and the file format.
//
// Task file (JSON Lines): a header line {"windtunnel": "tasks", "version": 1, "spec": {...}} and
// then one instance per line: {"split": "train"|"test", "task", "size", "prompt", "cot",
// "answer", "data"}. Training reads the "train" lines and tests on the "test" lines; the format
// (direct or chain of thought) is chosen when training, so one file serves both.

import { readFileSync } from 'node:fs';
import { drawInstances, defaultSplit, getTask, type TaskSplit } from './generate.js';
import type { TaskFormat, TaskInstance } from './format.js';
import type { TaskOptions } from './task.js';

export interface TaskSetSpec {
  task: string;
  /** Sizes trained on; `train` instances of each. */
  sizes: number[];
  /** Sizes tested on (default: the training sizes); larger ones test length generalisation. */
  testSizes?: number[];
  /** Training instances per size. */
  train: number;
  /** Test instances per test size (distinct). */
  test: number;
  seed: number;
  testFraction?: number;
  salt?: string;
  options?: Partial<TaskOptions>;
}

export interface TaskSets {
  train: TaskInstance[];
  test: TaskInstance[];
}

/** The instances of a spec, every size in order (the sampler shuffles). */
export function buildTaskSets(spec: TaskSetSpec): TaskSets {
  getTask(spec.task);
  const splitConfig = { testFraction: spec.testFraction ?? defaultSplit.testFraction, salt: spec.salt ?? defaultSplit.salt };
  const draw = (split: TaskSplit, sizes: number[], count: number) =>
    sizes.flatMap((size) => drawInstances(spec.task, { size, count, seed: spec.seed, split, splitConfig, options: spec.options }));
  return { train: draw('train', spec.sizes, spec.train), test: draw('test', spec.testSizes ?? spec.sizes, spec.test) };
}

export const TASK_FILE_HEADER = { windtunnel: 'tasks', version: 1 } as const;

export function taskFileText(spec: TaskSetSpec, sets: TaskSets): string {
  const lines = [JSON.stringify({ ...TASK_FILE_HEADER, spec })];
  for (const split of ['train', 'test'] as const) {
    for (const i of sets[split]) lines.push(JSON.stringify({ split, task: i.task, size: i.size, prompt: i.prompt, cot: i.cot, answer: i.answer, data: i.data }));
  }
  return lines.join('\n') + '\n';
}

/** Reads a task file; errors name the file and line. */
export function readTaskFile(path: string): TaskSets & { spec: unknown } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read task file ${path}: ${(e as Error).message}`);
  }
  const lines = text.split('\n');
  const parse = (k: number): Record<string, unknown> => {
    try {
      const v = JSON.parse(lines[k]);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      return v;
    } catch (e) {
      throw new Error(`${path}:${k + 1}: invalid JSON (${(e as Error).message})`);
    }
  };
  const header = parse(0);
  if (header.windtunnel !== 'tasks' || header.version !== 1) throw new Error(`${path} is not a task file (its first line must be the header {"windtunnel": "tasks", "version": 1, ...}; write one with \`windtunnel tasks make\`)`);
  const sets: TaskSets = { train: [], test: [] };
  for (let k = 1; k < lines.length; k++) {
    if (lines[k].trim() === '') continue;
    const o = parse(k);
    const bad = (what: string): never => { throw new Error(`${path}:${k + 1}: ${what}`); };
    if (o.split !== 'train' && o.split !== 'test') bad(`split must be "train" or "test", got ${JSON.stringify(o.split)}`);
    if (typeof o.task !== 'string') bad('task is missing');
    getTask(o.task as string);
    for (const f of ['prompt', 'cot'] as const) if (typeof o[f] !== 'string') bad(`${f} must be a string`);
    if (!Number.isInteger(o.size)) bad('size must be an integer');
    const answerOk = Number.isInteger(o.answer) || (Array.isArray(o.answer) && o.answer.every(Number.isInteger));
    if (!answerOk) bad('answer must be an integer or a list of integers');
    if (o.data === null || typeof o.data !== 'object') bad('data must be an object');
    sets[o.split as TaskSplit].push({ task: o.task as string, size: o.size as number, prompt: o.prompt as string, cot: o.cot as string, answer: o.answer as number | number[], data: o.data as Record<string, unknown> });
  }
  if (sets.train.length === 0) throw new Error(`${path} has no training instances`);
  if (sets.test.length === 0) throw new Error(`${path} has no test instances`);
  return { ...sets, spec: header.spec };
}

export type { TaskFormat };
