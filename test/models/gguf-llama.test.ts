// Our GGUF files run by the real llama.cpp (node-llama-cpp 3.22.1's prebuilt CPU binary, pinned
// in scripts/llama-cpp/; installed by scripts/setup.sh with WINDTUNNEL_WITH_LLAMA_CPP=1, as CI
// does). For a trained tiny GPT-2 (byte tokenizer) and LLaMA (BPE) model: llama.cpp tokenizes
// text to our ids, its greedy continuation equals ours, and its next-token distribution after
// the prompt matches our softmax: max |p - q| < 5e-4 for f32 weights, < 5e-3 for f16.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { noGrad, softmax, tensor } from '../../src/engine/index.js';
import { END_OF_TEXT, toGGUFTokenizer } from '../../src/data/index.js';
import { exportGGUF } from '../../src/models/gguf.js';
import { generate } from '../../src/models/sampling.js';
import { trainedTiny } from './gguf-fixture.js';

const root = resolve(import.meta.dirname, '../..');
const installed = existsSync(join(root, 'scripts', 'llama-cpp', 'node_modules', 'node-llama-cpp', 'package.json'));
const required = process.env.WINDTUNNEL_WITH_LLAMA_CPP === '1';
const skip = !installed && !required ? 'node-llama-cpp is not installed (WINDTUNNEL_WITH_LLAMA_CPP=1 bash scripts/setup.sh installs it)' : false;
const dir = mkdtempSync(join(tmpdir(), 'wt-llama-cpp-'));
const TEXT = 'The jury said it did find that many of Georgia\'s registration and election laws "are outmoded."';
// f32 is looser than float rounding: ggml computes GELU through a half-precision table (~7e-5 here).
const TOLERANCE = { f32: 5e-4, f16: 5e-3 } as const;

interface LlamaCppAnswer { tokenized: number[]; greedy: number[]; distribution: Record<string, number> }

for (const layout of ['gpt2', 'llama'] as const) {
  test(`${layout}: llama.cpp tokenizes, generates greedily and predicts like windtunnel`, { skip, timeout: 180_000 }, async (t) => {
    assert.ok(installed, 'WINDTUNNEL_WITH_LLAMA_CPP=1 but scripts/llama-cpp/node_modules is missing; run scripts/setup.sh');
    const { model, tokenizer } = await trainedTiny(layout);
    const prompt = [tokenizer.specialId(END_OF_TEXT)!, ...tokenizer.encode('The jury said')];
    const maxTokens = 16;
    const ours = Array.from(generate(model, prompt, { maxNewTokens: maxTokens, temperature: 0 }).i.subarray(prompt.length));
    const probs = noGrad(() => {
      const logits = model.forward(tensor(Int32Array.from(prompt), [1, prompt.length], { dtype: 'int32' }), { lastLogitsOnly: true }).logits;
      return Array.from(softmax(logits).f);
    });

    for (const float of ['f32', 'f16'] as const) {
      const path = join(dir, `${layout}-${float}.gguf`);
      exportGGUF(model, toGGUFTokenizer(tokenizer), path, { float });
      const r = spawnSync(process.execPath, [join(root, 'scripts', 'llama-cpp', 'check.mjs'), path, JSON.stringify({ text: TEXT, prompt, maxTokens, contextSize: model.config.nCtx })], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `check.mjs exited ${r.status}:\n${r.stderr}`);
      const got = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as LlamaCppAnswer;
      assert.deepEqual(got.tokenized, tokenizer.encode(TEXT), `${float}: llama.cpp's tokenization`);
      let worst = 0;
      for (let id = 0; id < probs.length; id++) worst = Math.max(worst, Math.abs((got.distribution[id] ?? 0) - probs[id]));
      t.diagnostic(`${layout} ${float}: max |p_llama.cpp - p_ours| = ${worst.toExponential(2)}; greedy ${JSON.stringify(got.greedy)} vs ours ${JSON.stringify(ours)}`);
      assert.ok(worst < TOLERANCE[float], `${float}: max |p_llama.cpp - p_ours| = ${worst}`);
      if (float === 'f32') assert.deepEqual(got.greedy, ours, 'greedy continuation');
      else {
        // Half-precision weights may flip a near-tie late in the continuation; the start must agree.
        assert.deepEqual(got.greedy.slice(0, 4), ours.slice(0, 4), 'greedy continuation (f16, first 4 tokens)');
      }
    }
  });
}
