import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, parseExpr, references } from '../../../src/lab/experiments/expr.js';

const env: Record<string, number> = { $tokensPerStep: 4096, 'model.nCtx': 64, a: 2, b: 3 };
const calc = (src: string): number => evaluate(parseExpr(src), (k) => {
  if (!(k in env)) throw new Error(`unknown ${k}`);
  return env[k];
});

test('arithmetic, precedence and associativity', () => {
  assert.equal(calc('$tokensPerStep / model.nCtx'), 64);
  assert.equal(calc('a + b * 2'), 8);
  assert.equal(calc('(a + b) * 2'), 10);
  assert.equal(calc('-2^2'), -4);
  assert.equal(calc('2^3^2'), 512);
  assert.equal(calc('2**10'), 1024);
  assert.equal(calc('7 % 4 - -1'), 4);
  assert.equal(calc('1e3 / 8 + .5'), 125.5);
});

test('functions', () => {
  assert.equal(calc('max(1, a * 3, 4)'), 6);
  assert.equal(calc('min(a, b)'), 2);
  assert.equal(calc('round(1000 / 7)'), 143);
  assert.equal(calc('pow(2, b) + floor(2.7) + ceil(2.1) + abs(-1)'), 14);
  assert.equal(calc('log2(model.nCtx)'), 6);
});

test('references lists the names read, once each', () => {
  assert.deepEqual(references(parseExpr('a * max(b, a) / model.nCtx')), ['a', 'b', 'model.nCtx']);
});

test('errors name the problem and the column', () => {
  assert.throws(() => parseExpr('a * * b'), /found "\*" at column 5/);
  assert.throws(() => parseExpr('a +'), /found the end/);
  assert.throws(() => parseExpr('a b'), /expected an operator, found "b" at column 3/);
  assert.throws(() => parseExpr('(a'), /expected "\)"/);
  assert.throws(() => parseExpr('a # b'), /unexpected "#" at column 3/);
  assert.throws(() => parseExpr('foo(1)'), /unknown function "foo".*known: min/);
  assert.throws(() => parseExpr('pow(1)'), /pow\(\) takes 2 argument/);
  assert.throws(() => parseExpr(''), /empty/);
  // No way out of the language: property access and calls on names are not syntax.
  assert.throws(() => parseExpr('process.exit(1)'), /unknown function "process.exit"/);
  assert.throws(() => parseExpr('a["constructor"]'), /unexpected "\["/);
});
