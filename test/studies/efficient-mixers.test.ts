// The efficient-mixers study's verdict from measured numbers alone: each of its three claims can
// hold or fail on its own, and any failing claim makes the study not supported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeMixers, type LmCell, type RecallCell, type SinkCell } from '../../src/studies/efficient-mixers.js';

const lm = (rel: Record<string, number[]>): LmCell[] => [
  ...[0, 1, 2].map((seed) => ({ mixer: 'attention', kind: 'reference' as const, seed, loss: 2 + 0.01 * seed, params: 1000 })),
  ...Object.entries(rel).flatMap(([mixer, r]) => r.map((x, seed) => ({ mixer, kind: 'efficient' as const, seed, loss: (2 + 0.01 * seed) * (1 + x), params: 1000 }))),
];
const recall = (acc: Record<string, number[]>, kinds: Record<string, RecallCell['kind']> = {}): RecallCell[] =>
  Object.entries(acc).flatMap(([mixer, a]) => a.map((exact, i) => ({ mixer, kind: kinds[mixer] ?? (mixer === 'attention' ? 'reference' : 'efficient'), size: [4, 8, 16][i], exact, items: 400 })));
const sinks = (sink: number, plain: number): SinkCell[] => [0, 1].map((seed) => ({ seed, fresh: 2, sink: 2 + Math.log(sink), plain: 2 + Math.log(plain) }));

const goodRecall = recall({ attention: [1, 0.99, 0.98], linear: [0.9, 0.5, 0.1], hybrid: [1, 0.99, 0.97] }, { hybrid: 'hybrid' });

test('all three claims hold -> supported', () => {
  const a = judgeMixers(lm({ linear: [0.01, 0.012, 0.009], mamba2: [0.0, 0.002, -0.001] }), goodRecall, sinks(1.02, 5));
  assert.equal(a.verdict, 'supported', `${a.reason}\n${a.evidence.join('\n')}`);
  assert.deepEqual((a.data as { claims: unknown }).claims, { lm: 'holds', recall: 'holds', sinks: 'holds' });
});

test('a mixer 8% worse on Brown -> claim 1 fails and names it', () => {
  const a = judgeMixers(lm({ linear: [0.08, 0.081, 0.079], mamba2: [0.0, 0.002, -0.001] }), goodRecall, sinks(1.02, 5));
  assert.equal(a.verdict, 'not supported');
  assert.match(a.reason, /outside 3%: linear 8%/);
});

test('recall: linear as good as attention -> fails; hybrid far behind -> fails; no growth of the gap -> inconclusive', () => {
  const same = judgeMixers(lm({ linear: [0, 0, 0] }), recall({ attention: [1, 0.99, 0.98], linear: [1, 0.99, 0.98], hybrid: [1, 1, 0.98] }, { hybrid: 'hybrid' }), sinks(1, 5));
  assert.equal((same.data as { claims: { recall: string } }).claims.recall, 'fails');
  const hybridBehind = judgeMixers(lm({ linear: [0, 0, 0] }), recall({ attention: [1, 0.99, 0.98], linear: [0.9, 0.5, 0.1], hybrid: [0.9, 0.5, 0.2] }, { hybrid: 'hybrid' }), sinks(1, 5));
  assert.equal((hybridBehind.data as { claims: { recall: string } }).claims.recall, 'fails');
  const flatGap = judgeMixers(lm({ linear: [0, 0, 0] }), recall({ attention: [1, 1, 1], linear: [0.5, 0.5, 0.5], hybrid: [1, 1, 1] }, { hybrid: 'hybrid' }), sinks(1, 5));
  assert.equal((flatGap.data as { claims: { recall: string } }).claims.recall, 'inconclusive');
});

test('sinks: the sink cache blowing up fails claim 3; a plain cache that holds fails it too', () => {
  assert.equal((judgeMixers([], [], sinks(3, 5)).data as { claims: { sinks: string } }).claims.sinks, 'fails');
  assert.equal((judgeMixers([], [], sinks(1.0, 1.05)).data as { claims: { sinks: string } }).claims.sinks, 'fails');
  assert.equal((judgeMixers([], [], sinks(1.2, 5)).data as { claims: { sinks: string } }).claims.sinks, 'inconclusive');
});
