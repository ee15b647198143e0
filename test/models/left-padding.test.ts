// Left padding: a batch of unequal prompts gives each row what it gives alone (learned and
// rotary positions, with and without the KV cache, and past nCtx where the window is cropped).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad } from '../../src/engine/index.js';
import { Transformer } from '../../src/models/transformer.js';
import { modelConfig } from '../../src/models/config.js';
import { generate, generateRagged } from '../../src/models/sampling.js';

const models = {
  gpt2: new Transformer(modelConfig('gpt2', { vocabSize: 40, nCtx: 24, dModel: 32, nLayer: 2, nHead: 2 }), { seed: 5 }),
  llama: new Transformer(modelConfig('llama', { vocabSize: 40, nCtx: 24, dModel: 32, nLayer: 2, nHead: 2 }), { seed: 6 }),
};
const prompts = [[3, 1, 4, 1, 5, 9, 2, 6], [7], [2, 7, 1, 8], [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], [5, 5]];

for (const [name, model] of Object.entries(models)) {
  test(`${name}: left-padded forward gives each row its own logits`, () => {
    const W = Math.max(...prompts.map((p) => p.length));
    const ids = prompts.flatMap((p) => [...new Array<number>(W - p.length).fill(0), ...p]);
    const pads = prompts.map((p) => W - p.length);
    const V = model.config.vocabSize;
    const batched = noGrad(() => model.forward(new Tensor(Int32Array.from(ids), [prompts.length, W]), { leftPad: pads }).logits.f);
    prompts.forEach((p, b) => {
      const alone = noGrad(() => model.forward(new Tensor(Int32Array.from(p), [1, p.length])).logits.f);
      let worst = 0;
      for (let t = 0; t < p.length; t++) for (let v = 0; v < V; v++) {
        worst = Math.max(worst, Math.abs(batched[(b * W + pads[b] + t) * V + v] - alone[t * V + v]));
      }
      assert.ok(worst < 1e-5, `row ${b}: largest difference ${worst}`);
    });
    // without leftPad the padding is attended to and the short rows change: the option matters
    const unmasked = noGrad(() => model.forward(new Tensor(Int32Array.from(ids), [prompts.length, W])).logits.f);
    const alone1 = noGrad(() => model.forward(new Tensor(Int32Array.from(prompts[1]), [1, 1])).logits.f);
    assert.ok(Math.abs(unmasked[(1 * W + pads[1]) * V] - alone1[0]) > 1e-4);
  });

  test(`${name}: generateRagged decodes each row as generate does alone (cache, no cache, past nCtx)`, () => {
    for (const maxNewTokens of [6, 20]) { // 20 runs the longest rows past nCtx = 24
      for (const useKVCache of [true, false]) {
        const ragged = generateRagged(model, prompts, { maxNewTokens, temperature: 0, useKVCache });
        prompts.forEach((p, b) => {
          const alone = Array.from(generate(model, p, { maxNewTokens, temperature: 0, useKVCache: false }).i.subarray(p.length));
          assert.deepEqual(ragged[b], alone, `row ${b}, ${maxNewTokens} tokens, cache ${useKVCache}`);
        });
      }
    }
  });
}

test('leftPad is checked', () => {
  const m = models.gpt2;
  assert.throws(() => m.forward(new Tensor(Int32Array.from([1, 2, 3, 4]), [2, 2]), { leftPad: [1] }), /leftPad must be 2 non-negative integers/);
  assert.throws(() => generate(m, [[1, 2], [3]], { maxNewTokens: 1 }), /generateRagged/);
});
