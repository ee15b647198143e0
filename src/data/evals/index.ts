// The built-in evaluation tasks (issue 14's harness): a registry by name, and `NAME[:SIZE]` references.

import { addition, copy, iclMapping, modular, multiplication, reverse, unscramble } from './generated.js';
import { brownCloze, brownPos } from './brown-tasks.js';
import type { EvalTask } from './task.js';
import { checkEvalSize } from './task.js';

export * from './task.js';
export { coarseTag, posClasses, frequentWords } from './brown-tasks.js';

export const evalTasks: Record<string, EvalTask> = Object.fromEntries(
  [addition, multiplication, copy, reverse, modular, iclMapping, unscramble, brownPos, brownCloze].map((t) => [t.name, t]),
);
export const evalTaskNames = Object.keys(evalTasks);

export function getEvalTask(name: string): EvalTask {
  const t = evalTasks[name];
  if (!t) throw new Error(`unknown evaluation task ${JSON.stringify(name)} (known: ${evalTaskNames.join(', ')})`);
  return t;
}

export const isEvalTaskRef = (ref: string): boolean => evalTasks[ref.trim().split(':')[0]] !== undefined;

/** "addition:3" or "addition" (the task's default size). */
export function parseEvalTaskRef(ref: string): { task: EvalTask; size: number } {
  const m = /^([a-z-]+)(?::(\d+))?$/.exec(ref.trim());
  if (!m) throw new Error(`bad task reference ${JSON.stringify(ref)}: expected NAME or NAME:SIZE, e.g. addition:3`);
  const task = getEvalTask(m[1]);
  const size = m[2] === undefined ? task.defaultSize : Number(m[2]);
  checkEvalSize(task, size);
  return { task, size };
}
