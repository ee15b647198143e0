// UTF-8 helpers shared by the tokenizers. ignoreBOM keeps a leading U+FEFF in decoded text, which the
// default TextDecoder silently drops — that would break exact round-trips.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes bytes; invalid sequences (e.g. a token cut mid-character) become U+FFFD rather than throwing. */
export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
