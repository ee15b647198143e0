import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corpusFingerprint, isValidationDoc, loadDocuments, loadSplit, splitDocuments } from '../../src/data/corpora.js';

test('Brown train/valid split is disjoint, complete, stable and per-document', () => {
  const docs = loadDocuments({ kind: 'brown' });
  assert.equal(docs.length, 500);
  const { train, valid } = splitDocuments(docs);
  const tIds = new Set(train.map((d) => d.id)), vIds = new Set(valid.map((d) => d.id));
  assert.equal(tIds.size + vIds.size, 500);
  for (const id of vIds) assert.ok(!tIds.has(id));
  assert.ok(valid.length > 25 && valid.length < 80, `valid has ${valid.length} docs`);
  // Stable across calls and independent of which other documents are present.
  assert.deepEqual(loadSplit({ kind: 'brown' }, 'valid').map((d) => d.id), [...vIds]);
  const news = loadSplit({ kind: 'brown', categories: ['news'] }, 'valid').map((d) => d.id);
  assert.deepEqual(news, [...vIds].filter((id) => id.startsWith('ca')));
});

test('split fraction and salt are configurable', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `doc${i}`);
  const frac = ids.filter((id) => isValidationDoc(id, { validFraction: 0.25 })).length / ids.length;
  assert.ok(Math.abs(frac - 0.25) < 0.04, `fraction ${frac}`);
  assert.equal(ids.filter((id) => isValidationDoc(id, { validFraction: 0 })).length, 0);
  assert.equal(ids.filter((id) => isValidationDoc(id, { validFraction: 1 })).length, ids.length);
  const a = ids.filter((id) => isValidationDoc(id, { salt: 'a' }));
  const b = ids.filter((id) => isValidationDoc(id, { salt: 'b' }));
  assert.notDeepEqual(a, b);
  assert.throws(() => isValidationDoc('x', { validFraction: 2 }), /validFraction/);
});

test('local .txt and .jsonl corpora', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-corpora-'));
  try {
    mkdirSync(join(dir, 'txt', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'txt', 'b.txt'), 'second');
    writeFileSync(join(dir, 'txt', 'a.txt'), 'first doc\n\nwith paragraphs');
    writeFileSync(join(dir, 'txt', 'sub', 'c.txt'), 'nested');
    writeFileSync(join(dir, 'txt', 'ignored.md'), 'not text');
    const txt = loadDocuments({ kind: 'text', path: join(dir, 'txt') });
    assert.deepEqual(txt, [
      { id: 'a.txt', text: 'first doc\n\nwith paragraphs' },
      { id: 'b.txt', text: 'second' },
      { id: join('sub', 'c.txt'), text: 'nested' },
    ]);

    const jl = join(dir, 'data.jsonl');
    writeFileSync(jl, '{"body": "one", "x": 1}\n\n{"body": "two ✓"}\n');
    assert.deepEqual(loadDocuments({ kind: 'jsonl', path: jl, field: 'body' }), [
      { id: 'data.jsonl:1', text: 'one' },
      { id: 'data.jsonl:3', text: 'two ✓' },
    ]);
    assert.throws(() => loadDocuments({ kind: 'jsonl', path: jl }), /data\.jsonl:1: field "text" is missing/);
    writeFileSync(jl, '{"text": "ok"}\n{broken\n');
    assert.throws(() => loadDocuments({ kind: 'jsonl', path: jl }), /data\.jsonl:2: invalid JSON/);
    assert.throws(() => loadDocuments({ kind: 'text', path: join(dir, 'missing') }), /not found/);

    // Editing a file changes the fingerprint that keys token caches.
    const spec = { kind: 'text', path: join(dir, 'txt') } as const;
    const before = corpusFingerprint(spec);
    writeFileSync(join(dir, 'txt', 'b.txt'), 'second, edited');
    utimesSync(join(dir, 'txt', 'b.txt'), new Date(), new Date(Date.now() + 5000));
    assert.notEqual(corpusFingerprint(spec), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
