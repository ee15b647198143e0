// Checkpoints: one folder per saved step inside a run directory,
//   <runDir>/ckpt-<step>/model.safetensors      model weights by parameter name
//                        optimizer.safetensors  optimizer buffers (m.<name>, v.<name> or momentum.<name>)
//                        state.json             step, tokens, optimizer scalars, schedule, RNG and
//                                               sampler states, the run config
//   <runDir>/latest                              "ckpt-<step>\n": the newest complete checkpoint
//
// Writes are crash-safe: everything goes into a hidden temporary folder, each file is fsynced,
// the folder is renamed into place, and only then is `latest` replaced (temp file, fsync, rename).
// A crash at any point leaves `latest` naming a complete checkpoint. One writer per run dir, which
// the run folder's lock makes sure of (run-folder.ts); stale temporary folders from a crashed
// writer are removed by the next save.
//
// Retention keeps the newest K checkpoints at or below the step just saved. Checkpoints ABOVE it
// belong to an abandoned timeline (the run was resumed from an earlier step and has diverged), so
// they are removed too, as the metrics log drops its lines past a resumed step.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Tensor, backend, fmtShape } from '../engine/index.js';
import { NATIVE_ISAS, nativeIsa, nativeInfo, setNativeIsa, setNativeThreads, type NativeIsa } from '../engine/native.js';
import { readSafetensors, writeSafetensors } from '../models/safetensors.js';
import type { Optimizer, OptimizerState } from './optimizers.js';
import type { ScheduleConfig } from './schedules.js';
import { fsyncPath, moveFolderIntoPlace, writeFileDurable } from '../base/durable.js';

export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';
export const LATEST_FILE = 'latest';
const CKPT_RE = /^ckpt-(\d+)$/;
const STATE_VERSION = 1;

/** What state.json holds. Everything a resumed run needs beyond the two tensor files. */
export interface CheckpointState {
  version: number;
  /** Optimizer updates completed; the run continues with update index `step`. */
  step: number;
  tokensSeen: number;
  /** Training wall time so far, seconds (summed over resumes). */
  elapsedSec: number;
  optimizer: { kind: OptimizerState['kind']; step: number; hyper: OptimizerState['hyper'] };
  /** The lr schedule the run follows: config, peak lr and total steps (a branch rewrites this). */
  schedule: { config: ScheduleConfig; lr: number; totalSteps: number } | null;
  /** RNG states by name (dropout, ...), as their state() returned them. */
  rngs: Record<string, unknown>;
  /** Sampler states by name ('train', ...). */
  samplers: Record<string, unknown>;
  /** The resolved run config. */
  config: unknown;
  /** muP's base shapes by parameter name (models/mup.ts); absent for a standard-parametrization model. */
  baseShapes?: Record<string, number[]>;
  /** The kernels that computed it: results are bitwise reproducible on the same backend, ISA and thread count. Absent in older checkpoints. */
  engine?: EngineState;
  /** Where this run came from, if it was branched from another run's checkpoint. */
  branchedFrom?: { runDir: string; step: number };
  savedAt: string;
}

export interface EngineState {
  backend: string;
  threads: number;
  /** The native kernels' instruction set (engine/native.ts); absent for the reference backend and in older checkpoints. */
  isa?: NativeIsa;
}

/** The active backend, its thread count and (native) instruction set, as a checkpoint records them. */
export function currentEngine(): EngineState {
  const b = backend();
  return b.name === 'native' ? { backend: b.name, threads: b.threads(), isa: nativeIsa() } : { backend: b.name, threads: b.threads() };
}

/**
 * Makes a resumed run compute as the saved one did: the same native thread count and
 * instruction set, unless the user forced them (WINDTUNNEL_THREADS, WINDTUNNEL_ISA) or this
 * CPU lacks the saved ISA. Returns a warning when the engine still differs, null when the
 * resume will be bitwise exact.
 */
