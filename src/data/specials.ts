// Validation of special-token lists, shared by both tokenizers (kept apart to avoid an import cycle).

export function checkSpecialTokens(specials: readonly string[]): void {
  if (new Set(specials).size !== specials.length) throw new Error(`duplicate special tokens: ${JSON.stringify(specials)}`);
  for (const s of specials)
    if (typeof s !== 'string' || s.length === 0) throw new Error(`bad special token ${JSON.stringify(s)}`);
}
