import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brownCategories, brownDir, detokenize, loadBrown, stripBrownTags } from '../../src/data/brown.js';

const ca01 = stripBrownTags(readFileSync(join(brownDir(), 'ca01'), 'utf8'));
const paragraphs = ca01.split('\n\n');

test('ca01 strips to the known plain text', () => {
  assert.equal(
    paragraphs[0],
    'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
  );
  assert.equal(
    paragraphs[1],
    'The jury further said in term-end presentments that the City Executive Committee, which had over-all charge of the election, "deserves the praise and thanks of the City of Atlanta" for the manner in which the election was conducted.',
  );
  // "Jr./np ./." prints one period; "''/'' ,/," keeps the corpus's quote-then-comma order.
  assert.ok(paragraphs[2].endsWith('won by Mayor-nominate Ivan Allen Jr.'));
  assert.ok(paragraphs[3].startsWith('"Only a relative handful of such reports was received", the jury said, "considering'));
  assert.ok(!/\/[a-z]/.test(ca01.slice(0, 5000)), 'no tags left');
});

test('headlines are paragraphs of their own; continuation lines join their paragraph', () => {
  const i = paragraphs.indexOf('Merger proposed');
  assert.ok(i > 0);
  assert.ok(paragraphs[i + 1].startsWith('However, the jury said it believes "these two offices'));
  const p = paragraphs.find((x) => x.startsWith('The City Purchasing Department, the jury said'))!;
  assert.ok(p.endsWith('It urged that the city "take steps to remedy" this problem.'));
});

test('detokenize spacing rules', () => {
  assert.equal(detokenize(['He', 'said', ',', '``', 'Hi', '(', 'there', ')', "''", '.']), 'He said, "Hi (there)".');
  assert.equal(detokenize(['the', "'", 'Met', "'", 'opera', '--', 'yes', '?']), "the 'Met' opera -- yes?");
  assert.equal(detokenize(['1-1/2', 'cups', ';', 'done', '!']), '1-1/2 cups; done!');
});

test('tags split at the last slash', () => {
  assert.equal(stripBrownTags('\t1-1/2/cd cups/nns ./.\n'), '1-1/2 cups.');
});

test('cats.txt lists 500 documents; category filter works', () => {
  const cats = brownCategories();
  assert.equal(cats.size, 500);
  assert.equal(cats.get('ca01'), 'news');
  const humor = loadBrown({ categories: ['humor'] });
  assert.equal(humor.length, 9);
  assert.ok(humor.every((d) => d.category === 'humor' && d.text.length > 1000));
  assert.throws(() => loadBrown({ categories: ['poetry'] }), /unknown category/);
});
