import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corpusFingerprint, loadSplit, mixRepeats, type CorpusSpec } from '../../src/data/corpora.js';
import { buildFactWorld, factCorpus, relation } from '../../src/data/fact-world.js';
import { buildTokenizer, dataConfigSchema } from '../../src/data/data-config.js';
import { loadOrBuildTokens } from '../../src/data/tokencache.js';
import { ByteTokenizer, END_OF_TEXT } from '../../src/data/tokenizer.js';

const world = { seed: 1, people: 20, cities: 8, countries: 3, companies: 4 };
const bytes = (docs: { text: string }[]) => docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);

test('a facts corpus trains on every fact in training templates and validates on held-out paraphrases', () => {
  const spec: CorpusSpec = { kind: 'facts', world };
  const train = loadSplit(spec, 'train'), valid = loadSplit(spec, 'valid');
  const w = buildFactWorld(world);
  // every statement of factCorpus is there, plus one chain per person and two-hop relation
  const statements = train.filter((d) => d.id.startsWith('fact:')).map((d) => d.text).sort();
  assert.deepEqual(statements, factCorpus(w).sort());
  assert.equal(train.filter((d) => d.id.startsWith('chain:')).length, 2 * world.people);
  const chain = train.find((d) => d.id.startsWith('chain:birth_country:'))!;
  const person = w.entities.find((e) => chain.text.startsWith(e.name))!;
  const city = w.object(person.id, 'born_in')!, country = w.object(city, 'located_in')!;
  assert.ok(chain.text.includes(` ${w.entities[city].name}. `) && chain.text.endsWith(` ${w.entities[country].name}.`), chain.text);
  // validation: each fact in each held-out template, and none of those sentences in training
  assert.equal(valid.length, w.facts.reduce((n, f) => n + relation(f.relation).heldOut.length, 0));
  const trainText = new Set(train.map((d) => d.text));
  for (const d of valid) assert.ok(!trainText.has(d.text));
  // deterministic, seed-dependent order; ids unique
  assert.deepEqual(loadSplit(spec, 'train'), train);
  assert.notDeepEqual(loadSplit({ ...spec, seed: 99 }, 'train').map((d) => d.id), train.map((d) => d.id));
  assert.equal(new Set(train.map((d) => d.id)).size, train.length);
  // questions: first form in training, rephrasing in validation; chains can be left out
  const q = loadSplit({ kind: 'facts', world, questions: true, chains: false }, 'all');
  assert.equal(q.filter((d) => d.id.startsWith('question:')).length, w.facts.length);
  assert.equal(q.filter((d) => d.id.startsWith('rephrase:')).length, w.facts.length);
  assert.equal(q.filter((d) => d.id.startsWith('chain:')).length, 0);
});

