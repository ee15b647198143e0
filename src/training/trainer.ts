// The training loop, independent of the CLI: given a model, an optimizer, an lr schedule, a batch
// sampler and a run directory, it takes optimizer steps (gradient accumulation, clipping folded
// into the fused update), evaluates, checkpoints, logs metrics and reports progress as events.
//
// Exact resume: everything a step depends on is either a pure function of the step (the lr) or
// saved in the checkpoint (weights, optimizer buffers and step count, sampler and RNG states), and
// every kernel is deterministic, so N steps + stop + resume N more reproduces 2N straight steps
// bit for bit. Evaluation runs without dropout and from a fresh iterator, so it changes nothing.
// A muP model's base shapes are saved too, and a resume into a model with other ones is refused.
//
// Stopping: a NaN/Inf loss stops the run before its backward pass, naming the step and the first
// op that produced a non-finite value; nothing is saved, so `latest` stays the last good
// checkpoint. requestStop() (e.g. from a SIGINT handler) ends the run at the next step boundary
// with a final checkpoint; the loop yields to the event loop after every step so handlers can run.

import { mkdirSync } from 'node:fs';
import { BufferPool, findFirstNonFinite, type Tensor } from '../engine/index.js';
import type { Batch } from '../data/index.js';
import { accumulateGradients, batchRows, clipGradients, globalGradNorm, noiseScaleEstimates } from './grads.js';
import type { Optimizer } from './optimizers.js';
import { ScheduleConfig, createSchedule, type ScheduleInput } from './schedules.js';
import { checkBaseShapes, currentEngine, matchSavedEngine, latestStep, listCheckpoints, loadCheckpoint, restoreParams, saveCheckpoint, type CheckpointState } from './checkpoint.js';
import { MetricsWriter } from './metrics.js';
import { RunFolder } from './run-folder.js';
import type { Lock } from '../base/lockfile.js';
import { batchLoss, evaluate, type EvalResult, type TrainableModel } from './evaluate.js';

/** A sampler the trainer can checkpoint (the data layer's samplers are these). */
export interface BatchSampler {
  next(): Batch;
  state(): unknown;
  setState(s: unknown): void;
}

/** Anything with a saveable state (engine and data RNGs). */
export interface Stateful {
  state(): unknown;
  setState(s: unknown): void;
}

export interface RunSchedule {
  config: ScheduleInput;
  /** Peak learning rate. */
  lr: number;
  totalSteps: number;
}

export interface TrainerOptions {
  runDir: string;
  model: TrainableModel;
  optimizer: Optimizer;
  /** Required for a fresh run; a resumed run follows its checkpoint's schedule unless one is given. */
  schedule?: RunSchedule;
  train: BatchSampler;
  /** Held-out data: a fresh iterator of batches per evaluation (e.g. the data layer's evalBatches). */
  eval?: { batches: () => Iterable<Batch>; bytesPerToken?: number };
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Max global gradient norm; null or 0: no clipping (default 1). */
  clip?: number | null;
  /**
   * Log the gradient noise scale every N steps (McCandlish et al. 2018, grads.ts
   * noiseScaleEstimates): the step's gradient over its first micro-batch (small) and over the
   * whole step (big). With one micro-batch per step the measured step's batch (an even number
   * of rows) is split in two equal halves, each a backward pass at half weight, so the update is the same gradient up to float
   * rounding and only the metric is extra. Logged on that step's train line: gns_small,
   * gns_big (examples), gns_small_sq, gns_big_sq, gns_grad_sq, gns_trace, gns_b_simple.
   */
  noiseScaleEvery?: number;
  /** Evaluate every N steps (0: only at the end; default 0). */
  evalInterval?: number;
  /** Checkpoint every N steps (0: only at the end and on stop; default 0). */
  checkpointInterval?: number;
  /** Checkpoints kept (0: all; default 3). */
  keepCheckpoints?: number;
  /** Metrics line every N steps (default 1); the last step is always logged. */
  logInterval?: number;
  /** Text samples at a step, logged every sampleInterval steps and at the end; must not touch the training RNGs or sampler. */
  sample?: (step: number) => { prompt: string; text: string }[];
  /** Samples every N steps (0: only at the end, when `sample` is given; default 0). */
  sampleInterval?: number;
  /** Also sample at step 0, before training (a fresh run only). */
  sampleAtStart?: boolean;
  /** Measurements of the model logged as {type: 'diagnostics'} lines every diagnosticsInterval steps and at the end; must not touch the training RNGs or sampler. */
  diagnostics?: (step: number) => Record<string, number>;
  /** Diagnostics every N steps (0: only at the end, when `diagnostics` is given; default 0). */
  diagnosticsInterval?: number;
  /** Extra RNG states to checkpoint by name; the model's dropoutRng is included as 'model.dropout'. */
  rngs?: Record<string, Stateful>;
  /** The resolved run config, stored in config.json and in every checkpoint. */
  config?: unknown;
  /** false: a fresh run (refused if the run dir has checkpoints); true or 'latest': resume from latest;
   *  a number: resume from that step; 'auto': resume if there is a checkpoint, else start fresh. */
  resume?: boolean | 'latest' | 'auto' | number;
  onEvent?: (e: TrainerEvent) => void;
  /** The user chose the thread count (default: WINDTUNNEL_THREADS is set); a resume then keeps it, with a warning if it differs from the checkpoint's. */
  threadsForced?: boolean;
  /** The run folder's lock, when the caller holds it already (else run() takes it). */
  lock?: Lock;
}

