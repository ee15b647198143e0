// `arithmetic`: an expression modulo p with n binary operators (+ - * /) and the parentheses it
// needs. The generator builds a random expression tree; the text is printed from the tree with
// exactly the parentheses that make left-to-right, precedence-respecting parsing give back that
// tree (a right operand of equal precedence is bracketed, so a+(b-c) keeps its brackets). The
// chain of thought reduces one operator per step: the leftmost operator whose operands are both
// numbers, then the expression is printed again.

import type { Rng } from '../../base/random.js';
import type { TaskInstance } from './format.js';
import { inverse, mod } from './modular.js';
import { digits, type Task } from './task.js';

export type Op = '+' | '-' | '*' | '/';
export const ops: readonly Op[] = ['+', '-', '*', '/'];

type Node = { kind: 'num'; value: number } | { kind: 'op'; op: Op; left: Node; right: Node };

const precedence = (op: Op): number => (op === '+' || op === '-' ? 1 : 2);

export function applyOp(op: Op, a: number, b: number, p: number): number {
  switch (op) {
    case '+': return mod(a + b, p);
    case '-': return mod(a - b, p);
    case '*': return mod(a * b, p);
    case '/': return mod(a * inverse(b, p), p);
  }
}

function randomTree(rng: Rng, n: number, p: number): Node {
  if (n === 0) return { kind: 'num', value: rng.int(p) };
  const leftOps = rng.int(n); // 0 .. n-1 operators on the left
  const op = ops[rng.int(ops.length)];
  return { kind: 'op', op, left: randomTree(rng, leftOps, p), right: randomTree(rng, n - 1 - leftOps, p) };
}

/** The value of a tree, or null if it divides by zero somewhere. */
function evaluate(t: Node, p: number): number | null {
  if (t.kind === 'num') return t.value;
  const a = evaluate(t.left, p), b = evaluate(t.right, p);
  if (a === null || b === null || (t.op === '/' && b === 0)) return null;
  return applyOp(t.op, a, b, p);
}

function print(t: Node): string {
  if (t.kind === 'num') return String(t.value);
  const side = (child: Node, right: boolean): string => {
    const s = print(child);
    if (child.kind === 'num') return s;
    const pc = precedence(child.op), pp = precedence(t.op);
    return pc < pp || (right && pc === pp) ? `(${s})` : s;
  };
  return `${side(t.left, false)}${t.op}${side(t.right, true)}`;
}

/** Replaces the leftmost operator whose operands are numbers by its value. */
function reduceOnce(t: Node, p: number): { tree: Node; done: boolean } {
  if (t.kind === 'num') return { tree: t, done: false };
  if (t.left.kind === 'num' && t.right.kind === 'num') return { tree: { kind: 'num', value: applyOp(t.op, t.left.value, t.right.value, p) }, done: true };
  const l = reduceOnce(t.left, p);
  if (l.done) return { tree: { ...t, left: l.tree }, done: true };
  const r = reduceOnce(t.right, p);
  return { tree: { ...t, right: r.tree }, done: r.done };
}

export const arithmetic: Task = {
  name: 'arithmetic',
  description: 'an expression modulo p with n operators (+ - * /) and parentheses; chain of thought: one reduction per step',
  sizeMeaning: 'operators',
  marker: '=',
  minSize: 1,
  maxSize: 64,
  defaultSize: 4,
  maxDocumentLength(n, o) {
    // an expression with k operators: k + 1 numbers, k operators, at most one bracket pair per non-root operator
    const expr = (k: number) => (k + 1) * digits(o.p - 1) + k + 2 * Math.max(0, k - 1);
    let total = expr(n) + 1 + digits(o.p - 1); // prompt and answer
    for (let k = 1; k < n; k++) total += expr(k) + 1; // one step per reduction, each ending with "="
    return total;
  },
  generate(rng, n, o): TaskInstance {
    const { p } = o;
    let tree: Node;
    let answer: number | null;
    do {
      tree = randomTree(rng, n, p);
      answer = evaluate(tree, p);
    } while (answer === null); // redraw expressions that divide by zero
    const expression = print(tree);
    const steps: string[] = [];
    for (let t = reduceOnce(tree, p).tree; t.kind === 'op'; t = reduceOnce(t, p).tree) steps.push(print(t) + '=');
    return { task: 'arithmetic', size: n, prompt: expression + '=', cot: steps.join(''), answer, data: { expression, p } };
  },
};
