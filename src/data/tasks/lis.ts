// `lis`: the length of the longest strictly increasing subsequence of n values in 0..values-1,
// written separated by spaces. The chain of thought is the dynamic-programming table dp[i], the
// longest strictly increasing subsequence ending at position i, in order.

import type { Rng } from '../../base/random.js';
import type { TaskInstance } from './format.js';
import { digits, type Task } from './task.js';

export function lisTable(seq: readonly number[]): number[] {
  const dp: number[] = [];
  for (let i = 0; i < seq.length; i++) {
    let best = 1;
    for (let j = 0; j < i; j++) if (seq[j] < seq[i] && dp[j] + 1 > best) best = dp[j] + 1;
    dp.push(best);
  }
  return dp;
}

export const lis: Task = {
  name: 'lis',
  description: 'length of the longest strictly increasing subsequence; chain of thought: the DP table dp[i] (longest ending at i)',
  sizeMeaning: 'sequence length',
  marker: '|',
  minSize: 1,
  maxSize: 256,
  defaultSize: 8,
  maxDocumentLength(n, o) {
    // prompt: n values and n separators; cot: n table entries (each <= n) and n separators; answer
    return n * digits(o.values - 1) + n + n * digits(n) + n + digits(n);
  },
  generate(rng: Rng, n, o): TaskInstance {
    const sequence = Array.from({ length: n }, () => rng.int(o.values));
    const dp = lisTable(sequence);
    return {
      task: 'lis', size: n,
      prompt: sequence.join(' ') + '|',
      cot: dp.join(' ') + '|',
      answer: Math.max(...dp), data: { sequence },
    };
  },
};
