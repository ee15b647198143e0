// Approaches 1 and 2 on data generated from a known law: the exponent a of N_opt ∝ C^a comes
// out as beta / (alpha + beta); levels that cannot be trusted are marked and left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { approach1 } from '../../../src/lab/fit/envelope.js';
import { approach2, fitParabola, groupLevels } from '../../../src/lab/fit/isoflop.js';
import { chinchillaLaw, curvesTable, isoflopTable, smallLaw, trueA } from './synthetic.js';

test('approach 2 (IsoFLOP parabolas) recovers a = beta/(alpha+beta) on off-centre IsoFLOP levels', () => {
  for (const law of [chinchillaLaw, smallLaw]) {
    const C0 = law === chinchillaLaw ? 1e18 : 1e13;
    const exact = approach2(isoflopTable(law, { C0, seed: 1 }), { computes: [C0 * 10] });
    assert.equal(exact.grouping, '6ND');
    assert.equal(exact.parabolas.filter((p) => p.used).length, 8);
    assert.ok(Math.abs(exact.a! - trueA(law)) < 0.01, `noise-free a ${exact.a} vs ${trueA(law)}`);
    assert.ok(Math.abs(exact.a! + exact.b! - 1) < 1e-9, 'D* = C / 6N* on exact IsoFLOP levels, so a + b = 1');
    assert.equal(exact.allocation.length, 1);

    const noisy = approach2(isoflopTable(law, { C0, seed: 2, noise: 0.005, withFlops: true }));
    assert.equal(noisy.grouping, 'flops');
    assert.ok(Math.abs(noisy.a! - trueA(law)) < 0.03, `0.5% noise: a ${noisy.a} vs ${trueA(law)}`);
    assert.ok(noisy.ci.a![0] <= trueA(law) && trueA(law) <= noisy.ci.a![1], `interval ${noisy.ci.a} holds ${trueA(law)}`);
  }
});

test('approach 1 recovers a from training curves (envelope) and from IsoFLOP points (bins)', () => {
  const a = trueA(chinchillaLaw);
  const env = approach1(curvesTable(chinchillaLaw, { N0: 1e7, D0: 1e8, seed: 1 }));
  assert.equal(env.method, 'envelope');
  assert.ok(Math.abs(env.a! - a) < 0.02, `envelope a ${env.a} vs ${a}`);
  assert.ok(env.levels.some((l) => !l.used && /smallest|largest/.test(l.note ?? '')), 'edge levels are marked');
  const envNoisy = approach1(curvesTable(chinchillaLaw, { N0: 1e7, D0: 1e8, seed: 2, noise: 0.005 }));
  assert.ok(Math.abs(envNoisy.a! - a) < 0.05, `noisy envelope a ${envNoisy.a}`);

  const bins = approach1(isoflopTable(chinchillaLaw, { C0: 1e18, seed: 1 }), { levels: 8 });
  assert.equal(bins.method, 'bins');
  // The lowest point of each level is a model size of the ladder (0.125 decades apart): a quantised optimum.
  assert.ok(Math.abs(bins.a! - a) < 0.03, `bins a ${bins.a} vs ${a}`);
  const binsNoisy = approach1(isoflopTable(chinchillaLaw, { C0: 1e18, seed: 1, noise: 0.005 }), { levels: 8 });
  assert.ok(binsNoisy.ci.a![0] <= a && a <= binsNoisy.ci.a![1], `noisy bins interval ${binsNoisy.ci.a} holds ${a}`);
});

test('a parabola recovers its vertex; unbracketed and downward levels are not used', () => {
  // loss = 2 + 0.1 (ln N - ln 1e6)^2 on sizes around 1e6, at C = 6e15 (D = C / 6N).
  const C = 6e15;
  const at = (N: number) => ({ params: N, tokens: C / (6 * N), loss: 2 + 0.1 * Math.log(N / 1e6) ** 2 });
  const p = fitParabola(C, [3e5, 6e5, 1e6, 2e6, 4e6].map(at));
  assert.ok(p.used);
  assert.ok(Math.abs(p.N / 1e6 - 1) < 1e-9 && Math.abs(p.loss - 2) < 1e-12 && Math.abs(p.D / 1e9 - 1) < 1e-9);
  const [c0, c1, c2] = p.coefficients, x = Math.log(1e6);
  assert.ok(Math.abs(c0 + c1 * x + c2 * x * x - 2) < 1e-8, 'coefficients are in ln N');

  const edge = fitParabola(C, [2e6, 4e6, 8e6].map(at));
  assert.equal(edge.used, false);
  assert.match(edge.note!, /outside the model sizes/);
  const down = fitParabola(C, [1e5, 1e6, 1e7].map((N) => ({ params: N, tokens: C / (6 * N), loss: 3 - 0.1 * Math.log(N / 1e6) ** 2 })));
  assert.match(down.note!, /opens downwards/);
  assert.match(fitParabola(C, [1e5, 1e6].map(at)).note!, /needs 3/);
});

test('IsoFLOP levels group points within the tolerance of each level', () => {
  const pts = [1e15, 1.05e15, 1.09e15, 2e15, 2.1e15, 8e15].map((c) => ({ params: 1e5, tokens: c / 6e5, loss: 3 }));
  const levels = groupLevels(pts, (p) => 6 * p.params * p.tokens, 0.1);
  assert.deepEqual(levels.map((l) => l.points.length), [3, 2, 1]);
  assert.ok(Math.abs(levels[0].compute / Math.cbrt(1e15 * 1.05e15 * 1.09e15) - 1) < 1e-12, 'geometric mean');
});

test('too few levels: no exponent, and a warning saying why', () => {
  const r = approach2(isoflopTable(chinchillaLaw, { C0: 1e18, seed: 1 }).slice(0, 12));
  assert.equal(r.a, null);
  assert.match(r.warnings.join('\n'), /usable compute level/);
});
