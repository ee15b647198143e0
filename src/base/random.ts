// The one seeded random number generator: xoshiro128** (32-bit state words, so it is exact in
// JavaScript numbers). Its whole state is four integers (plus a cached normal), saved with
// checkpoints and sampler states so a resumed run draws the same numbers it would have drawn.
//
// Two seedings, both spreading the seed over the state with splitmix32 (nearby seeds give
// unrelated streams); they agree for integer seeds in [0, 2^32):
//   new Rng(seed)         a number, taken modulo 2^32 (model init, dropout, sampling, bootstraps)
//   Rng.fromKey(key)      a string (hashed) or any number (bits above 2^32 folded in), for
//                         samplers seeded by names such as "train:<seed>"
// Two ways to draw an integer below n, kept because seeded streams depend on them:
//   int(n)                unbiased (rejection), used by samplers, shuffles and permutations
//   scaledInt(n)          floor(uniform() * n), one draw each (bias below n / 2^32)

export type RngState = [number, number, number, number];

/** The state with the cached second normal, so a restore is exact mid-pair. */
export interface RngFullState {
  s: RngState;
  spare: number | null;
}

const TWO32 = 4294967296;

/** splitmix32 step: returns the next counter and the output word. */
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [x, (z ^ (z >>> 16)) >>> 0];
}

/** FNV-1a over UTF-16 code units: lets string seeds (e.g. run names) be used directly. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function wordsFromSeed(seed: number): RngState {
  const s: RngState = [0, 0, 0, 0];
  let x = seed >>> 0;
  for (let i = 0; i < 4; i++) [x, s[i]] = splitmix32(x);
  if (s.every((w) => w === 0)) s[0] = 1;
  return s;
}

export function isRngState(v: unknown): v is RngState {
  return (
    Array.isArray(v) &&
    v.length === 4 &&
    v.every((x) => Number.isInteger(x) && x >= 0 && x < TWO32) &&
    v.some((x) => x !== 0) // the all-zero state is a fixed point of xoshiro
  );
}

export class Rng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  /** Seeded by a number modulo 2^32, or restored from four state words. */
  constructor(seed: number | RngState = 0) {
    this.setState(typeof seed === 'number' ? wordsFromSeed(seed) : seed);
  }

  /** Seeded by a string (hashed) or a number of any size (the part above 2^32 folded in). */
  static fromKey(key: string | number): Rng {
    const seed = typeof key === 'string' ? hashString(key) : key;
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be finite, got ${seed}`);
    return new Rng((Math.floor(seed) >>> 0) ^ Math.imul(Math.floor(seed / TWO32) >>> 0, 0x27d4eb2d));
  }

  static fromWords(words: RngState): Rng {
    return new Rng(words);
  }

  /** The four state words (no cached normal): what samplers save. */
  words(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  /** The full state, cached normal included: what checkpoints save for dropout. */
  state(): RngFullState {
    return { s: this.words(), spare: this.spare };
  }

  setState(st: RngState | RngFullState): void {
    const words = Array.isArray(st) ? st : st?.s;
    if (!isRngState(words)) throw new Error(`Rng: invalid state ${JSON.stringify(st)} (expected four uint32 words, not all zero)`);
    this.s.set(words);
    this.spare = Array.isArray(st) ? null : st.spare;
  }

  clone(): Rng {
    const r = new Rng(this.words());
    r.spare = this.spare;
    return r;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits (one draw). */
  uniform(): number {
    return this.nextU32() / TWO32;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws). */
  uniform53(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). Unbiased (rejection) for n <= 2^32; bias < n/2^53 above that. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    if (n > TWO32) return Math.floor(this.uniform53() * n);
    const limit = TWO32 - (TWO32 % n); // largest multiple of n that fits
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** floor(uniform() * n): an integer in [0, n) from exactly one draw, with a bias below n / 2^32. */
  scaledInt(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller; the second value is kept for the next call). */
  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  fillNormal(out: Float32Array | Float64Array, std = 1, meanValue = 0): void {
    for (let i = 0; i < out.length; i++) out[i] = meanValue + std * this.normal();
  }

  fillUniform(out: Float32Array | Float64Array, lo = 0, hi = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<A extends { length: number; [i: number]: any }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
