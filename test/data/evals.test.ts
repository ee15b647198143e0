// The built-in evaluation tasks: deterministic, answers right (checked here independently), train
// and test splits disjoint, few-shot examples from the train split only, Brown items by document.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawEvalItems, evalTaskNames, evalTasks, getEvalTask, itemDocument, parseEvalTaskRef, splitOfItem, withShots, coarseTag } from '../../src/data/evals/index.js';
import { isValidationDoc } from '../../src/data/corpora.js';
import { drawInstances } from '../../src/data/tasks/index.js';

test('every task draws deterministic, duplicate-free test items that are never train items', () => {
  for (const name of evalTaskNames) {
    const t = evalTasks[name];
    const a = drawEvalItems(t, { size: t.defaultSize, count: 40, seed: 3, split: 'test' });
    const b = drawEvalItems(t, { size: t.defaultSize, count: 40, seed: 3, split: 'test' });
    assert.deepEqual(a, b, name);
    assert.equal(new Set(a.map((i) => JSON.stringify(i.data))).size, 40, `${name}: duplicates`);
    const train = drawEvalItems(t, { size: t.defaultSize, count: 200, seed: 3, split: 'train' });
    const testKeys = new Set(drawEvalItems(t, { size: t.defaultSize, count: 40, seed: 9, split: 'test' }).concat(a).map((i) => JSON.stringify(i.data)));
    assert.ok(train.every((i) => !testKeys.has(JSON.stringify(i.data))), `${name}: a train item is a test item`);
    assert.ok(a.every((i) => splitOfItem(t, i) === 'test') && train.every((i) => splitOfItem(t, i) === 'train'));
    for (const i of a) {
      if (t.kind === 'choices') assert.ok(i.choices!.length >= 2 && i.answer! >= 0 && i.answer! < i.choices!.length, name);
      else assert.ok(i.target!.length > 0, name);
    }
  }
});

test('answers are right', () => {
  for (const i of drawEvalItems(getEvalTask('addition'), { size: 5, count: 50, seed: 1, split: 'test' })) {
    const [x, y] = i.prompt.slice(0, -1).split('+');
    assert.equal(i.target, String(BigInt(x) + BigInt(y)));
    assert.equal(x.length, 5);
  }
  for (const i of drawEvalItems(getEvalTask('multiplication'), { size: 3, count: 50, seed: 1, split: 'test' })) {
    const [x, y] = i.prompt.slice(0, -1).split('*');
    assert.equal(i.target, String(BigInt(x) * BigInt(y)));
  }
  for (const i of drawEvalItems(getEvalTask('reverse'), { size: 7, count: 20, seed: 1, split: 'test' })) {
    const s = /^reverse ([a-z]{7})=$/.exec(i.prompt)![1];
    assert.equal(i.target, s.split('').reverse().join(''));
  }
  for (const i of drawEvalItems(getEvalTask('unscramble'), { size: 6, count: 20, seed: 1, split: 'test' })) {
    const s = /^unscramble ([a-z]{6})=$/.exec(i.prompt)![1];
    assert.equal([...s].sort().join(''), [...i.target!].sort().join(''));
  }
  for (const i of drawEvalItems(getEvalTask('icl-mapping'), { size: 5, count: 30, seed: 1, split: 'test' })) {
    const pairs = i.prompt.split(',');
    const query = pairs.pop()!.slice(0, -1);
    const shown = new Map(pairs.map((p) => p.split('>') as [string, string]));
    assert.equal(pairs.length, 5);
    assert.equal(i.choices![i.answer!], shown.get(query));
  }
  // modular is the reasoning task `arithmetic`: its test items are that task's test instances
  const reasoning = new Set(drawInstances('arithmetic', { size: 2, count: 300, seed: 0, split: 'train' }).map((x) => x.prompt));
  for (const i of drawEvalItems(getEvalTask('modular'), { size: 2, count: 50, seed: 1, split: 'test' })) assert.ok(!reasoning.has(i.prompt));
});