test('mix weights set each component\'s share of training bytes; splits stay per component', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-mix-'));
  try {
    const notes = join(dir, 'notes.jsonl');
    writeFileSync(notes, Array.from({ length: 200 }, (_, i) => JSON.stringify({ text: `note number ${i} says ${'la '.repeat(i % 7)}` })).join('\n'));
    const facts: CorpusSpec = { kind: 'facts', world };
    const jsonl: CorpusSpec = { kind: 'jsonl', path: notes };
    for (const [wf, wj] of [[1, 1], [3, 1], [1, 4]]) {
      const mix: CorpusSpec = { kind: 'mix', components: [{ corpus: facts, weight: wf }, { corpus: jsonl, weight: wj }] };
      const train = loadSplit(mix, 'train');
      const share = bytes(train.filter((d) => d.id.startsWith('0/'))) / bytes(train);
      assert.ok(Math.abs(share - wf / (wf + wj)) < 0.03, `weights ${wf}:${wj} gave a facts share of ${share.toFixed(3)}`);
      assert.equal(new Set(train.map((d) => d.id)).size, train.length, 'repeated documents get distinct ids');
      assert.deepEqual(loadSplit(mix, 'train'), train, 'deterministic');
      // each component keeps its own split: the mix's validation is theirs, prefixed, once each
      const valid = loadSplit(mix, 'valid');
      assert.deepEqual(valid.filter((d) => d.id.startsWith('1/')).map((d) => d.id.slice(2)), loadSplit(jsonl, 'valid').map((d) => d.id));
      assert.deepEqual(valid.filter((d) => d.id.startsWith('0/')).map((d) => d.text), loadSplit(facts, 'valid').map((d) => d.text));
      const validIds = new Set(loadSplit(jsonl, 'valid').map((d) => `1/${d.id}`));
      for (const d of train) assert.ok(!validIds.has(d.id.split('#')[0]), `${d.id} is a validation document`);
    }
    // the fingerprint follows the components' files
    const mix: CorpusSpec = { kind: 'mix', components: [{ corpus: facts, weight: 1 }, { corpus: jsonl, weight: 1 }] };
    const before = corpusFingerprint(mix);
    writeFileSync(notes, JSON.stringify({ text: 'changed' }) + '\n');
    assert.notEqual(corpusFingerprint(mix), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mixRepeats: no component is cut; bad weights are named', () => {
  const r = mixRepeats([1, 1], [100, 400]);
  assert.deepEqual(r, [4, 1]);
  assert.deepEqual(mixRepeats([1, 3], [100, 100]), [1, 3]);
  assert.throws(() => mixRepeats([1, 0], [1, 1]), /component 1 weight must be a positive/);
  assert.throws(() => mixRepeats([1e-9, 1], [1000, 1000]), /MiB of training text/);
  assert.throws(() => loadSplit({ kind: 'mix', components: [] }, 'train'), /at least one component/);
});

test('the data config accepts facts and mix corpora, rejects bad ones by field, and tokenizes them (byte and BPE)', () => {
  const ok = dataConfigSchema.parse({ corpus: { kind: 'mix', components: [{ corpus: { kind: 'facts', world: { people: 10, cities: 6, countries: 3, companies: 3 } }, weight: 2 }, { corpus: { kind: 'brown', categories: ['news'] }, weight: 1 }] } });
  assert.equal(ok.corpus.kind, 'mix');
  const issues = (input: unknown) => dataConfigSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
  assert.ok(issues({ corpus: { kind: 'facts', world: { cities: 2, countries: 3 } } }).some((m) => m.startsWith('corpus.world.cities: cities (2) must be at least')));
  assert.ok(issues({ corpus: { kind: 'facts', world: { planets: 3 } } }).some((m) => m.includes('planets')));
  assert.ok(issues({ corpus: { kind: 'mix', components: [{ corpus: { kind: 'brown' }, weight: -1 }] } }).some((m) => m.startsWith('corpus.components.0.weight')));
  assert.ok(issues({ corpus: { kind: 'mix', components: [{ corpus: { kind: 'mix', components: [] }, weight: 1 }] } }).some((m) => m.startsWith('corpus.components.0.corpus.kind')));
  assert.ok(issues({ corpus: { kind: 'mix', components: [] } }).some((m) => m.startsWith('corpus.components')));

  const cacheDir = mkdtempSync(join(tmpdir(), 'wt-mix-tok-'));
  try {
    const data = dataConfigSchema.parse({ corpus: { kind: 'mix', components: [{ corpus: { kind: 'facts', world }, weight: 1 }, { corpus: { kind: 'facts', world: { ...world, seed: 2 } }, weight: 1 }] }, tokenizer: { kind: 'bpe', vocabSize: 300 }, cacheDir });
    const bpe = buildTokenizer(data);
    assert.ok(bpe.vocabSize > 257 && bpe.vocabSize <= 300);
    for (const tok of [bpe, new ByteTokenizer({ specialTokens: [END_OF_TEXT] })]) {
      const { file } = loadOrBuildTokens({ corpus: data.corpus as CorpusSpec, split: 'train', splitOptions: { validFraction: data.validFraction, salt: data.splitSalt }, tokenizer: tok, cacheDir });
      const docs = loadSplit(data.corpus as CorpusSpec, 'train');
      assert.equal(file.numDocs, docs.length);
      const first = new Int32Array(file.docBounds[1] - file.docBounds[0]);
      file.read(0, first.length, first);
      assert.equal(tok.decode(Array.from(first)), docs[0].text);
      file.close();
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
