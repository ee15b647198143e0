// GPT-2 style pre-tokenization: BPE merges never cross these pieces, so tokens stay within a word,
// a number run, a punctuation run or a whitespace run (with one leading space attached to words).

/** The GPT-2 split pattern. Every character of any string falls into exactly one piece. */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export type PretokenizerName = 'gpt2';

export function pretokenize(text: string): string[] {
  return text.match(GPT2_PATTERN) ?? [];
}