export function matchSavedEngine(saved: EngineState | undefined, forced: boolean, isaForced = process.env.WINDTUNNEL_ISA !== undefined): string | null {
  if (!saved) return null;
  let now = currentEngine();
  if (saved.backend === 'native' && now.backend === 'native') {
    if (saved.threads !== now.threads && !forced) setNativeThreads(saved.threads);
    if (saved.isa !== undefined && saved.isa !== now.isa && !isaForced && cpuHasIsa(saved.isa)) setNativeIsa(saved.isa);
    now = currentEngine();
  }
  const sameIsa = saved.isa === undefined || saved.isa === now.isa;
  if (saved.backend === now.backend && saved.threads === now.threads && sameIsa) return null;
  const fmt = (e: EngineState) => `${e.backend}${e.isa ? ` ${e.isa}` : ''}, ${e.threads} thread${e.threads === 1 ? '' : 's'}`;
  const hints: string[] = [];
  if (saved.backend === now.backend && saved.threads !== now.threads) hints.push(`unset WINDTUNNEL_THREADS or set it to ${saved.threads}`);
  if (saved.backend === now.backend && !sameIsa) {
    hints.push(cpuHasIsa(saved.isa!) ? `unset WINDTUNNEL_ISA or set it to ${saved.isa}` : `this CPU lacks ${saved.isa}`);
  }
  return `the checkpoint was saved with ${fmt(saved)}; resuming with ${fmt(now)}: ` +
    `the result will not be bitwise identical to an uninterrupted run` + (hints.length ? ` (${hints.join('; ')})` : '');
}

/** Whether this CPU can run the native kernels built for `isa` (ISAs are ordered best first). */
function cpuHasIsa(isa: NativeIsa): boolean {
  return NATIVE_ISAS.indexOf(isa) >= NATIVE_ISAS.indexOf(nativeInfo().isaBest);
}

/** The engine the latest checkpoint of a run was computed with (reads state.json only), or null. */
export function savedEngine(runDir: string): EngineState | null {
  try {
    const step = latestStep(runDir);
    if (step === null) return null;
    const state = JSON.parse(readFileSync(join(runDir, checkpointName(step), STATE_FILE), 'utf8')) as Partial<CheckpointState>;
    const e = state.engine;
    if (!e || typeof e.backend !== 'string' || !Number.isInteger(e.threads) || e.threads <= 0) return null;
    return e.isa === undefined || (NATIVE_ISAS as readonly string[]).includes(e.isa) ? e : { backend: e.backend, threads: e.threads };
  } catch {
    return null; // no usable checkpoint: the trainer's resume reports it
  }
}

export type CheckpointStateInput = Omit<CheckpointState, 'version' | 'step' | 'optimizer' | 'savedAt'>;

export interface SaveOptions {
  /** Keep at most this many checkpoints (0 or undefined: keep all). */
  keep?: number;
  /** Called after each file is complete, with its name: a test hook to simulate crashes. */
  onFileWritten?: (file: string) => void;
}

export function checkpointName(step: number): string {
  return `ckpt-${step}`;
}