test('few-shot prompts: k train items, one per line, then the item; fixed by the seed', () => {
  const t = getEvalTask('addition');
  const items = drawEvalItems(t, { size: 3, count: 5, seed: 0, split: 'test' });
  const three = withShots(t, items, { shots: 3, seed: 7 });
  three.forEach((s, i) => {
    const lines = s.prompt.split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[3], items[i].prompt);
    for (const l of lines.slice(0, 3)) {
      const [x, y] = l.split('=')[0].split('+');
      assert.equal(l.split('=')[1], String(Number(x) + Number(y)));
      assert.equal(splitOfItem(t, { ...items[i], data: { a: Number(x), b: Number(y) } }), 'train');
    }
  });
  assert.deepEqual(withShots(t, items, { shots: 3, seed: 7 }), three);
  assert.notDeepEqual(withShots(t, items, { shots: 3, seed: 8 }), three);
  assert.deepEqual(withShots(t, items, { shots: 0, seed: 7 }), items);
  assert.equal(itemDocument(items[0]), items[0].prompt + items[0].target);
});

test('Brown tasks: test items come from validation documents, tags map to coarse classes', () => {
  for (const name of ['brown-pos', 'brown-cloze']) {
    const t = getEvalTask(name);
    for (const i of drawEvalItems(t, { size: t.defaultSize, count: 30, seed: 2, split: 'test' })) assert.ok(isValidationDoc(String(i.data.doc)), name);
    for (const i of drawEvalItems(t, { size: t.defaultSize, count: 30, seed: 2, split: 'train' })) assert.ok(!isValidationDoc(String(i.data.doc)), name);
  }
  assert.equal(coarseTag('nn-tl'), 'noun');
  assert.equal(coarseTag('vbd'), 'verb');
  assert.equal(coarseTag('np$'), 'noun');
  assert.equal(coarseTag('jj'), 'adjective');
  assert.equal(coarseTag('in-hl'), 'preposition');
  assert.equal(coarseTag('.'), null);
  const cloze = drawEvalItems(getEvalTask('brown-cloze'), { size: 6, count: 10, seed: 0, split: 'test' });
  for (const i of cloze) {
    assert.equal(i.choices!.length, 4);
    assert.equal(new Set(i.choices).size, 4);
    assert.ok(i.choices!.every((c) => /^ [a-z]+$/.test(c)));
  }
});

test('task references', () => {
  assert.equal(parseEvalTaskRef('addition:4').size, 4);
  assert.equal(parseEvalTaskRef('copy').size, getEvalTask('copy').defaultSize);
  assert.throws(() => parseEvalTaskRef('addition:0'), /addition: size \(digits per operand\) must be an integer in 1\.\.7/);
  assert.throws(() => parseEvalTaskRef('sorting'), /unknown evaluation task "sorting"/);
});

test('the evals corpus: train items as documents, a component of mix, never a test item; bad refs are named', async () => {
  const { loadSplit } = await import('../../src/data/corpora.js');
  const { dataConfigSchema } = await import('../../src/data/data-config.js');
  const spec = { kind: 'evals' as const, tasks: ['addition:2', 'icl-mapping:3'], train: 40, valid: 8, itemsPerDocument: 4 };
  const train = loadSplit(spec, 'train');
  assert.equal(train.length, 20);
  assert.match(train[0].text, /^\d+\+\d+=\d+\n/);
  const tests = new Set(drawEvalItems(getEvalTask('addition'), { size: 2, count: 1000, seed: 0, split: 'test' }).map(itemDocument));
  const lines = train.flatMap((d) => d.text.split('\n'));
  assert.equal(lines.length, 80);
  assert.ok(lines.every((l) => !tests.has(l)));
  const mix = loadSplit({ kind: 'mix', components: [{ corpus: { kind: 'text', path: 'README.md' }, weight: 3 }, { corpus: spec, weight: 1 }] }, 'train');
  const bytes = (pred: (id: string) => boolean) => mix.filter((d) => pred(d.id)).reduce((n, d) => n + Buffer.byteLength(d.text), 0);
  const share = bytes((id) => id.startsWith('1/')) / bytes(() => true);
  assert.ok(Math.abs(share - 0.25) < 0.05, `task share ${share}`);
  const parsed = dataConfigSchema.parse({ corpus: { kind: 'mix', components: [{ corpus: { kind: 'brown' }, weight: 9 }, { corpus: spec, weight: 1 }] } });
  assert.equal(parsed.corpus.kind, 'mix');
  assert.throws(() => dataConfigSchema.parse({ corpus: { kind: 'evals', tasks: ['addition:0'], train: 10 } }), /addition: size/);
});
