// How a training run reports itself: a progress bar on a terminal, plain lines in a log, or
// one JSON object per line (--json-progress, for other programs; the lab runs the training
// child instead, src/training/child.ts).
//
// --json-progress: stdout carries only JSON lines, every one with "event", "step" and
// "totalSteps"; human messages go to stderr.
//   {"event":"config","step":0,"totalSteps":2000,"runDir":"runs/x","config":{...},"params":{...}}
//   {"event":"start","step":0,"totalSteps":2000,"resumedFrom":null}
//   {"event":"step","step":12,"totalSteps":2000,"loss":5.1,"lr":0.001,"grad_norm":0.8,"clipped":false,
//    "tokens":49152,"tokens_per_s":4800,"elapsed_s":10.2,"eta_s":1650}
//   {"event":"eval","step":200,"totalSteps":2000,"loss":4.2,"perplexity":66.7,"bits_per_byte":1.7,"tokens":...}
//   {"event":"checkpoint","step":200,"totalSteps":2000,"dir":"runs/x/ckpt-200"}
//   {"event":"end","step":2000,"totalSteps":2000,"status":"completed"|"stopped"|"diverged","tokens":...,
//    "lastCheckpoint":2000,"error":"..."}

import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { TrainerEvent } from '../training/trainer.js';
import { fmtCount } from '../base/format.js';

export interface Reporter {
  /** A human message (stderr under --json-progress). */
  log(msg: string): void;
  /** A machine-readable line (--json-progress only; ignored otherwise). */
  json(obj: Record<string, unknown>): void;
  onEvent(e: TrainerEvent): void;
  stop(): void;
}

const fmtLoss = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** Tokens per second, smoothed over roughly the last 20 steps (one step's figure jitters). */
function smoothed(): (x: number) => number {
  let avg = NaN;
  return (x) => (avg = Number.isNaN(avg) ? x : 0.9 * avg + 0.1 * x);
}

function evalLine(e: Extract<TrainerEvent, { type: 'eval' }>): string {
  return `step ${e.step}: validation loss ${fmtLoss(e.loss)}, perplexity ${e.perplexity.toFixed(2)}` +
    (e.bitsPerByte !== undefined ? `, ${e.bitsPerByte.toFixed(4)} bits/byte` : '');
}

export function createReporter(o: { json: boolean }): Reporter {
  if (o.json) return jsonReporter();
  return process.stdout.isTTY ? barReporter() : plainReporter();
}

function jsonReporter(): Reporter {
  let total = 0;
  const out = (obj: Record<string, unknown>) => process.stdout.write(JSON.stringify(obj) + '\n');
  return {
    log: (msg) => process.stderr.write(msg + '\n'),
    json: (obj) => out({ step: 0, totalSteps: total, ...obj }),
    onEvent(e) {
      switch (e.type) {
        case 'start':
          total = e.totalSteps;
          return out({ event: 'start', step: e.step, totalSteps: total, resumedFrom: e.resumedFrom });
        case 'step':
          return out({
            event: 'step', step: e.step, totalSteps: e.totalSteps, loss: e.loss, lr: e.lr, grad_norm: e.gradNorm, clipped: e.clipped,
            tokens: e.tokens, tokens_per_s: e.tokensPerSec, elapsed_s: e.elapsedSec, eta_s: e.etaSec,
          });
        case 'eval':
          return out({
            event: 'eval', step: e.step, totalSteps: total, loss: e.loss, perplexity: e.perplexity,
            ...(e.bitsPerByte !== undefined ? { bits_per_byte: e.bitsPerByte } : {}), tokens: e.tokens,
          });
        case 'checkpoint':
          return out({ event: 'checkpoint', step: e.step, totalSteps: total, dir: e.dir });
        case 'end': {
          const r = e.result;
          return out({
            event: 'end', step: r.step, totalSteps: total, status: r.status, tokens: r.tokensSeen, lastCheckpoint: r.lastCheckpoint,
            ...(r.error ? { error: r.error.message } : {}),
          });
        }
      }
    },
    stop() {},
  };
}

/** A bar on stdout (step, loss, tokens/s, ETA); evaluations and messages print above it. */
function barReporter(): Reporter {
  const multi = new MultiBar({
    stream: process.stdout, hideCursor: true, clearOnComplete: false, fps: 5, barsize: 20,
    format: '{bar} {value}/{total} | loss {loss} | {tps} tok/s | {elapsed} | ETA {remaining}',
  }, Presets.shades_classic);
  let bar: SingleBar | null = null;
  const tps = smoothed();
  const payload = { loss: '-', tps: '-', elapsed: '0s', remaining: '?' }; // not {eta}: cli-progress's own token
  return {
    log: (msg) => { if (bar) multi.log(msg + '\n'); else console.log(msg); },
    json() {},
    onEvent(e) {
      switch (e.type) {
        case 'start':
          bar = multi.create(e.totalSteps, e.step, payload);
          break;
        case 'step':
          bar?.update(e.step, { loss: fmtLoss(e.loss), tps: fmtCount(Math.round(tps(e.tokensPerSec))), elapsed: fmtDuration(e.elapsedSec), remaining: fmtDuration(e.etaSec) });
          break;
        case 'eval':
          multi.log(evalLine(e) + '\n');
          break;
        case 'end':
          multi.stop();
          bar = null;
          break;
      }
    },
    stop() { multi.stop(); bar = null; },
  };
}

/** Not a terminal (a log file, CI): a line every 10% of the run or 30 s, and every evaluation. */
function plainReporter(): Reporter {
  let lastAt = 0, lastTenth = -1;
  const tps = smoothed();
  return {
    log: (msg) => console.log(msg),
    json() {},
    onEvent(e) {
      if (e.type === 'step') {
        const speed = tps(e.tokensPerSec);
        const tenth = Math.floor((10 * e.step) / e.totalSteps);
        const now = Date.now();
        if (tenth !== lastTenth || now - lastAt > 30_000 || e.step === e.totalSteps) {
          lastTenth = tenth;
          lastAt = now;
          console.log(`step ${e.step}/${e.totalSteps}  loss ${fmtLoss(e.loss)}  lr ${e.lr.toExponential(2)}  ${fmtCount(Math.round(speed))} tok/s  elapsed ${fmtDuration(e.elapsedSec)}  ETA ${fmtDuration(e.etaSec)}`);
        }
      } else if (e.type === 'eval') console.log(evalLine(e));
    },
    stop() {},
  };
}

export function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

