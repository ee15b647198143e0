import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, utimesSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrBuildTokens, tokenCachePath } from '../../src/data/tokencache.js';
import { ByteTokenizer, END_OF_TEXT } from '../../src/data/tokenizer.js';
import { trainBpe } from '../../src/data/bpe.js';
import { loadSplit } from '../../src/data/corpora.js';

test('builds once, reuses, and re-keys on tokenizer or corpus changes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-cache-'));
  try {
    const corpusDir = join(dir, 'corpus');
    mkdirSync(corpusDir);
    const texts = ['héllo world', 'second document 🚀', 'third one\n\nwith two paragraphs', ''];
    texts.forEach((t, i) => writeFileSync(join(corpusDir, `d${i}.txt`), t));
    const cacheDir = join(dir, 'cache');
    const corpus = { kind: 'text', path: corpusDir } as const;
    const tokenizer = new ByteTokenizer({ specialTokens: [END_OF_TEXT] });
    const opts = { corpus, split: 'all' as const, tokenizer, cacheDir };

    const first = loadOrBuildTokens(opts);
    assert.equal(first.built, true);
    assert.ok(existsSync(`${first.path}.json`));
    const f = first.file;
    assert.equal(f.numDocs, 4);
    assert.equal(f.totalBytes, texts.reduce((s, t) => s + Buffer.byteLength(t), 0));
    for (let d = 0; d < 4; d++) {
      const n = f.docBounds[d + 1] - f.docBounds[d];
      const out = new Int32Array(n);
      f.read(f.docBounds[d], n, out);
      assert.equal(tokenizer.decode(out), texts[d]);
    }
    f.close();

    const second = loadOrBuildTokens(opts);
    assert.equal(second.built, false);
    assert.equal(second.path, first.path);
    second.file.close();

    const bpe = trainBpe(texts, { vocabSize: 270 });
    assert.notEqual(tokenCachePath({ ...opts, tokenizer: bpe }), first.path);
    assert.notEqual(tokenCachePath({ ...opts, split: 'train' }), tokenCachePath({ ...opts, split: 'valid' }));
    assert.notEqual(tokenCachePath({ ...opts, split: 'valid', splitOptions: { validFraction: 0.5 } }), tokenCachePath({ ...opts, split: 'valid' }));

    writeFileSync(join(corpusDir, 'd0.txt'), 'changed');
    utimesSync(join(corpusDir, 'd0.txt'), new Date(), new Date(Date.now() + 5000));
    assert.notEqual(tokenCachePath(opts), first.path);

    // A corrupt cache file is reported with its path; rebuild replaces it.
    const cur = loadOrBuildTokens(opts);
    cur.file.close();
    truncateSync(cur.path, 70);
    assert.throws(() => loadOrBuildTokens(opts), (e: Error) => e.message.includes(cur.path) && /corrupt or truncated/.test(e.message));
    const rebuilt = loadOrBuildTokens({ ...opts, rebuild: true });
    assert.equal(rebuilt.built, true);
    assert.equal(rebuilt.file.numDocs, 4);
    rebuilt.file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train and valid caches hold the documents of their split', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-cache-'));
  try {
    const corpus = { kind: 'brown', categories: ['humor', 'science_fiction'] } as const;
    const tokenizer = new ByteTokenizer();
    const splitOptions = { validFraction: 0.3 };
    for (const split of ['train', 'valid'] as const) {
      const docs = loadSplit(corpus, split, splitOptions);
      assert.ok(docs.length > 0, `${split} is empty`);
      const { file } = loadOrBuildTokens({ corpus, split, splitOptions, tokenizer, cacheDir: dir });
      assert.equal(file.numDocs, docs.length);
      assert.equal(file.length, docs.reduce((s, d) => s + Buffer.byteLength(d.text), 0)); // bytes = tokens here
      file.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
