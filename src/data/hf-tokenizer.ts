// Our tokenizers in the Hugging Face tokenizers format (tokenizer.json), so `transformers`'
// AutoTokenizer, transformers.js and tokenizers.js load an exported model with the ids it was
// trained on, and back again for the files we wrote.
//
// The byte-level BPE is GPT-2's scheme exactly: the GPT-2 split pattern, then merges over
// bytes. In HF terms that is a ByteLevel pre-tokenizer (which maps each byte to a printable
// character, GPT-2's bytes_to_unicode table) and a BPE model whose vocabulary holds those
// characters and their merges. Our ids are kept: byte b is id b, merge i is id 256 + i, the
// special tokens follow as HF "added tokens". The byte tokenizer is the same with no merges
// and no splitting (use_regex false), so every byte is its own token.
//
// One difference cannot be expressed: HF tokenizers match added tokens inside text, so the
// literal text "<|endoftext|>" encodes as the special id there, while our encode() reads it as
// plain bytes (only the data pipeline inserts specials). Everything else encodes identically
// (test/data/hf-tokenizer.test.ts checks Brown text and awkward UTF-8 with tokenizers.js).

import { BpeTokenizer } from './bpe.js';
import { ByteTokenizer, END_OF_TEXT, type Tokenizer } from './tokenizer.js';

/** GPT-2's byte -> printable character table: printable Latin-1 bytes stand for themselves, the rest take code points from 256 up. */
export function byteToUnicode(): string[] {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  return table;
}

const BYTE_CHARS = byteToUnicode();

function tokenString(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_CHARS[b];
  return s;
}

export interface HFTokenizerFiles {
  /** tokenizer.json */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
  /** special_tokens_map.json */
  specialTokensMap: Record<string, unknown>;
  /** <|endoftext|>'s id (bos, eos and pad alike, as GPT-2), when the tokenizer has one. */
  endOfTextId: number | undefined;
}

/** The HF tokenizers files for one of our tokenizers; modelMaxLength is the model's context. */
export function toHFTokenizer(tok: Tokenizer, modelMaxLength: number): HFTokenizerFiles {
  const vocab: Record<string, number> = {};
  let merges: string[] = [];
  let useRegex: boolean;
  if (tok instanceof BpeTokenizer) {
    for (let id = 0; id < 256 + tok.merges.length; id++) {
      const s = tokenString(tok.tokenBytes(id));
      if (vocab[s] !== undefined) {
        // Two merge orders reached the same bytes; HF maps a string to one id, so it cannot say this.
        throw new Error(`BPE ids ${vocab[s]} and ${id} stand for the same bytes ${JSON.stringify(s)}; the Hugging Face format cannot represent that`);
      }
      vocab[s] = id;
    }
    merges = tok.merges.map(([a, b]) => `${tokenString(tok.tokenBytes(a))} ${tokenString(tok.tokenBytes(b))}`);
    useRegex = true;
  } else if (tok instanceof ByteTokenizer) {
    for (let b = 0; b < 256; b++) vocab[BYTE_CHARS[b]] = b;
    useRegex = false;
  } else {
    throw new Error(`no Hugging Face form for a ${tok.kind} tokenizer`);
  }
  const added = tok.specialTokens.map((content) => ({
    id: tok.specialId(content)!, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: { ...byteLevel, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
  const eot = tok.specialId(END_OF_TEXT);
  const specials = eot === undefined ? {} : { bos_token: END_OF_TEXT, eos_token: END_OF_TEXT, unk_token: END_OF_TEXT, pad_token: END_OF_TEXT };
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: modelMaxLength,
    add_prefix_space: false,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    ...specials,
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...t }) => [String(id), t])),
  };
  return { tokenizer, config, specialTokensMap: specials, endOfTextId: eot };
}

/**
 * Reads a tokenizer.json back into one of ours when it is one we wrote (or one laid out the
 * same way: ByteLevel BPE whose ids are bytes, then merges in order, then added tokens).
 * Returns null, with the reason, for any other tokenizer.
 */
export function fromHFTokenizer(json: unknown): { tokenizer: Tokenizer } | { tokenizer: null; reason: string } {
  const j = json as {
    pre_tokenizer?: { type?: string; use_regex?: boolean; add_prefix_space?: boolean } | null;
    normalizer?: unknown;
    model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  const no = (reason: string) => ({ tokenizer: null, reason } as const);
  if (j?.model?.type !== 'BPE' || !j.model.vocab) return no('its model is not BPE');
  if (j.pre_tokenizer?.type !== 'ByteLevel' || j.pre_tokenizer.add_prefix_space) return no('it is not byte-level (ByteLevel pre-tokenizer without a prefix space)');
  if (j.normalizer) return no('it has a normalizer');
  const vocab = j.model.vocab;
  for (let b = 0; b < 256; b++) if (vocab[BYTE_CHARS[b]] !== b) return no(`byte ${b} is not id ${b}`);
  const byId = new Map<number, string>(Object.entries(vocab).map(([s, id]) => [id, s]));
  const ids = new Map<string, number>(Object.entries(vocab));
  const merges = (j.model.merges ?? []).map((m) => (typeof m === 'string' ? m.split(' ') : m) as [string, string]);
  const pairs: [number, number][] = [];
  for (let i = 0; i < merges.length; i++) {
    const [a, b] = merges[i];
    const ia = ids.get(a), ib = ids.get(b);
    if (ia === undefined || ib === undefined || byId.get(256 + i) !== a + b) return no(`merge ${i} does not make id ${256 + i}`);
    pairs.push([ia, ib]);
  }
  if (Object.keys(vocab).length !== 256 + merges.length) return no('its vocabulary holds tokens that no merge makes');
  const added = [...(j.added_tokens ?? [])].sort((x, y) => x.id - y.id);
  for (let k = 0; k < added.length; k++) {
    if (added[k].id !== 256 + merges.length + k) return no(`added token ${JSON.stringify(added[k].content)} has id ${added[k].id}, not ${256 + merges.length + k}`);
  }
  const specials = added.map((t) => t.content);
  if (merges.length === 0 && j.pre_tokenizer.use_regex === false) return { tokenizer: new ByteTokenizer({ specialTokens: specials }) };
  if (j.pre_tokenizer.use_regex === false) return no('a BPE without the GPT-2 split pattern');
  return { tokenizer: new BpeTokenizer(pairs, specials) };
}

/** The tokenizer as llama.cpp's GGUF metadata holds it (models/gguf.ts): HF's token strings by id, merges, specials. */
export function toGGUFTokenizer(tok: Tokenizer): { tokens: string[]; tokenTypes: number[]; merges: string[]; bos?: number; eos?: number } {
  const hf = toHFTokenizer(tok, 0);
  const model = hf.tokenizer.model as { vocab: Record<string, number>; merges: string[] };
  const tokens: string[] = new Array(tok.vocabSize);
  const tokenTypes: number[] = new Array(tok.vocabSize).fill(1);
  for (const [s, id] of Object.entries(model.vocab)) tokens[id] = s;
  for (const s of tok.specialTokens) { const id = tok.specialId(s)!; tokens[id] = s; tokenTypes[id] = 3; }
  return { tokens, tokenTypes, merges: model.merges, bos: hf.endOfTextId, eos: hf.endOfTextId };
}
