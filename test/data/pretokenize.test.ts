import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pretokenize } from '../../src/data/pretokenize.js';
import { Rng } from '../../src/base/random.js';
import { randomText } from './utf8gen.js';

test('splits words, numbers, punctuation and whitespace GPT-2 style', () => {
  assert.deepEqual(pretokenize("Hello world's 123 apples!!  ok\n\nyes"), [
    'Hello', ' world', "'s", ' 123', ' apples', '!!', ' ', ' ok', '\n', '\n', 'yes',
  ]); // as in GPT-2, a whitespace run gives its last character up when a word follows
  assert.deepEqual(pretokenize('a\n\n'), ['a', '\n\n']);
  assert.deepEqual(pretokenize(''), []);
});

test('pieces always concatenate back to the input', () => {
  const rng = new Rng(5);
  for (let i = 0; i < 300; i++) {
    const s = randomText(rng, 40);
    assert.equal(pretokenize(s).join(''), s);
  }
});
