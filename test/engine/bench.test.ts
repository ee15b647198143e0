// benchOps' --only filter: only the matching cases run, and a filtered-out section does not
// even measure its ceiling (the fake ceilings below count their calls).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { benchOps, type Ceilings } from '../../src/engine/bench.js';

function countingCeilings() {
  const calls = { sgemm: 0, copy: 0 };
  const ceil: Ceilings = {
    sgemmSeconds: () => { calls.sgemm++; return 1e-3; },
    copyGBps: () => { calls.copy++; return 10; },
  };
  return { ceil, calls };
}

test('benchOps --only adamw runs only the adamw case and measures no sgemm ceiling', () => {
  const { ceil, calls } = countingCeilings();
  const lines = [...benchOps(ceil, { quick: true, only: 'adamw' })];
  assert.deepEqual(lines.map((l) => l.op), ['adamw']);
  assert.equal(calls.sgemm, 0);
  assert.equal(calls.copy, 1);
  assert.ok(lines[0].ms > 0 && Number.isFinite(lines[0].ratio));
});

test('benchOps --only matching nothing yields nothing and measures no ceiling', () => {
  const { ceil, calls } = countingCeilings();
  assert.deepEqual([...benchOps(ceil, { quick: true, only: 'no_such_op' })], []);
  assert.deepEqual(calls, { sgemm: 0, copy: 0 });
});
