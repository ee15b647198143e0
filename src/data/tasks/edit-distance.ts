// `edit-distance`: the Levenshtein distance (insert, delete, substitute, each costing 1) between
// two strings of length n over a small alphabet. The chain of thought is the DP table row by row:
// row i (1..n) holds the distances from a's first i characters to each prefix of b (n + 1
// numbers separated by spaces); rows are separated by ";" and the table ends with the marker.

import type { Rng } from '../../base/random.js';
import type { TaskInstance } from './format.js';
import { digits, type Task } from './task.js';

export function editTable(a: string, b: string): number[][] {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const prev = rows[i - 1], row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    rows.push(row);
  }
  return rows;
}

export const editDistance: Task = {
  name: 'edit-distance',
  description: 'Levenshtein distance between two strings of length n; chain of thought: the DP table row by row',
  sizeMeaning: 'string length',
  marker: '|',
  minSize: 1,
  maxSize: 128,
  defaultSize: 6,
  maxDocumentLength(n) {
    // prompt "a,b|"; cot: n rows of n + 1 entries (each <= n) with n spaces, a separator each; answer
    return 2 * n + 2 + n * ((n + 1) * digits(n) + n + 1) + digits(n);
  },
  generate(rng: Rng, n, o): TaskInstance {
    const draw = () => Array.from({ length: n }, () => o.alphabet[rng.int(o.alphabet.length)]).join('');
    const a = draw(), b = draw();
    const table = editTable(a, b);
    return {
      task: 'edit-distance', size: n,
      prompt: `${a},${b}|`,
      cot: table.slice(1).map((r) => r.join(' ')).join(';') + '|',
      answer: table[n][n], data: { a, b },
    };
  },
};
