// Finite-difference gradient checks for every op in op-cases.ts, in float64 on the
// reference backend: the analytic gradient of a random projection of the output must
// match central differences.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { referenceBackend } from '../../src/engine/reference.js';
import { opCases, rand } from './op-cases.js';

/** loss = sum(out * proj) for a fixed random projection, so every output element matters. */
function projected(out: E.Tensor, proj: E.Tensor): E.Tensor {
  return E.sum(E.mul(out, proj));
}

function check(name: string, inputs: E.Tensor[], fn: (...xs: E.Tensor[]) => E.Tensor): void {
  const rng = new E.Rng(99);
  const probe = E.noGrad(() => fn(...inputs));
  const proj = rand(rng, [...probe.shape], 'float64');
  for (const x of inputs) { x.requireGrad(); x.grad = null; }
  const loss = projected(fn(...inputs), proj);
  loss.backward();
  const h = 1e-6;
  for (const [k, x] of inputs.entries()) {
    assert.ok(x.grad, `${name}: input ${k} got no gradient`);
    const xs = x.f;
    for (let i = 0; i < xs.length; i++) {
      const orig = xs[i];
      xs[i] = orig + h;
      const up = E.noGrad(() => projected(fn(...inputs), proj).item());
      xs[i] = orig - h;
      const down = E.noGrad(() => projected(fn(...inputs), proj).item());
      xs[i] = orig;
      const numeric = (up - down) / (2 * h);
      const analytic = x.grad.data[i];
      const tol = 1e-6 + 1e-5 * Math.abs(numeric);
      assert.ok(Math.abs(numeric - analytic) <= tol,
        `${name}: input ${k}[${i}] analytic ${analytic} vs numeric ${numeric}`);
    }
  }
}

for (const c of opCases) {
  test(`gradcheck ${c.name}`, () => {
    E.withBackend(referenceBackend, () => check(c.name, c.inputs(new E.Rng(7), 'float64'), c.fn));
  });
}

test('gradient accumulates across backward passes and hooks see activation gradients', () => {
  E.withBackend(referenceBackend, () => {
    const w = E.tensor([1, 2, 3], [3], { dtype: 'float64', requiresGrad: true });
    const seen: number[][] = [];
    for (let i = 0; i < 2; i++) {
      const h = E.mul(w, 2);
      h.registerGradHook((g) => { seen.push(g.toArray()); });
      h.retainGrad();
      E.sum(E.square(h)).backward();
      assert.deepEqual(h.grad?.toArray(), [4, 8, 12]);
    }
    // d/dw sum((2w)^2) = 8w, twice.
    assert.deepEqual(w.grad?.toArray(), [16, 32, 48]);
    assert.deepEqual(seen, [[4, 8, 12], [4, 8, 12]]);
  });
});

test('noGrad records no graph and backward frees the graph', () => {
  const w = E.tensor([1, 2], [2], { requiresGrad: true });
  const y = E.noGrad(() => E.mul(w, 3));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.node, null);
  const z = E.sum(E.mul(w, 3));
  assert.ok(z.node);
  z.backward();
  assert.equal(z.node, null);
  assert.throws(() => z.backward(), /does not require grad|backward/);
});

test('a tensor used twice gets both gradient contributions', () => {
  E.withBackend(referenceBackend, () => {
    const x = E.tensor([0.5, -1], [2], { dtype: 'float64', requiresGrad: true });
    const y = E.add(E.mul(x, x), x); // x^2 + x
    E.sum(y).backward();
    assert.deepEqual(x.grad?.toArray(), [2, -1]);
  });
});
