import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pointsFromStore } from '../../../src/lab/fit/store-points.js';
import { scalingStore } from './store-fixture.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('points from a sweep: one per (run, eval step), N non-embedding, D tokens seen; step-0 evals have no tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-fit-store-'));
  tempDirs.push(dir);
  const store = scalingStore(dir);
  try {
    const { points, notes } = pointsFromStore(store, { sweep: 'scale' });
    assert.equal(points.length, 16, '4 runs x 4 evals with tokens > 0');
    assert.ok(points.every((p) => p.run !== 'bad'), 'failed runs are left out by default');
    const r3 = points.filter((p) => p.run === 'r3');
    assert.deepEqual(r3.map((p) => p.tokens), [102400, 204800, 307200, 409600], 'tokens from the config when none are logged');
    assert.deepEqual(new Set(points.map((p) => p.params)), new Set([1e5, 2e5, 4e5, 8e5]));
    assert.match(notes.join('\n'), /1 run\(s\) without a non-embedding parameter count skipped: no-count/);
    assert.match(notes.join('\n'), /4 evaluation\(s\) with no tokens excluded/);

    const warm = pointsFromStore(store, { sweep: 'scale', excludeWarmup: 'config' });
    assert.equal(warm.points.length, 12);
    assert.ok(warm.points.every((p) => p.step! > 100));
    assert.equal(pointsFromStore(store, { sweep: 'scale', excludeWarmup: 250 }).points.length, 8);
    assert.equal(pointsFromStore(store, { sweep: 'scale', minTokens: 300_000 }).points.length, 8);

    const final = pointsFromStore(store, { sweep: 'scale', finalOnly: true }).points;
    assert.deepEqual(final.map((p) => p.step), [400, 400, 400, 400]);
    assert.equal(pointsFromStore(store, { sweep: 'scale', status: ['done', 'failed'] }).points.filter((p) => p.run === 'bad').length, 1);
    assert.throws(() => pointsFromStore(store, { sweep: 'nope' }), /sweep "nope" has no runs with status done/);
  } finally {
    store.close();
  }
});
