import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpeTokenizer, trainBpe } from '../../src/data/bpe.js';
import { mergeWord } from '../../src/data/bpe-train.js';
import { loadBrown } from '../../src/data/brown.js';
import { loadTokenizer } from '../../src/data/tokenizer.js';
import { Rng } from '../../src/base/random.js';
import { randomText } from './utf8gen.js';

const texts = loadBrown({ categories: ['humor'] }).map((d) => d.text); // 9 docs, ~130 KB
const tok = trainBpe(texts, { vocabSize: 800 });

test('trains to the requested vocab size with the separator last', () => {
  assert.equal(tok.vocabSize, 800);
  assert.equal(tok.merges.length, 800 - 256 - 1);
  assert.equal(tok.specialId('<|endoftext|>'), 799);
  assert.equal(tok.decode([799]), '<|endoftext|>');
});

test('round-trips tricky UTF-8 exactly', () => {
  const fixed = ['', ' ', '\n\n\n', 'Hello, world!', "don't  stop\ttab\r\n", '\uFEFFstarts with BOM', '👩‍👩‍👧 family 🇺🇸',
    '漢字かなカナ', 'e\u0301 combining', '\u0000nul', 'x'.repeat(2000), '1234567890'.repeat(30), '<|endoftext|>'];
  for (const s of fixed) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  const rng = new Rng(99);
  for (let i = 0; i < 500; i++) {
    const s = randomText(rng, 60);
    assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  }
});

test('merges reduce the token count, more merges reduce it further', () => {
  const sample = texts.join('\n\n').slice(0, 20000);
  const bytes = Buffer.byteLength(sample);
  const half = new BpeTokenizer(tok.merges.slice(0, 200));
  const n800 = tok.encode(sample).length, n456 = half.encode(sample).length;
  assert.ok(n456 < bytes * 0.7, `${n456} tokens for ${bytes} bytes`);
  assert.ok(n800 < n456, `${n800} !< ${n456}`);
});

test('training is deterministic, also under document reordering', () => {
  const again = trainBpe([...texts].reverse(), { vocabSize: 800 });
  assert.deepEqual(again.merges, tok.merges);
});

test('ties break by smallest (left, right) ids', () => {
  // Every pair occurs once: (a,b) < (b,c) < (c,d) by ids, then (c,d)=99,100 sorts before (256,99).
  const t = trainBpe(['abcd'], { vocabSize: 259, specialTokens: [], minFrequency: 1 });
  assert.deepEqual(t.merges, [[97, 98], [99, 100], [256, 257]]);
  assert.deepEqual(t.encode('abcd'), [258]);
});

test('stops early when pairs fall below minFrequency', () => {
  const t = trainBpe(['abab'], { vocabSize: 1000, specialTokens: [] });
  assert.deepEqual(t.merges, [[97, 98]]); // "ab" x2, then (256,256) occurs once
  assert.equal(t.vocabSize, 257);
});

test('merge semantics: non-overlapping, left to right', () => {
  assert.deepEqual(mergeWord([1, 1, 1], 1, 1, 9), [9, 1]);
  assert.deepEqual(mergeWord([1, 1, 1, 1], 1, 1, 9), [9, 9]);
  assert.equal(mergeWord([1, 2], 2, 1, 9), null);
  const t = trainBpe(['aaa aaa aaa'], { vocabSize: 257, specialTokens: [] });
  assert.deepEqual(t.merges, [[97, 97]]);
  assert.deepEqual(t.encode('aaa'), [256, 97]);
});

test('JSON round-trip gives an identical tokenizer', () => {
  const json = JSON.parse(JSON.stringify(tok.toJSON()));
  const back = loadTokenizer(json);
  assert.equal(back.kind, 'bpe');
  assert.deepEqual(back.toJSON(), tok.toJSON());
  const s = texts[0].slice(0, 3000);
  assert.deepEqual(back.encode(s), tok.encode(s));
});

test('rejects bad vocab sizes and malformed merges', () => {
  assert.throws(() => trainBpe(['x'], { vocabSize: 256 }), /vocabSize must be/); // no room for the separator
  assert.throws(() => trainBpe(['x'], { vocabSize: 16385 }), /vocabSize must be/);
  assert.throws(() => new BpeTokenizer([[300, 1]]), /refers to an id/);
  assert.throws(() => BpeTokenizer.fromJSON({ ...tok.toJSON(), vocabSize: 5 }), /does not match/);
});
