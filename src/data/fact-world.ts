// A synthetic world of facts that small models can learn, shared by the dissection work (issue 15:
// circuits for a relation, causal tracing) and knowledge editing (issue 16): entities with
// invented names, relations between them, several paraphrased templates per relation, two-hop
// chains, and edit requests in the CounterFact / ZsRE shape.
//
// Everything is drawn from one seed, so a world is named by its config. Every prompt ends where
// the object follows, and every object is written with a leading space (" Velmora"), so a
// prompt + object is one sentence and the object's tokens are what a model must produce.
//
//   person  --born_in-->  city  --located_in-->  country  --capital-->  city
//   person  --works_for-->  company  --headquartered_in-->  city
//
// Templates are split into `train` (used to write the corpus) and `heldOut` (paraphrases never
// seen in training: generality prompts of edit requests and held-out evaluation).

import { Rng } from '../base/random.js';

export type EntityKind = 'person' | 'city' | 'country' | 'company';
export interface Entity { id: number; kind: EntityKind; name: string }

export type RelationName = 'born_in' | 'works_for' | 'located_in' | 'capital' | 'headquartered_in';
export interface Relation {
  name: RelationName;
  subject: EntityKind;
  object: EntityKind;
  /** Statements in the corpus; "{s}" is the subject, the object follows the text. */
  train: string[];
  /** Paraphrases never used to write the corpus. */
  heldOut: string[];
  /** ZsRE-style question and its rephrasing; the answer follows. */
  questions: [string, string];
}

export const relations: readonly Relation[] = [
  {
    name: 'born_in', subject: 'person', object: 'city',
    train: ['{s} was born in', '{s} is a native of', 'The birthplace of {s} is', '{s} came into the world in'],
    heldOut: ['{s} was born in the city of', 'The city where {s} was born is'],
    questions: ['Q: Where was {s} born? A:', 'Q: In which city was {s} born? A:'],
  },
  {
    name: 'works_for', subject: 'person', object: 'company',
    train: ['{s} works for', '{s} is employed by', 'The employer of {s} is', '{s} has a job at'],
    heldOut: ['{s} earns a living at', 'The company that employs {s} is'],
    questions: ['Q: Who does {s} work for? A:', 'Q: Which company employs {s}? A:'],
  },
  {
    name: 'located_in', subject: 'city', object: 'country',
    train: ['{s} is a city in', '{s} is located in', '{s} lies in the country of', 'The country of {s} is'],
    heldOut: ['{s} can be found in', 'The city of {s} is part of'],
    questions: ['Q: Which country is {s} in? A:', 'Q: In what country does {s} lie? A:'],
  },
  {
    name: 'capital', subject: 'country', object: 'city',
    train: ['The capital of {s} is', '{s} has its capital in', 'The seat of government of {s} is', '{s} is governed from'],
    heldOut: ['The capital city of {s} is', 'The government of {s} sits in'],
    questions: ['Q: What is the capital of {s}? A:', 'Q: Which city is the capital of {s}? A:'],
  },
  {
    name: 'headquartered_in', subject: 'company', object: 'city',
    train: ['{s} is headquartered in', 'The headquarters of {s} are in', '{s} has its head office in', '{s} is based in'],
    heldOut: ['The main office of {s} is in', '{s} runs its business from'],
    questions: ['Q: Where is {s} headquartered? A:', 'Q: In which city is {s} based? A:'],
  },
];

/** Two relations composed: the subject's first-hop object's second-hop object. */
export interface TwoHop { name: string; first: RelationName; second: RelationName; templates: string[] }
export const twoHops: readonly TwoHop[] = [
  { name: 'birth_country', first: 'born_in', second: 'located_in', templates: ['The country where {s} was born is', '{s} was born in a city in'] },
  { name: 'employer_city', first: 'works_for', second: 'headquartered_in', templates: ['The company {s} works for is based in', 'The employer of {s} has its head office in'] },
];

export interface Fact { subject: number; relation: RelationName; object: number }

export interface FactWorldConfig {
  seed: number;
  people: number;
  cities: number;
  countries: number;
  companies: number;
}

export const defaultFactWorld: FactWorldConfig = { seed: 0, people: 200, cities: 40, countries: 10, companies: 30 };

export interface FactWorld {
  config: FactWorldConfig;
  entities: Entity[];
  facts: Fact[];
  /** The object of (subject, relation), or undefined when the subject has no such fact. */
  object(subject: number, relation: RelationName): number | undefined;
}

const onsets = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'gl', 'kr', 'st', 'th', 'tr', 'sh'];
const vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou'];
const codas = ['', '', 'n', 'r', 'l', 's', 'th', 'nd'];
const kindSuffix: Record<EntityKind, string[]> = {
  person: ['', '', 'a', 'o'], city: ['ton', 'ford', 'mora', 'vik', 'grad'], country: ['ia', 'land', 'stan', 'ora'], company: [' Works', ' Labs', ' Group', ' & Co'],
};

