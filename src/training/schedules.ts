// Learning-rate schedules as pure functions of the step. A schedule config (validated with
// zod) plus the peak lr and the run's total number of optimizer steps gives lr(step); no
// state, so a resumed or branched run computes the same lr from the step alone.
//
// Conventions, shared by every schedule:
//   step      0-based index of the optimizer update about to be taken (0 .. totalSteps-1).
//   lr        the peak learning rate; floor = lr * minLrRatio.
//   warm-up   for step < W: lr * (step + 1) / W. The first update already moves (a zero-lr
//             step would be wasted) and the last warm-up step, W - 1, reaches the peak.
//   decay     a phase that starts at step S and lasts D steps has progress p = (step - S) / D,
//             so step S is still at the peak and the floor is reached at step S + D (= totalSteps
//             for schedules that decay to the end); steps past the end stay at the floor.

import { z } from 'zod';

const steps = z.number().int().nonnegative();
const ratio = z.number().min(0).max(1);

/** constant: warm-up, then lr forever. */
export const ConstantSchedule = z.object({
  kind: z.literal('constant'),
  warmupSteps: steps.default(0),
}).strict();

/** cosine: warm-up, then lr_t = floor + (lr - floor) * 0.5 * (1 + cos(pi * p)), p over [W, totalSteps). */
export const CosineSchedule = z.object({
  kind: z.literal('cosine'),
  warmupSteps: steps.default(0),
  minLrRatio: ratio.default(0.1),
}).strict();

export const DecayShape = z.enum(['linear', 'cosine', 'exponential', '1-sqrt', 'half-life']);
export type DecayShape = z.infer<typeof DecayShape>;

/**
 * WSD (warm-up, stable, decay; MiniCPM, Hägele et al. 2024): warm-up, then lr until the decay
 * starts at S = totalSteps - D, then lr_t = floor + (lr - floor) * f(p) with p = (step - S) / D:
 *   linear       f = 1 - p
 *   cosine       f = 0.5 * (1 + cos(pi * p))
 *   1-sqrt       f = 1 - sqrt(p)
 *   exponential  lr_t = lr * minLrRatio^p  (geometric from lr to the floor; needs minLrRatio > 0)
 *   half-life    f = 0.5^((step - S) / halfLife)  (MiniCPM's exponential decay, halving every
 *                halfLife steps; it does not reach the floor by the end, which then jumps to it)
 * D is decaySteps, or round(decayFraction * totalSteps); exactly one of them is given.
 */
export const WsdSchedule = z.object({
  kind: z.literal('wsd'),
  warmupSteps: steps.default(0),
  decayShape: DecayShape.default('1-sqrt'),
  decayFraction: z.number().gt(0).max(1).optional(),
  decaySteps: z.number().int().positive().optional(),
  minLrRatio: ratio.default(0),
  /** decayShape 'half-life' only: the steps over which the lr above the floor halves (MiniCPM's T). */
  halfLife: z.number().positive().optional(),
}).strict();

function checkWsd(s: z.infer<typeof WsdSchedule>, ctx: z.RefinementCtx): void {
  if ((s.decayFraction === undefined) === (s.decaySteps === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['decaySteps'], message: 'give exactly one of decayFraction or decaySteps' });
  }
  if ((s.decayShape === 'half-life') !== (s.halfLife !== undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['halfLife'], message: s.decayShape === 'half-life' ? 'decayShape half-life needs halfLife (steps per halving)' : `halfLife is for decayShape half-life, not ${s.decayShape}` });
  }
  if (s.decayShape === 'exponential' && s.minLrRatio <= 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['minLrRatio'], message: 'exponential decay interpolates geometrically to lr * minLrRatio, so minLrRatio must be > 0 (e.g. 0.01)' });
  }
}

export const ScheduleConfig = z.discriminatedUnion('kind', [ConstantSchedule, CosineSchedule, WsdSchedule])
  .superRefine((s, ctx) => { if (s.kind === 'wsd') checkWsd(s, ctx); });
export type ScheduleConfig = z.infer<typeof ScheduleConfig>;
export type ScheduleInput = z.input<typeof ScheduleConfig>;

export type LrFn = (step: number) => number;

/** Decay length of a WSD schedule in steps (at least 1, at most the steps after warm-up). */
export function wsdDecaySteps(s: Extract<ScheduleConfig, { kind: 'wsd' }>, totalSteps: number): number {
  const d = s.decaySteps ?? Math.round((s.decayFraction ?? 0) * totalSteps);
  return Math.max(1, Math.min(d, totalSteps - s.warmupSteps));
}

/** First step of the decay phase (WSD: S = totalSteps - D; cosine: end of warm-up; constant: never). */
export function decayStart(s: ScheduleConfig, totalSteps: number): number {
  switch (s.kind) {
    case 'constant': return Infinity;
    case 'cosine': return s.warmupSteps;
    case 'wsd': return totalSteps - wsdDecaySteps(s, totalSteps);
  }
}

/** The multiplier f(p) in [0, 1] of a decay shape (1 at p = 0, 0 at p = 1); exponential is handled apart. */
function decayFactor(shape: Exclude<DecayShape, 'exponential' | 'half-life'>, p: number): number {
  switch (shape) {
    case 'linear': return 1 - p;
    case 'cosine': return 0.5 * (1 + Math.cos(Math.PI * p));
    case '1-sqrt': return 1 - Math.sqrt(p);
  }
}

/** lr(step) for a parsed schedule config. Pure: the same arguments always give the same lr. */
export function learningRate(s: ScheduleConfig, step: number, lr: number, totalSteps: number): number {
  if (!Number.isInteger(step) || step < 0) throw new Error(`learningRate: step must be a non-negative integer, got ${step}`);
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) throw new Error(`learningRate: totalSteps must be a positive integer, got ${totalSteps}`);
  if (step < s.warmupSteps) return lr * (step + 1) / s.warmupSteps;
  if (s.kind === 'constant') return lr;
  const floor = lr * s.minLrRatio;
  const start = decayStart(s, totalSteps);
  const len = totalSteps - start;
  if (step < start) return lr;
  if (len <= 0 || step >= totalSteps) return floor;
  const p = (step - start) / len;
  if (s.kind === 'cosine') return floor + (lr - floor) * decayFactor('cosine', p);
  if (s.decayShape === 'exponential') return lr * Math.pow(s.minLrRatio, p);
  if (s.decayShape === 'half-life') return floor + (lr - floor) * Math.pow(0.5, (step - start) / s.halfLife!);
  return floor + (lr - floor) * decayFactor(s.decayShape, p);
}

/** Parses (defaults filled, errors thrown with field paths) and binds a schedule: step -> lr. */
export function createSchedule(config: ScheduleInput | ScheduleConfig, lr: number, totalSteps: number): LrFn {
  const s = ScheduleConfig.parse(config);
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`createSchedule: lr must be a finite non-negative number, got ${lr}`);
  if (s.warmupSteps > totalSteps) throw new Error(`schedule: warmupSteps (${s.warmupSteps}) exceeds totalSteps (${totalSteps})`);
  return (step) => learningRate(s, step, lr, totalSteps);
}
