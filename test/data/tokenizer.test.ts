import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteTokenizer, END_OF_TEXT, loadTokenizer } from '../../src/data/tokenizer.js';
import { Rng } from '../../src/base/random.js';
import { randomText } from './utf8gen.js';

test('byte tokenizer: ids are UTF-8 bytes and round-trip', () => {
  const tok = new ByteTokenizer();
  assert.equal(tok.vocabSize, 256);
  assert.deepEqual(tok.encode('é!'), [0xc3, 0xa9, 0x21]);
  const rng = new Rng(11);
  for (let i = 0; i < 200; i++) {
    const s = randomText(rng, 30);
    assert.equal(tok.decode(tok.encode(s)), s);
  }
  assert.equal(tok.decode(tok.encode('\uFEFFbom')), '\uFEFFbom');
});

test('byte tokenizer special tokens follow the bytes and survive JSON', () => {
  const tok = new ByteTokenizer({ specialTokens: [END_OF_TEXT] });
  assert.equal(tok.vocabSize, 257);
  assert.equal(tok.specialId(END_OF_TEXT), 256);
  assert.equal(tok.specialId('<nope>'), undefined);
  assert.equal(tok.decode([104, 105, 256]), 'hi' + END_OF_TEXT);
  assert.deepEqual(tok.encode(END_OF_TEXT).includes(256), false); // text never yields special ids
  const back = loadTokenizer(JSON.stringify(tok.toJSON()));
  assert.equal(back.kind, 'byte');
  assert.equal(back.vocabSize, 257);
  assert.equal(back.specialId(END_OF_TEXT), 256);
  assert.throws(() => tok.decode([300]), /out of range/);
});

test('loadTokenizer rejects unknown kinds', () => {
  assert.throws(() => loadTokenizer({ kind: 'wordpiece' } as never), /unknown tokenizer kind/);
});
