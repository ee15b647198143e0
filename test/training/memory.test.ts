// Pre-flight memory checks: a training run, a sampling call (--max-tokens) or a sweep's runs side
// by side that cannot fit in memory are refused before anything is built, with the estimate in
// the message (exit 2, no run folder). WINDTUNNEL_MEMORY_BYTES stands in for the machine.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { estimateSampleMemory, estimateTrainMemory } from '../../src/training/memory.js';
import { resolveRunConfig } from '../../src/training/assemble.js';
import { SweepError, expandSweep, parseSweep } from '../../src/lab/experiments/sweep.js';

let tmp = '';
const smoke = JSON.parse(readFileSync('configs/tiny-smoke.json', 'utf8')) as Record<string, unknown>;
const small = () => ['data.cacheDir=' + join(tmp, 'cache'), 'batchSize=2', 'context=16', 'evalBatches=1', 'schedule.warmupSteps=0', 'steps=2'];
const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, ['bin/windtunnel.js', ...args], { encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1', ...env } });
const sets = (xs: string[]) => xs.flatMap((s) => ['--set', s]);

before(() => { tmp = mkdtempSync(join(tmpdir(), 'wt-memory-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the training estimate counts weights, gradients, optimizer state and activations', () => {
  const c = resolveRunConfig({ ...smoke, batchSize: 2, context: 16 });
  const e = estimateTrainMemory(c);
  const P = e.parts.weights / 4;
  assert.equal(e.parts.gradients, 4 * P);
  assert.equal(e.parts['optimizer state'], 8 * P, 'AdamW: two buffers per parameter');
  assert.equal(estimateTrainMemory({ ...c, optimizer: 'sgd' }).parts['optimizer state'], 4 * P);
  const bigger = estimateTrainMemory(resolveRunConfig({ ...smoke, batchSize: 4, context: 16 }));
  assert.ok(bigger.parts.activations > 1.9 * e.parts.activations && bigger.parts.weights === e.parts.weights);
  assert.ok(estimateSampleMemory(c.model, 1e9).total > estimateSampleMemory(c.model, 100).total + 1e10);
});

test('train refuses a model that cannot fit, naming the estimate, before building anything', () => {
  const dir = join(tmp, 'huge');
  const r = cli(['train', '--config', 'configs/tiny-smoke.json', '--run-dir', dir, ...sets([...small(), 'model.dModel=65536', 'model.nLayer=64', 'model.nHead=64'])]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /needs about [\d.]+ (GiB|MiB) of memory \(estimate: weights [\d.]+ GiB, .*optimizer state.*\), more than the [\d.]+ (GiB|MiB) this machine has/);
  assert.equal(existsSync(dir), false);

  const limited = cli(['train', '--config', 'configs/tiny-smoke.json', '--run-dir', join(tmp, 'limited'), ...sets(small())], { WINDTUNNEL_MEMORY_BYTES: String(64 * 2 ** 20) });
  assert.equal(limited.status, 2, limited.stderr);
  assert.match(limited.stderr, /WINDTUNNEL_MEMORY_BYTES/);
  assert.equal(cli(['train', '--config', 'configs/tiny-smoke.json', '--run-dir', join(tmp, 'fits'), ...sets(small())]).status, 0, 'a config that fits trains');
});

test('sample refuses a --max-tokens that cannot fit', () => {
  const r = cli(['sample', join(tmp, 'fits'), '--prompt', 'The', '--max-tokens', '100000000000']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--max-tokens 100000000000 needs about [\d.]+ GiB of memory.*generated tokens/);
  assert.equal(cli(['sample', join(tmp, 'fits'), '--prompt', 'The', '--max-tokens', '5']).status, 0);
});

test('a sweep whose runs cannot fit side by side is refused with --parallel, or runs fewer at once', () => {
  const base = { ...smoke, batchSize: 2, context: 16, steps: 2, evalBatches: 1, schedule: { kind: 'cosine', warmupSteps: 0 }, data: { ...(smoke.data as object), cacheDir: join(tmp, 'cache') } };
  writeFileSync(join(tmp, 'base.json'), JSON.stringify(base));
  writeFileSync(join(tmp, 'two.yaml'), 'name: two\nbase: base.json\ngrid:\n  lr: [0.001, 0.002]\n');
  const one = estimateTrainMemory(resolveRunConfig(base)).total;
  const env = { WINDTUNNEL_MEMORY_BYTES: String(Math.floor(one * 1.5)) };
  const forced = cli(['sweep', join(tmp, 'two.yaml'), '--parallel', '2', '--runs-dir', join(tmp, 'runs')], env);
  assert.equal(forced.status, 2, forced.stderr);
  assert.match(forced.stderr, /running 2 runs side by side needs about .* \(2 x /);
  const auto = cli(['sweep', join(tmp, 'two.yaml'), '--runs-dir', join(tmp, 'runs')], env);
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stderr, /running 2 runs, 1 side by side.*memory/);

  const none = cli(['sweep', join(tmp, 'two.yaml'), '--runs-dir', join(tmp, 'runs2')], { WINDTUNNEL_MEMORY_BYTES: String(Math.floor(one / 2)) });
  assert.equal(none.status, 2, none.stderr);
  assert.match(none.stderr, /run lr=0.001.* needs about/);
});

test('a sweep that would expand to more runs than can be handled is refused before expanding', () => {
  const values = Array.from({ length: 500 }, (_, i) => i);
  const t0 = Date.now();
  assert.throws(() => expandSweep(parseSweep({ name: 'big', base: { lr: 1 }, grid: { a: values, b: values } }), { validate: false }),
    (e: Error) => e instanceof SweepError && /250000 runs/.test(e.message));
  assert.ok(Date.now() - t0 < 2000, 'refused without expanding');
});
