// Evaluation tasks drawn from generators (every prompt ends with "=" or ">"; no spaces needed):
//   addition        "482+913="          target "1395"     size: digits of each operand
//   multiplication  "48*91="            target "4368"     size: digits of each operand
//   copy            "copy qzkd="        target "qzkd"     size: letters
//   reverse         "reverse qzkd="     target "dkzq"     size: letters
//   modular         "3+4*(2-5)="        target "2"        the reasoning tasks' `arithmetic`
//                                                         (mod 11, answer only; size: operators),
//                                                         split as that task splits, so a run
//                                                         trained on it never sees a test item
//   icl-mapping     "kq>up,zt>left,...,zt>"  choices up/down/left/right   size: pairs shown (k);
//                   a fresh random mapping per item, so only the context tells the label
//   unscramble      "unscramble ohtuse="  target "house"  size: word length; words are the most
//                   frequent alphabetic words of that length in the Brown corpus

import type { Rng } from '../../base/random.js';
import { completionText, defaultSplit, getTask, resolveTaskOptions, splitOf as reasoningSplitOf } from '../tasks/index.js';
import type { EvalItem, EvalTask } from './task.js';
import { frequentWords } from './brown-tasks.js';

const letters = 'abcdefghijklmnopqrstuvwxyz';

function number(rng: Rng, digits: number): number {
  const lo = digits === 1 ? 0 : 10 ** (digits - 1);
  return lo + rng.int(10 ** digits - lo);
}

function word(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += letters[rng.int(letters.length)];
  return s;
}

function binary(name: string, symbol: string, f: (a: number, b: number) => number, maxSize: number, description: string): EvalTask {
  return {
    name, description, kind: 'target', sizeMeaning: 'digits per operand', minSize: 1, maxSize, defaultSize: 2,
    generate(rng, size) {
      const a = number(rng, size), b = number(rng, size);
      return { task: name, size, data: { a, b }, prompt: `${a}${symbol}${b}=`, target: String(f(a, b)) };
    },
  };
}

export const addition = binary('addition', '+', (a, b) => a + b, 7, 'sum of two numbers');
export const multiplication = binary('multiplication', '*', (a, b) => a * b, 4, 'product of two numbers');

function stringTask(name: string, verb: string, f: (s: string) => string, description: string): EvalTask {
  return {
    name, description, kind: 'target', sizeMeaning: 'letters', minSize: 1, maxSize: 24, defaultSize: 5,
    generate(rng, size) {
      const s = word(rng, size);
      return { task: name, size, data: { s }, prompt: `${verb} ${s}=`, target: f(s) };
    },
  };
}

export const copy = stringTask('copy', 'copy', (s) => s, 'write the letters again');
export const reverse = stringTask('reverse', 'reverse', (s) => [...s].reverse().join(''), 'write the letters backwards');

const arithmeticTask = getTask('arithmetic');
const arithmeticOptions = resolveTaskOptions();
export const modular: EvalTask = {
  name: 'modular', kind: 'target', sizeMeaning: 'operators', minSize: 1, maxSize: 6, defaultSize: 2,
  description: 'an arithmetic expression modulo 11, answer only (the reasoning task arithmetic, direct format)',
  generate(rng, size) {
    const inst = arithmeticTask.generate(rng, size, arithmeticOptions);
    return { task: 'modular', size, data: inst.data, prompt: inst.prompt, target: completionText(inst, 'direct') };
  },
  // the reasoning task's own split: one owner of which arithmetic instances are test instances
  splitOf: (item) => reasoningSplitOf({ task: arithmeticTask.name, data: item.data }, defaultSplit),
};

const labels = ['up', 'down', 'left', 'right'];
export const iclMapping: EvalTask = {
  name: 'icl-mapping', kind: 'choices', sizeMeaning: 'input-label pairs shown', minSize: 1, maxSize: 32, defaultSize: 6,
  description: 'k pairs "input>label" of a random mapping, then one of the inputs again: which label?',
  generate(rng, size) {
    const inputs: string[] = [];
    while (inputs.length < size) {
      const w = word(rng, 2);
      if (!inputs.includes(w)) inputs.push(w);
    }
    const mapped = inputs.map(() => rng.int(labels.length));
    const q = rng.int(size);
    return {
      task: 'icl-mapping', size, data: { inputs, labels: mapped, query: q },
      prompt: `${inputs.map((w, i) => `${w}>${labels[mapped[i]]}`).join(',')},${inputs[q]}>`, choices: [...labels], answer: mapped[q],
    };
  },
};

export const unscramble: EvalTask = {
  name: 'unscramble', kind: 'target', sizeMeaning: 'word length', minSize: 3, maxSize: 10, defaultSize: 5,
  description: 'a frequent English word (Brown corpus) with its letters shuffled: write the word',
  generate(rng, size) {
    const words = frequentWords(size);
    const w = words[rng.int(words.length)];
    let s = w;
    for (let tries = 0; s === w && tries < 20; tries++) s = rng.shuffle([...w]).join('');
    return { task: 'unscramble', size, data: { word: w, scrambled: s }, prompt: `unscramble ${s}=`, target: w };
  },
};

export type { EvalItem };
