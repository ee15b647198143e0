// Tokenize a corpus split once and keep the result as a token file, keyed by everything that
// determines its contents: corpus spec and fingerprint, split, and the full tokenizer JSON.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFileDurable } from '../base/durable.js';
import { join, resolve } from 'node:path';
import { DEFAULT_SPLIT, corpusFingerprint, loadSplit, type CorpusSpec, type SplitName, type SplitOptions } from './corpora.js';
import type { Tokenizer } from './tokenizer.js';
import { TokenFile, writeTokenFile } from './tokenfile.js';
import { utf8Length } from './utf8.js';

export const DEFAULT_CACHE_DIR = '.cache/tokens';
/** Bump when tokenization or the file layout changes in a way the key would not otherwise see. */
const CACHE_FORMAT = 1;

export interface TokenCacheOptions {
  corpus: CorpusSpec;
  split: SplitName;
  splitOptions?: SplitOptions;
  tokenizer: Tokenizer;
  /** Relative paths are resolved against the current directory. Default .cache/tokens. */
  cacheDir?: string;
  /** Rebuild even if a cached file exists. */
  rebuild?: boolean;
  log?: (msg: string) => void;
}

export function tokenCacheKey(opts: TokenCacheOptions): string {
  const split = opts.split === 'all' ? null : { ...DEFAULT_SPLIT, ...opts.splitOptions };
  const material = JSON.stringify({
    format: CACHE_FORMAT,
    corpus: opts.corpus,
    fingerprint: corpusFingerprint(opts.corpus),
    split: opts.split,
    splitOptions: split,
    tokenizer: opts.tokenizer.toJSON(),
  });
  return createHash('sha256').update(material).digest('hex');
}

export function tokenCachePath(opts: TokenCacheOptions): string {
  const dir = resolve(opts.cacheDir ?? DEFAULT_CACHE_DIR);
  return join(dir, `${opts.corpus.kind}-${opts.split}-${tokenCacheKey(opts).slice(0, 24)}.tok`);
}

/**
 * Opens the cached token file for this corpus split and tokenizer, building it first if missing.
 * A corrupt cached file is an error (naming the path), not silently rebuilt; pass rebuild to replace it.
 */
export function loadOrBuildTokens(opts: TokenCacheOptions): { file: TokenFile; path: string; built: boolean } {
  const path = tokenCachePath(opts);
  if (!opts.rebuild && existsSync(path)) return { file: new TokenFile(path), path, built: false };

  mkdirSync(resolve(opts.cacheDir ?? DEFAULT_CACHE_DIR), { recursive: true });
  const started = Date.now();
  const docs = loadSplit(opts.corpus, opts.split, opts.splitOptions);
  const tok = opts.tokenizer;
  const info = writeTokenFile(
    path,
    (function* () {
      for (const d of docs) yield { tokens: tok.encode(d.text), bytes: utf8Length(d.text) };
    })(),
    { vocabSize: tok.vocabSize },
  );
  // A human-readable note next to the data; written atomically too, but nothing depends on it.
  const meta = { corpus: opts.corpus, split: opts.split, splitOptions: opts.splitOptions ?? {}, tokenizer: { kind: tok.kind, vocabSize: tok.vocabSize }, ...info, builtAt: new Date().toISOString() };
  writeFileDurable(`${path}.json`, JSON.stringify(meta, null, 2) + '\n');
  opts.log?.(`tokenized ${opts.corpus.kind}/${opts.split}: ${info.numDocs} docs, ${info.numTokens} tokens in ${Date.now() - started} ms -> ${path}`);
  return { file: new TokenFile(path), path, built: true };
}
