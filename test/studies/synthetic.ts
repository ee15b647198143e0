// Synthetic stores for the study analyses: a study's real plan registered in a temporary store,
// each run given the final losses (and, optionally, curves) a test chooses, as if trained. This
// is how the tests check that a verdict follows the data: the same analysis, fed a world where
// the claim is false, must say so.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRuns } from '../../src/lab/results/query.js';
import { recordSweep } from '../../src/lab/experiments/runner.js';
import { Store } from '../../src/lab/results/store.js';
import type { Sweep } from '../../src/lab/experiments/sweep.js';
import { studyRuns } from '../../src/studies/run.js';
import { expandStudy, type StudyRun } from '../../src/studies/study.js';

export interface SyntheticRun {
  name: string;
  point: Record<string, unknown>;
  config: Record<string, unknown>;
}

/** What a synthetic run logged: its final validation loss (null: the run failed), and extra final metrics. */
export type Outcome = number | null | { loss: number; curve?: { step: number; loss: number }[]; extra?: Record<string, number> };

/** Registers `sweep` in a fresh temporary store and "trains" each run with `outcome`; returns the store and the study runs. */
export function syntheticStudy(sweep: Sweep, outcome: (r: SyntheticRun) => Outcome): { store: Store; runs: StudyRun[]; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-synth-'));
  const store = Store.open(join(dir, 'windtunnel.db'));
  const planned = expandStudy(sweep);
  recordSweep(store, sweep, planned, join(dir, 'runs'));
  for (const r of planned) {
    const o = outcome({ name: r.name, point: r.point, config: r.config });
    const steps = (r.config as { steps: number }).steps;
    if (o === null) { store.claim(r.id, 'synthetic'); store.fail(r.id, 'synthetic failure'); continue; }
    const { loss, curve, extra } = typeof o === 'number' ? { loss: o, curve: undefined, extra: undefined } : o;
    store.logMetrics(r.id, (curve ?? [{ step: steps, loss }]).map((p) => ({ step: p.step, values: { loss: p.loss, lr: 1e-3 } })));
    store.logEvals(r.id, [{ step: steps, split: 'val', values: { loss, ...extra } }]);
    store.finish(r.id);
  }
  const runs = studyRuns(queryRuns(store, { sweep: sweep.name }), planned);
  return { store, runs, dispose: () => { store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** A deterministic generator (mulberry32) for seed noise. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
