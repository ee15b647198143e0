import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalJson, sweepCost, runCost, expandSweep, loadSweep, parseSweep, runId, SweepError, type SweepInput,
} from '../../../src/lab/experiments/sweep.js';
import { countParams, parseModelConfig } from '../../../src/models/config.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-sweep-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

/** A valid run config (what `windtunnel train` accepts). */
const model = { vocabSize: 320, nCtx: 64, dModel: 64, nLayer: 2, nHead: 4, mlp: 'gelu', norm: 'layernorm', positions: 'learned', tiedEmbeddings: true, bias: true };
const base = { model, lr: 1e-3, weightDecay: 0.1, batchSize: 8, context: 64, steps: 100, seed: 0, data: { corpus: { kind: 'brown' } } };

const sweep = (extra: Partial<SweepInput>) => parseSweep({ name: 's', base, ...extra });

function sweepError(fn: () => unknown): SweepError {
  try { fn(); } catch (e) { if (e instanceof SweepError) return e; throw e; }
  assert.fail('expected a SweepError');
}

test('grid x seeds x derived: count, order, values, names', () => {
  const runs = expandSweep(sweep({
    grid: { lr: [1e-3, 3e-3], $tokensPerStep: [512, 1024] },
    seeds: 2,
    derived: { batchSize: '$tokensPerStep / context', weightDecay: 'lr * 100' },
  }));
  assert.equal(runs.length, 8);
  // First grid key outermost, seeds innermost.
  assert.deepEqual(runs.map((r) => [r.config.lr, r.point.$tokensPerStep, r.config.seed]).slice(0, 4), [
    [1e-3, 512, 0], [1e-3, 512, 1], [1e-3, 1024, 0], [1e-3, 1024, 1],
  ]);
  assert.deepEqual(runs.map((r) => r.config.batchSize), [8, 8, 16, 16, 8, 8, 16, 16]);
  assert.equal(runs[4].config.weightDecay, 0.3);
  // $variables drive derived values and names but never reach the config.
  assert.ok(runs.every((r) => !('$tokensPerStep' in r.config) && !('tokensPerStep' in r.config)));
  assert.deepEqual(runs.map((r) => r.name).slice(0, 3), ['lr=0.001_tokensPerStep=512_seed=0', 'lr=0.001_tokensPerStep=512_seed=1', 'lr=0.001_tokensPerStep=1024_seed=0']);
  assert.deepEqual(runs.map((r) => r.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(new Set(runs.map((r) => r.id)).size, 8);
  // The base object is never modified.
  assert.equal(base.batchSize, 8);
  assert.equal(base.lr, 1e-3);
});

test('list x zip, explicit seeds, seedKey, nested keys created', () => {
  const runs = expandSweep(sweep({
    list: [{ 'schedule.kind': 'cosine' }, { 'schedule.kind': 'wsd', 'schedule.decayFraction': 0.1 }],
    zip: { 'model.dModel': [64, 128], 'model.nHead': [4, 8] },
    seeds: [7, 9], seedKey: 'data.seed',
  }), { validate: false });
  assert.equal(runs.length, 8);
  assert.deepEqual(runs[0].config.schedule, { kind: 'cosine' });
  assert.deepEqual(runs[7].config.schedule, { kind: 'wsd', decayFraction: 0.1 });
  assert.deepEqual(runs[7].config.data, { corpus: { kind: 'brown' }, seed: 9 });
  assert.equal((runs[2].config.model as { dModel: number }).dModel, 128);
  assert.equal((runs[2].config.model as { nHead: number }).nHead, 8);
  assert.equal(runs[7].name, 'kind=wsd_decayFraction=0.1_dModel=128_nHead=8_seed=9');
  assert.equal(runs[0].name, 'kind=cosine_dModel=64_nHead=4_seed=7');
});

test('ids are stable: same config same id, whatever the key order; any change changes it', () => {
  const a = expandSweep(sweep({ grid: { lr: [1e-3, 3e-3] } }));
  const b = expandSweep(sweep({ grid: { lr: [1e-3, 3e-3] } }));
  assert.deepEqual(a.map((r) => r.id), b.map((r) => r.id));
  assert.match(a[0].id, /^[0-9a-f]{12}$/);
  const reordered = { data: { corpus: { kind: 'brown' } }, seed: 0, steps: 100, context: 64, batchSize: 8, weightDecay: 0.1, lr: 1e-3, model: { ...model } };
  assert.equal(runId(reordered), a[0].id);
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  assert.notEqual(runId({ ...base, steps: 101 }), runId(base));
  // The same run in another sweep (other name, other axes) has the same id.
  const other = expandSweep(parseSweep({ name: 'other', base: { ...base, lr: 3e-3 } }));
  assert.equal(other[0].id, a[1].id);
});

test('zip lists of different lengths: the error names the axis', () => {
  const e = sweepError(() => sweep({ zip: { 'model.dModel': [64, 128], 'model.nHead': [4, 8, 16] } }));
  assert.equal(e.issues[0].field, 'zip.model.nHead');
  assert.match(e.message, /zip\.model\.nHead: has 3 values but zip\.model\.dModel has 2/);
});

test('schema errors name the field', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ name: 's', base, grids: {} }, 'grids', /unknown key/],
    [{ name: 's', base, grid: { 'optim.lr': 0.1 } }, 'grid.optim.lr', /array/],
    [{ name: 's', base, grid: { 'optim.lr': [] } }, 'grid.optim.lr', /at least one value/],
    [{ name: 's', base, grid: { 'optim..lr': [1] } }, 'grid.optim..lr', /dotted path/],
    [{ name: 'a b', base }, 'name', /folder/],
    [{ name: 's' }, 'base', /required: a training config file path/],
    [{ name: 's', base: 3 }, 'base', /config file path or an inline config object/],
    [{ name: 's', base, seeds: 0 }, 'seeds', /./],
    [{ name: 's', base, seeds: [1, 1] }, 'seeds', /repeat/],
    [{ name: 's', base, list: [{ lr: 1 }, { 'bad key': 2 }] }, 'list.1.bad key', /dotted path/],
    [{ name: 's', base, derived: { batchSize: 'a * * 2' } }, 'derived.batchSize', /column 5/],
    [{ name: 's', base, grid: { lr: [1] }, zip: { lr: [2] } }, 'zip.lr', /also set by grid\.lr/],
    [{ name: 's', base, grid: { schedule: [{}] }, derived: { 'schedule.warmupSteps': '1' } }, 'derived.schedule.warmupSteps', /also set by grid\.schedule/],
    [{ name: 's', base, seeds: 2, grid: { seed: [1, 2] } }, 'seedKey', /also set by grid\.seed/],
  ];
  for (const [raw, field, msg] of cases) {
    const e = sweepError(() => parseSweep(raw));
    const issue = e.issues.find((i) => i.field === field);
    assert.ok(issue, `expected an issue at ${field}, got ${JSON.stringify(e.issues)}`);
    assert.match(issue.message, msg, field);
  }
});

