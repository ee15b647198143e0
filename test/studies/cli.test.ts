// `windtunnel study list` and the command's refusals (the studies' own tests run them end to end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { studies } from '../../src/studies/index.js';

const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/windtunnel.js', 'study', ...args], { encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });

test('study list: every study with runs, tokens, FLOPs and an estimated time at each budget, and its claim', () => {
  const r = cli('list');
  assert.equal(r.status, 0, r.stderr);
  for (const name of Object.keys(studies)) {
    const i = r.stdout.indexOf(`${name} `);
    assert.ok(i >= 0, `${name} listed`);
    const rows = r.stdout.slice(i).split('\n').slice(0, 3);
    assert.match(rows[0], new RegExp(`^${name}\\s+smoke\\s+\\d+\\s+\\S+\\s+\\S+e\\d+\\s+\\d+(\\.\\d)? (s|min|h)`));
    assert.match(rows[1], /^\s+small\s+\d+/);
    assert.match(rows[2], /^\s+full\s+\d+/);
    assert.ok(r.stdout.includes(`claim: ${studies[name].claim}`));
  }
  assert.deepEqual(Object.keys(studies), ['wsd-vs-cosine', 'scaling-law', 'batch-lr', 'coord-check', 'mup-transfer', 'mup-ablation', 'layer-redundancy', 'cot-expressivity', 'minicpm-recipe', 'efficient-width', 'efficient-mixers', 'lifelong-editing', 'ln-nonlinearity', 'emergence-vs-loss']);
});

test('study: an unknown study or budget is an error naming the choices; --dry-run lists the plan', () => {
  const a = cli('nope');
  assert.equal(a.status, 1);
  assert.match(a.stderr, /no study "nope" \(known: wsd-vs-cosine, scaling-law/);
  const b = cli('batch-lr', '--budget', 'huge');
  assert.equal(b.status, 1);
  assert.match(b.stderr, /--budget must be one of smoke, small, full/);
  const c = cli('wsd-vs-cosine', '--budget', 'small', '--dry-run', '--db', '/nonexistent/windtunnel.db');
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /93 runs/);
  assert.match(c.stdout, /wsd-L200-d10-1-sqrt-s0\s*$/m);
  assert.match(c.stdout, /wsd-L800-d2\.5-1-sqrt-s0@180/);
});
