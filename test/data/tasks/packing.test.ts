// Task instances packed into batches: whole instances per row, only completions scored, every
// instance once per epoch, exact resume.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteTokenizer, END_OF_TEXT, IGNORE_INDEX, type Batch } from '../../../src/data/index.js';
import {
  InstanceSampler, completionText, drawInstances, encodeTasks, instanceBatches, numDocs, readTaskFile, scoredTokens, taskFileText,
  buildTaskSets, type EncodedTasks,
} from '../../../src/data/tasks/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tok = new ByteTokenizer({ specialTokens: [END_OF_TEXT] });
const eot = tok.specialId(END_OF_TEXT)!;

function encoded(format: 'direct' | 'cot') {
  const instances = [
    ...drawInstances('lis', { size: 3, count: 7, seed: 1 }),
    ...drawInstances('arithmetic', { size: 2, count: 6, seed: 1 }),
    ...drawInstances('edit-distance', { size: 2, count: 5, seed: 1 }),
  ];
  return { instances, enc: encodeTasks(instances, format, (s) => tok.encode(s), eot) };
}

/** Splits a batch row into its segments: tokens and targets of each. */
function segments(b: Batch, r: number): { ids: number[]; targets: number[] }[] {
  const out: { ids: number[]; targets: number[] }[] = [];
  let last = -1;
  for (let t = 0; t < b.T; t++) {
    const i = r * b.T + t;
    if (b.docIds![i] !== last) { out.push({ ids: [], targets: [] }); last = b.docIds![i]; }
    out[out.length - 1].ids.push(b.inputs[i]);
    out[out.length - 1].targets.push(b.targets[i]);
  }
  return out;
}

/** Checks every row of a batch; returns the documents (as text) it contains, whole. */
function checkBatch(b: Batch, enc: EncodedTasks, docs: Map<string, { prompt: string; completion: string }>): string[] {
  const seen: string[] = [];
  for (let r = 0; r < b.B; r++) {
    for (const s of segments(b, r)) {
      if (s.ids.every((x) => x === eot) && s.targets.every((x) => x === IGNORE_INDEX)) continue; // padding
      // a whole instance: its tokens are prompt + completion (+ <|endoftext|>, which may be cut off as the row's last target)
      const text = tok.decode(s.ids.filter((x) => x !== eot));
      const doc = [...docs.entries()].find(([, d]) => (d.prompt + d.completion).startsWith(text) && text.length >= d.prompt.length + d.completion.length - 1);
      assert.ok(doc, `segment "${text}" is not a whole instance`);
      const { prompt, completion } = doc[1];
      const full = [...tok.encode(prompt + completion), eot];
      assert.deepEqual(s.ids, full.slice(0, s.ids.length));
      s.targets.forEach((t, j) => {
        // position j predicts token j + 1: scored exactly when that token is part of the completion
        const scored = j + 1 >= tok.encode(prompt).length && j + 1 < full.length;
        assert.equal(t, scored ? full[j + 1] : IGNORE_INDEX, `row ${r} "${text}" position ${j}`);
      });
      seen.push(prompt);
    }
  }
  void enc;
  return seen;
}

test('evaluation batches hold every instance once, whole, with only the completion scored', () => {
  for (const format of ['direct', 'cot'] as const) {
    const { instances, enc } = encoded(format);
    const docs = new Map(instances.map((i) => [i.prompt, { prompt: i.prompt, completion: completionText(i, format) }]));
    const seen: string[] = [];
    let scored = 0;
    for (const b of instanceBatches(enc, { B: 2, T: 40 })) {
      seen.push(...checkBatch(b, enc, docs));
      scored += b.targets.filter((t) => t !== IGNORE_INDEX).length;
    }
    assert.deepEqual(seen.sort(), instances.map((i) => i.prompt).sort());
    assert.equal(scored, scoredTokens(enc));
  }
});

test('the sampler trains every instance once per epoch and resumes exactly', () => {
  const { instances, enc } = encoded('cot');
  const docs = new Map(instances.map((i) => [i.prompt, { prompt: i.prompt, completion: completionText(i, 'cot') }]));
  const s = new InstanceSampler(enc, { B: 3, T: 48, seed: 'x' });
  const counts = new Map<string, number>();
  // rows take whole instances, so an epoch ends within a batch row boundary: sample two epochs' worth
  while (s.state().epoch < 2) for (const p of checkBatch(s.next(), enc, docs)) counts.set(p, (counts.get(p) ?? 0) + 1);
  assert.equal(counts.size, numDocs(enc));
  for (const c of counts.values()) assert.ok(c === 2 || c === 3, `each instance trained once per epoch (count ${c} over 2+ epochs)`);

  const a = new InstanceSampler(enc, { B: 3, T: 48, seed: 'x' });
  for (let i = 0; i < 5; i++) a.next();
  const saved = JSON.parse(JSON.stringify(a.state()));
  const expected = Array.from({ length: 6 }, () => a.next());
  const b = new InstanceSampler(enc, { B: 3, T: 48, seed: 'x' });
  b.setState(saved);
  assert.deepEqual(Array.from({ length: 6 }, () => b.next()), expected);
  assert.throws(() => new InstanceSampler(enc, { B: 4, T: 48 }).setState(saved), /B is 3, expected 4/);
});

test('an instance longer than the context is refused with its length', () => {
  const { enc } = encoded('cot');
  assert.throws(() => new InstanceSampler(enc, { B: 1, T: 8 }), /a task instance is \d+ tokens long, more than context \+ 1 = 9/);
});

test('task files round-trip and bad lines are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-taskfile-'));
  try {
    const spec = { task: 'lis', sizes: [4], testSizes: [6], train: 20, test: 5, seed: 3 };
    const sets = buildTaskSets(spec);
    const path = join(dir, 'lis.jsonl');
    writeFileSync(path, taskFileText(spec, sets));
    const back = readTaskFile(path);
    assert.deepEqual({ train: back.train, test: back.test }, sets);
    assert.ok(back.test.every((i) => i.size === 6));
    writeFileSync(path, taskFileText(spec, sets) + '{"split": "dev", "task": "lis"}\n');
    assert.throws(() => readTaskFile(path), /lis\.jsonl:27: split must be "train" or "test"/);
    writeFileSync(path, '{"hello": 1}\n');
    assert.throws(() => readTaskFile(path), /is not a task file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