function inventName(rng: Rng, kind: EntityKind): string {
  const syll = () => onsets[rng.int(onsets.length)] + vowels[rng.int(vowels.length)] + codas[rng.int(codas.length)];
  const stem = Array.from({ length: 2 + rng.int(2) }, syll).join('');
  const suffix = kindSuffix[kind][rng.int(kindSuffix[kind].length)];
  const word = stem.charAt(0).toUpperCase() + stem.slice(1) + suffix;
  return kind === 'person' ? `${word} ${(() => { const s = syll() + syll(); return s.charAt(0).toUpperCase() + s.slice(1); })()}` : word;
}

/** The world of a config: entities with unique names and their facts. */
export function buildFactWorld(input: Partial<FactWorldConfig> = {}): FactWorld {
  const config = { ...defaultFactWorld, ...input };
  for (const k of ['people', 'cities', 'countries', 'companies'] as const) {
    if (!Number.isInteger(config[k]) || config[k] < 2) throw new Error(`fact world: ${k} must be an integer >= 2, got ${config[k]}`);
  }
  if (config.cities < config.countries) throw new Error(`fact world: cities (${config.cities}) must be at least countries (${config.countries}): every country needs a capital`);
  const rng = new Rng(config.seed);
  const entities: Entity[] = [];
  const used = new Set<string>();
  const make = (kind: EntityKind, n: number) => Array.from({ length: n }, () => {
    let name = inventName(rng, kind);
    while (used.has(name)) name = inventName(rng, kind);
    used.add(name);
    const e = { id: entities.length, kind, name };
    entities.push(e);
    return e.id;
  });
  const countries = make('country', config.countries), cities = make('city', config.cities);
  const companies = make('company', config.companies), people = make('person', config.people);
  const facts: Fact[] = [];
  // The first cities are the capitals, one per country; the others fall in random countries.
  cities.forEach((c, i) => facts.push({ subject: c, relation: 'located_in', object: i < countries.length ? countries[i] : countries[rng.int(countries.length)] }));
  countries.forEach((k, i) => facts.push({ subject: k, relation: 'capital', object: cities[i] }));
  companies.forEach((c) => facts.push({ subject: c, relation: 'headquartered_in', object: cities[rng.int(cities.length)] }));
  people.forEach((p) => {
    facts.push({ subject: p, relation: 'born_in', object: cities[rng.int(cities.length)] });
    facts.push({ subject: p, relation: 'works_for', object: companies[rng.int(companies.length)] });
  });
  const index = new Map(facts.map((f) => [`${f.subject}/${f.relation}`, f.object]));
  return { config, entities, facts, object: (s, r) => index.get(`${s}/${r}`) };
}

export function relation(name: RelationName): Relation {
  const r = relations.find((x) => x.name === name);
  if (!r) throw new Error(`unknown relation ${name}`);
  return r;
}

/** A template with its subject filled in. */
export const fill = (template: string, subject: string) => template.replace('{s}', subject);
/** An object as it follows a prompt. */
export const asTarget = (name: string) => ` ${name}`;

/**
 * The training documents: each fact stated once per training template (in a seeded order),
 * one sentence per document. Held-out templates never appear.
 */
export function factCorpus(world: FactWorld, o: { seed?: number; templatesPerFact?: number } = {}): string[] {
  const rng = new Rng(o.seed ?? world.config.seed + 1);
  const docs: string[] = [];
  for (const f of world.facts) {
    const r = relation(f.relation);
    const k = Math.min(o.templatesPerFact ?? r.train.length, r.train.length);
    const start = rng.int(r.train.length);
    for (let i = 0; i < k; i++) {
      docs.push(`${fill(r.train[(start + i) % r.train.length], world.entities[f.subject].name)}${asTarget(world.entities[f.object].name)}.`);
    }
  }
  for (let i = docs.length - 1; i > 0; i--) { const j = rng.int(i + 1); [docs[i], docs[j]] = [docs[j], docs[i]]; }
  return docs;
}

/** What a `facts` corpus writes, beside the world's config (data-config.ts `facts`). */
export interface FactDocumentOptions {
  /** Seeds the order of documents (default: world seed + 1, as factCorpus). */
  seed?: number;
  /** Training templates per fact (default: all of the relation's). */
  templatesPerFact?: number;
  /** Two-hop chain documents: "A was born in B. B is a city in C." (default true). */
  chains?: boolean;
  /** ZsRE question documents with the first question form; the rephrasing stays held out (default false). */
  questions?: boolean;
}

/**
 * The documents of a `facts` corpus, already split: `train` holds every fact once per training
 * template (so a model can know all of them), two-hop chains and, when asked, question forms;
 * `valid` holds the same facts in held-out paraphrases (and question rephrasings), so validation
 * loss measures generalisation across wording rather than unseen facts. Ids are stable.
 */
