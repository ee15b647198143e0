import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, tensor } from '../../src/engine/index.js';
import { AdamW } from '../../src/training/optimizers.js';
import {
  latestStep, listCheckpoints, loadCheckpoint, restoreParams, saveCheckpoint, type CheckpointStateInput,
} from '../../src/training/checkpoint.js';

function tmpRun(): string {
  return mkdtempSync(join(tmpdir(), 'wt-ckpt-'));
}

function model(v: number): Map<string, Tensor> {
  const wte = tensor([v, v + 1, v + 2, v + 3], [2, 2], { requiresGrad: true });
  return new Map([
    ['wte.weight', wte],
    ['h.0.w', tensor([v * 2, -v, 0.5, 1e-7], [2, 2], { requiresGrad: true })],
    ['lm_head.weight', wte], // tied
  ]);
}

function stateInput(tokens: number): CheckpointStateInput {
  return {
    tokensSeen: tokens, elapsedSec: 1.5,
    schedule: { config: { kind: 'constant', warmupSteps: 0 }, lr: 1e-3, totalSteps: 10 },
    rngs: { dropout: { s: [1, 2, 3, 4], spare: 0.123456789012345 } },
    samplers: { train: { kind: 'windows', step: 3 } },
    config: { hello: 'world' },
  };
}

function stepOnce(params: Map<string, Tensor>, opt: AdamW): void {
  for (const p of opt.params) p.tensor.grad = tensor(Array.from(p.tensor.f, (x) => x * 0.1 + 0.01), p.tensor.shape);
  opt.step(0.01);
}

