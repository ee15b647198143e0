import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNORE_INDEX, PackingSampler, RandomWindowSampler, createSampler, type Batch, type Sampler } from '../../src/data/batching.js';
import { MemoryTokens, docIndexAt } from '../../src/data/tokensource.js';
import { Rng } from '../../src/base/random.js';
import { TokenFile, writeTokenFile } from '../../src/data/tokenfile.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Documents whose tokens are their global positions + 1000, so every token says where it came from. */
function positional(lengths: number[]): MemoryTokens {
  let p = 0;
  return new MemoryTokens(lengths.map((n) => Array.from({ length: n }, () => 1000 + p++)));
}

function rows(b: Batch, key: 'inputs' | 'targets' | 'docIds'): number[][] {
  const a = b[key]!;
  return Array.from({ length: b.B }, (_, r) => Array.from(a.subarray(r * b.T, (r + 1) * b.T)));
}

function take(s: Sampler, n: number): Batch[] {
  return Array.from({ length: n }, () => s.next());
}

test('random windows: contiguous inputs, targets shifted by one, deterministic per seed', () => {
  const src = positional([50, 7, 200, 1, 30]);
  const s = new RandomWindowSampler(src, { B: 8, T: 16, seed: 1 });
  for (const b of take(s, 20)) {
    assert.equal(b.inputs.length, 8 * 16);
    assert.equal(b.docIds, undefined);
    for (let r = 0; r < b.B; r++) {
      const start = b.inputs[r * b.T] - 1000;
      assert.ok(start >= 0 && start + b.T + 1 <= src.length);
      for (let i = 0; i < b.T; i++) {
        assert.equal(b.inputs[r * b.T + i], 1000 + start + i);
        assert.equal(b.targets[r * b.T + i], 1000 + start + i + 1);
      }
    }
  }
  const again = take(new RandomWindowSampler(src, { B: 8, T: 16, seed: 1 }), 3);
  const other = take(new RandomWindowSampler(src, { B: 8, T: 16, seed: 2 }), 3);
  const first = take(new RandomWindowSampler(src, { B: 8, T: 16, seed: 1 }), 3);
  assert.deepEqual(again, first);
  assert.notDeepEqual(other, first);
  assert.throws(() => new RandomWindowSampler(positional([4]), { B: 1, T: 4 }), /need at least/);
});

test('random windows with keepInDocument mask targets across document boundaries', () => {
  const src = positional([5, 3, 0, 9, 2, 12]);
  const s = new RandomWindowSampler(src, { B: 16, T: 6, seed: 3, keepInDocument: true });
  let masked = 0;
  for (const b of take(s, 10)) {
    for (let r = 0; r < b.B; r++) {
      const o = r * b.T;
      let seg = 0;
      for (let i = 0; i < b.T; i++) {
        const pos = b.inputs[o + i] - 1000;
        const dIn = docIndexAt(src.docBounds, pos), dTgt = docIndexAt(src.docBounds, pos + 1);
        if (i > 0 && dIn !== docIndexAt(src.docBounds, pos - 1)) seg++;
        assert.equal(b.docIds![o + i], seg);
        assert.equal(b.targets[o + i], dIn === dTgt ? 1000 + pos + 1 : IGNORE_INDEX);
        if (dIn !== dTgt) masked++;
      }
    }
  }
  assert.ok(masked > 0);
});

