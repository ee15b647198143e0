// Byte-level BPE tokenizer: ids 0..255 are raw bytes (so any UTF-8 text round-trips), merge i makes
// id 256 + i, and special tokens follow the merges. Encoding splits text with the GPT-2 pattern,
// then merges each piece by rank, caching results per piece.

import { ID_BASE, countWords, learnMerges, type LearnMergesOptions, type Merge } from './bpe-train.js';
import { pretokenize, type PretokenizerName } from './pretokenize.js';
import { checkSpecialTokens } from './specials.js';
import type { Tokenizer } from './tokenizer.js';
import { utf8Decode, utf8Encode } from './utf8.js';

export const MAX_BPE_VOCAB = ID_BASE;

export interface BpeTokenizerJSON {
  kind: 'bpe';
  version: 1;
  pattern: PretokenizerName;
  vocabSize: number;
  /** merges[i] = [left id, right id] of the pair that becomes id 256 + i. */
  merges: Merge[];
  specialTokens: string[];
}

/** Bounds the per-piece cache so encoding an endless stream of novel pieces cannot grow memory forever. */
const CACHE_LIMIT = 200_000;

export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe';
  readonly merges: readonly Merge[];
  readonly specialTokens: readonly string[];
  private readonly ranks = new Map<number, number>();
  private readonly pieces: Uint8Array[] = []; // bytes of every id
  private cache = new Map<string, number[]>();

  constructor(merges: readonly Merge[], specialTokens: readonly string[] = []) {
    checkSpecialTokens(specialTokens);
    if (256 + merges.length + specialTokens.length > MAX_BPE_VOCAB)
      throw new Error(`BPE: vocab ${256 + merges.length + specialTokens.length} exceeds ${MAX_BPE_VOCAB}`);
    this.merges = merges.map(([a, b]) => [a, b] as Merge);
    this.specialTokens = [...specialTokens];
    for (let i = 0; i < 256; i++) this.pieces.push(Uint8Array.of(i));
    this.merges.forEach(([a, b], i) => {
      const id = 256 + i;
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= id || b >= id)
        throw new Error(`BPE: merge ${i} = [${a}, ${b}] refers to an id not defined before ${id}`);
      const key = a * ID_BASE + b;
      if (this.ranks.has(key)) throw new Error(`BPE: duplicate merge [${a}, ${b}] at ${i}`);
      this.ranks.set(key, i);
      const pa = this.pieces[a], pb = this.pieces[b];
      const p = new Uint8Array(pa.length + pb.length);
      p.set(pa);
      p.set(pb, pa.length);
      this.pieces.push(p);
    });
    for (const s of this.specialTokens) this.pieces.push(utf8Encode(s));
  }

  static fromJSON(json: BpeTokenizerJSON | string): BpeTokenizer {
    const obj = (typeof json === 'string' ? JSON.parse(json) : json) as BpeTokenizerJSON;
    if (obj?.kind !== 'bpe') throw new Error(`BPE JSON: expected kind "bpe", got ${JSON.stringify(obj?.kind)}`);
    if (obj.version !== 1) throw new Error(`BPE JSON: unsupported version ${obj.version}`);
    if (obj.pattern !== 'gpt2') throw new Error(`BPE JSON: unknown pre-tokenizer pattern ${JSON.stringify(obj.pattern)}`);
    if (!Array.isArray(obj.merges)) throw new Error('BPE JSON: merges must be an array');
    const tok = new BpeTokenizer(obj.merges, obj.specialTokens ?? []);
    if (obj.vocabSize !== tok.vocabSize)
      throw new Error(`BPE JSON: vocabSize ${obj.vocabSize} does not match merges (${tok.vocabSize})`);
    return tok;
  }

  get vocabSize(): number {
    return 256 + this.merges.length + this.specialTokens.length;
  }

  /** Bytes that id stands for (a copy is not made; do not mutate). */
  tokenBytes(id: number): Uint8Array {
    const p = this.pieces[id];
    if (!p) throw new Error(`BPE: id ${id} out of range 0..${this.vocabSize - 1}`);
    return p;
  }

  specialId(name: string): number | undefined {
    const i = this.specialTokens.indexOf(name);
    return i < 0 ? undefined : 256 + this.merges.length + i;
  }

  /** Merges one pre-token piece: repeatedly apply the lowest-rank pair present (same order as training). */
  private encodePiece(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    let word = Array.from(utf8Encode(piece));
    while (word.length > 1) {
      let best = -1;
      for (let j = 0; j + 1 < word.length; j++) {
        const r = this.ranks.get(word[j] * ID_BASE + word[j + 1]);
        if (r !== undefined && (best < 0 || r < best)) best = r;
      }
      if (best < 0) break;
      const [a, b] = this.merges[best];
      const out: number[] = [];
      for (let j = 0; j < word.length; j++) {
        if (j + 1 < word.length && word[j] === a && word[j + 1] === b) {
          out.push(256 + best);
          j++;
        } else out.push(word[j]);
      }
      word = out;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache = new Map();
    this.cache.set(piece, word);
    return word;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of pretokenize(text)) for (const id of this.encodePiece(piece)) ids.push(id);
    return ids;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.tokenBytes(ids[i]).length;
    const out = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const p = this.pieces[ids[i]];
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return utf8Decode(this.decodeBytes(ids));
  }

  toJSON(): BpeTokenizerJSON {
    return {
      kind: 'bpe',
      version: 1,
      pattern: 'gpt2',
      vocabSize: this.vocabSize,
      merges: this.merges.map(([a, b]) => [a, b] as Merge),
      specialTokens: [...this.specialTokens],
    };
  }
}

export interface TrainBpeOptions extends LearnMergesOptions {
  /** Total vocabulary including the 256 bytes and the special tokens; 256..16384. */
  vocabSize: number;
  /** Defaults to ['<|endoftext|>'], usable as a document separator. */
  specialTokens?: string[];
}

/**
 * Trains a BPE tokenizer on texts (each text is pre-tokenized on its own, so nothing spans texts).
 * The result can be smaller than vocabSize if the corpus runs out of pairs seen minFrequency times.
 */
export function trainBpe(texts: Iterable<string>, opts: TrainBpeOptions): BpeTokenizer {
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const numMerges = opts.vocabSize - 256 - specials.length;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize > MAX_BPE_VOCAB || numMerges < 0)
    throw new Error(`BPE: vocabSize must be an integer in ${256 + specials.length}..${MAX_BPE_VOCAB}, got ${opts.vocabSize}`);
  const merges = learnMerges(countWords(texts), numMerges, opts);
  return new BpeTokenizer(merges, specials);
}
