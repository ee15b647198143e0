// `windtunnel inspect RUN TOOL` end to end in a child process, on a tiny 4-layer run trained here.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
function json(...args: string[]) {
  const r = cli(...args, '--json');
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wt-inspect-'));
  run = join(tmp, 'run');
  const r = cli('train', '--config', join(root, 'configs', 'tiny-smoke.json'), '--run-dir', run, '--set', `data.cacheDir=${join(tmp, 'cache')}`,
    '--set', 'batchSize=4', '--set', 'context=32', '--set', 'evalBatches=2', '--set', 'steps=12', '--set', 'model.nLayer=4');
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('inspect lens, heads and rank print JSON with one entry per layer or head', () => {
  const lens = json('inspect', run, 'lens', '--batches', '1');
  assert.deepEqual(lens.layers.map((l: { layer: string }) => l.layer), ['embed', 'blocks.0', 'blocks.1', 'blocks.2', 'blocks.3']);
  assert.ok(lens.layers[4].klToFinal < 1e-6, 'the last layer through the head is the model');
  const heads = json('inspect', run, 'heads', '--length', '6', '--rows', '2');
  assert.equal(heads.heads.length, 8);
  assert.equal(heads.induction.length, 3);
  const rank = json('inspect', run, 'rank', '--batches', '1', '--keep', '3');
  assert.equal(rank.activations.length, 5);
  assert.ok(rank.weights.some((w: { name: string }) => w.name === 'blocks.3.mlp.proj.weight'));
  assert.equal(rank.activations[0].spectrum.length, 3);
});

test('inspect patch: patching the changed position at the first layer restores the clean run exactly', () => {
  const args = ['inspect', run, 'patch', '--clean', 'The jury said th', '--corrupted', 'The jury saxd th', '--answer', 'e', '--wrong', 'a', '--site', 'resid_pre'];
  const r = json(...args);
  assert.equal(r.patch.units.length, 16);
  r.patch.effects[0].forEach((e: number, t: number) => assert.ok(Math.abs(e - (t === 11 ? 1 : 0)) < 1e-5, `pos ${t}: ${e}`));
  const bad = cli('inspect', run, 'patch', '--clean', 'The jury', '--corrupted', 'The', '--answer', 'e', '--wrong', 'a');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /must match/);
  assert.equal(cli('inspect', run, 'patch', '--clean', 'ab').code, 2);
  assert.equal(cli('inspect', run, 'nonsense').code, 2);
});

test('inspect redundancy: curves per order, and a pruned run that eval reads with the loss the curve reported', () => {
  const pruned = join(tmp, 'pruned');
  const r = json('inspect', run, 'redundancy', '--batches', '2', '--save-pruned', pruned, '--delete', '1');
  assert.equal(r.blockInfluence.length, 4);
  assert.deepEqual(r.curves.map((c: { order: string }) => c.order), ['bi', 'last-first', 'random', 'loss-increase']);
  const bi = r.curves[0];
  assert.deepEqual(bi.points.map((p: { fraction: number }) => p.fraction), [0, 0.25, 0.5]);
  assert.deepEqual(r.saved.deleted, [bi.layers[0]]);
  assert.ok(existsSync(join(pruned, 'derived-from.json')));
  const ev = json('eval', pruned, '--batches', '2');
  assert.ok(Math.abs(ev.loss - bi.points[1].score.value) < 1e-5, `eval ${ev.loss} vs curve ${bi.points[1].score.value}`);
  const again = cli('inspect', run, 'redundancy', '--batches', '1', '--save-pruned', pruned, '--delete', '1');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not empty/);
});

test('inspect tuned-lens: trained on calibration windows, compared on a held-out one', () => {
  const r = json('inspect', run, 'tuned-lens', '--batches', '3', '--steps', '30', '--lr', '0.003', '--seed', '2');
  assert.deepEqual(r.layers.map((l: { layer: string }) => l.layer), ['embed', 'blocks.0', 'blocks.1', 'blocks.2', 'blocks.3']);
  assert.equal(r.trainLoss.length, 30);
  assert.ok(r.trainLoss[29] < r.trainLoss[0], 'training lowers the KL');
  assert.ok(r.layers[4].klTunedLens < 1e-6 && r.layers[4].klLogitLens < 1e-6);
  assert.equal(cli('inspect', run, 'tuned-lens', '--batches', '1').code, 2, 'needs a held-out window');
});

test('inspect circuit, path, attention and demo-heads: JSON and SVG figures', () => {
  const prompts = ['--clean', 'The jury said th', '--corrupted', 'The jury saxd th', '--answer', 'e', '--wrong', 'a'];
  const svg = join(tmp, 'circuit.svg');
  const c = json('inspect', run, 'circuit', ...prompts, '--edges', '6', '--method', 'eap', '--svg', svg);
  assert.equal(c.circuit.length, 6);
  assert.equal(c.totalEdges, 1 + 4 * (2 + 1) + [0, 1, 2, 3].reduce((n, l) => n + 2 * (1 + 3 * l) + (1 + 3 * l + 2), 0));
  const ends = c.curves.filter((p: { edges: number }) => p.edges === 0 || p.edges === c.totalEdges);
  // float32 sums in another order: the span between clean and corrupted is small on this barely trained model.
  assert.ok(Math.abs(ends[0].faithfulness) < 1e-2 && Math.abs(ends[1].faithfulness - 1) < 1e-2, JSON.stringify(ends));
  assert.match(readFileSync(svg, 'utf8'), /<svg[\s\S]*logits/);
  const sweep = json('inspect', run, 'path', ...prompts);
  assert.equal(sweep.senders.length, 1 + 4 * 3);
  const one = json('inspect', run, 'path', ...prompts, '--senders', 'a0.h0', '--receivers', 'logits');
  assert.ok(Math.abs(one.path.effect - sweep.senders[1].effect) < 1e-9);
  assert.equal(cli('inspect', run, 'path', ...prompts, '--senders', 'a3.h0', '--receivers', 'a1.h0').code, 2);
  const attSvg = join(tmp, 'attention.svg');
  const a = json('inspect', run, 'attention', '--prompt', 'The jury', '--layers', '1', '--svg', attSvg);
  assert.equal(a.patterns.length, 2);
  for (const p of a.patterns) for (let i = 0; i < 8; i++) {
    const rowSum = p.pattern.slice(i * 8, i * 8 + 8).reduce((s: number, v: number) => s + v, 0);
    assert.ok(Math.abs(rowSum - 1) < 1e-5 && p.pattern.slice(i * 8 + i + 1, i * 8 + 8).every((v: number) => v === 0), 'rows are causal distributions');
  }
  assert.match(readFileSync(attSvg, 'utf8'), /L1 H1/);
  const d = json('inspect', run, 'demo-heads', '--demos', 'the cat. |the dog. |the pig. ', '--query', 'the ');
  assert.equal(d.heads.length, 8);
  assert.equal(d.heads[0].massByCount.length, 3);
  assert.equal(cli('inspect', run, 'demo-heads', '--demos', 'one').code, 2);
});
