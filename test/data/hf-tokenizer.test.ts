// Our tokenizers exported as Hugging Face tokenizer.json, loaded by tokenizers.js (the
// tokenizers of transformers.js, @huggingface/tokenizers pinned in package.json): the same ids
// as ours on Brown text and on awkward UTF-8, the same text back, and our own reader
// recovers the tokenizer from the file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { ByteTokenizer, END_OF_TEXT, fromHFTokenizer, loadBrown, toHFTokenizer, trainBpe, type Tokenizer } from '../../src/data/index.js';
import { Rng } from '../../src/base/random.js';
import { randomText } from './utf8gen.js';

const brown = loadBrown({ categories: ['news', 'humor'] });
const texts = brown.map((d) => d.text);
const AWKWARD = [
  '', ' ', '   leading and trailing   ', 'tabs\tand\nnewlines\r\n\n', "it's we'll they'd I'M 'S",
  'naïve café — “quotes” ‘single’ … ½ ©', '漢字かなカナ한국어中文', '👩‍👩‍👧 🇺🇸 🏳️‍🌈 😀😀', '\uFEFFBOM first', 'e\u0301 combining',
  '\u0000 nul and \u007f del \u00ad soft hyphen', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '12345 67.89 1e-3', 'a  b   c    d', '\u{10FFFF}',
];

function roundTrip(ours: Tokenizer, label: string): void {
  const files = toHFTokenizer(ours, 128);
  // Through JSON text, as a file on disk would be read.
  const hf = new HFTokenizer(JSON.parse(JSON.stringify(files.tokenizer)), JSON.parse(JSON.stringify(files.config)));
  const rng = new Rng(7);
  const samples = [...AWKWARD, ...texts.slice(0, 40), ...Array.from({ length: 200 }, () => randomText(rng, 40))];
  let tokens = 0;
  for (const text of samples) {
    const want = ours.encode(text);
    const got = hf.encode(text).ids;
    assert.deepEqual(got, want, `${label}: ids differ for ${JSON.stringify(text.slice(0, 80))}`);
    if (got.length > 0) assert.equal(hf.decode(got), ours.decode(want), `${label}: decode differs for ${JSON.stringify(text.slice(0, 80))}`);
    tokens += want.length;
  }
  assert.ok(tokens > 20_000, `${label}: only ${tokens} tokens compared`);
  const eot = ours.specialId(END_OF_TEXT)!;
  assert.equal(files.endOfTextId, eot);
  assert.equal(hf.decode([eot]), END_OF_TEXT);
  assert.equal(hf.decode([eot], { skip_special_tokens: true }), '');
  // Our reader gets the same tokenizer back from the file.
  const back = fromHFTokenizer(JSON.parse(JSON.stringify(files.tokenizer)));
  assert.ok(back.tokenizer, 'reason' in back ? back.reason : '');
  assert.deepEqual(back.tokenizer.toJSON(), ours.toJSON());
}

test('byte tokenizer: tokenizers.js gives our ids', () => {
  roundTrip(new ByteTokenizer({ specialTokens: [END_OF_TEXT] }), 'byte');
});

test('byte-level BPE learned on Brown: tokenizers.js gives our ids', () => {
  const bpe = trainBpe(texts.slice(40), { vocabSize: 1024 });
  assert.ok(bpe.merges.length > 700);
  roundTrip(bpe, 'bpe');
});

test('a tokenizer.json we did not lay out is refused with the reason', () => {
  const files = toHFTokenizer(trainBpe(texts.slice(0, 20), { vocabSize: 300 }), 64);
  const model = files.tokenizer.model as { vocab: Record<string, number> };
  const [a, b] = Object.keys(model.vocab);
  const swapped = { ...files.tokenizer, model: { ...model, vocab: { ...model.vocab, [a]: model.vocab[b], [b]: model.vocab[a] } } };
  const r = fromHFTokenizer(swapped);
  assert.equal(r.tokenizer, null);
  assert.match((r as { reason: string }).reason, /byte 0 is not id 0|byte \d+ is not id/);
  assert.match((fromHFTokenizer({ model: { type: 'WordPiece', vocab: {} } }) as { reason: string }).reason, /not BPE/);
});
