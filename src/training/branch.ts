// WSD branching (MiniCPM's "continuable training"): a WSD run's stable phase can be cooled down
// from any of its checkpoints. branchWsd() starts a NEW run directory whose first checkpoint is a
// copy of the source checkpoint, with the schedule rewritten so the decay starts at that step:
// same warm-up and peak lr, decay of D steps from step S, total S + D. The source run is only
// read. Resuming the new run dir with the Trainer then trains the decay; since the stable phase
// is constant lr, the branch equals a fresh WSD run of S + D steps with decaySteps D, bit for bit.

import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, pointLatestAt, writeCheckpointFolder, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, type CheckpointState } from './checkpoint.js';
import { decayStart, wsdDecaySteps, type DecayShape, type ScheduleConfig } from './schedules.js';
import { readMetrics } from './metrics.js';
import { RunFolder } from './run-folder.js';
import { fsyncPath, writeFileDurable } from '../base/durable.js';

export interface BranchOptions {
  /** The WSD run to branch from (read only). */
  from: string;
  /** Checkpoint step to branch at; must lie in the stable phase (warm-up done, decay not begun). */
  step: number;
  /** New run directory (must not exist, or be empty). */
  to: string;
  /** Empty `to` first when it holds no checkpoint (left by a branch that never got going). */
  replaceUnstarted?: boolean;
  /** Decay length of the branch in steps; default: the source run's decay length. */
  decaySteps?: number;
  /** Decay shape and floor of the branch; default: the source's. */
  decayShape?: DecayShape;
  minLrRatio?: number;
  /** decayShape 'half-life': steps per halving (default: the source's, when it decays that way). */
  halfLife?: number;
}

export interface BranchResult {
  runDir: string;
  step: number;
  totalSteps: number;
  schedule: { config: ScheduleConfig; lr: number; totalSteps: number };
}

/**
 * Makes the branch's run folder, under its lock: the checkpoint, the config, the metrics history
 * up to the branch point and the source's tokenizer (when it has one).
 */
export function branchWsd(o: BranchOptions): BranchResult {
  const to = new RunFolder(o.to), from = new RunFolder(o.from);
  if (!(o.replaceUnstarted && !to.hasCheckpoint()) && !to.isEmpty()) throw new Error(`branchWsd: ${o.to} already exists and is not empty`);
  const lock = to.lock('windtunnel branch');
  try {
    if (o.replaceUnstarted && !to.hasCheckpoint()) to.clear();
    return writeBranch(o, from, to);
  } finally {
    lock.release();
  }
}

function writeBranch(o: BranchOptions, from: RunFolder, to: RunFolder): BranchResult {
  const ck = loadCheckpoint(o.from, o.step);
  const src = ck.state.schedule;
  if (!src) throw new Error(`branchWsd: ${ck.dir} records no schedule`);
  if (src.config.kind !== 'wsd') throw new Error(`branchWsd: ${o.from} uses a ${src.config.kind} schedule; branching needs a WSD run`);
  const start = decayStart(src.config, src.totalSteps);
  if (o.step < src.config.warmupSteps || o.step > start) {
    throw new Error(`branchWsd: step ${o.step} is outside the stable phase of ${o.from} (steps ${src.config.warmupSteps}..${start}); pick a checkpoint there`);
  }
  const D = o.decaySteps ?? wsdDecaySteps(src.config, src.totalSteps);
  if (!Number.isInteger(D) || D < 1) throw new Error(`branchWsd: decaySteps must be a positive integer, got ${D}`);
  const shape = o.decayShape ?? src.config.decayShape;
  const halfLife = o.halfLife ?? (src.config.decayShape === 'half-life' ? src.config.halfLife : undefined);
  if (shape === 'half-life' && halfLife === undefined) throw new Error('branchWsd: a half-life decay needs halfLife (steps per halving)');
  const config: ScheduleConfig = {
    kind: 'wsd', warmupSteps: src.config.warmupSteps,
    decayShape: shape,
    decaySteps: D,
    minLrRatio: o.minLrRatio ?? src.config.minLrRatio,
    ...(shape === 'half-life' ? { halfLife } : {}),
  };
  const schedule = { config, lr: src.lr, totalSteps: o.step + D };

  const state: CheckpointState = {
    ...ck.state,
    schedule,
    config: branchedConfig(ck.state.config, config, schedule.totalSteps),
    branchedFrom: { runDir: o.from, step: o.step },
  };

  writeCheckpointFolder(o.to, o.step, (tmp) => {
    for (const f of [MODEL_FILE, OPTIMIZER_FILE]) {
      copyFileSync(join(ck.dir, f), join(tmp, f));
      fsyncPath(join(tmp, f));
    }
    writeFileDurable(join(tmp, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  });
  // The branch's curve starts with the source's history up to the branch point.
  to.writeMetricsLines(readMetrics(from.metricsPath).filter((l) => l.step <= o.step));
  if (state.config !== null && state.config !== undefined) to.writeConfig(state.config);
  if (existsSync(from.tokenizerPath)) to.copyTokenizerFrom(from);
  // Last: a branch folder with `latest` is a started run (and is never made afresh).
  pointLatestAt(o.to, o.step);
  return { runDir: o.to, step: o.step, totalSteps: schedule.totalSteps, schedule };
}

/** A run config (TrainConfig-shaped) with the branch's schedule and length; other values pass through. */
function branchedConfig(config: unknown, schedule: ScheduleConfig, steps: number): unknown {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return config;
  const c: Record<string, unknown> = { ...(config as Record<string, unknown>) };
  if ('schedule' in c) c.schedule = schedule;
  if ('steps' in c || 'tokens' in c) {
    delete c.tokens;
    c.steps = steps;
  }
  return c;
}
