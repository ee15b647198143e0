// Config values a run could never be saved with, and keys that would edit Object.prototype:
// `--set eps=1e999` (JSON gives Infinity), YAML `.inf`/`.nan`, and `__proto__` / `constructor` /
// `prototype` as a key in --set, a config file or a sweep file are refused at the edge, naming
// the field, before anything runs.

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { applyOverrides, readConfigFile } from '../../src/base/config-file.js';
import { UsageError } from '../../src/base/errors.js';
import { resolveRunConfig } from '../../src/training/assemble.js';
import { TrainConfigError, parseTrainConfig } from '../../src/training/config.js';
import { SweepError, expandSweep, loadSweep, parseSweep } from '../../src/lab/experiments/sweep.js';

const base = {
  model: { preset: 'gpt2', dModel: 32, nLayer: 2, nHead: 2 },
  data: { corpus: { kind: 'brown' } },
  lr: 1e-3, batchSize: 2, context: 16, steps: 3,
};

afterEach(() => {
  for (const k of ['polluted', 'x', 'y']) assert.equal(({} as Record<string, unknown>)[k], undefined, `Object.prototype.${k} was set`);
});

function issuesOf(fn: () => unknown): { field: string; message: string }[] {
  try { fn(); } catch (e) { if (e instanceof TrainConfigError) return e.issues; throw e; }
  assert.fail('expected a TrainConfigError');
}

test('non-finite numbers anywhere in a run config are refused, naming the field', () => {
  const withInf = applyOverrides(base, ['eps=1e999', 'model.dModel=-1e999', 'data.validFraction=1e999']);
  assert.equal(withInf.eps, Infinity, 'JSON reads 1e999 as Infinity; the schema must catch it');
  const issues = issuesOf(() => resolveRunConfig(withInf));
  for (const f of ['eps', 'model.dModel', 'data.validFraction']) {
    assert.ok(issues.some((i) => i.field === f && /finite/.test(i.message)), `${f}: ${JSON.stringify(issues)}`);
  }
  assert.ok(issuesOf(() => parseTrainConfig({ ...base, model: { vocabSize: 257, nCtx: 16, dModel: 32, nLayer: 1, nHead: 2 }, clip: NaN, schedule: { kind: 'cosine', minLrRatio: Infinity } }))
    .some((i) => i.field === 'schedule.minLrRatio' && /finite/.test(i.message)));
  assert.ok(issuesOf(() => resolveRunConfig({ ...base, betas: [0.9, -Infinity] })).some((i) => i.field === 'betas.1'));
});

test('YAML .inf and .nan are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-cfgsafe-'));
  try {
    const file = join(dir, 'run.yaml');
    writeFileSync(file, 'model: { preset: gpt2, dModel: 32, nLayer: 2, nHead: 2 }\ndata: { corpus: { kind: brown } }\nlr: .inf\nbatchSize: 2\ncontext: 16\nsteps: 3\nweightDecay: .nan\n');
    const issues = issuesOf(() => resolveRunConfig(readConfigFile(file)));
    assert.ok(issues.some((i) => i.field === 'lr' && /finite/.test(i.message)), JSON.stringify(issues));
    assert.ok(issues.some((i) => i.field === 'weightDecay'), JSON.stringify(issues));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('__proto__, constructor and prototype are refused as --set keys and inside --set values', () => {
  for (const set of ['__proto__.polluted=1', 'constructor.prototype.polluted=1', 'model.__proto__.x=1', 'prototype=1', 'model={"__proto__":{"y":1}}', 'data=[{"constructor":1}]']) {
    assert.throws(() => applyOverrides(structuredClone(base), [set]), (e: Error) => e instanceof UsageError && /__proto__|constructor|prototype/.test(e.message), set);
  }
  assert.equal((applyOverrides(base, ['model.nLayer=3']).model as { nLayer: number }).nLayer, 3);
});

test('config files and sweep files with such keys are refused; Object.prototype stays clean', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-cfgsafe-'));
  try {
    const cfg = join(dir, 'run.json');
    writeFileSync(cfg, JSON.stringify(base).replace('"lr"', '"__proto__":{"polluted":1},"lr"'));
    assert.throws(() => readConfigFile(cfg), (e: Error) => e instanceof UsageError && /__proto__/.test(e.message));

    for (const grid of [{ '__proto__.polluted': [1, 2] }, { 'constructor.prototype.polluted': [1] }, { 'model.prototype': [1] }]) {
      assert.throws(() => expandSweep(parseSweep({ name: 's', base, grid }), { validate: false }), (e: Error) => e instanceof SweepError && /__proto__|constructor|prototype/.test(e.message), JSON.stringify(grid));
    }
    const yaml = join(dir, 'sweep.yaml');
    writeFileSync(yaml, 'name: s\nbase:\n  lr: 0.1\n  __proto__: { polluted: 1 }\ngrid:\n  lr: [0.1, 0.2]\n');
    assert.throws(() => loadSweep(yaml), (e: Error) => e instanceof UsageError && /__proto__/.test(e.message));
    assert.throws(() => expandSweep(parseSweep({ name: 's', base, grid: { lr: [1e-3, Infinity] } })), (e: Error) => e instanceof SweepError && /lr.*finite/s.test(e.message));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('train --set eps=1e999 exits 2 naming eps, and writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-cfgsafe-'));
  try {
    const r = spawnSync(process.execPath, ['bin/windtunnel.js', 'train', '--config', 'configs/tiny-smoke.json', '--run-dir', join(dir, 'run'), '--set', 'eps=1e999'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /\beps: .*finite/);
    const p = spawnSync(process.execPath, ['bin/windtunnel.js', 'train', '--config', 'configs/tiny-smoke.json', '--run-dir', join(dir, 'run'), '--set', '__proto__.polluted=1'], { encoding: 'utf8' });
    assert.equal(p.status, 2, p.stderr);
    assert.match(p.stderr, /__proto__/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