test('packing (no shuffle) cuts the document stream into rows with stride T', () => {
  const src = new MemoryTokens([[1, 2, 3], [4, 5], [6, 7, 8, 9]]);
  const s = new PackingSampler(src, { B: 2, T: 3, shuffle: false, keepInDocument: true });
  const [b1, b2] = take(s, 2);
  assert.deepEqual(rows(b1, 'inputs'), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(rows(b1, 'targets'), [[2, 3, -1], [5, -1, 7]]);
  assert.deepEqual(rows(b1, 'docIds'), [[0, 0, 0], [0, 0, 1]]);
  // The epoch ends after 9; the next epoch starts over, and 9 -> 1 crosses documents.
  assert.deepEqual(rows(b2, 'inputs'), [[7, 8, 9], [1, 2, 3]]);
  assert.deepEqual(rows(b2, 'targets'), [[8, 9, -1], [2, 3, -1]]);
  assert.deepEqual(rows(b2, 'docIds'), [[0, 0, 0], [0, 0, 0]]);

  const plain = new PackingSampler(src, { B: 2, T: 3, shuffle: false }).next();
  assert.deepEqual(rows(plain, 'targets'), [[2, 3, 4], [5, 6, 7]]);
  assert.equal(plain.docIds, undefined);
});

test('packing with a separator: it ends its document, the next target after it is masked', () => {
  const src = new MemoryTokens([[1, 2, 3], [4, 5], [], [6]]);
  const s = new PackingSampler(src, { B: 3, T: 3, shuffle: false, separatorId: 0, keepInDocument: true });
  const b = s.next();
  // stream: 1 2 3 0 | 4 5 0 | 0 | 6 0 | 1 ...
  assert.deepEqual(rows(b, 'inputs'), [[1, 2, 3], [0, 4, 5], [0, 0, 6]]);
  assert.deepEqual(rows(b, 'targets'), [[2, 3, 0], [-1, 5, 0], [-1, -1, 0]]);
  assert.deepEqual(rows(b, 'docIds'), [[0, 0, 0], [0, 1, 1], [0, 1, 2]]);
});

test('packing shuffles documents per epoch and covers each token once per epoch', () => {
  const lengths = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 11));
  const src = positional(lengths);
  const T = 11;
  const total = src.length; // choose rows so one epoch is exactly covered
  assert.equal(total % T, 0, `pick lengths so ${total} divides by T`);
  const s = new PackingSampler(src, { B: 1, T, seed: 9 });
  const epochInputs = (n: number) => take(s, n).flatMap((b) => Array.from(b.inputs));
  const e1 = epochInputs(total / T), e2 = epochInputs(total / T);
  const sorted = Array.from(src.tokens).sort((a, b) => a - b);
  assert.deepEqual([...e1].sort((a, b) => a - b), sorted);
  assert.deepEqual([...e2].sort((a, b) => a - b), sorted);
  assert.notDeepEqual(e1, Array.from(src.tokens), 'shuffled');
  assert.notDeepEqual(e1, e2, 'different order each epoch');
  // Documents stay contiguous and in order inside: the epoch is a concatenation of whole documents.
  for (const e of [e1, e2]) {
    const docs = e.map((t) => docIndexAt(src.docBounds, t - 1000));
    const blocks = docs.filter((d, i) => i === 0 || d !== docs[i - 1]);
    assert.deepEqual([...blocks].sort((a, b) => a - b), lengths.map((_, i) => i));
    e.forEach((t, i) => i > 0 && docs[i] === docs[i - 1] && assert.equal(t, e[i - 1] + 1));
  }
});

for (const kind of ['windows', 'packing'] as const) {
  test(`${kind} sampler: state saved as JSON resumes identical batches`, () => {
    const src = positional(Array.from({ length: 13 }, (_, i) => (i * 5) % 17));
    const config = { kind, B: 3, T: 7, seed: 'resume-test', separatorId: 7, keepInDocument: true } as const;
    const a = createSampler(src, config);
    const rng = new Rng(0);
    // Several stop points, including ones that fall across epoch boundaries for packing.
    for (let k = 0; k < 5; k++) {
      take(a, 1 + rng.int(9));
      const saved = JSON.parse(JSON.stringify(a.state()));
      const expected = take(a, 12);
      const b = createSampler(src, { ...config, seed: 'some other seed' });
      b.setState(saved);
      assert.deepEqual(take(b, 12), expected);
      assert.deepEqual(b.state(), a.state());
    }
    const wrongShape = createSampler(src, { ...config, T: 8 });
    assert.throws(() => wrongShape.setState(a.state()), /does not match/);
  });
}

test('samplers read the same batches from a token file as from memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-batch-'));
  try {
    const docs = Array.from({ length: 30 }, (_, d) => Array.from({ length: (d * 13) % 29 }, (_, i) => (d * 31 + i) % 500));
    const path = join(dir, 'x.tok');
    writeTokenFile(path, docs.map((tokens) => ({ tokens, bytes: tokens.length })), { vocabSize: 501 });
    const file = new TokenFile(path);
    const mem = new MemoryTokens(docs);
    for (const kind of ['windows', 'packing'] as const) {
      const config = { kind, B: 4, T: 9, seed: 5, separatorId: 500, keepInDocument: true } as const;
      assert.deepEqual(take(createSampler(file, config), 30), take(createSampler(mem, config), 30));
    }
    file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