export function factDocuments(world: FactWorld, o: FactDocumentOptions = {}): { train: { id: string; text: string }[]; valid: { id: string; text: string }[] } {
  const name = (id: number) => world.entities[id].name;
  const train = factCorpus(world, { seed: o.seed, templatesPerFact: o.templatesPerFact }).map((text, i) => ({ id: `fact:${i}`, text }));
  if (o.chains ?? true) {
    for (const h of twoHops) {
      const r1 = relation(h.first), r2 = relation(h.second);
      world.facts.forEach((f, i) => {
        if (f.relation !== h.first) return;
        const end = world.object(f.object, h.second);
        if (end === undefined) return;
        // Templates rotate with the fact so chains use every training wording.
        const t1 = r1.train[i % r1.train.length], t2 = r2.train[(i + 1) % r2.train.length];
        train.push({ id: `chain:${h.name}:${i}`, text: `${fill(t1, name(f.subject))}${asTarget(name(f.object))}. ${fill(t2, name(f.object))}${asTarget(name(end))}.` });
      });
    }
  }
  const valid: { id: string; text: string }[] = [];
  world.facts.forEach((f, i) => {
    const r = relation(f.relation);
    r.heldOut.forEach((t, k) => valid.push({ id: `heldout:${i}:${k}`, text: `${fill(t, name(f.subject))}${asTarget(name(f.object))}.` }));
    if (o.questions) {
      train.push({ id: `question:${i}`, text: `${fill(r.questions[0], name(f.subject))}${asTarget(name(f.object))}` });
      valid.push({ id: `rephrase:${i}`, text: `${fill(r.questions[1], name(f.subject))}${asTarget(name(f.object))}` });
    }
  });
  // One seeded order for all training documents, so chains and questions are not bunched at the end.
  const rng = new Rng((o.seed ?? world.config.seed + 1) + 7919);
  for (let i = train.length - 1; i > 0; i--) { const j = rng.int(i + 1); [train[i], train[j]] = [train[j], train[i]]; }
  return { train, valid };
}

export interface PromptTarget { prompt: string; target: string }

/** One edit in the CounterFact shape (with ZsRE's question form beside it). */
export interface EditRequest {
  caseId: number;
  subject: string;
  relation: RelationName;
  /** The rewrite prompt (a training template) and the objects before and after the edit. */
  prompt: string;
  targetTrue: string;
  targetNew: string;
  /** Generality: held-out paraphrases that should now give targetNew. */
  paraphrasePrompts: string[];
  /** Locality: other subjects with the same relation and their (unchanged) objects. */
  neighborhoodPrompts: PromptTarget[];
  /** Locality: facts of other relations, unchanged. */
  unrelatedPrompts: PromptTarget[];
  /** Portability: two-hop prompts about the subject, with the answer implied by the new object. */
  portabilityPrompts: PromptTarget[];
  /** ZsRE form: question, its rephrasing, the new answer. */
  zsre: { src: string; rephrase: string; alt: string };
}

/**
 * n edit requests on distinct (subject, relation) facts, each changing the object to another
 * entity of the same kind, with neighbourhood, unrelated and portability prompts.
 */
export function editRequests(world: FactWorld, n: number, o: { seed?: number; neighbors?: number; unrelated?: number } = {}): EditRequest[] {
  if (!Number.isInteger(n) || n < 1 || n > world.facts.length) throw new Error(`editRequests: n must be 1..${world.facts.length}, got ${n}`);
  const rng = new Rng(o.seed ?? world.config.seed + 2);
  const name = (id: number) => world.entities[id].name;
  const order = world.facts.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  return order.slice(0, n).map((fi, caseId): EditRequest => {
    const f = world.facts[fi], r = relation(f.relation);
    const sameKind = world.entities.filter((e) => e.kind === r.object && e.id !== f.object);
    const newObject = sameKind[rng.int(sameKind.length)].id;
    const sameRelation = world.facts.filter((g) => g.relation === f.relation && g.subject !== f.subject);
    const otherRelation = world.facts.filter((g) => g.relation !== f.relation && g.subject !== f.subject);
    const pick = (from: Fact[], k: number) => Array.from({ length: Math.min(k, from.length) }, () => from[rng.int(from.length)]);
    const stated = (g: Fact): PromptTarget => {
      const gr = relation(g.relation);
      return { prompt: fill(gr.train[rng.int(gr.train.length)], name(g.subject)), target: asTarget(name(g.object)) };
    };
    const portability = twoHops.filter((h) => h.first === f.relation).flatMap((h) => {
      const answer = world.object(newObject, h.second);
      return answer === undefined ? [] : h.templates.map((t) => ({ prompt: fill(t, name(f.subject)), target: asTarget(name(answer)) }));
    });
    return {
      caseId, subject: name(f.subject), relation: f.relation,
      prompt: fill(r.train[rng.int(r.train.length)], name(f.subject)),
      targetTrue: asTarget(name(f.object)), targetNew: asTarget(name(newObject)),
      paraphrasePrompts: r.heldOut.map((t) => fill(t, name(f.subject))),
      neighborhoodPrompts: pick(sameRelation, o.neighbors ?? 5).map(stated),
      unrelatedPrompts: pick(otherRelation, o.unrelated ?? 3).map(stated),
      portabilityPrompts: portability,
      zsre: { src: fill(r.questions[0], name(f.subject)), rephrase: fill(r.questions[1], name(f.subject)), alt: asTarget(name(newObject)) },
    };
  });
}
