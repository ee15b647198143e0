// The task generators against independent solvers written differently from theirs: a string
// parser for arithmetic, brute force and Cramer's rule for equations, patience sorting and
// subset enumeration for LIS, top-down recursion for edit distance. Also determinism, the
// train/test split and the exact JSON shape of `tasks sample`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerOfCompletion, completionText, documentText, drawInstances, getTask, parseTaskRef, sampleRecord, splitOf,
  taskNames, type TaskInstance,
} from '../../../src/data/tasks/index.js';

// ---- independent solvers ---------------------------------------------------------------------

const md = (x: number, p: number) => ((x % p) + p) % p;

function invBrute(b: number, p: number): number {
  for (let x = 1; x < p; x++) if ((b * x) % p === 1) return x;
  throw new Error(`no inverse of ${b} mod ${p}`);
}

/** Recursive-descent evaluation of an expression string mod p (precedence, left associativity). */
function evalString(s: string, p: number): number {
  let i = 0;
  const atom = (): number => {
    if (s[i] === '(') {
      i++;
      const v = sum();
      assert.equal(s[i], ')', `expected ) at ${i} in ${s}`);
      i++;
      return v;
    }
    const m = /^\d+/.exec(s.slice(i));
    assert.ok(m, `expected a number at ${i} in ${s}`);
    i += m[0].length;
    const v = Number(m[0]);
    assert.ok(v < p, `number ${v} not below p`);
    return v;
  };
  const product = (): number => {
    let v = atom();
    while (s[i] === '*' || s[i] === '/') {
      const op = s[i++];
      const r = atom();
      v = op === '*' ? md(v * r, p) : md(v * invBrute(r, p), p);
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (s[i] === '+' || s[i] === '-') {
      const op = s[i++];
      const r = product();
      v = op === '+' ? md(v + r, p) : md(v - r, p);
    }
    return v;
  };
  const v = sum();
  assert.equal(i, s.length, `trailing text in ${s}`);
  return v;
}

const countOps = (s: string) => (s.match(/[-+*/]/g) ?? []).length;

function det(a: number[][], p: number): number {
  const n = a.length;
  if (n === 1) return md(a[0][0], p);
  let d = 0;
  for (let j = 0; j < n; j++) {
    const minor = a.slice(1).map((r) => r.filter((_, k) => k !== j));
    d = md(d + (j % 2 === 0 ? 1 : -1) * a[0][j] * det(minor, p), p);
  }
  return d;
}

/** Cramer's rule mod p. */
function cramer(a: number[][], b: number[], p: number): number[] {
  const d = det(a, p);
  assert.notEqual(d, 0, 'singular system');
  const di = invBrute(d, p);
  return a.map((_, j) => md(det(a.map((r, i) => r.map((c, k) => (k === j ? b[i] : c))), p) * di, p));
}

/** Patience sorting: the number of piles is the LIS length (strict: lower bound search). */
function lisPatience(seq: number[]): number {
  const tails: number[] = [];
  for (const x of seq) {
    let lo = 0, hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = x;
  }
  return tails.length;
}

function lisBrute(seq: number[]): number {
  let best = 0;
  for (let mask = 1; mask < 1 << seq.length; mask++) {
    const sub = seq.filter((_, i) => mask & (1 << i));
    if (sub.every((x, i) => i === 0 || sub[i - 1] < x)) best = Math.max(best, sub.length);
  }
  return best;
}

/** Top-down edit distance over suffixes (memoised). */
function editRecursive(a: string, b: string): number {
  const memo = new Map<string, number>();
  const go = (i: number, j: number): number => {
    if (i === a.length) return b.length - j;
    if (j === b.length) return a.length - i;
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const v = a[i] === b[j] ? go(i + 1, j + 1) : 1 + Math.min(go(i + 1, j), go(i, j + 1), go(i + 1, j + 1));
    memo.set(key, v);
    return v;
  };
  return go(0, 0);
}

// ---- per task --------------------------------------------------------------------------------

test('arithmetic: answers, every chain-of-thought step and the text agree with a string evaluator', () => {
  for (const size of [1, 2, 3, 5, 8]) {
    for (const inst of drawInstances('arithmetic', { size, count: 60, seed: 3 })) {
      const { expression, p } = inst.data as { expression: string; p: number };
      assert.equal(p, 11);
      assert.equal(inst.prompt, expression + '=');
      assert.equal(countOps(expression), size);
      assert.equal(evalString(expression, p), inst.answer);
      const steps = inst.cot === '' ? [] : inst.cot.slice(0, -1).split('=');
      assert.equal(steps.length, size - 1, `one reduction per step in ${inst.cot}`);
      steps.forEach((s, k) => {
        assert.equal(countOps(s), size - 1 - k, `step ${k} of ${expression}: ${s}`);
        assert.equal(evalString(s, p), inst.answer, `step ${s} changes the value`);
      });
    }
  }
  // a modulus other than 11
  for (const inst of drawInstances('arithmetic', { size: 4, count: 30, seed: 1, options: { p: 7 } })) {
    assert.equal(evalString((inst.data as { expression: string }).expression, 7), inst.answer);
  }
});

test('equations: the answer solves the system, is the only solution, and matches Cramer and the last elimination step', () => {
  for (const size of [1, 2, 3, 4]) {
    for (const inst of drawInstances('equations', { size, count: 25, seed: 5 })) {
      const { coefficients: a, rhs: b, p } = inst.data as { coefficients: number[][]; rhs: number[]; p: number };
      const x = inst.answer as number[];
      assert.equal(x.length, size);
      a.forEach((row, i) => assert.equal(md(row.reduce((s, c, j) => s + c * x[j], 0), p), b[i]));
      assert.deepEqual(cramer(a, b, p), x);
      if (size <= 2) {
        let solutions = 0;
        for (let v = 0; v < p ** size; v++) {
          const y = Array.from({ length: size }, (_, j) => Math.floor(v / p ** j) % p);
          if (a.every((row, i) => md(row.reduce((s, c, j) => s + c * y[j], 0), p) === b[i])) solutions++;
        }
        assert.equal(solutions, 1);
      }
      const steps = inst.cot.split('|').filter(Boolean);
      assert.equal(steps.length, size);
      const last = steps[size - 1].split(',');
      last.forEach((eq, i) => {
        const [lhs, r] = eq.split('=');
        assert.equal(Number(r), x[i]);
        lhs.split('+').forEach((term, j) => assert.equal(Number(term.slice(0, -1)), i === j ? 1 : 0));
      });
      // every step is an equivalent system: the solution satisfies it
      for (const s of steps) {
        for (const eq of s.split(',')) {
          const [lhs, r] = eq.split('=');
          const v = lhs.split('+').reduce((acc, term, j) => acc + Number(term.slice(0, -1)) * x[j], 0);
          assert.equal(md(v, p), Number(r));
        }
      }
    }
  }
});

test('lis: the answer matches patience sorting and subset enumeration; the DP table is consistent', () => {
  for (const size of [1, 2, 5, 10, 30]) {
    for (const inst of drawInstances('lis', { size, count: 40, seed: 7 })) {
      const { sequence } = inst.data as { sequence: number[] };
      assert.equal(sequence.length, size);
      assert.ok(sequence.every((v) => Number.isInteger(v) && v >= 0 && v < 10));
      assert.equal(inst.prompt, sequence.join(' ') + '|');
      assert.equal(inst.answer, lisPatience(sequence));
      if (size <= 12) assert.equal(inst.answer, lisBrute(sequence));
      const dp = inst.cot.slice(0, -1).split(' ').map(Number);
      dp.forEach((d, i) => assert.equal(d, lisPatience(sequence.slice(0, i + 1).filter((v) => v < sequence[i])) + 1));
    }
  }
});

test('recall: every answer found again by scanning the prompt text; keys distinct; every key queried once', () => {
  for (const size of [1, 4, 16, 52]) {
    for (const inst of drawInstances('recall', { size, count: 20, seed: 3 })) {
      const [pairsText, queriesText, rest] = inst.prompt.split('|');
      assert.equal(rest, '');
      const pairs = pairsText.split(' ');
      const queries = queriesText.split(' ');
      assert.equal(pairs.length, size);
      assert.equal(new Set(pairs.map((p) => p[0])).size, size, 'distinct keys');
      assert.deepEqual([...queries].sort(), pairs.map((p) => p[0]).sort(), 'every key queried once');
      // the independent solver: for each query, scan the prompt for "<key><digit>"
      const scanned = queries.map((k) => Number(new RegExp(`(?:^| )${k}(\\d)`).exec(pairsText)![1]));
      assert.deepEqual(inst.answer, scanned);
      assert.equal(inst.cot, queries.map((k, j) => `${k}${scanned[j]}`).join(' ') + '|');
      assert.equal(answerOfCompletion(completionText(inst, 'cot'), '|'), scanned.join(','));
    }
  }
});

test('edit-distance: the answer and every table row match a top-down recursion', () => {
  for (const size of [1, 3, 6, 12]) {
    for (const inst of drawInstances('edit-distance', { size, count: 40, seed: 9 })) {
      const { a, b } = inst.data as { a: string; b: string };
      assert.equal(a.length, size);
      assert.equal(b.length, size);
      assert.match(a + b, /^[abc]+$/);
      assert.equal(inst.answer, editRecursive(a, b));
      const rows = inst.cot.slice(0, -1).split(';');
      assert.equal(rows.length, size);
      rows.forEach((r, i) => assert.deepEqual(r.split(' ').map(Number), Array.from({ length: size + 1 }, (_, j) => editRecursive(a.slice(0, i + 1), b.slice(0, j)))));
    }
  }
});

// ---- shared behaviour ------------------------------------------------------------------------

test('draws are deterministic from the seed and differ between seeds', () => {
  for (const t of taskNames) {
    const a = drawInstances(t, { size: 3, count: 20, seed: 1, split: 'train' });
    assert.deepEqual(drawInstances(t, { size: 3, count: 20, seed: 1, split: 'train' }), a);
    assert.notDeepEqual(drawInstances(t, { size: 3, count: 20, seed: 2, split: 'train' }), a);
  }
});

test('train and test draws never share an instance; test sets have no duplicates', () => {
  for (const t of taskNames) {
    const key = (i: TaskInstance) => JSON.stringify(i.data);
    const train = new Set(drawInstances(t, { size: 3, count: 3000, seed: 0, split: 'train' }).map(key));
    const test = drawInstances(t, { size: 3, count: 20, seed: 0, split: 'test' });
    assert.equal(new Set(test.map(key)).size, test.length);
    for (const inst of test) {
      assert.equal(train.has(key(inst)), false, `${t}: ${key(inst)} is in both splits`);
      assert.equal(splitOf(inst), 'test');
    }
  }
  // arithmetic with one operator mod 11 has under 500 instances: 400 distinct test ones do not exist
  assert.throws(() => drawInstances('arithmetic', { size: 1, count: 400, seed: 0, split: 'test' }), /instance space is too small/);
});

test('format: document, completion, final-answer extraction and the sample record', () => {
  const [inst] = drawInstances('arithmetic', { size: 3, count: 1, seed: 4 });
  assert.equal(documentText(inst, 'direct'), inst.prompt + String(inst.answer));
  assert.equal(documentText(inst, 'cot'), inst.prompt + inst.cot + String(inst.answer));
  assert.equal(answerOfCompletion(completionText(inst, 'cot'), '='), String(inst.answer));
  assert.equal(answerOfCompletion('7', '='), '7');
  assert.deepEqual(Object.keys(sampleRecord(inst, 'cot')), ['prompt', 'answer', 'cot', 'data']);
  assert.deepEqual(Object.keys(sampleRecord(inst, 'direct')), ['prompt', 'answer', 'data']);
  const [eq] = drawInstances('equations', { size: 2, count: 1, seed: 4 });
  assert.equal(completionText(eq, 'direct'), (eq.answer as number[]).join(','));
  assert.ok(Array.isArray((eq.data as { coefficients: unknown }).coefficients));
});

test('bad names, sizes and options are refused with the reason', () => {
  assert.throws(() => getTask('sorting'), /unknown task "sorting" \(known: arithmetic, equations, lis, edit-distance, recall\)/);
  assert.deepEqual(parseTaskRef('lis:6'), { task: 'lis', size: 6 });
  assert.deepEqual(parseTaskRef('edit-distance'), { task: 'edit-distance', size: 6 });
  assert.throws(() => parseTaskRef('lis:0'), /size \(sequence length\) must be an integer in 1\.\.256/);
  assert.throws(() => parseTaskRef('lis=3'), /expected NAME or NAME:SIZE/);
  assert.throws(() => drawInstances('arithmetic', { size: 2, count: 1, seed: 0, options: { p: 12 } }), /p must be a prime/);
  assert.throws(() => drawInstances('edit-distance', { size: 2, count: 1, seed: 0, options: { alphabet: 'a|' } }), /alphabet/);
});

test('maxDocumentLength bounds every drawn chain-of-thought document', () => {
  const cases: [string, number[], Record<string, unknown>][] = [
    ['arithmetic', [1, 2, 4, 8, 12], {}], ['arithmetic', [3, 6], { p: 97 }], ['equations', [1, 2, 4, 6], {}],
    ['lis', [1, 4, 12, 30], {}], ['lis', [10], { values: 200 }], ['edit-distance', [1, 5, 12], {}],
  ];
  for (const [name, sizes, options] of cases) {
    const t = getTask(name);
    for (const size of sizes) {
      const bound = t.maxDocumentLength(size, { p: 11, values: 10, alphabet: 'abc', ...options });
      const longest = Math.max(...drawInstances(name, { size, count: 300, seed: 11, options }).map((i) => documentText(i, 'cot').length));
      assert.ok(longest <= bound, `${name}:${size} ${JSON.stringify(options)}: an instance of ${longest} characters, bound ${bound}`);
      assert.ok(bound <= 3 * longest + 8, `${name}:${size}: bound ${bound} is loose against ${longest}`);
    }
  }
});
