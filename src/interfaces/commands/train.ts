// `windtunnel train --config FILE` and `windtunnel resume RUN`: validate the run config before
// anything runs, prepare tokenizer and token files, then drive the Trainer with a progress view.
// Ctrl-C (or SIGTERM) asks the Trainer to stop at the next step boundary with a checkpoint; a
// second Ctrl-C quits at once. The run folder (its layout and its lock) is src/training/run-folder.ts's.
// The run is recorded in the results store (src/lab/results/run-record.ts) as it trains, so
// `runs list` and `ui` show it.

import type { Command } from 'commander';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Document, visit } from 'yaml';
import { countParams } from '../../models/config.js';
import { latestStep, listCheckpoints } from '../../training/checkpoint.js';
import { prepareRun, resolveRunConfig, type RunConfig } from '../../training/assemble.js';
import { loadModelSource } from '../../training/assemble.js';
import { totalSteps, tokensPerStep } from '../../training/config.js';
import type { TrainResult, TrainerEvent } from '../../training/trainer.js';
import { applyOverrides, configName, readConfigFile } from '../../base/config-file.js';
import { UsageError } from '../../base/errors.js';
import { onInterrupt } from '../../base/interrupt.js';
import { createReporter, fmtDuration, type Reporter } from '../progress.js';
import { fmtCount } from '../../base/format.js';
import { DEFAULT_SAMPLING, sampleText } from './sample.js';
import { EXIT, action, usageExits } from './run-common.js';
import { RunRecorder, STORE_FILE, recordingWanted } from '../../lab/results/run-record.js';
import { runCost } from '../../lab/experiments/sweep.js';
import { RunFolder } from '../../training/run-folder.js';
import { checkMemory, estimateTrainMemory } from '../../training/memory.js';

interface RunFlags {
  jsonProgress?: boolean;
  sample?: string;
  db?: string;
}

interface TrainFlags extends RunFlags {
  config: string;
  set?: string[];
  runDir?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerTrain(program: Command): void {
  usageExits(program
    .command('train')
    .description('train a model from a run config (JSON or YAML); writes a run folder')
    .requiredOption('--config <file>', 'run config file (see configs/)')
    .option('--set <key=value>', 'override a config value, e.g. --set lr=3e-4 --set model.nLayer=2 (repeatable; values parse as JSON, else as text)', collect)
    .option('--run-dir <dir>', 'run folder (default: runs/<config name>-<timestamp>)')
    .option('--json-progress', 'print progress as JSON lines on stdout (messages go to stderr)')
    .option('--sample <prompt>', 'when training ends, print a sample continuing this prompt')
    .option('--db <path>', `results store to record the run in (default: the nearest ${STORE_FILE} above the run folder, else one beside it)`))
    .action(action(async (o: TrainFlags) => {
      const config = resolveRunConfig(applyOverrides(readConfigFile(o.config), o.set ?? []));
      checkMemory('this run', estimateTrainMemory(config), 1, 'lower batchSize or context (gradAccum keeps the tokens per step), or use a smaller model');
      const runDir = resolve(o.runDir ?? defaultRunDir(configName(o.config)));
      if (latestStep(runDir) !== null || listCheckpoints(runDir).length > 0) {
        throw new UsageError(`${runDir} already holds a run with checkpoints; continue it with \`windtunnel resume ${runDir}\`, or choose another --run-dir`);
      }
      const out = createReporter({ json: o.jsonProgress === true });
      announce(out, runDir, config);
      // A fresh run that fails before its first checkpoint leaves nothing behind: no partial
      // folder, and so no pile of timestamped ones from retries. A folder the user made stays.
      const folder = new RunFolder(runDir);
      const existed = folder.exists(), wasEmpty = folder.isEmpty();
      const cleanUp = (): void => {
        if (!wasEmpty || folder.hasCheckpoint() || !folder.exists()) return;
        if (existed) folder.clear(); else rmSync(runDir, { recursive: true, force: true });
        out.log(`removed the partial run folder ${runDir}`);
      };
      let code: number;
      try {
        code = await train(runDir, config, out, o);
      } catch (e) {
        cleanUp();
        throw e;
      }
      if (code === EXIT.diverged) cleanUp();
      return code;
    }));
}

export function registerResume(program: Command): void {
  usageExits(program
    .command('resume')
    .description("continue a run folder from its latest checkpoint (a stopped run, or a branch made by `windtunnel branch`)")
    .argument('<run>', 'run folder')
    .option('--json-progress', 'print progress as JSON lines on stdout (messages go to stderr)')
    .option('--sample <prompt>', 'when training ends, print a sample continuing this prompt')
    .option('--db <path>', `results store to record the run in (default: the nearest ${STORE_FILE} above the run folder, else one beside it)`))
    .action(action(async (dir: string, o: RunFlags) => {
      const runDir = resolve(dir);
      if (!existsSync(runDir)) throw new UsageError(`run folder ${runDir} does not exist`);
      if (latestStep(runDir) === null) throw new UsageError(`${runDir} has no checkpoint to resume from; start it with \`windtunnel train\``);
      const saved = new RunFolder(runDir).readConfigFile();
      if (saved !== null) checkMemory('this run', estimateTrainMemory(resolveRunConfig(saved)));
      const out = createReporter({ json: o.jsonProgress === true });
      out.log(`resuming ${runDir} from step ${latestStep(runDir)}`);
      return train(runDir, undefined, out, o);
    }));
}

function defaultRunDir(name: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15); // 20250101-153012
  let dir = join('runs', `${name}-${t}`);
  for (let i = 2; existsSync(dir); i++) dir = join('runs', `${name}-${t}-${i}`);
  return dir;
}

