// norm 'groupnorm' (group layer norm over the features): config validation, the forward against a
// direct computation, one group equal to layer norm, gradients reach every parameter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, noGrad, tensor } from '../../src/engine/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { Transformer, groupLayerNorm } from '../../src/models/transformer.js';
import { graphForward } from '../../src/probes/graph.js';
import { maxAbsDiff, randomIds, tinyConfig } from '../models/helpers.js';

test('groupnorm: normGroups must divide dModel and belongs to groupnorm only', () => {
  assert.throws(() => parseModelConfig(tinyConfig('gpt2', { norm: 'groupnorm' })), /normGroups/);
  assert.throws(() => parseModelConfig(tinyConfig('gpt2', { norm: 'groupnorm', normGroups: 5 })), /normGroups/);
  assert.throws(() => parseModelConfig(tinyConfig('gpt2', { normGroups: 4 })), /only for norm groupnorm/);
  assert.equal(parseModelConfig(tinyConfig('gpt2', { norm: 'groupnorm', normGroups: 4 })).normGroups, 4);
});

test('group layer norm normalises each slice of the features on its own', () => {
  const x = tensor(Float64Array.from({ length: 2 * 3 * 8 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5))), [2, 3, 8], { dtype: 'float64' });
  const w = tensor(Float64Array.from({ length: 8 }, (_, i) => 1 + i / 10), [8], { dtype: 'float64' });
  const b = tensor(Float64Array.from({ length: 8 }, (_, i) => i / 7), [8], { dtype: 'float64' });
  const y = groupLayerNorm(x, 4, w, b, 1e-5).f;
  for (let r = 0; r < 6; r++) for (let g = 0; g < 4; g++) {
    const xs = [0, 1].map((k) => x.f[r * 8 + g * 2 + k]);
    const mu = (xs[0] + xs[1]) / 2, v = ((xs[0] - mu) ** 2 + (xs[1] - mu) ** 2) / 2;
    for (let k = 0; k < 2; k++) {
      const c = g * 2 + k;
      assert.ok(Math.abs(y[r * 8 + c] - (((xs[k] - mu) / Math.sqrt(v + 1e-5)) * w.f[c] + b.f[c])) < 1e-12);
    }
  }
});

test('a groupnorm model with one group is the layernorm model; gradients reach every parameter; the graph forward agrees', () => {
  const ln = new Transformer(tinyConfig('gpt2'), { seed: 2, dtype: 'float64' });
  const gn1 = new Transformer(tinyConfig('gpt2', { norm: 'groupnorm', normGroups: 1 }), { seed: 2, dtype: 'float64' });
  const x = randomIds(2, 6, 50);
  assert.ok(maxAbsDiff(noGrad(() => gn1.forward(x).logits).f, noGrad(() => ln.forward(x).logits).f) < 1e-9);
  const gn = new Transformer(tinyConfig('llama', { norm: 'groupnorm', normGroups: 4 }), { seed: 2, dtype: 'float64' });
  const targets = randomIds(2, 6, 50, 9);
  backward(gn.forward(x, { targets }).loss!);
  for (const [name, t] of gn.params) assert.ok(t.grad && t.grad.f.some((g) => g !== 0), `${name} got a gradient`);
  gn.zeroGrad();
  assert.ok(maxAbsDiff(noGrad(() => graphForward(gn, x).logits).f, noGrad(() => gn.forward(x).logits).f) < 1e-10);
  assert.ok(maxAbsDiff(noGrad(() => gn.forward(x).logits).f, noGrad(() => new Transformer(tinyConfig('llama'), { seed: 2, dtype: 'float64' }).forward(x).logits).f) > 1e-6, 'four groups differ from RMSNorm');
});