test('derived errors name the derived key: unknown names, non-numbers, cycles, non-finite', () => {
  assert.match(sweepError(() => expandSweep(sweep({ derived: { batchSize: '$tps / 2' } }))).message, /derived\.batchSize: "\$tps \/ 2" reads \$tps, which no axis sets/);
  assert.match(sweepError(() => expandSweep(sweep({ derived: { batchSize: 'model.nope * 2' } }))).message, /reads model\.nope, which the config does not have/);
  assert.match(sweepError(() => expandSweep(sweep({ derived: { batchSize: 'model.mlp' } }))).message, /reads model\.mlp = "gelu", not a number/);
  assert.match(sweepError(() => expandSweep(sweep({ derived: { x: 'y + 1', y: 'x + 1' } }))).message, /depends on itself: x -> y -> x/);
  assert.match(sweepError(() => expandSweep(sweep({ derived: { batchSize: '1 / 0' } }))).message, /= Infinity/);
  // Derived values may read other derived values, in any order.
  const [r] = expandSweep(sweep({ derived: { steps: 'batchSize * 2', batchSize: 'model.nCtx / 4' } }));
  assert.equal(r.config.batchSize, 16);
  assert.equal(r.config.steps, 32);
});

test('a point that changes nothing is an error naming both runs; setting through a non-object too', () => {
  assert.match(sweepError(() => expandSweep(sweep({ grid: { $unused: [1, 2] } }))).message, /unused=2.*same config as run unused=1/);
  assert.match(sweepError(() => expandSweep(sweep({ grid: { 'steps.n': [1] } }))).message, /steps is 100, not an object/);
});

