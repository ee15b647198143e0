// The calibration harness (src/studies/calibrate.ts) on the wsd-vs-cosine worlds: the study's own
// analyse, fed synthetic stores, says NOT SUPPORTED where WSD is 2% worse and never where it is
// 1% better; and the Wilson interval it reports rates with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateWsdVsCosine, wilson } from '../../src/studies/calibrate.js';

test('wsd-vs-cosine worlds: +2% gap -> NOT SUPPORTED, -1% gap -> never NOT SUPPORTED (2 synthetic studies each)', async () => {
  const rates = await calibrateWsdVsCosine({ replicates: 2, seed: 3 });
  const byWorld = Object.fromEntries(rates.map((r) => [r.world, r]));
  assert.equal(byWorld.false.counts['not supported'], 2, JSON.stringify(byWorld.false.counts));
  assert.equal(byWorld.true.counts['not supported'], 0, JSON.stringify(byWorld.true.counts));
  assert.deepEqual(rates.map((r) => r.world), ['true', 'margin', 'false']);
});

test('wilson: the 95% score interval of a proportion', () => {
  const [lo, hi] = wilson(5, 100);
  assert.ok(Math.abs(lo - 0.02154) < 1e-4 && Math.abs(hi - 0.11175) < 1e-4, `${lo} ${hi}`);
  assert.deepEqual(wilson(0, 0), [0, 1]);
});
