// The tokenizer contract used by the rest of the lab, the byte-level tokenizer, and JSON loading.
// Special tokens (e.g. an end-of-text separator) take the ids after the ordinary vocabulary; encode()
// never produces them from text, so only the data pipeline can insert them.

import { BpeTokenizer, type BpeTokenizerJSON } from './bpe.js';
import { checkSpecialTokens } from './specials.js';
import { utf8Decode, utf8Encode } from './utf8.js';

export const END_OF_TEXT = '<|endoftext|>';

export interface Tokenizer {
  readonly kind: string;
  readonly vocabSize: number;
  readonly specialTokens: readonly string[];
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  /** Raw bytes of the ids (special tokens as their UTF-8 name); lets callers stream-decode safely. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
  /** Id of a special token, or undefined if this tokenizer has none by that name. */
  specialId(name: string): number | undefined;
  toJSON(): TokenizerJSON;
}

export interface ByteTokenizerJSON {
  kind: 'byte';
  version: 1;
  vocabSize: number;
  specialTokens: string[];
}

export type TokenizerJSON = ByteTokenizerJSON | BpeTokenizerJSON;

/** One token per UTF-8 byte (ids 0..255), plus optional special tokens from 256. */
export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte';
  readonly specialTokens: readonly string[];
  private readonly specialBytes: Uint8Array[];

  constructor(opts: { specialTokens?: readonly string[] } = {}) {
    this.specialTokens = [...(opts.specialTokens ?? [])];
    checkSpecialTokens(this.specialTokens);
    this.specialBytes = this.specialTokens.map((s) => utf8Encode(s));
  }

  get vocabSize(): number {
    return 256 + this.specialTokens.length;
  }

  encode(text: string): number[] {
    return Array.from(utf8Encode(text));
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >= 0 && id < 256) parts.push(id);
      else {
        const sb = this.specialBytes[id - 256];
        if (!sb) throw new Error(`ByteTokenizer: id ${id} out of range 0..${this.vocabSize - 1}`);
        for (const b of sb) parts.push(b);
      }
    }
    return Uint8Array.from(parts);
  }

  decode(ids: ArrayLike<number>): string {
    return utf8Decode(this.decodeBytes(ids));
  }

  specialId(name: string): number | undefined {
    const i = this.specialTokens.indexOf(name);
    return i < 0 ? undefined : 256 + i;
  }

  toJSON(): ByteTokenizerJSON {
    return { kind: 'byte', version: 1, vocabSize: this.vocabSize, specialTokens: [...this.specialTokens] };
  }
}

/** Rebuilds a tokenizer from its toJSON() output (object or JSON string). */
export function loadTokenizer(json: TokenizerJSON | string): Tokenizer {
  const obj = (typeof json === 'string' ? JSON.parse(json) : json) as TokenizerJSON;
  if (obj?.kind === 'byte') {
    const tok = new ByteTokenizer({ specialTokens: obj.specialTokens ?? [] });
    if (obj.vocabSize !== undefined && obj.vocabSize !== tok.vocabSize)
      throw new Error(`byte tokenizer JSON: vocabSize ${obj.vocabSize} does not match ${tok.vocabSize}`);
    return tok;
  }
  if (obj?.kind === 'bpe') return BpeTokenizer.fromJSON(obj);
  throw new Error(`unknown tokenizer kind ${JSON.stringify((obj as { kind?: unknown })?.kind)}`);
}
