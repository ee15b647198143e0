// Breaks a training step of a peer benchmark config into kernel times:
//   node --import tsx scripts/profile-step.ts tiny [steps]
import { readFileSync } from 'node:fs';
import { backend, withBackend, tensor } from '../src/engine/index.js';
import { profileBackend } from '../src/engine/profile.js';
import { Rng } from '../src/base/random.js';
import { Transformer } from '../src/models/transformer.js';
import { AdamW } from '../src/training/optimizers.js';

const name = process.argv[2] ?? 'tiny';
const steps = Number(process.argv[3] ?? 10);
const c = JSON.parse(readFileSync(new URL('../bench/peer-configs.json', import.meta.url), 'utf8'))[name];
const model = new Transformer({ vocabSize: c.vocab, nCtx: c.ctx, dModel: c.d_model, nLayer: c.n_layer, nHead: c.n_head, mlp: 'gelu', geluApproximate: 'none', norm: 'layernorm', positions: 'learned', tiedEmbeddings: true, bias: true }, { seed: 0 });
const opt = new AdamW(model.params, { weightDecay: 0.01, noDecay: { patterns: [], minDecayDims: 0 } });
const rng = new Rng(0);
const ids = tensor(Int32Array.from({ length: c.batch * c.ctx }, () => rng.int(c.vocab)), [c.batch, c.ctx]);
const tgt = tensor(Int32Array.from({ length: c.batch * c.ctx }, () => rng.int(c.vocab)), [c.batch, c.ctx]);
const step = () => { const { loss } = model.forward(ids, { targets: tgt }); opt.zeroGrad(); loss!.backward(); opt.step(1e-3); };
for (let i = 0; i < 3; i++) step();
const p = profileBackend(backend());
let wall = 0;
withBackend(p.backend, () => { const t0 = performance.now(); for (let i = 0; i < steps; i++) step(); wall = performance.now() - t0; });
console.log(p.report());
console.log(`wall per step ${(wall / steps).toFixed(1)} ms; kernels ${(p.stats().reduce((a, s) => a + s.ms, 0) / steps).toFixed(1)} ms`);