/** Steps of the complete-looking checkpoint folders in a run dir, ascending. */
export function listCheckpoints(runDir: string): number[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .map((n) => CKPT_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** The step `latest` points at, or null when the run has no checkpoint yet. */
export function latestStep(runDir: string): number | null {
  const p = join(runDir, LATEST_FILE);
  if (!existsSync(p)) return null;
  const name = readFileSync(p, 'utf8').trim();
  const m = CKPT_RE.exec(name);
  if (!m) throw new Error(`${p} should name a checkpoint folder (ckpt-<step>), but holds ${JSON.stringify(name.slice(0, 80))}`);
  return Number(m[1]);
}

/** Writes a checkpoint for `step` atomically and points `latest` at it. Returns its folder. */
export function saveCheckpoint(
  runDir: string,
  step: number,
  params: ReadonlyMap<string, Tensor>,
  optimizer: Optimizer,
  state: CheckpointStateInput,
  o: SaveOptions = {},
): string {
  if (!Number.isInteger(step) || step < 0) throw new Error(`saveCheckpoint: step must be a non-negative integer, got ${step}`);
  const final = writeCheckpointFolder(runDir, step, (tmp) => {
    writeSafetensors(join(tmp, MODEL_FILE), uniqueTensors(params), { format: 'windtunnel-model', step: String(step) });
    o.onFileWritten?.(MODEL_FILE);

    const opt = optimizer.state();
    const shapes = optimizer.stateShapes();
    const optTensors = new Map<string, Tensor>();
    for (const [name, buf] of opt.tensors) optTensors.set(name, new Tensor(buf, shapes.get(name) ?? [buf.length]));
    writeSafetensors(join(tmp, OPTIMIZER_FILE), optTensors, { format: 'windtunnel-optimizer', kind: opt.kind, step: String(opt.step) });
    o.onFileWritten?.(OPTIMIZER_FILE);

    const full: CheckpointState = {
      version: STATE_VERSION, step,
      ...state,
      optimizer: { kind: opt.kind, step: opt.step, hyper: opt.hyper },
      savedAt: new Date().toISOString(),
    };
    writeFileDurable(join(tmp, STATE_FILE), JSON.stringify(full, null, 2) + '\n');
    o.onFileWritten?.(STATE_FILE);
  });
  pointLatestAt(runDir, step);
  applyRetention(runDir, step, o.keep);
  return final;
}

/**
 * The checkpoint folder protocol: `write` fills a hidden temporary folder, which is fsynced and
 * renamed to ckpt-<step> (replacing an existing one). `latest` is not touched: pointLatestAt
 * does that, once everything the checkpoint needs is in place. Returns the folder.
 */
export function writeCheckpointFolder(runDir: string, step: number, write: (tmp: string) => void): string {
  mkdirSync(runDir, { recursive: true });
  removeStale(runDir);
  const tmp = join(runDir, `.tmp-${checkpointName(step)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  write(tmp); // a failure leaves the temporary folder, as a crash would; the next save removes it
  fsyncPath(tmp);
  const final = join(runDir, checkpointName(step));
  // Re-saving a step (rare: a resumed run stopped at once) swaps, then drops the old copy.
  moveFolderIntoPlace(tmp, final, join(runDir, `.old-${checkpointName(step)}-${randomBytes(4).toString('hex')}`));
  return final;
}

/** Points `latest` at ckpt-<step> (atomically). */
export function pointLatestAt(runDir: string, step: number): void {
  writeFileDurable(join(runDir, LATEST_FILE), checkpointName(step) + '\n');
}

/** Tied parameters (one Tensor under two names) are stored once, under the first name. */
function uniqueTensors(params: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  const seen = new Set<Tensor>();
  const out = new Map<string, Tensor>();
  for (const [name, t] of params) {
    if (seen.has(t)) continue;
    seen.add(t);
    out.set(name, t);
  }
  return out;
}

function removeStale(runDir: string): void {
  for (const n of readdirSync(runDir)) {
    if (n.startsWith('.tmp-ckpt-') || n.startsWith('.old-ckpt-')) rmSync(join(runDir, n), { recursive: true, force: true });
  }
}

function applyRetention(runDir: string, current: number, keep: number | undefined): void {
  const steps = listCheckpoints(runDir);
  const doomed = steps.filter((s) => s > current);
  const kept = steps.filter((s) => s <= current);
  if (keep && keep > 0 && kept.length > keep) doomed.push(...kept.slice(0, kept.length - keep));
  for (const s of doomed) rmSync(join(runDir, checkpointName(s)), { recursive: true, force: true });
}

// ---- loading ------------------------------------------------------------------------------

export interface LoadedCheckpoint {
  dir: string;
  step: number;
  /** Model weights by parameter name (tied names appear once). */
  model: Map<string, Tensor>;
  optimizer: OptimizerState;
  state: CheckpointState;
}

/** Reads a checkpoint (`latest` by default); every failure names the run, the file and what is wrong. */
export function loadCheckpoint(runDir: string, which: number | 'latest' = 'latest'): LoadedCheckpoint {
  if (!existsSync(runDir)) throw new Error(`loadCheckpoint: run directory ${runDir} does not exist`);
  const available = listCheckpoints(runDir);
  const avail = available.length ? `available steps: ${available.join(', ')}` : 'it has no checkpoint folders';
  let step: number;
  if (which === 'latest') {
    const s = latestStep(runDir);
    if (s === null) throw new Error(`loadCheckpoint: ${runDir} has no "${LATEST_FILE}" pointer (${avail})`);
    step = s;
  } else {
    step = which;
  }
  const dir = join(runDir, checkpointName(step));
  if (!existsSync(dir)) throw new Error(`loadCheckpoint: ${dir} does not exist (${avail})`);
  const missing = [MODEL_FILE, OPTIMIZER_FILE, STATE_FILE].filter((f) => !existsSync(join(dir, f)));
  if (missing.length) throw new Error(`loadCheckpoint: ${dir} is incomplete, missing ${missing.join(', ')}`);

  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as CheckpointState;
  } catch (e) {
    throw new Error(`loadCheckpoint: ${join(dir, STATE_FILE)} is not valid JSON (${(e as Error).message})`);
  }
  checkState(state, step, join(dir, STATE_FILE));

  const model = readSafetensors(join(dir, MODEL_FILE)).tensors;
  const raw = readSafetensors(join(dir, OPTIMIZER_FILE)).tensors;
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of raw) {
    if (!(t.data instanceof Float32Array)) throw new Error(`loadCheckpoint: ${join(dir, OPTIMIZER_FILE)}: ${name} is ${t.dtype}, expected float32`);
    tensors.set(name, t.data);
  }
  const optimizer: OptimizerState = { kind: state.optimizer.kind, step: state.optimizer.step, hyper: state.optimizer.hyper, tensors };
  return { dir, step, model, optimizer, state };
}

function checkState(s: CheckpointState, step: number, path: string): void {
  const bad = (what: string): never => { throw new Error(`loadCheckpoint: ${path}: ${what}`); };
  if (s === null || typeof s !== 'object') bad('not a JSON object');
  if (s.version !== STATE_VERSION) bad(`version ${s.version}, this build reads version ${STATE_VERSION}`);
  if (s.step !== step) bad(`records step ${s.step} but lives in ${checkpointName(step)}`);
  if (!s.optimizer || (s.optimizer.kind !== 'adamw' && s.optimizer.kind !== 'sgd') || !Number.isInteger(s.optimizer.step)) bad('missing or invalid "optimizer" (kind, step)');
  if (typeof s.tokensSeen !== 'number') bad('missing "tokensSeen"');
}

/**
 * Resuming must keep the parametrization: the muP base shapes a checkpoint was trained with (or
 * their absence) must be the model's, or the lr multipliers, init and forward would silently change.
 */
export function checkBaseShapes(saved: Record<string, number[]> | undefined, model: Record<string, number[]> | null, dir: string): void {
  const fmt = (s: number[] | undefined) => (s ? fmtShape(s) : 'none');
  if (!saved && !model) return;
  if (!saved) throw new Error(`resume: ${dir} was trained without muP (no base shapes) but the model uses muP; resume with the run's own model config`);
  if (!model) throw new Error(`resume: ${dir} was trained with muP but the model has no mup section; resume with the run's own model config (its mup section)`);
  const names = new Set([...Object.keys(saved), ...Object.keys(model)]);
  const bad = [...names].filter((n) => fmt(saved[n]) !== fmt(model[n]));
  if (bad.length) {
    throw new Error(`resume: muP base shapes differ from ${dir}: ${bad.slice(0, 4).map((n) => `${n} base ${fmt(saved[n])} in the checkpoint, ${fmt(model[n])} in the model`).join('; ')}` +
      `${bad.length > 4 ? ` and ${bad.length - 4} more` : ''}; resume with the run's own mup section (baseWidth, baseHeadDim, baseDMlp)`);
  }
}

/**
 * Copies checkpoint weights into the model's parameter tensors in place. Every parameter must be
 * present with its shape, and every stored tensor must belong to a parameter: a mismatch lists
 * the names, so a config change is caught instead of silently half-loading.
 */
export function restoreParams(params: ReadonlyMap<string, Tensor>, weights: ReadonlyMap<string, Tensor>): void {
  const byTensor = new Map<Tensor, string[]>();
  for (const [name, t] of params) byTensor.set(t, [...(byTensor.get(t) ?? []), name]);
  const used = new Set<string>();
  const missing: string[] = [];
  for (const [t, names] of byTensor) {
    const name = names.find((n) => weights.has(n));
    if (!name) { missing.push(names[0]); continue; }
    for (const n of names) if (weights.has(n)) used.add(n);
    const src = weights.get(name)!;
    if (src.shape.length !== t.shape.length || src.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`restoreParams: ${name} is ${fmtShape(src.shape)} in the checkpoint but ${fmtShape(t.shape)} in the model`);
    }
    if (src.dtype !== t.dtype) throw new Error(`restoreParams: ${name} is ${src.dtype} in the checkpoint but ${t.dtype} in the model`);
    (t.data as Float32Array).set(src.data as Float32Array);
  }
  const unexpected = [...weights.keys()].filter((n) => !used.has(n));
  if (missing.length || unexpected.length) {
    throw new Error(`restoreParams: checkpoint and model disagree: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
  }
}
