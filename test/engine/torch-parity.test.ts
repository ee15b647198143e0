// The engine against PyTorch: fixtures/ops/torch-ops.json holds inputs, outputs and
// gradients computed by PyTorch in float64 (scripts/fixtures/make_op_fixtures.py).
// Each case runs here twice: float64 on the reference backend (tight tolerance) and
// float32 on the active backend (float32 tolerance).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as E from '../../src/engine/index.js';
import { Tensor } from '../../src/engine/index.js';
import { referenceBackend } from '../../src/engine/reference.js';

interface Case {
  name: string;
  inputs: { shape: number[]; data: number[] }[];
  proj: number[];
  output: { shape: number[]; data: number[] };
  grads: number[][];
  extra: Record<string, number[]>;
}

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/ops/torch-ops.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };

type Dt = 'float32' | 'float64';
const ints = (v: number[], shape?: number[]) => new Tensor(Int32Array.from(v), shape ?? [v.length]);
const floats = (v: number[], dt: Dt, shape?: number[]) => E.tensor(dt === 'float64' ? Float64Array.from(v) : Float32Array.from(v), shape ?? [v.length]);

function ourOp(c: Case, dt: Dt): (...xs: Tensor[]) => Tensor {
  const x = c.extra;
  const att = (o: () => E.AttentionOptions) => (q: Tensor, k: Tensor, v: Tensor) => E.attention(q, k, v, o());
  const table: Record<string, (...xs: Tensor[]) => Tensor> = {
    'add broadcast': E.add, mul: E.mul, div: E.div, pow: E.pow, maximum: E.maximum,
    where: (a, b) => E.where(floats(x.cond, dt, [3, 1]), a, b),
    exp: E.exp, log: E.log, sqrt: E.sqrt, rsqrt: E.rsqrt, tanh: E.tanh, sigmoid: E.sigmoid, relu: E.relu,
    'gelu tanh': (t) => E.gelu(t, 'tanh'), 'gelu exact': (t) => E.gelu(t, 'none'), silu: E.silu,
    'sum axes': (t) => E.sum(t, [0, 2], true), mean: (t) => E.mean(t, -1), 'max axis': (t) => E.max(t, 1),
    matmul: (a, b) => E.matmul(a, b), 'matmul batched': (a, b) => E.matmul(a, b), linear: E.linear,
    softmax: E.softmax, logSoftmax: E.logSoftmax,
    layerNorm: (t, w, b) => E.layerNorm(t, w, b, 1e-5), rmsNorm: (t, w) => E.rmsNorm(t, w, 1e-6),
    groupNorm: (t, w, b) => E.groupNorm(t, 3, w, b, 1e-5),
    embedding: (t) => E.embedding(ints(x.ids, x.idsShape), t),
    crossEntropy: (l) => E.crossEntropy(l, ints(x.targets), { ignoreIndex: -100 }),
    'crossEntropy weighted': (l) => E.crossEntropy(l, ints(x.targets), { ignoreIndex: -100, weights: floats(x.weights, dt) }),
    'attention causal': att(() => ({ mask: { kind: 'causal' } })),
    'attention sliding': att(() => ({ mask: { kind: 'sliding', window: 3 } })),
    'attention docs': att(() => ({ docQ: ints(x.doc, [2, 7]), docK: ints(x.doc, [2, 7]) })),
    'attention kv': att(() => ({})),
    rope: (t) => E.rope(t, E.ropeTables(16, 4, 10000, dt), 2),
  };
  const f = table[c.name];
  if (!f) throw new Error(`no engine op mapped for fixture case "${c.name}"`);
  return f;
}

function close(name: string, got: ArrayLike<number>, want: number[], rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${name}: length`);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]);
    if (!ok) assert.fail(`${name}[${i}]: got ${got[i]}, PyTorch ${want[i]}`);
  }
}

function run(c: Case, dt: Dt, rtol: number, atol: number): void {
  const inputs = c.inputs.map((i) => floats(i.data, dt, i.shape).requireGrad());
  const out = ourOp(c, dt)(...inputs);
  assert.deepEqual([...out.shape], c.output.shape, `${c.name}: output shape`);
  close(`${c.name} output`, out.data, c.output.data, rtol, atol);
  E.sum(E.mul(out, floats(c.proj, dt, c.output.shape))).backward();
  inputs.forEach((t, k) => close(`${c.name} grad ${k}`, t.grad!.data, c.grads[k], rtol, atol));
}

test('fixture covers the expected ops', () => {
  assert.ok(fixture.cases.length >= 30, `only ${fixture.cases.length} cases`);
});

for (const c of fixture.cases) {
  test(`torch parity float64 reference: ${c.name}`, () => E.withBackend(referenceBackend, () => run(c, 'float64', 1e-9, 1e-11)));
  test(`torch parity float32 ${E.backend().name}: ${c.name}`, () => run(c, 'float32', 2e-4, 2e-5));
}