export type TrainerEvent =
  | { type: 'start'; step: number; totalSteps: number; resumedFrom: number | null }
  | { type: 'step'; step: number; totalSteps: number; loss: number; lr: number; gradNorm: number; clipped: boolean;
      tokens: number; tokensPerSec: number; elapsedSec: number; etaSec: number }
  | ({ type: 'eval'; step: number } & EvalResult)
  | { type: 'checkpoint'; step: number; dir: string }
  | { type: 'end'; result: TrainResult }
  /** Something the user should know that does not stop the run (e.g. a resume that will not be bitwise exact). */
  | { type: 'warning'; message: string };

export interface TrainResult {
  status: 'completed' | 'stopped' | 'diverged';
  /** Optimizer steps completed. */
  step: number;
  tokensSeen: number;
  /** Step of the newest checkpoint on disk (`latest`), if any. */
  lastCheckpoint: number | null;
  /** Why a diverged run stopped. */
  error?: NonFiniteError;
}

/** A NaN/Inf loss or gradient norm; `step` is the 1-based step (as in metrics) that produced it. */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    readonly what: 'loss' | 'gradient norm',
    readonly value: number,
    readonly origin: ReturnType<typeof findFirstNonFinite>,
    readonly micro: number | null,
    lastCheckpoint: string,
  ) {
    const where = origin
      ? origin.op === 'leaf'
        ? `; the input tensor ${origin.name ?? ''} [${origin.shape.join(', ')}] already holds NaN/Inf (a parameter went bad)`
        : `; first non-finite value from op '${origin.op}' -> [${origin.shape.join(', ')}] with finite inputs ${origin.inputShapes.map((s) => `[${s.join(', ')}]`).join(', ')}${origin.name ? ` (${origin.name})` : ''}`
      : what === 'loss' ? '; no op in the graph produced it (the loss op itself?)' : '';
    super(`${what} is ${value} at step ${step}${micro !== null ? ` (micro-batch ${micro + 1})` : ''}${where}. Run stopped; ${lastCheckpoint}.`);
    this.name = 'NonFiniteError';
  }
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

export class Trainer {
  private stopRequested = false;
  private readonly o: Required<Pick<TrainerOptions, 'gradAccum' | 'evalInterval' | 'checkpointInterval' | 'keepCheckpoints' | 'logInterval' | 'sampleInterval' | 'noiseScaleEvery' | 'diagnosticsInterval'>> & TrainerOptions;

  constructor(opts: TrainerOptions) {
    this.o = { gradAccum: 1, evalInterval: 0, checkpointInterval: 0, keepCheckpoints: 3, logInterval: 1, sampleInterval: 0, noiseScaleEvery: 0, diagnosticsInterval: 0, ...opts };
    for (const k of ['gradAccum', 'logInterval'] as const) {
      if (!Number.isInteger(this.o[k]) || this.o[k] < 1) throw new Error(`Trainer: ${k} must be a positive integer, got ${this.o[k]}`);
    }
    for (const k of ['evalInterval', 'checkpointInterval', 'keepCheckpoints', 'sampleInterval', 'noiseScaleEvery', 'diagnosticsInterval'] as const) {
      if (!Number.isInteger(this.o[k]) || this.o[k] < 0) throw new Error(`Trainer: ${k} must be a non-negative integer, got ${this.o[k]}`);
    }
  }

  /** Ends the run at the next step boundary, with a checkpoint. Safe to call from a signal handler. */
  requestStop(): void {
    this.stopRequested = true;
  }

  private rngs(): Record<string, Stateful> {
    const r: Record<string, Stateful> = {};
    if (this.o.model.dropoutRng) r['model.dropout'] = this.o.model.dropoutRng;
    return { ...r, ...this.o.rngs };
  }

  /**
   * Trains to the end of the schedule (or until stopped). Holds the run folder's lock meanwhile
   * (options.lock when the caller took it already), so no second process writes the folder.
   */
  async run(): Promise<TrainResult> {
    const resuming = this.o.resume !== undefined && this.o.resume !== false && this.o.resume !== 'auto';
    const lock = this.o.lock ?? new RunFolder(this.o.runDir).lock(undefined, { mustExist: resuming });
    try {
      return await this.runLocked();
    } finally {
      if (!this.o.lock) lock.release();
    }
  }

