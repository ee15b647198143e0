// `windtunnel bench mixers`: training and generation throughput and peak memory of every token
// mixer at the same width and depth, over sequence lengths, and the length at which each
// efficient mixer overtakes full attention.
//
// Each (mixer, length, phase) runs in its own child process (mixer-bench-child.ts), so its
// peak resident memory is its own: a process's peak only grows, and one long attention case
// would otherwise hide every later case's memory. The model is the LLaMA layout (rotary,
// RMSNorm, SwiGLU MLP) with `mixer` set for every block; training steps hold about
// `tokensPerStep` tokens (batch = tokensPerStep / T, at least one sequence), so tokens/s
// compare the same work per step across lengths; generation prefills T - decodeTokens tokens
// of one sequence and times decodeTokens single-token steps through the cache.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BufferPool, Tensor, backend, noGrad, tensor } from '../engine/index.js';
import { Rng } from '../base/random.js';
import { mixerNames } from '../models/mixers/index.js';
import { KVCache, Transformer } from '../models/transformer.js';
import { AdamW } from './optimizers.js';

export interface MixerBenchOptions {
  mixers: string[];
  lengths: number[];
  dModel: number;
  nLayer: number;
  nHead: number;
  vocab: number;
  /** Tokens per training step (batch = max(1, round(tokensPerStep / T))). */
  tokensPerStep: number;
  /** Timed steps stop after this many seconds (at least one step, at most maxSteps). */
  minSeconds: number;
  maxSteps: number;
  /** Tokens decoded one at a time after the prefill. */
  decodeTokens: number;
}

export const defaultMixerBenchOptions = (): MixerBenchOptions => ({
  // rwkvChannel is the FFN half of an RWKV block, not a mixer to compare on its own.
  mixers: mixerNames().filter((n) => n !== 'rwkvChannel'),
  lengths: [256, 1024, 4096, 16384],
  dModel: 64, nLayer: 2, nHead: 4, vocab: 256, tokensPerStep: 4096, minSeconds: 2, maxSteps: 5, decodeTokens: 16,
});

export interface MixerBenchCase { mixer: string; T: number; phase: 'train' | 'generate'; o: MixerBenchOptions }

export interface MixerBenchLine {
  kind: 'case'; mixer: string; T: number; phase: 'train' | 'generate';
  params: number; batch: number;
  /** Training: tokens per second over the timed steps. Generation: decoded tokens per second. */
  tokens_per_s: number;
  /** Training: ms per step. Generation: ms per decoded token. */
  ms_per_unit: number;
  steps: number;
  /**
   * Tokens per second of this process's CPU time (user + system, all threads) over the same
   * timed section: on a shared, loaded machine wall time counts the time spent waiting for a
   * core, CPU time mostly does not, so this is the steadier figure to compare mixers by.
   */
  tokens_per_cpu_s: number;
  /** Generation: prefill tokens per second and the cache's floats after T tokens. */
  prefill_tokens_per_s?: number;
  state_floats?: number;
  peak_rss_mb: number;
  /** Resident memory of the child before the model was built (node and the addon). */
  base_rss_mb: number;
  backend: string; threads: number; isa: string;
}

export interface MixerCrossoverLine {
  kind: 'crossover'; mixer: string; phase: 'train' | 'generate';
  /** The figure compared: wall-clock tokens/s or tokens per CPU-second. */
  metric: 'tokens_per_s' | 'tokens_per_cpu_s';
  /** Smallest measured length from which on the mixer is faster than attention; null if never. */
  overtakes_at: number | null;
  /** Length where the two curves cross, interpolated in log T between the measured lengths around it. */
  crossover_estimate: number | null;
  /** tokens/s against attention's at each measured length. */
  speedup: Record<string, number>;
}

const rssMb = () => process.resourceUsage().maxRSS / 1024;
/** Seconds of CPU time (user + system, every thread) since `from`. */
const cpuSince = (from: NodeJS.CpuUsage) => { const u = process.cpuUsage(from); return (u.user + u.system) / 1e6; };

function model(c: MixerBenchCase): Transformer {
  const { o } = c;
  return new Transformer({
    vocabSize: o.vocab, nCtx: c.T, dModel: o.dModel, nLayer: o.nLayer, nHead: o.nHead,
    mlp: 'swiglu', mlpRatio: 4, geluApproximate: 'none', norm: 'rmsnorm', normEps: 1e-6, positions: 'rotary',
    tiedEmbeddings: false, bias: false, dropout: 0, initStd: 0.02, scaledResidualInit: false,
    ...(c.mixer === 'attention' ? {} : { mixer: c.mixer }),
  }, { seed: 0 });
}

