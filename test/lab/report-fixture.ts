// Synthetic results stores for the report and dashboard tests: sweeps of runs with plausible
// loss curves (a power law in the step, seed noise, spikes), a cosine learning rate, held-out
// evaluations, size estimates, and a failed and a running run. Deterministic (seeded).
import { Store, type NewRun } from '../../src/lab/results/store.js';

export interface SyntheticOptions {
  sweep?: string;
  lrs?: number[];
  widths?: number[];
  seeds?: number;
  steps?: number;
  /** Log every this many steps (default 1). */
  every?: number;
  /** Leave the last run 'running' with half its steps, and fail the one before it. */
  unfinished?: boolean;
  /** More config for the run at this index (bookkeeping keys that vary, say). */
  extraConfig?: (index: number) => Record<string, unknown>;
}

/** A small deterministic generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function lossAt(step: number, lr: number, width: number, noise: number): number {
  return 2 + (8 / Math.pow(step + 1, 0.35)) * (64 / width) ** 0.2 * (1 + 3 * Math.abs(Math.log10(lr / 3e-3)) * 0.1) + noise;
}

/** Adds a sweep lr x width x seeds to `store`; returns its run ids in sweep order. */
export function addSyntheticSweep(store: Store, o: SyntheticOptions = {}): string[] {
  const sweep = o.sweep ?? 'synth';
  const lrs = o.lrs ?? [1e-3, 3e-3], widths = o.widths ?? [32, 64], seeds = o.seeds ?? 2, steps = o.steps ?? 200, every = o.every ?? 1;
  store.saveSweep({ name: sweep, spec: { name: sweep, description: 'synthetic runs', seedKey: 'seed', grid: { 'optim.lr': lrs, 'model.dModel': widths }, seeds }, tags: ['synthetic'] });
  const runs: NewRun[] = [];
  for (const lr of lrs) for (const d of widths) for (let seed = 0; seed < seeds; seed++) {
    const params = 12 * 2 * d * d + 256 * d;
    runs.push({
      id: `${sweep}-${runs.length.toString().padStart(4, '0')}`, name: `lr=${lr}_dModel=${d}_seed=${seed}`, index: runs.length, tags: ['synthetic', `w${d}`],
      config: { model: { dModel: d, nLayer: 2 }, optim: { lr, kind: 'adamw' }, schedule: { kind: 'cosine' }, seed, steps, ...o.extraConfig?.(runs.length) },
      point: { 'optim.lr': lr, 'model.dModel': d, seed }, params, nonEmbeddingParams: params - 256 * d, tokens: steps * 4096, flops: 6 * params * steps * 4096,
    });
  }
  store.addRuns(sweep, runs);
  store.write(() => {
    runs.forEach((r, i) => {
      const cfg = r.config as { optim: { lr: number }; model: { dModel: number }; seed: number };
      const random = rng(i + 1000 * cfg.seed + 17);
      const last = o.unfinished && i === runs.length - 1, failed = o.unfinished && i === runs.length - 2;
      store.claim(r.id, 'synthetic');
      const upTo = last ? Math.floor(steps / 2) : failed ? Math.floor(steps / 3) : steps;
      const rows = [];
      for (let s = 1; s <= upTo; s += every) {
        const spike = random() < 0.01 ? 1.5 : 0;
        const lr = cfg.optim.lr * 0.5 * (1 + Math.cos((Math.PI * s) / steps));
        rows.push({ step: s, values: { loss: lossAt(s, cfg.optim.lr, cfg.model.dModel, 0.15 * (random() - 0.5) + spike), lr, tokens: s * 4096, grad_norm: 1 + random() } });
      }
      store.logMetrics(r.id, rows);
      const evals = [];
      for (let s = 50; s <= upTo; s += 50) evals.push({ step: s, split: 'val', values: { loss: lossAt(s, cfg.optim.lr, cfg.model.dModel, 0.05) + 0.05, perplexity: Math.exp(lossAt(s, cfg.optim.lr, cfg.model.dModel, 0.05)) } });
      store.logEvals(r.id, evals);
      if (failed) store.fail(r.id, 'Error: loss is NaN at step 66 (op: softmax)');
      else if (!last) store.finish(r.id);
    });
  });
  return runs.map((r) => r.id);
}
