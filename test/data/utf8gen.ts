// Test helper: random well-formed strings mixing ASCII, accents, CJK, emoji (astral + ZWJ) and whitespace.
import { Rng } from '../../src/base/random.js';

const POOLS: string[][] = [
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'],
  [...'0123456789'],
  [...' \n\t\r  '],
  [...".,;:!?'\"()[]{}-_/\\@#$%^&*<>|`~"],
  [...'éüßñøçÅΩπжЖ'],
  [...'漢字かなカナ한국어中文'],
  ['😀', '👩‍👩‍👧', '🇺🇸', '🏳️‍🌈', '𝔘', '\u{10FFFF}', '\u0301', '\uFEFF', '\u200D', '\u0000'],
];

export function randomText(rng: Rng, maxLen: number): string {
  const n = rng.int(maxLen + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const pool = POOLS[rng.int(POOLS.length)];
    s += pool[rng.int(pool.length)];
  }
  return s;
}
