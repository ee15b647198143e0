// `equations`: m linear equations in m unknowns modulo p with exactly one solution. Variables
// are a, b, c, ...; every coefficient is written, zeros and ones included ("2a+0b+1c=5"), so an
// equation's length does not give its content away. The chain of thought is Gauss-Jordan
// elimination, one column per step: the first row at or below the diagonal with a non-zero entry
// in the column is swapped up, scaled to a leading 1, and the column is cleared in every other
// row; the whole system is written after each step, the last one being the solution.

import type { Rng } from '../../base/random.js';
import type { TaskInstance } from './format.js';
import { inverse, mod } from './modular.js';
import { digits, type Task } from './task.js';

export const variableNames = 'abcdefghijklmnopqrstuvwxyz';

function printSystem(a: number[][], rhs: number[]): string {
  return a.map((row, i) => `${row.map((c, j) => `${c}${variableNames[j]}`).join('+')}=${rhs[i]}`).join(',');
}

/** Gauss-Jordan on copies; the system after each column, or null if the matrix is singular. */
export function gaussJordan(coefficients: number[][], rhs: number[], p: number): { steps: { a: number[][]; b: number[] }[] } | null {
  const m = coefficients.length;
  const a = coefficients.map((r) => [...r]), b = [...rhs];
  const steps: { a: number[][]; b: number[] }[] = [];
  for (let k = 0; k < m; k++) {
    let pivot = k;
    while (pivot < m && a[pivot][k] === 0) pivot++;
    if (pivot === m) return null;
    [a[k], a[pivot]] = [a[pivot], a[k]];
    [b[k], b[pivot]] = [b[pivot], b[k]];
    const s = inverse(a[k][k], p);
    for (let j = 0; j < m; j++) a[k][j] = mod(a[k][j] * s, p);
    b[k] = mod(b[k] * s, p);
    for (let i = 0; i < m; i++) {
      if (i === k || a[i][k] === 0) continue;
      const f = a[i][k];
      for (let j = 0; j < m; j++) a[i][j] = mod(a[i][j] - f * a[k][j], p);
      b[i] = mod(b[i] - f * b[k], p);
    }
    steps.push({ a: a.map((r) => [...r]), b: [...b] });
  }
  return { steps };
}

export const equations: Task = {
  name: 'equations',
  description: 'm linear equations in m unknowns modulo p with a unique solution; chain of thought: Gauss-Jordan elimination, one column per step',
  sizeMeaning: 'variables',
  marker: '|',
  minSize: 1,
  maxSize: variableNames.length,
  defaultSize: 3,
  maxDocumentLength(m, o) {
    const d = digits(o.p - 1);
    const equation = m * (d + 1) + (m - 1) + 1 + d; // "ca+cb=r"
    const system = m * equation + m; // joined by ",", ending with "|"
    return (m + 1) * system + m * d + (m - 1); // prompt, m elimination steps, the answer "x,y,..."
  },
  generate(rng, m, o): TaskInstance {
    const { p } = o;
    for (;;) {
      const coefficients = Array.from({ length: m }, () => Array.from({ length: m }, () => rng.int(p)));
      const solution = Array.from({ length: m }, () => rng.int(p));
      const rhs = coefficients.map((row) => mod(row.reduce((s, c, j) => s + c * solution[j], 0), p));
      const ge = gaussJordan(coefficients, rhs, p);
      if (!ge) continue; // singular: draw again
      const answer = ge.steps[m - 1].b;
      return {
        task: 'equations', size: m,
        prompt: printSystem(coefficients, rhs) + '|',
        cot: ge.steps.map((s) => printSystem(s.a, s.b) + '|').join(''),
        answer, data: { coefficients, rhs, p },
      };
    }
  },
};
