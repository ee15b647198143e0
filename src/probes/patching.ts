// Activation patching and its gradient approximation (attribution patching).
//
// A task is a pair of prompts of equal shape, clean and corrupted, and a metric on the logits
// that is high for the clean answer (logit difference, probability of the correct token).
// Activation patching runs the corrupted prompt and puts the clean activation back at one site
// (a layer's residual stream, attention output or MLP output at one position, or one head's
// output); the effect is the metric of that run, normalised so that 0 is the corrupted run and 1
// the clean one: (m_patched - m_corrupted) / (m_clean - m_corrupted).
// Attribution patching (Nanda 2023) estimates every site at once from one forward and backward
// pass on the corrupted prompt: m_patched - m_corrupted ~ grad_corrupted . (a_clean - a_corrupted),
// normalised the same way.
//
// Heads are patched through hook_z (the head's output before attn.proj): replacing a head's z
// replaces exactly its hook_result, without running the projection per head.

import { Tensor, backward, mul, noGrad, softmax, sum } from '../engine/index.js';
import type { Transformer } from '../models/transformer.js';
import { blockHookNames } from '../models/hooks.js';

/** Logits [B, T, V] -> a scalar tensor, differentiable (attribution patching needs its gradient). */
export type Metric = (logits: Tensor) => Tensor;

/** Per row b: the position read (default: the last), the correct token and (for logit difference) the wrong one. */
export interface AnswerSpec { correct: number[]; wrong?: number[]; position?: number }

function answerMask(logits: Tensor, a: AnswerSpec, withWrong: boolean): Tensor {
  const [B, T, V] = logits.shape;
  if (a.correct.length !== B) throw new Error(`metric: ${a.correct.length} correct tokens for a batch of ${B}`);
  if (withWrong && a.wrong?.length !== B) throw new Error(`metric: logit difference needs ${B} wrong tokens, got ${a.wrong?.length ?? 0}`);
  const pos = a.position ?? T - 1;
  if (pos < 0 || pos >= T) throw new Error(`metric: position ${pos} outside 0..${T - 1}`);
  const m = new Float32Array(B * T * V);
  for (let b = 0; b < B; b++) {
    const off = (b * T + pos) * V;
    for (const [tok, w] of [[a.correct[b], 1], ...(withWrong ? [[a.wrong![b], -1]] : [])]) {
      if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new Error(`metric: token ${tok} outside the vocabulary 0..${V - 1}`);
      m[off + tok] += w / B;
    }
  }
  return new Tensor(logits.dtype === 'float64' ? Float64Array.from(m) : m, [B, T, V]);
}

/** Mean over rows of logit[correct] - logit[wrong] at the answer position. */
export function logitDifference(a: AnswerSpec): Metric {
  return (logits) => sum(mul(logits, answerMask(logits, a, true)));
}

/** Mean over rows of the probability of the correct token at the answer position. */
export function correctTokenProbability(a: AnswerSpec): Metric {
  return (logits) => sum(mul(softmax(logits), answerMask(logits, a, false)));
}

export type PatchSite = 'resid_pre' | 'resid_mid' | 'resid_post' | 'attn_out' | 'mlp_out' | 'head';

/** The hook a site reads at layer l. */
export function siteHook(site: PatchSite, l: number): string {
  const h = blockHookNames(l);
  return { resid_pre: h.residPre, resid_mid: h.residMid, resid_post: h.residPost, attn_out: h.attnOut, mlp_out: h.mlpOut, head: h.z }[site];
}

export interface PatchTask {
  clean: Tensor; // int32 [B, T]
  corrupted: Tensor; // int32 [B, T], same shape
  metric: Metric;
}

export interface PatchResult {
  site: PatchSite;
  method: 'activation' | 'attribution';
  metricClean: number;
  metricCorrupted: number;
  /** effects[layer][unit], normalised: 0 the corrupted run, 1 the clean run. */
  effects: number[][];
  /** What a unit is: 'pos 3' for positions, 'head 2' for heads over all positions, 'head 2 pos 3' for heads by position. */
  units: string[];
}

export interface PatchOptions {
  /** Heads only: patch each head at each position separately (units head-major); default all positions at once. */
  byPosition?: boolean;
  /** Layers to patch (default all). */
  layers?: number[];
}

function checkTask(model: Transformer, t: PatchTask): void {
  for (const [n, x] of [['clean', t.clean], ['corrupted', t.corrupted]] as const) {
    if (x.dtype !== 'int32' || x.ndim !== 2) throw new Error(`patching: ${n} ids must be int32 [B, T]`);
  }
  if (t.clean.shape[0] !== t.corrupted.shape[0] || t.clean.shape[1] !== t.corrupted.shape[1]) {
    throw new Error(`patching: clean [${t.clean.shape}] and corrupted [${t.corrupted.shape}] prompts must have the same shape`);
  }
  void model;
}

