// The metrics log of a run: <runDir>/metrics.jsonl, one JSON object per line, written with an
// unbuffered append as each step is logged (a crash loses at most the line being written).
//   {"type":"train","step":12,"tokens":49152,"loss":3.21,"lr":0.0006,"grad_norm":0.87,"clipped":false,
//    "time":41.2,"tokens_per_s":1193.0}
//   {"type":"eval","step":100,"tokens":409600,"loss":3.05,"perplexity":21.1,"bits_per_byte":1.37,"time":350.9}
//   {"type":"samples","step":100,"samples":[{"prompt":"","text":"The jury said"}]}
// `step` counts completed optimizer updates (the train line for the first update has step 1), the
// same numbering as checkpoints, so a run resumed from ckpt-<s> keeps exactly the lines with
// step <= s: lines a crashed or stopped run wrote past its last checkpoint are dropped on resume,
// and the resumed run writes them again.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileDurable } from '../base/durable.js';

export const METRICS_FILE = 'metrics.jsonl';

export interface TrainMetrics {
  type: 'train';
  step: number;
  tokens: number;
  loss: number;
  lr: number;
  grad_norm: number;
  clipped: boolean;
  /** Training wall time so far, seconds (summed over resumes). */
  time: number;
  tokens_per_s: number;
}

export interface EvalMetrics {
  type: 'eval';
  step: number;
  tokens: number;
  loss: number;
  perplexity: number;
  /** Present when the data layer knows the validation text's bytes per token. */
  bits_per_byte?: number;
  time: number;
}

/** Text generated from the model at a step (the run config's `samples` section). */
export interface SamplesLine {
  type: 'samples';
  step: number;
  samples: { prompt: string; text: string }[];
}

/** Measurements of the model at a step (the run config's `rank` section: rank.eff.block0, ...). */
export interface DiagnosticsLine {
  type: 'diagnostics';
  step: number;
  [key: string]: number | string;
}

export type MetricsLine = TrainMetrics | EvalMetrics | SamplesLine | DiagnosticsLine;

/** Every well-formed line of a metrics file (a torn last line from a crash is skipped). */
export function readMetrics(path: string): MetricsLine[] {
  if (!existsSync(path)) return [];
  const out: MetricsLine[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as MetricsLine;
      if (v && typeof v === 'object' && typeof v.step === 'number') out.push(v);
    } catch { /* torn line */ }
  }
  return out;
}

export class MetricsWriter {
  private fd: number | null;

  /**
   * Opens the log for appending. resumeStep null starts a fresh log (an old one is replaced);
   * a number keeps only the lines with step <= resumeStep (the resumed checkpoint's step).
   */
  constructor(readonly path: string, resumeStep: number | null) {
    mkdirSync(dirname(path), { recursive: true });
    if (resumeStep === null) {
      writeFileDurable(path, '');
    } else if (existsSync(path)) {
      const kept = readMetrics(path).filter((l) => l.step <= resumeStep);
      writeFileDurable(path, kept.map((l) => JSON.stringify(l) + '\n').join(''));
    }
    this.fd = openSync(path, 'a');
  }

  log(line: MetricsLine): void {
    if (this.fd === null) throw new Error(`MetricsWriter: ${this.path} is closed`);
    writeSync(this.fd, JSON.stringify(line, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) + '\n');
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