/** One case, measured in this process (the child calls it). */
export function runMixerBenchCase(c: MixerBenchCase): MixerBenchLine {
  const base = rssMb();
  const { o, T } = c;
  const m = model(c);
  const rng = new Rng(1);
  const idsOf = (B: number, n: number) => tensor(Int32Array.from({ length: B * n }, () => rng.scaledInt(o.vocab)), [B, n]);
  const common = { kind: 'case' as const, mixer: c.mixer, T, phase: c.phase, params: m.numParams(), backend: backend().name, threads: backend().threads(), isa: backend().isa() };
  if (c.phase === 'train') {
    const B = Math.max(1, Math.round(o.tokensPerStep / T));
    const x = idsOf(B, T), y = idsOf(B, T);
    const opt = new AdamW(m.params, { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, noDecay: { patterns: [], minDecayDims: 2 } });
    const pool = new BufferPool();
    const step = () => pool.run(() => {
      const { loss } = m.forward(x, { targets: y as Tensor });
      opt.zeroGrad();
      loss!.backward();
      opt.step(1e-3);
      return loss!.item();
    });
    step(); // warm-up: buffers, pool, BLAS
    let steps = 0;
    const t0 = performance.now(), c0 = process.cpuUsage();
    while (steps < o.maxSteps && (steps === 0 || performance.now() - t0 < o.minSeconds * 1000)) { step(); steps++; }
    const s = (performance.now() - t0) / 1000, cpu = cpuSince(c0);
    return { ...common, batch: B, tokens_per_s: (B * T * steps) / s, ms_per_unit: (s * 1000) / steps, steps, tokens_per_cpu_s: (B * T * steps) / cpu, peak_rss_mb: rssMb(), base_rss_mb: base };
  }
  const G = Math.min(o.decodeTokens, T - 1);
  const prompt = idsOf(1, T - G), next = idsOf(1, G);
  return noGrad(() => {
    const cache = new KVCache(m.config.nLayer);
    const p0 = performance.now();
    m.forward(prompt, { kvCache: cache, lastLogitsOnly: true });
    const prefill = (performance.now() - p0) / 1000;
    const t0 = performance.now(), c0 = process.cpuUsage();
    for (let i = 0; i < G; i++) m.forward(new Tensor(next.i.subarray(i, i + 1), [1, 1]), { kvCache: cache });
    const s = (performance.now() - t0) / 1000, cpu = cpuSince(c0);
    return {
      ...common, batch: 1, tokens_per_s: G / s, ms_per_unit: (s * 1000) / G, steps: G, tokens_per_cpu_s: G / cpu,
      prefill_tokens_per_s: (T - G) / prefill, state_floats: cache.floats(), peak_rss_mb: rssMb(), base_rss_mb: base,
    };
  });
}

/** The command that runs a case in a child: compiled JS next to this file, else this TypeScript through tsx. */
function childCommand(): string[] {
  if (import.meta.url.endsWith('.js')) return [process.execPath, fileURLToPath(new URL('./mixer-bench-child.js', import.meta.url))];
  return [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./mixer-bench-child.ts', import.meta.url))];
}

/** Runs one case in a fresh child process and returns its line. */
export function runMixerBenchChild(c: MixerBenchCase): MixerBenchLine {
  const [cmd, ...args] = childCommand();
  const r = spawnSync(cmd, [...args, JSON.stringify(c)], { encoding: 'utf8', maxBuffer: 1 << 20, env: process.env });
  if (r.status !== 0) throw new Error(`bench mixers: the ${c.mixer} T=${c.T} ${c.phase} case failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as MixerBenchLine;
}

/** Where each mixer's tokens/s curve crosses attention's, per phase. */
export function mixerCrossovers(lines: MixerBenchLine[]): MixerCrossoverLine[] {
  const out: MixerCrossoverLine[] = [];
  for (const metric of ['tokens_per_cpu_s', 'tokens_per_s'] as const) for (const phase of ['train', 'generate'] as const) {
    const rate = (mixer: string) => new Map(lines.filter((l) => l.phase === phase && l.mixer === mixer).map((l) => [l.T, l[metric]]));
    const att = rate('attention');
    if (!att.size) continue;
    for (const mixer of [...new Set(lines.map((l) => l.mixer))].filter((n) => n !== 'attention')) {
      const mine = rate(mixer);
      const Ts = [...mine.keys()].filter((T) => att.has(T)).sort((a, b) => a - b);
      if (!Ts.length) continue;
      const ratio = (T: number) => mine.get(T)! / att.get(T)!;
      let from: number | null = null;
      for (let i = Ts.length - 1; i >= 0 && ratio(Ts[i]) > 1; i--) from = Ts[i];
      let estimate: number | null = null;
      if (from !== null) {
        const i = Ts.indexOf(from);
        if (i === 0) estimate = from; // already faster at the shortest length measured
        else {
          // log-linear interpolation of log(ratio) between the last slower and the first faster length
          const a = Ts[i - 1], b = from, ra = Math.log(ratio(a)), rb = Math.log(ratio(b));
          estimate = Math.round(Math.exp(Math.log(a) + ((0 - ra) / (rb - ra)) * (Math.log(b) - Math.log(a))));
        }
      }
      out.push({ kind: 'crossover', mixer, phase, metric, overtakes_at: from, crossover_estimate: estimate, speedup: Object.fromEntries(Ts.map((T) => [String(T), Number(ratio(T).toFixed(3))])) });
    }
  }
  return out;
}