/** Units of a site and, for each, which elements of an activation [B, T, ...] it covers. */
function siteUnits(site: PatchSite, model: Transformer, T: number, byPosition: boolean) {
  const H = model.config.nHead;
  const units: { label: string; pos: number | null; head: number | null }[] = [];
  if (site !== 'head') for (let t = 0; t < T; t++) units.push({ label: `pos ${t}`, pos: t, head: null });
  else if (!byPosition) for (let h = 0; h < H; h++) units.push({ label: `head ${h}`, pos: null, head: h });
  else for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) units.push({ label: `head ${h} pos ${t}`, pos: t, head: h });
  return units;
}

/** Calls fn(flat index) for each element of activation [B, T, ...] (heads: [B, T, H, D]) a unit covers. */
function forEachCovered(shape: readonly number[], unit: { pos: number | null; head: number | null }, fn: (i: number) => void): void {
  const [B, T] = shape;
  const inner = shape.slice(2).reduce((p, n) => p * n, 1);
  const H = unit.head === null ? 1 : shape[2], D = unit.head === null ? inner : inner / H;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    if (unit.pos !== null && t !== unit.pos) continue;
    const base = (b * T + t) * inner + (unit.head === null ? 0 : unit.head * D);
    for (let k = 0; k < D; k++) fn(base + k);
  }
}

const layerList = (model: Transformer, o: PatchOptions) => o.layers ?? Array.from({ length: model.config.nLayer }, (_, l) => l);

/** Clean and corrupted metric values, and the clean activations at the chosen hooks. */
function baseline(model: Transformer, task: PatchTask, names: string[]) {
  return noGrad(() => {
    const clean = model.runWithCache(task.clean, { names });
    const corrupted = model.forward(task.corrupted).logits;
    return { cache: clean.cache, mClean: task.metric(clean.logits).item(), mCorrupted: task.metric(corrupted).item() };
  });
}

function normaliser(mClean: number, mCorrupted: number): (v: number) => number {
  const span = mClean - mCorrupted;
  if (!(Math.abs(span) > 1e-12)) throw new Error(`patching: the metric is the same on clean and corrupted prompts (${mClean}); nothing to recover`);
  return (delta) => delta / span;
}

/** Activation patching at every layer and unit of a site (one forward pass per unit). */
export function activationPatching(model: Transformer, task: PatchTask, site: PatchSite, o: PatchOptions = {}): PatchResult {
  checkTask(model, task);
  const layers = layerList(model, o);
  const { cache, mClean, mCorrupted } = baseline(model, task, layers.map((l) => siteHook(site, l)));
  const norm = normaliser(mClean, mCorrupted);
  const units = siteUnits(site, model, task.clean.shape[1], o.byPosition ?? false);
  const effects = layers.map((l) => {
    const name = siteHook(site, l), clean = cache.get(name);
    return units.map((u) => noGrad(() => {
      const patch = (act: Tensor) => {
        const data = act.f.slice();
        forEachCovered(act.shape, u, (i) => { data[i] = clean.f[i]; });
        return new Tensor(data, act.shape);
      };
      const logits = model.forward(task.corrupted, { hooks: { [name]: patch } }).logits;
      return norm(task.metric(logits).item() - mCorrupted);
    }));
  });
  return { site, method: 'activation', metricClean: mClean, metricCorrupted: mCorrupted, effects, units: units.map((u) => u.label) };
}

/** Attribution patching: the first-order estimate of activationPatching, from one backward pass. */
export function attributionPatching(model: Transformer, task: PatchTask, site: PatchSite, o: PatchOptions = {}): PatchResult {
  checkTask(model, task);
  const layers = layerList(model, o);
  const names = layers.map((l) => siteHook(site, l));
  const { cache: clean, mClean, mCorrupted } = baseline(model, task, names);
  const norm = normaliser(mClean, mCorrupted);
  const run = model.runWithCache(task.corrupted, { names, retainGrad: true });
  try {
    backward(task.metric(run.logits));
    const units = siteUnits(site, model, task.clean.shape[1], o.byPosition ?? false);
    const effects = names.map((name) => {
      const act = run.cache.get(name);
      if (!act.grad) throw new Error(`attribution patching: no gradient reached ${name}`);
      const g = act.grad.f, a = act.f, c = clean.get(name).f;
      return units.map((u) => {
        let est = 0;
        forEachCovered(act.shape, u, (i) => { est += g[i] * (c[i] - a[i]); });
        return norm(est);
      });
    });
    return { site, method: 'attribution', metricClean: mClean, metricCorrupted: mCorrupted, effects, units: units.map((u) => u.label) };
  } finally {
    model.zeroGrad();
  }
}
