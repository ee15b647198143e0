import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { factWorldOfCorpus, parseEditRequests, readEditRequests, requestsForWorld, writeEditRequests } from '../../src/editing/requests.js';
import { metricPrompts, ngramEntropy } from '../../src/editing/metrics.js';

const world = { seed: 2, people: 12, cities: 5, countries: 2, companies: 3 };

test('edit requests round-trip through JSONL; bad lines are named by line and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-req-'));
  try {
    const reqs = requestsForWorld(world, 6, 3);
    const file = join(dir, 'r.jsonl');
    writeEditRequests(file, reqs);
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 6);
    assert.deepEqual(readEditRequests(file), reqs);
    const line = JSON.parse(JSON.stringify(reqs[0]));
    assert.throws(() => parseEditRequests(`${JSON.stringify(line)}\n{oops`, 'x.jsonl'), /x\.jsonl:2: invalid JSON/);
    assert.throws(() => parseEditRequests(JSON.stringify({ ...line, relation: 'married_to' }), 'x.jsonl'), /x\.jsonl:1: relation:/);
    assert.throws(() => parseEditRequests(JSON.stringify({ ...line, targetNew: line.targetTrue }), 'x.jsonl'), /targetNew: targetNew equals targetTrue/);
    assert.throws(() => parseEditRequests(JSON.stringify({ ...line, prompt: 'Nobody was born in' })), /prompt: the prompt must contain the subject/);
    assert.throws(() => parseEditRequests(JSON.stringify({ ...line, extra: 1 })), /unrecognized|extra/i);
    assert.throws(() => parseEditRequests('\n\n'), /no edit requests/);
    writeFileSync(file, 'not json\n');
    assert.throws(() => readEditRequests(file), /r\.jsonl:1: invalid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the metric prompts of requests, and the world of a facts or mix corpus', () => {
  const reqs = requestsForWorld(world, 4, 1);
  const p = metricPrompts(reqs);
  assert.equal(p.reliability.length, 4);
  assert.deepEqual(p.reliability[0], { prompt: reqs[0].prompt, target: reqs[0].targetNew });
  assert.equal(p.generality.length, reqs.reduce((n, r) => n + r.paraphrasePrompts.length, 0));
  assert.equal(p.locality.length, reqs.reduce((n, r) => n + r.neighborhoodPrompts.length + r.unrelatedPrompts.length, 0));
  assert.ok(p.generality.every((g) => reqs.some((r) => r.targetNew === g.target && g.prompt.includes(r.subject))));
  assert.deepEqual(factWorldOfCorpus({ kind: 'mix', components: [{ corpus: { kind: 'brown' } }, { corpus: { kind: 'facts', world } }] }), world);
  assert.equal(factWorldOfCorpus({ kind: 'brown' }), null);
});

test('fluency: n-gram entropy is low for repetition and higher for varied text', () => {
  assert.equal(ngramEntropy('the the the the the the'), 0);
  const varied = ngramEntropy('the jury said that the city of atlanta had a fine election on friday');
  assert.ok(varied > 3, `${varied}`);
  assert.ok(ngramEntropy('a b a b a b a b a b') < 1.5);
});
