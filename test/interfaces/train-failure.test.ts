// A train that fails leaves nothing behind (no partial run folder, so no pile of timestamped
// ones from retries); temporary files a killed writer left in a run folder are removed when the
// folder is next opened; a corpus that is missing or not UTF-8 is bad input (exit 2) naming the
// file, never silently U+FFFD.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
let tmp = '';
const small = () => ['data.cacheDir=' + join(tmp, 'cache'), 'batchSize=2', 'context=16', 'evalBatches=1', 'schedule.warmupSteps=0', 'steps=2'];
const cli = (args: string[], cwd = root) => spawnSync(process.execPath, [join(root, 'bin', 'windtunnel.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
const sets = (xs: string[]) => xs.flatMap((s) => ['--set', s]);

before(() => { tmp = mkdtempSync(join(tmpdir(), 'wt-train-fail-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a train that fails leaves no run folder, also under the default timestamped name', () => {
  const corpus = join(tmp, 'tiny.txt');
  writeFileSync(corpus, 'far too short');
  const config = join(root, 'configs', 'tiny-smoke.json');
  const corpusSet = `data.corpus={"kind":"text","path":${JSON.stringify(corpus)}}`;
  const dir = join(tmp, 'explicit');
  const r = cli(['train', '--config', config, '--run-dir', dir, ...sets([...small(), corpusSet])]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /fewer than context/);
  assert.equal(existsSync(dir), false, `left ${existsSync(dir) ? readdirSync(dir).join(', ') : ''}`);

  const nan = join(tmp, 'nan');
  const diverged = cli(['train', '--config', config, '--run-dir', nan, ...sets([...small(), 'steps=50', 'lr=1e30', 'clip=0', 'schedule={"kind":"constant"}'])]);
  assert.equal(diverged.status, 3, diverged.stderr);
  assert.equal(existsSync(nan), false, 'a run that diverged before its first checkpoint leaves no folder');

  const work = join(tmp, 'work');
  mkdirSync(work);
  for (let i = 0; i < 2; i++) assert.notEqual(cli(['train', '--config', config, ...sets([...small(), corpusSet])], work).status, 0);
  assert.deepEqual(existsSync(join(work, 'runs')) ? readdirSync(join(work, 'runs')) : [], [], 'no timestamped folders from failed attempts');

  const empty = join(tmp, 'given-empty');
  mkdirSync(empty);
  assert.notEqual(cli(['train', '--config', config, '--run-dir', empty, ...sets([...small(), corpusSet])]).status, 0);
  assert.deepEqual(readdirSync(empty), [], 'a folder the user made stays, emptied');
});

test('a missing corpus exits 2 like other bad input; a non-UTF-8 corpus is an error naming the file', () => {
  const config = join(root, 'configs', 'tiny-smoke.json');
  const missing = cli(['train', '--config', config, '--run-dir', join(tmp, 'm'), ...sets([...small(), `data.corpus={"kind":"text","path":${JSON.stringify(join(tmp, 'nope.txt'))}}`])]);
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /corpus path not found/);
  assert.equal(existsSync(join(tmp, 'm')), false);

  const latin1 = join(tmp, 'latin1');
  mkdirSync(latin1);
  writeFileSync(join(latin1, 'a.txt'), 'plain ascii text '.repeat(200));
  writeFileSync(join(latin1, 'b.txt'), Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait '.repeat(200))]));
  const bad = cli(['train', '--config', config, '--run-dir', join(tmp, 'l'), ...sets([...small(), `data.corpus={"kind":"text","path":${JSON.stringify(latin1)}}`, `data.cacheDir=${join(tmp, 'cache-l')}`])]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /b\.txt.*not valid UTF-8.*byte 3/s);
  assert.equal(existsSync(join(tmp, 'l')), false);
});

test('stale temporary files a killed writer left are removed when the run folder is opened again', () => {
  const dir = join(tmp, 'stale');
  const config = join(root, 'configs', 'tiny-smoke.json');
  const r = cli(['train', '--config', config, '--run-dir', dir, ...sets(small())]);
  assert.equal(r.status, 0, r.stderr);
  const stale = ['.latest.4242.0badf00d.tmp', '.metrics.jsonl.4242.12345678.tmp', '.config.json.77.abcdef01.tmp'];
  for (const n of stale) writeFileSync(join(dir, n), 'half written');
  writeFileSync(join(dir, 'notes.tmp'), 'the user\'s');
  const again = cli(['resume', dir]);
  assert.equal(again.status, 0, again.stderr);
  const left = readdirSync(dir);
  for (const n of stale) assert.ok(!left.includes(n), `${n} is still there`);
  assert.ok(left.includes('notes.tmp'), 'files that are not ours stay');
});