  private async runLocked(): Promise<TrainResult> {
    const o = this.o;
    const { model, optimizer, runDir } = o;
    const params = model.params;

    // ---- start or resume ----
    let step = 0, tokensSeen = 0, elapsedBefore = 0;
    let schedule = o.schedule;
    let resumedFrom: number | null = null;
    let engineWarning: string | null = null;
    const which = o.resume === 'auto' ? (latestStep(runDir) === null ? false : 'latest') : o.resume === true ? 'latest' : (o.resume ?? false);
    if (which !== false) {
      const ck = loadCheckpoint(runDir, which);
      engineWarning = matchSavedEngine(ck.state.engine, o.threadsForced ?? process.env.WINDTUNNEL_THREADS !== undefined);
      checkBaseShapes(ck.state.baseShapes, model.baseShapes?.() ?? null, ck.dir);
      restoreParams(params, ck.model);
      optimizer.setState(ck.optimizer);
      const sampler = ck.state.samplers.train;
      if (sampler === undefined) throw new Error(`resume: ${ck.dir} has no train sampler state`);
      o.train.setState(sampler);
      for (const [name, r] of Object.entries(this.rngs())) {
        if (!(name in ck.state.rngs)) throw new Error(`resume: ${ck.dir} has no state for RNG "${name}" (saved: ${Object.keys(ck.state.rngs).join(', ') || 'none'})`);
        r.setState(ck.state.rngs[name]);
      }
      step = ck.step;
      tokensSeen = ck.state.tokensSeen;
      elapsedBefore = ck.state.elapsedSec;
      schedule ??= ck.state.schedule ?? undefined;
      resumedFrom = step;
    } else {
      const existing = listCheckpoints(runDir);
      if (existing.length) throw new Error(`Trainer: ${runDir} already has checkpoints (steps ${existing.join(', ')}); resume it (resume: true) or use a new run dir`);
    }
    if (!schedule) throw new Error('Trainer: no schedule given (a fresh run needs options.schedule)');
    const lrAt = createSchedule(schedule.config, schedule.lr, schedule.totalSteps);
    const runSchedule = { config: schedule.config, lr: schedule.lr, totalSteps: schedule.totalSteps };
    const total = schedule.totalSteps;

    const folder = new RunFolder(runDir);
    mkdirSync(runDir, { recursive: true });
    if (resumedFrom === null && o.config !== undefined) folder.writeConfig(o.config);
    const metrics = new MetricsWriter(folder.metricsPath, resumedFrom);
    let lastSaved: number | null = resumedFrom;
    const sessionStart = performance.now();
    const sessionStep0 = step;
    const elapsed = () => elapsedBefore + (performance.now() - sessionStart) / 1000;
    const emit = (e: TrainerEvent) => o.onEvent?.(e);

    const baseShapes = model.baseShapes?.() ?? null;
    const save = () => {
      const state: Omit<CheckpointState, 'version' | 'step' | 'optimizer' | 'savedAt'> = {
        tokensSeen, elapsedSec: elapsed(),
        schedule: { ...runSchedule, config: ScheduleConfig.parse(runSchedule.config) },
        rngs: Object.fromEntries(Object.entries(this.rngs()).map(([k, r]) => [k, r.state()])),
        samplers: { train: o.train.state() },
        config: o.config ?? null,
        engine: currentEngine(),
        ...(baseShapes ? { baseShapes } : {}),
      };
      const dir = saveCheckpoint(runDir, step, params, optimizer, state, { keep: o.keepCheckpoints });
      lastSaved = step;
      emit({ type: 'checkpoint', step, dir });
    };
    const runEval = () => {
      if (!o.eval) return;
      const r = evaluate(model, o.eval.batches(), o.eval.bytesPerToken);
      metrics.log({
        type: 'eval', step, tokens: tokensSeen, loss: r.loss, perplexity: r.perplexity,
        ...(r.bitsPerByte !== undefined ? { bits_per_byte: r.bitsPerByte } : {}), time: elapsed(),
      });
      emit({ type: 'eval', step, ...r });
    };
    const finish = (result: Omit<TrainResult, 'lastCheckpoint'>): TrainResult => {
      metrics.close();
      const full = { ...result, lastCheckpoint: latestStep(runDir) };
      emit({ type: 'end', result: full });
      return full;
    };
    const goodCheckpoint = () => (lastSaved === null ? 'no checkpoint was written' : `latest is still ckpt-${latestStep(runDir)} in ${runDir}`);

    emit({ type: 'start', step, totalSteps: total, resumedFrom });
    if (engineWarning) emit({ type: 'warning', message: engineWarning });

    if (o.sample && o.sampleAtStart && step === 0) metrics.log({ type: 'samples', step, samples: o.sample(step) });

    // ---- the loop ----
    const pool = new BufferPool();
    try {
      while (step < total && !this.stopRequested) {
        const lr = lrAt(step);
        const t0 = performance.now();
        let stepTokens = 0;
        // A noise-scale step with one micro-batch is taken as two halves of the same batch.
        const measure = o.noiseScaleEvery > 0 && (step + 1) % o.noiseScaleEvery === 0;
        const split = measure && o.gradAccum === 1;
        let whole: Batch | null = null;
        let rows = 0, smallRows = 0, smallSq = NaN;
        // Everything allocated for this step's activations and gradients is recycled by the
        // pool for the next one; only numbers leave this block.
        const { loss, clip } = pool.run(() => {
          optimizer.zeroGrad();
          for (const t of params.values()) t.grad = null; // parameters outside the optimizer (frozen) too
          const micros = split ? 2 : o.gradAccum;
          const meanLoss = accumulateGradients(micros, (k) => {
            let b: Batch;
            if (split) {
              whole ??= o.train.next();
              if (whole.B % 2 !== 0) throw new Error(`noise scale: a step of ${whole.B} sequences cannot be split in two equal halves; use an even batchSize or gradAccum >= 2`);
              const half = Math.floor(whole.B / 2);
              b = k === 0 ? batchRows(whole, 0, half) : batchRows(whole, half, whole.B);
            } else b = o.train.next();
            stepTokens += b.B * b.T;
            rows += b.B;
            if (k === 0) smallRows = b.B;
            return batchLoss(model, b, true);
          }, (l: Tensor, micro: number) => {
            const v = l.item();
            if (!Number.isFinite(v)) throw new NonFiniteError(step + 1, 'loss', v, findFirstNonFinite(l), o.gradAccum > 1 ? micro : null, goodCheckpoint());
          }, (k) => {
            // After the first micro-batch the gradient holds its own gradient / micros.
            if (measure && k === 0) smallSq = (globalGradNorm(optimizer.params) * micros) ** 2;
          });
          const c = clipGradients(optimizer.params, o.clip === undefined ? 1 : o.clip);
          if (!Number.isFinite(c.norm)) throw new NonFiniteError(step + 1, 'gradient norm', c.norm, null, null, goodCheckpoint());
          optimizer.step(lr, { gradScale: c.scale });
          for (const t of params.values()) t.grad = null; // the pooled gradient buffers are reused next step
          return { loss: meanLoss, clip: c };
        });
        step++;
        tokensSeen += stepTokens;
        const dt = (performance.now() - t0) / 1000;
        const tokensPerSec = dt > 0 ? stepTokens / dt : 0;
        const secPerStep = (performance.now() - sessionStart) / 1000 / (step - sessionStep0);
        if (step % o.logInterval === 0 || step === total || measure) {
          let gns = {};
          if (measure) {
            const bigSq = clip.norm ** 2;
            const e = noiseScaleEstimates(smallRows, smallSq, rows, bigSq);
            gns = { gns_small: smallRows, gns_big: rows, gns_small_sq: smallSq, gns_big_sq: bigSq, gns_grad_sq: e.gradSq, gns_trace: e.trace, gns_b_simple: e.bSimple };
          }
          metrics.log({
            type: 'train', step, tokens: tokensSeen, loss, lr, grad_norm: clip.norm, clipped: clip.clipped,
            time: elapsed(), tokens_per_s: tokensPerSec, ...gns,
          });
        }
        emit({
          type: 'step', step, totalSteps: total, loss, lr, gradNorm: clip.norm, clipped: clip.clipped,
          tokens: tokensSeen, tokensPerSec, elapsedSec: elapsed(), etaSec: secPerStep * (total - step),
        });
        if ((o.evalInterval > 0 && step % o.evalInterval === 0) || step === total) runEval();
        if (o.sample && ((o.sampleInterval > 0 && step % o.sampleInterval === 0) || step === total)) {
          metrics.log({ type: 'samples', step, samples: o.sample(step) });
        }
        if (o.diagnostics && ((o.diagnosticsInterval > 0 && step % o.diagnosticsInterval === 0) || step === total)) {
          metrics.log({ type: 'diagnostics', step, ...o.diagnostics(step) });
        }
        if ((o.checkpointInterval > 0 && step % o.checkpointInterval === 0) || step === total) save();
        await yieldToEventLoop();
      }
    } catch (e) {
      if (e instanceof NonFiniteError) return finish({ status: 'diverged', step, tokensSeen, error: e });
      metrics.close();
      throw e;
    }
    if (lastSaved !== step) save();
    return finish({ status: step >= total ? 'completed' : 'stopped', step, tokensSeen });
  }
}
