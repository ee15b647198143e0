// Our training loop against PyTorch's: the same tiny GPT-2 (initial weights from
// fixtures/training/gpt2-train, written by scripts/fixtures/make_train_fixture.py), the same
// batches, AdamW with weight decay on every parameter, clipping at 1.0; the loss of every
// one of the 100 steps must agree within 1e-3 relative.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../../src/engine/index.js';
import { importHF } from '../../src/models/hf.js';
import { readSafetensors } from '../../src/models/safetensors.js';
import { AdamW } from '../../src/training/optimizers.js';
import { clipGradients } from '../../src/training/grads.js';

const dir = fileURLToPath(new URL('../../fixtures/training/gpt2-train/', import.meta.url));
const expected = JSON.parse(readFileSync(`${dir}expected.json`, 'utf8')) as { steps: number; lr: number; clip: number; weight_decay: number; losses: number[]; grad_norms: number[] };

test('100 AdamW steps track PyTorch within 1e-3 relative', () => {
  const model = importHF(dir);
  assert.equal(model.config.geluApproximate, 'tanh');
  const batches = readSafetensors(`${dir}batches.safetensors`).tensors.get('batches')!;
  const [steps, B, T1] = batches.shape;
  const T = T1 - 1;
  const opt = new AdamW(model.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: expected.weight_decay, noDecay: { patterns: [], minDecayDims: 0 } });
  let worst = 0;
  for (let s = 0; s < steps; s++) {
    const ids = new Int32Array(B * T), tgt = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const row = batches.i.subarray((s * B + b) * T1, (s * B + b + 1) * T1);
      ids.set(row.subarray(0, T), b * T);
      tgt.set(row.subarray(1), b * T);
    }
    const { loss } = model.forward(new Tensor(ids, [B, T]), { targets: new Tensor(tgt, [B, T]) });
    opt.zeroGrad();
    loss!.backward();
    const params = [...model.params.values()];
    const clip = clipGradients(params, expected.clip);
    opt.step(expected.lr, { gradScale: clip.scale });
    const rel = Math.abs(loss!.item() - expected.losses[s]) / Math.abs(expected.losses[s]);
    worst = Math.max(worst, rel);
    assert.ok(rel < 1e-3, `step ${s}: loss ${loss!.item()} vs PyTorch ${expected.losses[s]} (rel ${rel.toExponential(2)})`);
    const normRel = Math.abs(clip.norm - expected.grad_norms[s]) / expected.grad_norms[s];
    assert.ok(normRel < 1e-2, `step ${s}: grad norm ${clip.norm} vs PyTorch ${expected.grad_norms[s]}`);
  }
  // The curve must actually move, or agreement would prove little.
  assert.ok(expected.losses[steps - 1] < expected.losses[0] - 2, 'the fixture loss should fall by more than 2 nats');
  console.log(`# worst relative loss difference over ${steps} steps: ${worst.toExponential(2)}`);
});
