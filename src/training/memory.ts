// Pre-flight memory estimates: what a training run or a sampling call will hold at its peak,
// compared with the machine's memory before anything is built, so a config that cannot fit is
// refused at once with the estimate in the message, instead of swapping or being killed hours in.
// The estimates are deliberately simple upper-end counts of float32 buffers (the step's buffer
// pool keeps roughly one copy of each activation and one of its gradient), not measurements.
// WINDTUNNEL_MEMORY_BYTES stands in for the machine's memory (a shared machine, tests).

import { totalmem } from 'node:os';
import { UsageError } from '../base/errors.js';
import { countParams, layerPlan, mixerOptionsOf, type ModelConfig } from '../models/config.js';
import type { AttentionMixerOptions } from '../models/mixers/index.js';
import type { TrainConfig } from './config.js';

const F32 = 4;
/** Node, the addon and the code itself. */
const BASELINE_BYTES = 300 * 2 ** 20;

export interface MemoryEstimate {
  /** Peak bytes in all. */
  total: number;
  /** Named parts of it, in bytes. */
  parts: Record<string, number>;
}

/** Weights, gradients, optimizer state and one micro-batch's activations (forward and backward). */
export function estimateTrainMemory(c: Pick<TrainConfig, 'model' | 'batchSize' | 'context' | 'optimizer'>): MemoryEstimate {
  const m = c.model;
  const P = countParams(m).total;
  const N = c.batchSize * c.context; // tokens per micro-batch
  const optimizerCopies = c.optimizer === 'sgd' ? 1 : 2;
  const perLayer = N * (10 * m.dModel + 3 * (m.dMlp ?? 4 * m.dModel));
  const activations = 2 * F32 * (2 * N * m.dModel + m.nLayer * perLayer + mixerScores(m, c.batchSize, c.context) + 3 * N * m.vocabSize);
  const parts = {
    'weights': F32 * P,
    'gradients': F32 * P,
    'optimizer state': F32 * P * optimizerCopies,
    'activations': activations,
    'runtime': BASELINE_BYTES,
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}

/**
 * Attention's score tiles, summed over the blocks: T x T per head for dense attention, T x window
 * for a sliding window; the recurrent mixers have none (their state is [Dk, Dv] per head, counted
 * with the other activations).
 */
function mixerScores(m: TrainConfig['model'], B: number, T: number): number {
  const window = mixerOptionsOf<AttentionMixerOptions>(m, 'attention').window;
  const attentionBlocks = layerPlan(m).filter((l) => l.mixer === 'attention').length;
  return attentionBlocks * 2 * B * m.nHead * T * Math.min(T, window ?? T);
}

/** Weights, the KV cache (at most nCtx positions) and the generated tokens and their text. */
export function estimateSampleMemory(m: ModelConfig, maxNewTokens: number, promptTokens = 0, batch = 1): MemoryEstimate {
  const parts = {
    'weights': F32 * countParams(m).total,
    'KV cache': F32 * 2 * m.nLayer * batch * m.nCtx * m.dModel,
    'logits': F32 * 3 * batch * m.nCtx * m.vocabSize,
    'generated tokens': batch * (promptTokens + maxNewTokens) * 24, // a JS number each, and its decoded text
    'runtime': BASELINE_BYTES,
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}

/** The memory a run may count on: WINDTUNNEL_MEMORY_BYTES, else the machine's total. */
export function machineMemory(): number {
  const v = Number(process.env.WINDTUNNEL_MEMORY_BYTES);
  return process.env.WINDTUNNEL_MEMORY_BYTES !== undefined && Number.isFinite(v) && v > 0 ? v : totalmem();
}

export const fmtBytes = (n: number): string => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.max(1, Math.round(n / 2 ** 20))} MiB`);

/** Throws a UsageError (nothing has run) when `copies` of the estimate do not fit in memory. */
export function checkMemory(what: string, e: MemoryEstimate, copies = 1, advice = ''): void {
  const limit = machineMemory();
  if (e.total * copies <= limit) return;
  const parts = Object.entries(e.parts).filter(([, b]) => b > 0).map(([k, b]) => `${k} ${fmtBytes(b)}`).join(', ');
  throw new UsageError(`${what} needs about ${fmtBytes(e.total * copies)}${copies > 1 ? ` (${copies} x ${fmtBytes(e.total)})` : ''} of memory ` +
    `(estimate: ${parts}), more than the ${fmtBytes(limit)} this machine has${process.env.WINDTUNNEL_MEMORY_BYTES ? ' (WINDTUNNEL_MEMORY_BYTES)' : ''}` +
    `${advice ? `; ${advice}` : ''}`);
}
