// A small GPT trained here, in seconds, on every fact of a tiny fact world (training templates
// only, BPE learned on them so names are a few tokens), so the editors have a model that knows
// facts to edit. Each row is one document after <|endoftext|>, padded, loss on its tokens.

import { Rng, Tensor, backward } from '../../src/engine/index.js';
import { modelConfig } from '../../src/models/config.js';
import { Transformer } from '../../src/models/transformer.js';
import { END_OF_TEXT, trainBpe, type Tokenizer } from '../../src/data/index.js';
import { buildFactWorld, editRequests, factCorpus, type EditRequest, type FactWorld } from '../../src/data/fact-world.js';
import { AdamW } from '../../src/training/optimizers.js';

export interface FactModel { model: Transformer; tokenizer: Tokenizer; world: FactWorld; requests: EditRequest[]; docs: string[]; finalLoss: number }

export function trainFactModel(o: { steps?: number; seed?: number } = {}): FactModel {
  const world = buildFactWorld({ seed: 4, people: 6, cities: 4, countries: 2, companies: 3 });
  const docs = factCorpus(world);
  const tokenizer = trainBpe(docs, { vocabSize: 400, specialTokens: [END_OF_TEXT] });
  const eot = tokenizer.specialId(END_OF_TEXT)!;
  const enc = docs.map((d) => [eot, ...tokenizer.encode(d), eot]);
  const T = Math.max(...enc.map((e) => e.length)) - 1;
  const model = new Transformer(modelConfig('gpt2', { vocabSize: tokenizer.vocabSize, nCtx: 32, dModel: 48, nLayer: 3, nHead: 2 }), { seed: o.seed ?? 1 });
  const opt = new AdamW(model.params, { weightDecay: 0 });
  const rng = new Rng(7 + (o.seed ?? 1));
  let finalLoss = Number.NaN;
  const steps = o.steps ?? 200, B = 16;
  for (let step = 0; step < steps; step++) {
    const ids = new Int32Array(B * T).fill(eot), targets = new Int32Array(B * T).fill(-1);
    for (let b = 0; b < B; b++) {
      const e = enc[rng.int(enc.length)];
      for (let i = 0; i < e.length - 1; i++) { ids[b * T + i] = e[i]; targets[b * T + i] = e[i + 1]; }
    }
    const { loss } = model.forward(new Tensor(ids, [B, T]), { targets: new Tensor(targets, [B, T]) });
    model.zeroGrad();
    backward(loss!);
    opt.step(step < 20 ? 1e-2 * (step + 1) / 20 : 1e-2);
    finalLoss = loss!.item();
  }
  model.zeroGrad();
  return { model, tokenizer, world, requests: editRequests(world, 4, { seed: 1, neighbors: 3, unrelated: 2 }), docs, finalLoss };
}
