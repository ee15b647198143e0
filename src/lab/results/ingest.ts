// Reading a run's metrics.jsonl into the store, while it grows and once more at the end.
// The file is the trainer's (src/training/metrics.ts):
//   {"type":"train","step":12,"tokens":49152,"loss":3.21,"lr":0.0006,"grad_norm":0.87,"clipped":false,...}
//   {"type":"eval","step":100,"tokens":409600,"loss":3.05,"perplexity":21.1,"bits_per_byte":1.37,...}
// What is read from it:
//   - one JSON object per line, with an integer "step"; other lines (torn, blank, not JSON) are skipped;
//   - a line with "type" = "samples" carries the text samples of its step ({prompt, text}[]);
//   - an evaluation line has "type" (or "kind"/"event") = "eval", or a "split"; its split
//     defaults to "val"; every other line is a training line;
//   - numbers are stored, booleans as 1/0, null and the strings "NaN", "Infinity", "-Infinity"
//     (how the writer spells a non-finite value) as NULL; other strings and objects are
//     ignored, as are the fields step, split, kind, type, event.
// Writes are upserts, so reading the same lines twice (a tail, then the final pass, then a
// resumed trainer that logs the steps after its checkpoint again) changes nothing.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { EvalRow, MetricRow, SampleRow, Store } from './store.js';

const reserved = new Set(['step', 'split', 'kind', 'type', 'event']);

export type ParsedLine = ({ kind: 'metric' } & MetricRow) | ({ kind: 'eval' } & EvalRow) | ({ kind: 'samples' } & SampleRow);

const isSample = (v: unknown): v is { prompt: string; text: string } =>
  typeof v === 'object' && v !== null && typeof (v as { prompt?: unknown }).prompt === 'string' && typeof (v as { text?: unknown }).text === 'string';

export function parseMetricsLine(line: string): ParsedLine | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  let obj: Record<string, unknown>;
  try { obj = JSON.parse(text) as Record<string, unknown>; } catch { return null; }
  const step = obj.step;
  if (typeof step !== 'number' || !Number.isInteger(step)) return null;
  if (obj.type === 'samples') {
    return Array.isArray(obj.samples) && obj.samples.every(isSample)
      ? { kind: 'samples', step, samples: obj.samples.map((s) => ({ prompt: s.prompt, text: s.text })) }
      : null;
  }
  const values: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (reserved.has(k)) continue;
    if (typeof v === 'number') values[k] = Number.isFinite(v) ? v : null;
    else if (typeof v === 'boolean') values[k] = v ? 1 : 0;
    else if (v === null || v === 'NaN' || v === 'Infinity' || v === '-Infinity') values[k] = null;
  }
  const isEval = typeof obj.split === 'string' || [obj.kind, obj.type, obj.event].includes('eval');
  return isEval ? { kind: 'eval', step, split: typeof obj.split === 'string' ? obj.split : 'val', values } : { kind: 'metric', step, values };
}

/**
 * Follows a growing JSONL file: each read() returns the complete lines added since the last
 * one. A file that shrank (rewritten from the start) is read again from the beginning.
 */
export class JsonlTail {
  private offset = 0;
  private pending = '';

  constructor(readonly file: string) {}

  read(): string[] {
    let fd: number;
    try { fd = openSync(this.file, 'r'); } catch { return []; }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) { this.offset = 0; this.pending = ''; }
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      this.offset += got;
      const text = this.pending + buf.subarray(0, got).toString('utf8');
      const cut = text.lastIndexOf('\n');
      this.pending = text.slice(cut + 1);
      return cut < 0 ? [] : text.slice(0, cut).split('\n');
    } finally {
      closeSync(fd);
    }
  }

  /** The unterminated last line, if any (a writer that died mid-line, or one that ends without a newline). */
  rest(): string {
    const r = this.pending;
    this.pending = '';
    return r;
  }
}

/** Upserts parsed lines into the store; returns how many lines were stored. */
export function storeLines(store: Store, run: string, lines: string[]): number {
  const metrics: MetricRow[] = [], evals: EvalRow[] = [], samples: SampleRow[] = [];
  for (const line of lines) {
    const p = parseMetricsLine(line);
    if (p?.kind === 'metric') metrics.push({ step: p.step, values: p.values });
    else if (p?.kind === 'eval') evals.push({ step: p.step, split: p.split, values: p.values });
    else if (p?.kind === 'samples') samples.push({ step: p.step, samples: p.samples });
  }
  store.write(() => {
    store.logMetrics(run, metrics);
    store.logEvals(run, evals);
    store.logSamples(run, samples);
  });
  return metrics.length + evals.length + samples.length;
}

/** Reads a whole metrics file into the store (the final, idempotent pass). */
export function ingestFile(store: Store, run: string, file: string): number {
  const tail = new JsonlTail(file);
  return storeLines(store, run, [...tail.read(), tail.rest()]);
}
