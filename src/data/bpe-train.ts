// Learning byte-level BPE merges. Works on unique pre-token words with counts, keeps global pair counts
// and an index pair -> words, and after each merge only revisits the words that contained the pair.
// The best pair comes from a lazy max-heap (stale entries are skipped when popped).
// Tie rule (for determinism): highest count, then smallest (left id, right id).

import { pretokenize } from './pretokenize.js';
import { utf8Encode } from './utf8.js';

/** Pair keys are left * ID_BASE + right; with ids < 2^14 keys stay small integers (fast Map keys). */
export const ID_BASE = 16384;

export type Merge = [number, number];

/** Max-heap of (count, key), ordered by count desc then key asc. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i], cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]; this.counts[i] = this.counts[j]; this.counts[j] = c;
    const k = this.keys[i]; this.keys[i] = this.keys[j]; this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    const n = this.counts.length;
    if (n > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Counts pre-token pieces over all texts. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) for (const w of pretokenize(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

/** Replaces every non-overlapping (a, b), left to right, by id. Returns null if the pair is absent. */
export function mergeWord(word: number[], a: number, b: number, id: number): number[] | null {
  let out: number[] | null = null;
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      if (!out) out = word.slice(0, i);
      out.push(id);
      i++;
    } else if (out) out.push(word[i]);
  }
  return out;
}

export interface LearnMergesOptions {
  /** Stop early when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  onProgress?: (merges: number, total: number) => void;
}

/** Learns up to numMerges merges; merge i creates token id 256 + i. */
export function learnMerges(wordCounts: Map<string, number>, numMerges: number, opts: LearnMergesOptions = {}): Merge[] {
  if (256 + numMerges > ID_BASE) throw new Error(`BPE: at most ${ID_BASE - 256} merges supported`);
  const minFrequency = opts.minFrequency ?? 2;

  // Sorted so every internal structure is built in the same order regardless of Map insertion order.
  const entries = [...wordCounts.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const words: number[][] = entries.map(([w]) => Array.from(utf8Encode(w)));
  const freq: number[] = entries.map(([, c]) => c);

  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: number, touched: Set<number> | null) => {
    const w = words[wi], c = freq[wi] * sign;
    for (let j = 0; j + 1 < w.length; j++) {
      const key = w[j] * ID_BASE + w[j + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + c);
      if (sign > 0) {
        let set = where.get(key);
        if (!set) where.set(key, (set = new Set()));
        set.add(wi);
      }
      touched?.add(key);
    }
  };
  for (let i = 0; i < words.length; i++) addPairs(i, 1, null);

  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  const merges: Merge[] = [];
  while (merges.length < numMerges && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale entry
    if (count < minFrequency) break;
    const a = Math.floor(key / ID_BASE), b = key % ID_BASE;
    const id = 256 + merges.length;
    merges.push([a, b]);

    const touched = new Set<number>();
    for (const wi of where.get(key) ?? []) {
      const merged = mergeWord(words[wi], a, b, id);
      if (!merged) continue; // index entries are never removed, so some are stale
      addPairs(wi, -1, touched);
      words[wi] = merged;
      addPairs(wi, 1, touched);
    }
    where.delete(key);
    pairCount.delete(key);
    touched.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k)!;
      if (c > 0) heap.push(c, k);
      else pairCount.delete(k);
    }
    opts.onProgress?.(merges.length, numMerges);
  }
  return merges;
}
