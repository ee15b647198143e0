import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad } from '../../src/engine/index.js';
import { Transformer } from '../../src/models/transformer.js';
import {
  activationPatching, attributionPatching, correctTokenProbability, logitDifference, siteHook, type PatchSite,
} from '../../src/probes/patching.js';
import { ids, tinyConfig } from '../models/helpers.js';

const clean = ids([[3, 7, 9, 4, 11], [5, 2, 8, 8, 1]]);
const corrupted = ids([[3, 7, 20, 4, 11], [5, 2, 30, 8, 1]]);

test('activation patching: the last residual at the answer position restores everything; untouched positions nothing', () => {
  for (const layout of ['gpt2', 'llama'] as const) {
    const m = new Transformer(tinyConfig(layout), { seed: 3, dtype: 'float64' });
    for (const metric of [logitDifference({ correct: [10, 12], wrong: [13, 14] }), correctTokenProbability({ correct: [10, 12] })]) {
      const r = activationPatching(m, { clean, corrupted, metric }, 'resid_post');
      assert.deepEqual(r.units, ['pos 0', 'pos 1', 'pos 2', 'pos 3', 'pos 4']);
      assert.ok(Math.abs(r.effects[1][4] - 1) < 1e-9, `${layout}: ${r.effects[1][4]}`);
      for (const l of [0, 1]) for (const t of [0, 1]) assert.ok(Math.abs(r.effects[l][t]) < 1e-9, 'positions before the change are equal in both runs');
      const first = activationPatching(m, { clean, corrupted, metric }, 'resid_pre', { layers: [0] });
      assert.ok(Math.abs(first.effects[0][2] - 1) < 1e-9, 'block 0 input at the only changed position is the whole difference');
    }
  }
});

test('attribution patching is the derivative of activation patching along (clean - corrupted)', () => {
  const m = new Transformer(tinyConfig('gpt2'), { seed: 5, dtype: 'float64' });
  const metric = logitDifference({ correct: [10, 12], wrong: [13, 14] });
  for (const site of ['resid_mid', 'mlp_out', 'head'] as PatchSite[]) {
    const approx = attributionPatching(m, { clean, corrupted, metric }, site, { layers: [1] });
    const { mClean, mCorr, cleanAct } = noGrad(() => {
      const c = m.runWithCache(clean, { names: [siteHook(site, 1)] });
      return { mClean: metric(c.logits).item(), mCorr: metric(m.forward(corrupted).logits).item(), cleanAct: c.cache.get(siteHook(site, 1)) };
    });
    // Finite difference: move unit 2 (position 2, or head 2) a step eps toward clean.
    const eps = 1e-6;
    const moved = noGrad(() => m.forward(corrupted, {
      hooks: {
        [siteHook(site, 1)]: (a: Tensor) => {
          const d = a.f.slice() as Float64Array;
          const [B, T] = a.shape, inner = a.size / (B * T);
          for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let k = 0; k < inner; k++) {
            const covered = site === 'head' ? Math.floor(k / (inner / a.shape[2])) === 2 : t === 2;
            const i = (b * T + t) * inner + k;
            if (covered) d[i] += eps * (cleanAct.f[i] - a.f[i]);
          }
          return new Tensor(d, a.shape);
        },
      },
    }).logits);
    const fd = (metric(moved).item() - mCorr) / eps / (mClean - mCorr);
    assert.ok(Math.abs(approx.effects[0][2] - fd) < 1e-5 * Math.max(1, Math.abs(fd)), `${site}: attribution ${approx.effects[0][2]} vs finite difference ${fd}`);
    assert.ok(m.parameters().every((p) => p.grad === null), 'parameter gradients are cleared afterwards');
  }
});

test('patching refuses mismatched prompts, bad answers and a task with nothing to recover', () => {
  const m = new Transformer(tinyConfig('gpt2'), { seed: 5 });
  const metric = logitDifference({ correct: [10, 12], wrong: [13, 14] });
  assert.throws(() => activationPatching(m, { clean, corrupted: ids([[1, 2, 3]]), metric }, 'resid_pre'), /same shape/);
  assert.throws(() => activationPatching(m, { clean, corrupted, metric: logitDifference({ correct: [10, 99], wrong: [1, 2] }) }, 'resid_pre'), /outside the vocabulary/);
  assert.throws(() => activationPatching(m, { clean, corrupted: clean, metric }, 'resid_pre'), /nothing to recover/);
});
