// The built-in evaluation tasks' contract: items, the train/test split, drawing, few-shot prompts.
//
// An item has a prompt and either a target (what the model should write; scored by greedy exact
// match and teacher-forced metrics) or choices with the index of the right one (scored by
// log-likelihood). Its `data` is its structured form; the split is a function of the item alone
// (by default a hash of the task name and data, as the reasoning tasks split), so test items
// (evaluation) and train items (few-shot examples, and the documents a training corpus mixes in)
// never overlap, whatever the seeds and counts.
//
// A few-shot prompt is k train items written out in full (prompt and answer), one per line, then
// the test item's prompt. The shots are drawn with their own seed from the train split.

import { createHash } from 'node:crypto';
import { Rng } from '../../base/random.js';

export type EvalSplit = 'train' | 'test';

export interface EvalItem {
  task: string;
  size: number;
  /** The structured instance (what the split hashes). */
  data: Record<string, unknown>;
  prompt: string;
  /** Target tasks: the text after the prompt. */
  target?: string;
  /** Choice tasks: the continuations, and the right one's index. */
  choices?: string[];
  answer?: number;
}

export interface EvalTask {
  name: string;
  description: string;
  kind: 'target' | 'choices';
  sizeMeaning: string;
  minSize: number;
  maxSize: number;
  defaultSize: number;
  /** One item of the given size; tasks whose split is not a hash (Brown: by document) draw from that split's pool. */
  generate(rng: Rng, size: number, split: EvalSplit): EvalItem;
  /** The split an item belongs to (default: hashSplit). */
  splitOf?(item: EvalItem): EvalSplit;
}

/** Expected fraction of a generated task's instance space that is test-only. */
export const evalTestFraction = 0.2;
const salt = 'windtunnel-evals-v1';

export function hashSplit(task: string, data: unknown, testFraction = evalTestFraction): EvalSplit {
  const h = createHash('sha256').update(salt).update('\0').update(task).update('\0').update(JSON.stringify(data)).digest();
  return h.readUIntBE(0, 6) / 2 ** 48 < testFraction ? 'test' : 'train';
}

export function splitOfItem(task: EvalTask, item: EvalItem): EvalSplit {
  return task.splitOf ? task.splitOf(item) : hashSplit(task.name, item.data);
}

/** The text an item stands for in full: prompt then its answer (target, or the right choice). */
export function itemAnswerText(item: EvalItem): string {
  if (item.target !== undefined) return item.target;
  if (item.choices && item.answer !== undefined) return item.choices[item.answer];
  throw new Error(`${item.task}: an item with neither a target nor choices`);
}

export function itemDocument(item: EvalItem): string {
  return item.prompt + itemAnswerText(item);
}

export function checkEvalSize(task: EvalTask, size: number): void {
  if (!Number.isInteger(size) || size < task.minSize || size > task.maxSize) {
    throw new Error(`${task.name}: size (${task.sizeMeaning}) must be an integer in ${task.minSize}..${task.maxSize}, got ${size}`);
  }
}

/**
 * count items of one split, deterministic from (task, size, split, seed). Test draws hold no
 * duplicates; a split too small for the count is an error naming the task.
 */
export function drawEvalItems(task: EvalTask, o: { size: number; count: number; seed: number; split: EvalSplit; unique?: boolean }): EvalItem[] {
  checkEvalSize(task, o.size);
  if (!Number.isInteger(o.count) || o.count < 0) throw new Error(`count must be a non-negative integer, got ${o.count}`);
  const rng = Rng.fromKey(`eval:${task.name}:${o.size}:${o.split}:${o.seed}`);
  const unique = o.unique ?? o.split === 'test';
  const out: EvalItem[] = [];
  const seen = new Set<string>();
  const maxTries = 50 * o.count + 10_000;
  for (let tries = 0; out.length < o.count; tries++) {
    if (tries >= maxTries) {
      throw new Error(`${task.name} size ${o.size}: drew only ${out.length} distinct ${o.split} items of the ${o.count} asked for; the task's item space is too small for that count`);
    }
    const item = task.generate(rng, o.size, o.split);
    if (splitOfItem(task, item) !== o.split) continue;
    if (unique) {
      const key = JSON.stringify(item.data);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(item);
  }
  return out;
}

/** The items with k-shot prompts: each gets k train items (its own draw, from `seed`) before it. */
export function withShots(task: EvalTask, items: readonly EvalItem[], o: { shots: number; seed: number }): EvalItem[] {
  if (!Number.isInteger(o.shots) || o.shots < 0) throw new Error(`shots must be a non-negative integer, got ${o.shots}`);
  if (o.shots === 0) return [...items];
  return items.map((item, i) => {
    const shots = drawEvalItems(task, { size: item.size, count: o.shots, seed: o.seed * 1_000_003 + i, split: 'train', unique: true });
    return { ...item, prompt: shots.map((s) => `${itemDocument(s)}\n`).join('') + item.prompt };
  });
}
