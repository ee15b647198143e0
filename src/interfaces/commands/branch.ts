// `windtunnel branch RUN --step S`: WSD branching (src/training/branch.ts). A new run folder
// starts from checkpoint S of a WSD run's stable phase with its own decay; the source run is
// only read. Train the branch with `windtunnel resume <branch folder>`.

import type { Command } from 'commander';
import { resolve } from 'node:path';
import { branchWsd } from '../../training/branch.js';
import { DecayShape } from '../../training/schedules.js';
import { UsageError } from '../../base/errors.js';
import { action, intOption, numberOption, usageExits } from './run-common.js';

interface BranchFlags {
  step: number;
  decaySteps?: number;
  decayFraction?: number;
  shape?: string;
  minLrRatio?: number;
  out?: string;
}

/**
 * Decay steps D for a fraction F of the branch's own length, as WSD's decayFraction means:
 * D = F * (S + D), so D = F * S / (1 - F).
 */
export function decayStepsForFraction(step: number, fraction: number): number {
  return Math.max(1, Math.round((fraction * step) / (1 - fraction)));
}

export function registerBranch(program: Command): void {
  usageExits(program
    .command('branch')
    .description('start a new run that decays a WSD run from one of its stable-phase checkpoints')
    .argument('<run>', 'WSD run folder (read only)')
    .requiredOption('--step <s>', 'checkpoint step to branch from', intOption('--step'))
    .option('--decay-steps <n>', 'decay length in steps (default: the source run\'s)', intOption('--decay-steps', 1))
    .option('--decay-fraction <f>', 'decay as a fraction of the branch\'s total length', numberOption('--decay-fraction', (n) => n > 0 && n < 1, 'in (0, 1)'))
    .option('--shape <shape>', `decay shape: ${DecayShape.options.join(' | ')} (default: the source run's)`)
    .option('--min-lr-ratio <r>', 'final lr as a fraction of the peak (default: the source run\'s)', numberOption('--min-lr-ratio', (n) => n >= 0 && n <= 1, 'in [0, 1]'))
    .option('--out <dir>', 'new run folder (default: <run>-branch-<step>)'))
    .action(action((runDir: string, o: BranchFlags) => {
      if (o.decaySteps !== undefined && o.decayFraction !== undefined) throw new UsageError('give --decay-steps or --decay-fraction, not both');
      let shape: DecayShape | undefined;
      if (o.shape !== undefined) {
        const r = DecayShape.safeParse(o.shape);
        if (!r.success) throw new UsageError(`--shape must be one of ${DecayShape.options.join(', ')}, got ${JSON.stringify(o.shape)}`);
        shape = r.data;
      }
      const to = resolve(o.out ?? `${runDir.replace(/\/+$/, '')}-branch-${o.step}`);
      const decaySteps = o.decayFraction !== undefined ? decayStepsForFraction(o.step, o.decayFraction) : o.decaySteps;
      const b = branchWsd({ from: resolve(runDir), step: o.step, to, decaySteps, decayShape: shape, minLrRatio: o.minLrRatio });
      const s = b.schedule.config;
      console.log(`branched ${runDir} at step ${b.step} into ${to}`);
      console.log(`  decay: ${s.kind === 'wsd' ? `${s.decaySteps} steps, ${s.decayShape}, to ${s.minLrRatio} x lr` : s.kind}; total ${b.totalSteps} steps`);
      console.log(`train it with: npx windtunnel resume ${to}`);
    }));
}
