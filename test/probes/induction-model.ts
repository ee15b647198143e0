// A two-layer attention-only transformer trained here, in seconds, on an induction task: rows of
// random tokens whose last 2n are n tokens repeated once, n drawn per row (so no fixed offset
// solves it by position alone), loss on the second copy only.
// LLaMA layout (rotary positions make a previous-token head quick to learn). Attention-only: the MLPs start at zero and are left out of the optimizer, so they output
// exactly zero throughout. Solving the task needs a previous-token head in layer 0 and an
// induction head in layer 1 (Olsson et al. 2022), which the head finders must then name.

import { Rng, Tensor, backward, tensor } from '../../src/engine/index.js';
import { modelConfig } from '../../src/models/config.js';
import { Transformer } from '../../src/models/transformer.js';
import { AdamW } from '../../src/training/optimizers.js';

export const inductionSizes = { vocabSize: 24, T: 20 };

export function trainInductionModel(o: { steps?: number; seed?: number; lr?: number; dModel?: number; nHead?: number } = {}): { model: Transformer; finalLoss: number } {
  const { vocabSize: V, T } = inductionSizes;
  const model = new Transformer(modelConfig('llama', { vocabSize: V, nCtx: T, dModel: o.dModel ?? 32, nLayer: 2, nHead: o.nHead ?? 2 }), { seed: o.seed ?? 1 });
  const rng = new Rng(1000 + (o.seed ?? 1));
  const trained = new Map<string, Tensor>();
  for (const [name, t] of model.params) {
    if (name.includes('.mlp.')) t.f.fill(0);
    else trained.set(name, t);
  }
  const opt = new AdamW(trained, { weightDecay: 0 });
  let finalLoss = Number.NaN;
  const steps = o.steps ?? 400;
  for (let step = 0; step < steps; step++) {
    const B = 32;
    const ids = new Int32Array(B * T), targets = new Int32Array(B * T).fill(-1);
    for (let b = 0; b < B; b++) {
      const n = 4 + rng.int(T / 2 - 3), start = T - 2 * n; // n in 4..T/2
      for (let i = 0; i < T; i++) ids[b * T + i] = i < start + n ? rng.int(V) : ids[b * T + i - n];
      for (let i = start + n - 1; i < T - 1; i++) targets[b * T + i] = ids[b * T + i + 1];
    }
    const { loss } = model.forward(tensor(ids, [B, T], { dtype: 'int32' }), { targets: tensor(targets, [B, T], { dtype: 'int32' }) });
    model.zeroGrad();
    backward(loss!);
    const lr = o.lr ?? 1e-2;
    opt.step(step < 20 ? lr * (step + 1) / 20 : lr);
    finalLoss = loss!.item();
  }
  model.zeroGrad();
  return { model, finalLoss };
}
