// Drawing task instances: deterministic from (task, size, split, seed), train and test disjoint.
//
// The split is a property of the instance, not of the draw: an instance is a test instance when a
// hash of (salt, task, its data) falls below testFraction. Training draws skip test instances and
// test draws skip training ones, so no seed, size or count can make them overlap. Test sets are
// also free of duplicates (each instance scored once); training draws may repeat an instance, as
// a stream of random problems does.

import { createHash } from 'node:crypto';
import { Rng } from '../../base/random.js';
import { arithmetic } from './arithmetic.js';
import { editDistance } from './edit-distance.js';
import { equations } from './equations.js';
import type { TaskInstance } from './format.js';
import { lis } from './lis.js';
import { recall } from './recall.js';
import { isPrime } from './modular.js';
import { defaultTaskOptions, type Task, type TaskOptions } from './task.js';

export const tasks: Record<string, Task> = {
  [arithmetic.name]: arithmetic,
  [equations.name]: equations,
  [lis.name]: lis,
  [editDistance.name]: editDistance,
  [recall.name]: recall,
};

export const taskNames = Object.keys(tasks);

export type TaskSplit = 'train' | 'test';

export interface SplitConfig {
  /** Expected fraction of the instance space that is test-only (default 0.1). */
  testFraction: number;
  /** Changing the salt draws a different (still disjoint) split. */
  salt: string;
}

export const defaultSplit: SplitConfig = { testFraction: 0.1, salt: 'windtunnel-tasks-v1' };

export function getTask(name: string): Task {
  const t = tasks[name];
  if (!t) throw new Error(`unknown task ${JSON.stringify(name)} (known: ${taskNames.join(', ')})`);
  return t;
}

/** Options with defaults filled, checked; errors name the option. */
export function resolveTaskOptions(o: Partial<TaskOptions> = {}): TaskOptions {
  const r = { ...defaultTaskOptions, ...o };
  if (!isPrime(r.p) || r.p > 97) throw new Error(`task option p must be a prime between 2 and 97, got ${r.p}`);
  if (!Number.isInteger(r.values) || r.values < 2 || r.values > 1000) throw new Error(`task option values must be an integer in 2..1000, got ${r.values}`);
  if (typeof r.alphabet !== 'string' || r.alphabet.length < 2 || new Set(r.alphabet).size !== r.alphabet.length || /[\s,;|]/.test(r.alphabet)) {
    throw new Error(`task option alphabet must be at least 2 distinct characters, none of them a space, ",", ";" or "|"; got ${JSON.stringify(r.alphabet)}`);
  }
  return r;
}

export function checkSize(task: Task, size: number): void {
  if (!Number.isInteger(size) || size < task.minSize || size > task.maxSize) {
    throw new Error(`${task.name}: size (${task.sizeMeaning}) must be an integer in ${task.minSize}..${task.maxSize}, got ${size}`);
  }
}

/** The split an instance belongs to (a function of the instance alone). */
export function splitOf(inst: Pick<TaskInstance, 'task' | 'data'>, split: SplitConfig = defaultSplit): TaskSplit {
  const h = createHash('sha256').update(split.salt).update('\0').update(inst.task).update('\0').update(JSON.stringify(inst.data)).digest();
  return h.readUIntBE(0, 6) / 2 ** 48 < split.testFraction ? 'test' : 'train';
}

export interface DrawOptions {
  size: number;
  count: number;
  seed: number;
  /** Which split to draw from; omitted: every instance, no split. */
  split?: TaskSplit;
  splitConfig?: SplitConfig;
  options?: Partial<TaskOptions>;
}

/**
 * count instances of one size. Throws when the split holds too few distinct instances for a
 * test set of that count (tiny sizes have small instance spaces).
 */
export function drawInstances(taskName: string, o: DrawOptions): TaskInstance[] {
  const task = getTask(taskName);
  checkSize(task, o.size);
  if (!Number.isInteger(o.count) || o.count < 0) throw new Error(`count must be a non-negative integer, got ${o.count}`);
  const opts = resolveTaskOptions(o.options);
  const splitConfig = o.splitConfig ?? defaultSplit;
  if (!(splitConfig.testFraction > 0 && splitConfig.testFraction < 1)) throw new Error(`testFraction must be in (0, 1), got ${splitConfig.testFraction}`);
  const rng = Rng.fromKey(`${task.name}:${o.size}:${o.split ?? 'all'}:${o.seed}`);
  const out: TaskInstance[] = [];
  const seen = new Set<string>();
  const maxTries = 50 * o.count + 10_000;
  for (let tries = 0; out.length < o.count; tries++) {
    if (tries >= maxTries) {
      throw new Error(`${task.name} size ${o.size}: drew only ${out.length} distinct ${o.split} instances of the ${o.count} asked for in ${maxTries} tries; the instance space is too small (use a larger size, fewer instances or another testFraction)`);
    }
    const inst = task.generate(rng, o.size, opts);
    if (o.split !== undefined && splitOf(inst, splitConfig) !== o.split) continue;
    if (o.split === 'test') {
      const key = JSON.stringify(inst.data);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(inst);
  }
  return out;
}

/** "lis:6" or "lis" (the task's default size): a task and a size. */
export function parseTaskRef(ref: string): { task: string; size: number } {
  const m = /^([a-z-]+)(?::(\d+))?$/.exec(ref.trim());
  if (!m) throw new Error(`bad task reference ${JSON.stringify(ref)}: expected NAME or NAME:SIZE, e.g. lis:6`);
  const task = getTask(m[1]);
  const size = m[2] === undefined ? task.defaultSize : Number(m[2]);
  checkSize(task, size);
  return { task: task.name, size };
}