test('each run is checked against the training-run schema, naming the run and the field', () => {
  let e = sweepError(() => expandSweep(sweep({ grid: { batchSize: [8, -1] } })));
  assert.match(e.message, /run batchSize=-1: config: batchSize: Number must be greater than 0/);
  e = sweepError(() => expandSweep(sweep({ grid: { 'optim.lr': [0.1] } })));
  assert.match(e.message, /run lr=0.1: config: optim: unknown key/);
  e = sweepError(() => expandSweep(sweep({ derived: { batchSize: '$tps / context' }, grid: { $tps: [100] } })));
  assert.match(e.message, /batchSize: Expected integer/);
  // A custom check, or none (opaque configs for a custom trainer).
  assert.throws(() => expandSweep(sweep({}), { validate: () => { throw new Error('nope'); } }), /run base: config: nope/);
  assert.equal(expandSweep(parseSweep({ name: 'o', base: { anything: 1 } }), { validate: false }).length, 1);
});

test('loads YAML and JSON sweep files, base path relative to the sweep file', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'base.json'), JSON.stringify(base));
  writeFileSync(join(dir, 'lr.yaml'), 'name: lr\nbase: base.json\ntags: [smoke]\ngrid:\n  lr: [1e-3, 3e-3]\nseeds: 2\n');
  writeFileSync(join(dir, 'lr.json'), JSON.stringify({ name: 'lr', base: 'base.json', tags: ['smoke'], grid: { lr: [1e-3, 3e-3] }, seeds: 2 }));
  const y = loadSweep(join(dir, 'lr.yaml')), j = loadSweep(join(dir, 'lr.json'));
  assert.equal(y.baseFile, join(dir, 'base.json'));
  assert.deepEqual(y.tags, ['smoke']);
  assert.deepEqual(expandSweep(y).map((r) => r.id), expandSweep(j).map((r) => r.id));
  writeFileSync(join(dir, 'missing.yaml'), 'name: m\nbase: nope.json\n');
  assert.equal(sweepError(() => loadSweep(join(dir, 'missing.yaml'))).issues[0].field, 'base');
  writeFileSync(join(dir, 'bad.yaml'), 'name: [unclosed\n');
  assert.throws(() => loadSweep(join(dir, 'bad.yaml')), /cannot parse .*bad\.yaml/);
});

test('estimate: params from the model config, tokens from the budget, 6ND + attention FLOPs', () => {
  const pc = countParams(parseModelConfig(model));
  const e = runCost(base);
  assert.equal(e.params, pc.total);
  assert.equal(e.nonEmbeddingParams, pc.nonEmbedding);
  assert.equal(e.tokens, 100 * 8 * 64);
  // Tied head: the token table is multiplied at every token, so it counts in N for FLOPs.
  assert.equal(e.flops, (6 * (pc.nonEmbedding + 320 * 64) + 12 * 2 * 64 * 64) * 100 * 8 * 64);
  const untied = runCost({ ...base, model: { ...model, tiedEmbeddings: false }, context: 32, gradAccum: 2 });
  const pcu = countParams(parseModelConfig({ ...model, tiedEmbeddings: false }));
  assert.equal(untied.tokens, 100 * 8 * 32 * 2);
  assert.equal(untied.flops, (6 * pcu.nonEmbedding + 12 * 2 * 32 * 64) * 100 * 8 * 32 * 2);
  const total = sweepCost(sweep({ grid: { steps: [100, 200] } }));
  assert.equal(total.runs, 2);
  assert.equal(total.tokens, 300 * 8 * 64);
  assert.equal(total.unknown, 0);
  // A token budget is rounded up to whole steps.
  const { steps: _, ...noSteps } = base;
  assert.equal(runCost({ ...noSteps, tokens: 1e6 }).tokens, Math.ceil(1e6 / 512) * 512);
  // An opaque config: the model is still counted when there is one; the note says why the rest is unknown.
  const opaque = runCost({ model, foo: 1 });
  assert.equal(opaque.params, pc.total);
  assert.equal(opaque.flops, null);
  assert.match(opaque.note ?? '', /foo: unknown key/);
  assert.equal(runCost({ foo: 1 }).params, null);
  assert.equal(sweepCost(expandSweep(parseSweep({ name: 'o', base: { foo: 1 } }), { validate: false })).unknown, 1);
});
