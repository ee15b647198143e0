// `export --out` never overwrites files silently, and never leaves a config.json that does not
// match the weights beside it: the export is written into a hidden folder beside the target and
// renamed into place whole (replaceFolderDurable), so an interrupted export leaves the old
// folder (or none), never a mixed pair.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceFolderDurable } from '../../src/base/durable.js';

let tmp = '', run = '';
const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/windtunnel.js', ...args], { encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wt-export-'));
  run = join(tmp, 'run');
  const r = cli('train', '--config', 'configs/tiny-smoke.json', '--run-dir', run, '--set', `data.cacheDir=${join(tmp, 'cache')}`,
    '--set', 'batchSize=2', '--set', 'context=16', '--set', 'evalBatches=1', '--set', 'steps=2', '--set', 'schedule.warmupSteps=0');
  assert.equal(r.status, 0, r.stderr);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('export into a folder with files in it refuses without --force and touches nothing', () => {
  const out = join(tmp, 'busy');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  const r = cli('export', run, '--format', 'hf-gpt2', '--out', out);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /busy.*not empty.*--force/s);
  assert.deepEqual(readdirSync(out), ['notes.txt']);

  const forced = cli('export', run, '--format', 'hf-gpt2', '--out', out, '--force');
  assert.equal(forced.status, 0, forced.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'windtunnel-tokenizer.json']);
  assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('.')), [], 'no temporary folder left');

  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  assert.equal(cli('export', run, '--format', 'hf-gpt2', '--out', empty).status, 0, 'an empty folder is fine');
  const again = cli('export', run, '--format', 'hf-gpt2', '--out', empty);
  assert.equal(again.status, 2, 'a second export to the same folder needs --force');
});

test('replaceFolderDurable: a fill that fails halfway leaves the old folder whole and no temporary folder', () => {
  const dir = join(tmp, 'pair');
  replaceFolderDurable(dir, (d) => { writeFileSync(join(d, 'model.safetensors'), 'weights v1'); writeFileSync(join(d, 'config.json'), 'config v1'); });
  assert.throws(() => replaceFolderDurable(dir, (d) => {
    writeFileSync(join(d, 'model.safetensors'), 'weights v2');
    throw new Error('interrupted before config.json');
  }), /interrupted/);
  assert.equal(readFileSync(join(dir, 'model.safetensors'), 'utf8'), 'weights v1');
  assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), 'config v1');
  replaceFolderDurable(dir, (d) => { writeFileSync(join(d, 'model.safetensors'), 'weights v2'); writeFileSync(join(d, 'config.json'), 'config v2'); });
  assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), 'config v2');
  assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('.')), []);
  assert.ok(existsSync(dir));
});