test('save then load round-trips weights, optimizer buffers and state exactly', () => {
  const dir = tmpRun();
  try {
    const params = model(1);
    const opt = new AdamW(params);
    stepOnce(params, opt);
    const saved = saveCheckpoint(dir, 1, params, opt, stateInput(64));
    assert.equal(saved, join(dir, 'ckpt-1'));
    assert.deepEqual(readdirSync(saved).sort(), ['model.safetensors', 'optimizer.safetensors', 'state.json']);
    assert.equal(readFileSync(join(dir, 'latest'), 'utf8'), 'ckpt-1\n');

    const ck = loadCheckpoint(dir);
    assert.equal(ck.step, 1);
    assert.deepEqual([...ck.model.keys()], ['wte.weight', 'h.0.w']); // tied head stored once
    assert.equal(ck.state.tokensSeen, 64);
    assert.deepEqual(ck.state.rngs, stateInput(0).rngs);
    assert.deepEqual(ck.state.samplers, stateInput(0).samplers);
    assert.equal(ck.optimizer.kind, 'adamw');
    assert.equal(ck.optimizer.step, 1);

    const fresh = model(9);
    restoreParams(fresh, ck.model);
    for (const [name, t] of params) assert.deepEqual(Array.from(fresh.get(name)!.f), Array.from(t.f), name);
    assert.equal(fresh.get('wte.weight'), fresh.get('lm_head.weight'));
    const opt2 = new AdamW(fresh);
    opt2.setState(ck.optimizer);
    for (const [k, v] of opt.state().tensors) assert.deepEqual(Array.from(opt2.state().tensors.get(k)!), Array.from(v), k);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a crash between files leaves latest at the previous good checkpoint; the next save cleans up', () => {
  const dir = tmpRun();
  try {
    const params = model(1);
    const opt = new AdamW(params);
    stepOnce(params, opt);
    saveCheckpoint(dir, 1, params, opt, stateInput(10));
    const goodWeights = Array.from(params.get('h.0.w')!.f);
    for (const crashAfter of ['model.safetensors', 'optimizer.safetensors', 'state.json']) {
      stepOnce(params, opt);
      assert.throws(() => saveCheckpoint(dir, 2, params, opt, stateInput(20), {
        onFileWritten: (f) => { if (f === crashAfter) throw new Error(`simulated crash after ${f}`); },
      }), /simulated crash/);
      assert.equal(latestStep(dir), 1, `crash after ${crashAfter}`);
      assert.deepEqual(listCheckpoints(dir), [1]);
      const ck = loadCheckpoint(dir);
      assert.equal(ck.step, 1);
      assert.equal(ck.state.tokensSeen, 10);
      assert.deepEqual(Array.from(ck.model.get('h.0.w')!.f), goodWeights);
    }
    assert.ok(readdirSync(dir).some((n) => n.startsWith('.tmp-ckpt-2')), 'the crashed write left its temp folder');
    saveCheckpoint(dir, 2, params, opt, stateInput(20));
    assert.ok(!readdirSync(dir).some((n) => n.startsWith('.tmp-')), 'stale temp folders are removed');
    assert.equal(loadCheckpoint(dir).step, 2);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('keep-last-K retention; checkpoints past a resumed step are dropped; load by step', () => {
  const dir = tmpRun();
  try {
    const params = model(1);
    const opt = new AdamW(params);
    for (let s = 1; s <= 5; s++) saveCheckpoint(dir, s * 10, params, opt, stateInput(s), { keep: 3 });
    assert.deepEqual(listCheckpoints(dir), [30, 40, 50]);
    assert.equal(loadCheckpoint(dir, 40).state.tokensSeen, 4);
    // Resumed from 30 and saved 35: 40 and 50 are an abandoned future.
    saveCheckpoint(dir, 35, params, opt, stateInput(99), { keep: 3 });
    assert.deepEqual(listCheckpoints(dir), [30, 35]);
    assert.equal(latestStep(dir), 35);
    // Re-saving the same step replaces it.
    saveCheckpoint(dir, 35, params, opt, stateInput(100), { keep: 3 });
    assert.equal(loadCheckpoint(dir).state.tokensSeen, 100);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('clear errors for missing and corrupt checkpoints', () => {
  const dir = tmpRun();
  try {
    assert.throws(() => loadCheckpoint(join(dir, 'nope')), /run directory .*nope does not exist/);
    assert.throws(() => loadCheckpoint(dir), /no "latest" pointer \(it has no checkpoint folders\)/);
    const params = model(1);
    const opt = new AdamW(params);
    saveCheckpoint(dir, 3, params, opt, stateInput(1));
    assert.throws(() => loadCheckpoint(dir, 4), /ckpt-4 does not exist \(available steps: 3\)/);

    writeFileSync(join(dir, 'ckpt-3', 'state.json'), '{"step": 3, trunc');
    assert.throws(() => loadCheckpoint(dir), /ckpt-3\/state\.json is not valid JSON/);
    saveCheckpoint(dir, 3, params, opt, stateInput(1));
    writeFileSync(join(dir, 'ckpt-3', 'model.safetensors'), Buffer.from([1, 2, 3]));
    assert.throws(() => loadCheckpoint(dir), /model\.safetensors: file is 3 bytes/);
    saveCheckpoint(dir, 3, params, opt, stateInput(1));
    rmSync(join(dir, 'ckpt-3', 'optimizer.safetensors'));
    assert.throws(() => loadCheckpoint(dir), /ckpt-3 is incomplete, missing optimizer\.safetensors/);
    writeFileSync(join(dir, 'latest'), 'garbage');
    assert.throws(() => loadCheckpoint(dir), /should name a checkpoint folder/);

    const ck = (saveCheckpoint(dir, 5, params, opt, stateInput(1)), loadCheckpoint(dir));
    const other = new Map([['wte.weight', tensor([1, 2, 3, 4, 5, 6], [3, 2])], ['h.0.w', tensor([1, 2, 3, 4], [2, 2])]]);
    assert.throws(() => restoreParams(other, ck.model), /wte\.weight is \[2, 2\] in the checkpoint but \[3, 2\] in the model/);
    const renamed = new Map([['wte.weight', tensor([1, 2, 3, 4], [2, 2])], ['h.1.w', tensor([1, 2, 3, 4], [2, 2])]]);
    assert.throws(() => restoreParams(renamed, ck.model), /missing \[h\.1\.w\], unexpected \[h\.0\.w\]/);
    assert.ok(existsSync(join(dir, 'ckpt-5')));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
