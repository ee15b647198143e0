// Training-throughput benchmark, the twin of ../shared/bench/torch_gpt_ref.py: the same
// nanoGPT-style model (learned positions, pre-LayerNorm, fused qkv with biases, 4x exact
// GELU MLP, final LayerNorm, head tied to the token embedding), the same init (N(0, 0.02)
// matrices and embeddings, LayerNorm weight 1, biases 0), AdamW(lr 1e-3, betas 0.9/0.999,
// weight decay 0.01 on every parameter, as torch.optim.AdamW does by default), one fixed
// random batch, 3 warm-up steps then `timed_steps` timed ones, and the same FLOP formula.
// It prints the peer's keys, so the two lines compare field by field.

import { BufferPool, backend, tensor, Tensor } from '../engine/index.js';
import { Rng } from '../base/random.js';
import { Transformer } from '../models/transformer.js';
import { AdamW } from './optimizers.js';

export interface PeerConfig {
  vocab: number; ctx: number; d_model: number; n_layer: number; n_head: number; batch: number; timed_steps: number;
}

export interface TrainBenchLine {
  config: string; params: number; tokens_per_s: number; ms_per_step: number; model_gflops: number;
  loss: number; first_loss: number; threads: number; sgemm_gflops: number; mfu_vs_sgemm: number;
  peak_rss_mb: number; backend: string;
}

export function benchTrain(name: string, c: PeerConfig, sgemmGflops: number): TrainBenchLine {
  const model = new Transformer({
    vocabSize: c.vocab, nCtx: c.ctx, dModel: c.d_model, nLayer: c.n_layer, nHead: c.n_head,
    mlp: 'gelu', mlpRatio: 4, geluApproximate: 'none', norm: 'layernorm', normEps: 1e-5,
    positions: 'learned', tiedEmbeddings: true, bias: true, dropout: 0, initStd: 0.02, scaledResidualInit: false,
  }, { seed: 0 });
  const opt = new AdamW(model.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, noDecay: { patterns: [], minDecayDims: 0 } });
  const N = model.numParams();
  const rng = new Rng(0);
  const B = c.batch, T = c.ctx;
  const ids = tensor(Int32Array.from({ length: B * T }, () => rng.scaledInt(c.vocab)), [B, T]);
  const tgt = tensor(Int32Array.from({ length: B * T }, () => rng.scaledInt(c.vocab)), [B, T]);

  const pool = new BufferPool();
  const step = (): number => pool.run(() => {
    const { loss } = model.forward(ids, { targets: tgt as Tensor });
    opt.zeroGrad();
    loss!.backward();
    opt.step(1e-3);
    return loss!.item();
  });

  const first = step();
  for (let i = 0; i < 2; i++) step();
  let loss = first;
  const t0 = performance.now();
  for (let i = 0; i < c.timed_steps; i++) loss = step();
  const dt = (performance.now() - t0) / 1000 / c.timed_steps;
  const toks = B * T;
  const flopsPerToken = 6 * (N - T * c.d_model) + 12 * c.n_layer * T * c.d_model;
  const gf = (flopsPerToken * toks) / dt / 1e9;
  return {
    config: name, params: N, tokens_per_s: toks / dt, ms_per_step: dt * 1e3, model_gflops: gf,
    loss, first_loss: first, threads: backend().threads(), sgemm_gflops: sgemmGflops,
    mfu_vs_sgemm: gf / sgemmGflops, peak_rss_mb: process.resourceUsage().maxRSS / 1024, backend: backend().name,
  };
}
