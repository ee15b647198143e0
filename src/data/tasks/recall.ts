// `recall`: multi-query associative recall (Zoology's MQAR, Arora et al. 2023), the task where
// efficient mixers are known to fall behind attention. n key-value pairs (distinct letters as
// keys, one digit each as values), then every key once more as a query in shuffled order. The
// chain of thought writes each query with its value, as in Zoology's sequences (every value is
// one lookup: find the query's pair, copy the digit after it); the final answer lists the values
// in query order, so answering directly needs that lookup for each query from one position.
//   prompt "a7 k3 z1|k a z|"   cot "k3 a7 z1|"   answer [3, 7, 1] -> "3,7,1"
//   data {"pairs": [["a", 7], ["k", 3], ["z", 1]], "queries": ["k", "a", "z"]}

import type { Rng } from '../../base/random.js';
import type { TaskInstance } from './format.js';
import type { Task } from './task.js';

export const recallKeys = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export const recall: Task = {
  name: 'recall',
  description: 'multi-query associative recall: n key-value pairs, then every key as a query; chain of thought: each query with its value',
  sizeMeaning: 'key-value pairs',
  marker: '|',
  minSize: 1,
  maxSize: recallKeys.length,
  defaultSize: 8,
  maxDocumentLength(n) {
    // pairs "kv " (3n - 1) + "|", queries "k " (2n - 1) + "|", cot (3n - 1) + "|", answer "d," (2n - 1)
    return 3 * n + 2 * n + 3 * n + 2 * n;
  },
  generate(rng: Rng, n): TaskInstance {
    const order = rng.permutation(recallKeys.length);
    const keys = Array.from({ length: n }, (_, i) => recallKeys[order[i]]);
    const values = keys.map(() => rng.int(10));
    const q = rng.permutation(n);
    const queries = Array.from(q, (i) => keys[i]);
    const answer = Array.from(q, (i) => values[i]);
    return {
      task: 'recall', size: n,
      prompt: keys.map((k, i) => `${k}${values[i]}`).join(' ') + '|' + queries.join(' ') + '|',
      cot: queries.map((k, j) => `${k}${answer[j]}`).join(' ') + '|',
      answer,
      data: { pairs: keys.map((k, i) => [k, values[i]]), queries },
    };
  },
};
