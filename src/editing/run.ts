// Editing a trained run end to end: load it, locate the layer by causal tracing (unless given),
// estimate the key statistics on its training corpus (cached), score the locality baseline,
// apply the edits one after another (or in batches), score every edit made so far, and save the
// edited weights as a new run (training/derived-run.ts) that every other command can open.

import { loadRun, type RunConfig } from '../training/assemble.js';
import { saveDerivedRun } from '../training/derived-run.js';
import { loadOrBuildTokens, splitOptions, type CorpusSpec, type TokenSource, type Tokenizer } from '../data/index.js';
import type { EditRequest } from '../data/fact-world.js';
import type { Transformer } from '../models/index.js';
import { UsageError } from '../base/errors.js';
import { GraceCodebook, editorFor, memitLayers, type EditorName, type EditorOptions } from './editors.js';
import { keySecondMoment } from './key-stats.js';
import { traceRequests, type LayerTrace } from './locate.js';
import { localityBaseline, scoreEdits, type EditScores } from './metrics.js';
import type { EditedModel } from './model-ops.js';

export interface EditSession {
  edited: EditedModel;
  tokenizer: Tokenizer;
  options: EditorOptions;
  /** Applies requests in order, `batch` at a time (1: sequential editing). */
  apply(requests: readonly EditRequest[], batch?: number): void;
}

/** Windows of `context + 1` tokens spread evenly over a token source (held-out loss). */
export function evenWindows(source: TokenSource, count: number, context: number): Int32Array[] {
  const n = Math.min(count, Math.floor(source.length / (context + 1)));
  const stride = Math.floor(source.length / Math.max(1, n));
  return Array.from({ length: n }, (_, i) => { const w = new Int32Array(context + 1); source.read(i * stride, context + 1, w); return w; });
}

export interface SessionOptions extends Partial<EditorOptions> {
  method: EditorName;
  /** Tokens the key statistics are estimated on (the run's training split). */
  statsSource?: TokenSource;
  statsWindows?: number;
  cacheDir?: string | null;
}

/** An editing session on a model (the model is changed in place by weight editors). */
export function editSession(model: Transformer, tokenizer: Tokenizer, o: SessionOptions): EditSession {
  if (o.layer === undefined) throw new Error('editSession: give the layer (traceRequests finds one)');
  const edited: EditedModel = { model, hooks: [] };
  const moments = new Map<number, Float64Array>();
  // Statistics of the model as it was before any edit (as ROME and MEMIT use them).
  const needsStats = o.method === 'rome' || o.method === 'memit';
  if (needsStats) {
    if (!o.statsSource) throw new Error(`${o.method} needs a token source for its key statistics`);
    const layers = o.method === 'memit' ? memitLayers({ layer: o.layer, layers: o.layers }) : [o.layer];
    for (const l of layers) moments.set(l, keySecondMoment(model, l, o.statsSource, { windows: o.statsWindows, cacheDir: o.cacheDir }).moment);
  }
  const options: EditorOptions = { ...o, layer: o.layer, keyMoment: (l) => {
    const mo = moments.get(l);
    if (!mo) throw new Error(`no key statistics for layer ${l}`);
    return mo;
  } };
  const codebook = o.method === 'grace' ? new GraceCodebook(o.layer) : undefined;
  if (codebook) edited.hooks.push(...codebook.hooks());
  const editor = editorFor(o.method, codebook);
  return {
    edited, tokenizer, options,
    apply(requests, batch = 1) {
      if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`batch must be a positive integer, got ${batch}`);
      for (let i = 0; i < requests.length; i += batch) editor.apply(edited, tokenizer, requests.slice(i, i + batch), options);
    },
  };
}

/** The training split of a run's corpus, tokenized with its tokenizer (cached like training's). */
export function trainingTokens(config: RunConfig, tokenizer: Tokenizer): TokenSource & { close(): void } {
  const d = config.data;
  if (d.corpus.kind === 'task' || d.corpus.kind === 'task-file') throw new UsageError('editing needs a run trained on text (facts, mix, brown, ...), not a task corpus');
  return loadOrBuildTokens({ corpus: d.corpus as CorpusSpec, split: 'train', splitOptions: splitOptions(d), tokenizer, cacheDir: d.cacheDir }).file;
}

/** Held-out Brown windows in the run's tokenizer (validation split of Brown). */
export function brownValidWindows(config: RunConfig, tokenizer: Tokenizer, count = 16): Int32Array[] {
  const file = loadOrBuildTokens({ corpus: { kind: 'brown' }, split: 'valid', splitOptions: splitOptions(config.data), tokenizer, cacheDir: config.data.cacheDir }).file;
  try {
    return evenWindows(file, count, Math.min(config.context, config.model.nCtx - 1));
  } finally {
    file.close();
  }
}

export interface EditRunOptions extends Partial<EditorOptions> {
  runDir: string;
  method: EditorName;
  requests: readonly EditRequest[];
  /** Save the edited model here as a new run (weight editors only). */
  out?: string;
  /** Requests per editor call (memit batches; default 1). */
  batch?: number;
  log?: (msg: string) => void;
}

export interface EditRunResult {
  method: EditorName;
  layer: number;
  trace: LayerTrace | null;
  edits: number;
  before: EditScores;
  after: EditScores;
  seconds: number;
  out: string | null;
}

export function editRun(o: EditRunOptions): EditRunResult {
  const log = o.log ?? (() => {});
  if (o.out && o.method === 'grace') throw new UsageError('grace keeps its edits in a codebook beside the weights, which a run folder cannot hold; run it without --out');
  const t0 = performance.now();
  const run = loadRun(o.runDir);
  const edited: EditedModel = { model: run.model, hooks: [] };
  let trace: LayerTrace | null = null;
  let layer = o.layer;
  if (layer === undefined) {
    trace = traceRequests(edited, run.tokenizer, o.requests.slice(0, 16));
    layer = trace.layer;
    log(`causal tracing over ${trace.traced} facts puts the MLP at layer ${layer} first`);
  }
  const tokens = trainingTokens(run.config, run.tokenizer);
  const valid = brownValidWindows(run.config, run.tokenizer);
  const base = localityBaseline(edited, run.tokenizer, o.requests);
  const before = scoreEdits(edited, run.tokenizer, o.requests, { localityBase: base, validWindows: valid });
  try {
    const session = editSession(run.model, run.tokenizer, { ...o, layer, statsSource: tokens, cacheDir: run.config.data.cacheDir });
    session.apply(o.requests, o.batch ?? 1);
    log(`applied ${o.requests.length} edits with ${o.method} at layer ${layer}`);
    const after = scoreEdits(session.edited, run.tokenizer, o.requests, { localityBase: base, validWindows: valid });
    let out: string | null = null;
    if (o.out) {
      saveDerivedRun({ from: o.runDir, to: o.out, model: run.model, operation: { kind: 'edit', method: o.method, layer, edits: o.requests.length, batch: o.batch ?? 1 } });
      out = o.out;
    }
    return { method: o.method, layer, trace, edits: o.requests.length, before, after, seconds: (performance.now() - t0) / 1000, out };
  } finally {
    tokens.close();
  }
}
