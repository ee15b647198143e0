// `windtunnel edit RUN ...` end to end in a child process, on a tiny 3-layer run trained here on
// a facts corpus: requests written by --make, ROME with the layer traced, the edited model saved
// as a new run that `eval` then opens, and bad input named.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'bin', 'windtunnel.js');
let tmp = '', run = '';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wt-edit-'));
  run = join(tmp, 'run');
  const config = join(tmp, 'facts.json');
  writeFileSync(config, JSON.stringify({
    model: { preset: 'gpt2', dModel: 32, nLayer: 3, nHead: 2 },
    data: { corpus: { kind: 'mix', components: [{ corpus: { kind: 'facts', world: { people: 6, cities: 4, countries: 2, companies: 3 } }, weight: 4 }, { corpus: { kind: 'brown', categories: ['news'] }, weight: 1 }] },
      tokenizer: { kind: 'bpe', vocabSize: 320 }, cacheDir: join(tmp, 'cache') },
    lr: 3e-3, batchSize: 4, context: 64, steps: 10, evalBatches: 1, seed: 0,
  }));
  const r = cli('train', '--config', config, '--run-dir', run);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('edit: --make writes requests, rome edits at a given layer and saves a run that other commands open', () => {
  const reqs = join(tmp, 'reqs.jsonl');
  const made = cli('edit', run, '--requests', reqs, '--make', '2', '--seed', '3');
  assert.equal(made.code, 0, made.stderr);
  assert.equal(readFileSync(reqs, 'utf8').trim().split('\n').length, 2);
  assert.equal(cli('edit', run, '--requests', reqs, '--make', '2').code, 2, 'an existing requests file is not overwritten');
  const out = join(tmp, 'edited');
  const r = cli('edit', run, '--requests', reqs, '--method', 'rome', '--layer', '1', '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.method, 'rome');
  assert.equal(res.layer, 1);
  for (const k of ['reliability', 'generality', 'locality']) {
    assert.ok(res.after[k].teacherForced >= 0 && res.after[k].teacherForced <= 1);
    assert.ok(res.after[k].generation >= 0 && res.after[k].generation <= 1);
  }
  assert.equal(res.before.locality.generation, 1, 'the unedited model agrees with itself');
  assert.ok(existsSync(join(out, 'derived-from.json')));
  assert.match(readFileSync(join(out, 'derived-from.json'), 'utf8'), /"method": ?"rome"/);
  const ev = cli('eval', out, '--json');
  assert.equal(ev.code, 0, ev.stderr);
});

test('edit: bad requests and grace with --out are refused with a reason', () => {
  const bad = join(tmp, 'bad.jsonl');
  writeFileSync(bad, '{"caseId": 0}\n');
  const r = cli('edit', run, '--requests', bad, '--method', 'rome');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.jsonl:1: subject/);
  const reqs = join(tmp, 'reqs.jsonl');
  const g = cli('edit', run, '--requests', reqs, '--method', 'grace', '--out', join(tmp, 'g'));
  assert.equal(g.code, 2);
  assert.match(g.stderr, /codebook/);
  assert.equal(cli('edit', run, '--requests', reqs, '--method', 'wise').code, 2);
});
