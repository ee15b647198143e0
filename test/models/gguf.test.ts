// GGUF export at the format level: read our files back with our reader and compare every tensor
// and the metadata llama.cpp needs with the model (llama.cpp itself: gguf-llama.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportGGUF, fromHalf, readGGUF, toHalf } from '../../src/models/gguf.js';
import { toGGUFTokenizer } from '../../src/data/index.js';
import { trainedTiny } from './gguf-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'wt-gguf-'));

test('f16 conversion rounds to nearest even and keeps specials', () => {
  for (const [x, bits] of [[0, 0], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [1e6, 0x7c00], [2 ** -24, 1], [2 ** -26, 0], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02]] as const) {
    assert.equal(toHalf(x), bits, `toHalf(${x})`);
  }
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  for (const x of [0.1, -3.14159, 1234.5, 6.1e-5]) assert.ok(Math.abs(fromHalf(toHalf(x)) - x) <= Math.abs(x) * 2 ** -11);
});

for (const layout of ['gpt2', 'llama'] as const) {
  test(`${layout}: GGUF tensors and metadata read back as written (f32 exact, f16 within half precision)`, async () => {
    const { model, tokenizer } = await trainedTiny(layout);
    const c = model.config;
    for (const float of ['f32', 'f16'] as const) {
      const path = join(dir, `${layout}-${float}.gguf`);
      exportGGUF(model, toGGUFTokenizer(tokenizer), path, { float });
      const g = readGGUF(path);
      const meta = (k: string) => g.metadata[k]?.value;
      assert.equal(meta('general.architecture'), layout);
      assert.equal(meta('general.file_type'), float === 'f32' ? 0 : 1);
      assert.equal(meta(`${layout}.block_count`), c.nLayer);
      assert.equal(meta(`${layout}.embedding_length`), c.dModel);
      assert.equal(meta(`${layout}.context_length`), c.nCtx);
      assert.equal(meta(`${layout}.feed_forward_length`), c.dMlp);
      assert.equal(meta('tokenizer.ggml.model'), 'gpt2');
      const tokens = meta('tokenizer.ggml.tokens') as string[];
      assert.equal(tokens.length, c.vocabSize);
      assert.equal(tokens[tokenizer.specialId('<|endoftext|>')!], '<|endoftext|>');
      assert.equal(meta('tokenizer.ggml.eos_token_id'), tokenizer.specialId('<|endoftext|>'));
      assert.equal((meta('tokenizer.ggml.merges') as string[]).length, tokenizer.kind === 'bpe' ? tokenizer.vocabSize - 257 : 0);

      const byName = new Map(g.tensors.map((t) => [t.name, t]));
      const expectClose = (name: string, want: ArrayLike<number>, shape: number[]) => {
        const t = byName.get(name);
        assert.ok(t, `${name} missing (have ${[...byName.keys()].join(', ')})`);
        assert.deepEqual(t.shape, shape, name);
        const tol = t.type === 'f16' ? 2 ** -10 : 0;
        for (let i = 0; i < want.length; i++) {
          if (Math.abs(t.data[i] - want[i]) > tol * Math.max(1, Math.abs(want[i]))) assert.fail(`${name}[${i}] = ${t.data[i]}, want ${want[i]}`);
        }
        assert.equal(t.type, shape.length >= 2 ? float : 'f32', `${name} type`);
      };
      const p = (n: string) => model.params.get(n)!;
      expectClose('token_embd.weight', p('wte.weight').f, [c.vocabSize, c.dModel]);
      expectClose('output.weight', (model.params.get('lm_head.weight') ?? p('wte.weight')).f, [c.vocabSize, c.dModel]);
      expectClose('blk.1.ffn_down.weight', p('blocks.1.mlp.proj.weight').f, [c.dModel, c.dMlp]);
      if (layout === 'gpt2') {
        expectClose('blk.0.attn_qkv.weight', p('blocks.0.attn.qkv.weight').f, [3 * c.dModel, c.dModel]);
        expectClose('blk.0.attn_qkv.bias', p('blocks.0.attn.qkv.bias').f, [3 * c.dModel]);
        expectClose('position_embd.weight', p('wpe.weight').f, [c.nCtx, c.dModel]);
      } else {
        // q rows permuted within each head from (i, i + D/2) pairs to (2i, 2i + 1).
        const qkv = p('blocks.0.attn.qkv.weight').f, C = c.dModel, D = C / c.nHead;
        const want = new Float32Array(C * C);
        for (let h = 0; h < c.nHead; h++) for (let j = 0; j < D; j++) {
          const from = h * D + (j % 2) * (D / 2) + (j >> 1);
          want.set(qkv.subarray(from * C, (from + 1) * C), (h * D + j) * C);
        }
        expectClose('blk.0.attn_q.weight', want, [C, C]);
        expectClose('blk.0.attn_v.weight', qkv.subarray(2 * C * C, 3 * C * C), [C, C]);
        expectClose('blk.0.ffn_gate.weight', p('blocks.0.mlp.fc.weight').f.subarray(0, c.dMlp * C), [c.dMlp, C]);
        assert.equal(meta('llama.rope.dimension_count'), D);
      }
    }
  });
}

test('readGGUF refuses what is not GGUF', () => {
  assert.throws(() => readGGUF(new URL(import.meta.url).pathname), /is not a GGUF file/);
});
