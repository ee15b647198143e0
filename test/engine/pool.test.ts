// The buffer pool must change nothing but speed: a few training steps give bitwise the same
// losses with and without it, and its buffers really are reused between steps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';

function trainLosses(pool: E.BufferPool | null, steps: number): number[] {
  const rng = new E.Rng(3);
  const w1 = E.zeros([64, 48], { requiresGrad: true }), w2 = E.zeros([10, 64], { requiresGrad: true });
  rng.fillNormal(w1.f, 0.1); rng.fillNormal(w2.f, 0.1);
  const x = E.zeros([40, 48]); rng.fillNormal(x.f);
  const y = E.tensor(Int32Array.from({ length: 40 }, (_, i) => i % 10), [40]);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const step = () => {
      w1.grad = null; w2.grad = null;
      const h = E.gelu(E.linear(E.layerNorm(x, null, null), w1));
      const loss = E.crossEntropy(E.linear(h, w2), y);
      loss.backward();
      for (const w of [w1, w2]) E.backend().axpy(-0.5, w.grad!.f, w.f);
      return loss.item();
    };
    losses.push(pool ? pool.run(step) : step());
  }
  return losses;
}

test('pooled steps are bitwise identical to unpooled ones', () => {
  const plain = trainLosses(null, 5);
  const pooled = trainLosses(new E.BufferPool(), 5);
  assert.deepEqual(pooled, plain);
  assert.ok(plain[4] < plain[0], 'the toy model should learn');
});

test('the pool hands back the same buffers on the next run', () => {
  const pool = new E.BufferPool();
  const first = pool.run(() => E.exp(E.zeros([4096])).data);
  const second = pool.run(() => E.exp(E.zeros([4096])).data);
  assert.equal(second, first);
  const zeroed = pool.run(() => E.allocFloat('float32', 4096));
  assert.ok(zeroed.every((v) => v === 0), 'allocFloat from the pool must be zero-filled');
  const small = pool.run(() => E.exp(E.zeros([8])).data);
  assert.notEqual(pool.run(() => E.exp(E.zeros([8])).data), small, 'small buffers are not pooled');
});