function announce(out: Reporter, runDir: string, config: RunConfig): void {
  const params = countParams(config.model);
  out.json({ event: 'config', totalSteps: totalSteps(config), runDir, config, params });
  const doc = new Document(config);
  visit(doc, { Seq: (_key, node) => { node.flow = true; } }); // betas: [0.9, 0.95] on one line
  out.log(`resolved config:\n${doc.toString().trimEnd().replace(/^/gm, '  ')}`);
  out.log(`run folder: ${runDir}`);
}

/** A fresh run of `fresh`, or (undefined) a resume of the folder's run. */
async function train(runDir: string, fresh: RunConfig | undefined, out: Reporter, o: RunFlags): Promise<number> {
  // What the summary needs from the run's events: where it started and the last evaluation.
  const seen: { from: number; eval: Extract<TrainerEvent, { type: 'eval' }> | null } = { from: 0, eval: null };
  let recorder: RunRecorder | null = null;
  const run = prepareRun({
    runDir, config: fresh, log: out.log,
    onEvent: (e) => {
      if (e.type === 'start') seen.from = e.step;
      if (e.type === 'eval') seen.eval = e;
      out.onEvent(e);
      if (e.type === 'step' || e.type === 'eval' || e.type === 'checkpoint') recorder?.ingest(e.type !== 'step');
    },
  });
  const { config, data } = run;
  if (recordingWanted()) {
    recorder = RunRecorder.start({
      runDir, db: o.db, config, estimate: runCost(config), fresh: fresh !== undefined,
      metricsPath: new RunFolder(runDir).metricsPath, warn: (m) => out.log(`warning: ${m}`),
    });
  }
  const p = countParams(config.model);
  out.log(`model: ${fmtCount(p.total)} parameters (${fmtCount(p.embedding)} embedding, ${fmtCount(p.nonEmbedding)} non-embedding); ` +
    `${run.totalSteps} steps x ${fmtCount(tokensPerStep(config))} tokens = ${fmtCount(run.totalSteps * tokensPerStep(config))} tokens; ` +
    `data: ${fmtCount(data.train.length)} training tokens, ${fmtCount(data.valid.length)} validation tokens`);

  const removeInterrupt = onInterrupt({
    first: (signal) => {
      out.log(`${signal}: stopping after this step with a checkpoint (Ctrl-C again to quit at once)`);
      run.trainer.requestStop();
    },
    beforeQuit: () => out.stop(),
    quitMessage: 'quitting without a final checkpoint',
  });
  const t0 = Date.now();
  let result: TrainResult;
  try {
    result = await run.trainer.run();
  } catch (e) {
    recorder?.end('failed', (e as Error).message);
    recorder = null;
    throw e;
  } finally {
    out.stop();
    removeInterrupt();
    run.close();
  }
  const took = fmtDuration((Date.now() - t0) / 1000);

  recorder?.end(result.status === 'completed' ? 'done' : result.status === 'stopped' ? 'interrupted' : 'failed',
    result.status === 'diverged' ? result.error?.message ?? 'the loss became NaN/Inf' : result.status === 'stopped' ? 'stopped by the user' : undefined);
  if (result.status === 'diverged') {
    process.stderr.write(`error: ${result.error?.message ?? 'the loss became NaN/Inf'}\n`);
    return EXIT.diverged;
  }
  if (result.status === 'stopped') {
    out.log(`stopped at step ${result.step} of ${run.totalSteps} after ${took}; checkpoint ckpt-${result.lastCheckpoint} in ${runDir}`);
    out.log(`continue with: npx windtunnel resume ${runDir}`);
    return EXIT.interrupted;
  }
  const ev = seen.eval;
  out.log(seen.from === result.step
    ? `the run was already complete (step ${result.step})`
    : `trained steps ${seen.from + 1}..${result.step} in ${took} (${fmtCount(result.tokensSeen)} tokens seen in all)`);
  if (ev) {
    out.log(`validation at step ${ev.step}: loss ${ev.loss.toFixed(4)}, perplexity ${ev.perplexity.toFixed(2)}` +
      (ev.bitsPerByte !== undefined ? `, ${ev.bitsPerByte.toFixed(4)} bits/byte` : ''));
  }
  if (o.sample !== undefined) {
    const { text } = sampleText(loadModelSource(runDir), o.sample, { ...DEFAULT_SAMPLING });
    out.log(`sample (temperature ${DEFAULT_SAMPLING.temperature}, seed ${DEFAULT_SAMPLING.seed}):\n\n${text}\n`);
  }
  out.log(`run folder: ${runDir}`);
  out.log(`next: npx windtunnel sample ${runDir} --prompt "The"   |   npx windtunnel eval ${runDir}`);
  return EXIT.ok;
}
