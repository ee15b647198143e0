import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFactWorld, editRequests, factCorpus, relation, relations, twoHops } from '../../src/data/fact-world.js';

test('a fact world is fixed by its config, with unique names and consistent facts', () => {
  const w = buildFactWorld({ seed: 3, people: 50, cities: 12, countries: 4, companies: 6 });
  assert.deepEqual(w, { ...buildFactWorld({ seed: 3, people: 50, cities: 12, countries: 4, companies: 6 }), object: w.object } as typeof w);
  assert.notDeepEqual(w.entities.map((e) => e.name), buildFactWorld({ seed: 4, people: 50, cities: 12, countries: 4, companies: 6 }).entities.map((e) => e.name));
  assert.equal(w.entities.length, 72);
  assert.equal(new Set(w.entities.map((e) => e.name)).size, 72, 'names are unique');
  // One fact per (subject, relation), objects of the relation's kind.
  const seen = new Set<string>();
  for (const f of w.facts) {
    const r = relation(f.relation);
    assert.equal(w.entities[f.subject].kind, r.subject);
    assert.equal(w.entities[f.object].kind, r.object);
    assert.ok(!seen.has(`${f.subject}/${f.relation}`));
    seen.add(`${f.subject}/${f.relation}`);
  }
  // Every country's capital lies in that country.
  for (const c of w.entities.filter((e) => e.kind === 'country')) {
    assert.equal(w.object(w.object(c.id, 'capital')!, 'located_in'), c.id);
  }
  assert.throws(() => buildFactWorld({ cities: 3, countries: 5 }), /every country needs a capital/);
  assert.throws(() => buildFactWorld({ people: 0 }), /people must be/);
});

test('the corpus states every fact with training templates only', () => {
  const w = buildFactWorld({ seed: 1, people: 20, cities: 8, countries: 3, companies: 4 });
  const docs = factCorpus(w);
  assert.equal(docs.length, w.facts.reduce((n, f) => n + relation(f.relation).train.length, 0));
  for (const f of w.facts) {
    const r = relation(f.relation), s = w.entities[f.subject].name, o = w.entities[f.object].name;
    for (const t of r.train) assert.ok(docs.includes(`${t.replace('{s}', s)} ${o}.`), `${t} / ${s}`);
  }
  // Exactly the training statements, so held-out paraphrases never occur.
  const want = w.facts.flatMap((f) => relation(f.relation).train.map((t) => `${t.replace('{s}', w.entities[f.subject].name)} ${w.entities[f.object].name}.`));
  assert.deepEqual([...docs].sort(), want.sort());
  for (const r of relations) for (const h of r.heldOut) assert.ok(!r.train.includes(h));
  assert.deepEqual(factCorpus(w, { seed: 5 }), factCorpus(w, { seed: 5 }));
  assert.equal(factCorpus(w, { templatesPerFact: 1 }).length, w.facts.length);
});

test('edit requests: a new object of the right kind, held-out paraphrases, true neighbours, portability through the new object', () => {
  const w = buildFactWorld({ seed: 2, people: 40, cities: 10, countries: 4, companies: 5 });
  const reqs = editRequests(w, 30, { seed: 9 });
  assert.equal(reqs.length, 30);
  assert.equal(new Set(reqs.map((r) => `${r.subject}/${r.relation}`)).size, 30, 'distinct facts');
  const byName = new Map(w.entities.map((e) => [e.name, e]));
  let portable = 0;
  for (const r of reqs) {
    const rel = relation(r.relation);
    const s = byName.get(r.subject)!, oldObj = byName.get(r.targetTrue.slice(1))!, newObj = byName.get(r.targetNew.slice(1))!;
    assert.equal(w.object(s.id, r.relation), oldObj.id, 'targetTrue is the world\'s fact');
    assert.notEqual(newObj.id, oldObj.id);
    assert.equal(newObj.kind, rel.object);
    assert.ok(rel.train.some((t) => t.replace('{s}', r.subject) === r.prompt));
    assert.deepEqual(r.paraphrasePrompts, rel.heldOut.map((t) => t.replace('{s}', r.subject)));
    for (const nb of r.neighborhoodPrompts) {
      const other = w.entities.find((e) => nb.prompt.includes(e.name) && e.kind === rel.subject && e.name !== r.subject)!;
      assert.ok(other, nb.prompt);
      assert.equal(nb.target, ` ${w.entities[w.object(other.id, r.relation)!].name}`);
    }
    assert.ok(r.unrelatedPrompts.length > 0 && r.unrelatedPrompts.every((u) => !u.prompt.includes(r.subject)));
    for (const hop of twoHops.filter((h) => h.first === r.relation)) {
      const want = ` ${w.entities[w.object(newObj.id, hop.second)!].name}`;
      assert.deepEqual(r.portabilityPrompts.filter((p) => hop.templates.some((t) => t.replace('{s}', r.subject) === p.prompt)).map((p) => p.target), hop.templates.map(() => want));
      portable++;
    }
    assert.ok(r.zsre.src.startsWith('Q:') && r.zsre.src.includes(r.subject) && r.zsre.alt === r.targetNew);
  }
  assert.ok(portable > 0, 'some requests have two-hop prompts');
  assert.deepEqual(editRequests(w, 5, { seed: 1 }), editRequests(w, 5, { seed: 1 }));
  assert.throws(() => editRequests(w, 0), /n must be/);
});
