// The knowledge editors. Each takes an edited model (EditedModel: weights plus hooks) and a batch
// of edit requests and changes exactly what it says:
//
//   ft-l    fine-tunes one layer's MLP output projection on the rewrite prompt, every step
//           projected back into an L-infinity ball around the old weights (the norm constraint).
//   lora    trains a rank-r adapter B A on one layer's MLP output projection, then merges it:
//           the weight moves by a matrix of rank at most r.
//   rome    Meng et al. 2022: a key k* (the MLP's hidden activation at the subject's last token,
//           averaged over prefixes) and a value change d (optimised so the model says the new
//           object) give a rank-one update of the MLP output projection,
//           dW = d (C^-1 k*)^T / (k*^T C^-1 k*), C = E[k k^T] on the corpus.
//   memit   Meng et al. 2023: a batch of edits, the change of the residual stream at the last
//           layer of a range optimised per edit and spread over the range's MLPs, each solving
//           dW = R K^T (lambda C + K K^T)^-1 for the keys K of the batch.
//   grace   Hartvigsen et al. 2023: no weight changes; a codebook at one layer's MLP output. A
//           key is the MLP's hidden activation at the prompt's last token; when a position's
//           activation lies within the deferral radius of a key, the MLP output there is replaced
//           by the key's learned value. Conflicting keys shrink their radii.
//
// Weight editors change the model in place; grace adds hooks. `changes` names what may change.

import { Tensor, add, backward, matmul, mul, noGrad, reshape, transpose, softmax, logSoftmax, sum } from '../engine/index.js';
import { blockHookNames, type HookPair } from '../models/index.js';
import type { Tokenizer } from '../data/index.js';
import { Rng } from '../base/random.js';
import type { EditRequest } from '../data/fact-world.js';
import { SmallAdam, encodePrompt, subjectLastToken, targetBatch, targetLoss, withTrainable, type EditedModel, type TargetRow } from './model-ops.js';
import { solveSpd } from './key-stats.js';

export const editorNames = ['ft-l', 'lora', 'rome', 'memit', 'grace'] as const;
export type EditorName = (typeof editorNames)[number];

export interface EditorOptions {
  /** The edited layer (rome, ft-l, lora, grace); the top of the range for memit. */
  layer: number;
  /** memit: layers edited, ending at `layer` (default [layer - 1, layer] clipped to 0). */
  layers?: number[];
  /** E[k k^T] at a layer, [F, F] (rome, memit). */
  keyMoment?: (layer: number) => Float64Array;
  /** Optimisation steps for the value / fine-tuning (default 25). */
  steps?: number;
  /** rome, memit: texts before the rewrite prompt for keys and values (default ['']). */
  prefixes?: string[];
  /** rome, memit: weight of |d|^2 / |h|^2 in the value's loss (default 0.05). */
  valueDecay?: number;
  /** Learning rate; for rome, memit and grace in units of the activation's RMS per component. */
  lr?: number;
  /** ft-l: the L-infinity radius around the old weights (default 0.01). */
  normConstraint?: number;
  /** lora: rank (default 4). */
  rank?: number;
  /** memit: weight of C against the batch's keys (default 1e3). */
  momentWeight?: number;
  /** grace: deferral radius of a new key, as a fraction of the key's norm (default 0.5). */
  radius?: number;
  seed?: number;
}

export interface Editor {
  name: EditorName;
  /** Parameter names the editor may change ('hooks' for hook-based editors). */
  changes(o: EditorOptions, nLayer: number): string[];
  /** Applies a batch of requests (weight editors: in place). */
  apply(m: EditedModel, tokenizer: Tokenizer, requests: readonly EditRequest[], o: EditorOptions): void;
}

/**
 * Texts put before the rewrite prompt so a key or value does not depend on one context (ROME
 * uses generated text). Our models read facts at a document's start, where prefixes are out of
 * distribution, so by default there is only the empty one; `prefixes` in the options adds others.
 */
export const contextPrefixes = [''];

interface Prepared { rows: TargetRow[]; subjectPos: number[] }

function prepare(tokenizer: Tokenizer, r: EditRequest, prefixes: readonly string[] = contextPrefixes): Prepared {
  const target = tokenizer.encode(r.targetNew);
  const rows: TargetRow[] = [], subjectPos: number[] = [];
  for (const p of prefixes) {
    const prompt = p + r.prompt;
    rows.push({ prompt: encodePrompt(tokenizer, prompt), target });
    subjectPos.push(subjectLastToken(tokenizer, prompt, r.subject));
  }
  return { rows, subjectPos };
}

const mlpProj = (l: number) => `blocks.${l}.mlp.proj.weight`;

function checkLayer(l: number, nLayer: number): void {
  if (!(Number.isInteger(l) && l >= 0 && l < nLayer)) throw new Error(`editor: layer ${l} outside 0..${nLayer - 1}`);
}

/**
 * Editors that write at the subject's last token need a later layer to carry the change to the
 * prompt's end: in the last layer that position reaches no later prediction.
 */
function checkSubjectLayer(l: number, nLayer: number, method: string): void {
  checkLayer(l, nLayer);
  if (l === nLayer - 1) throw new Error(`${method}: layer ${l} is the last layer, where the subject's token reaches no later position; edit a layer below ${l}`);
}

/** Mean over rows of the activation at `hook`, row b at position pos[b]: [dim]. */
function meanActivation(m: EditedModel, p: Prepared, hook: string): Float64Array {
  return noGrad(() => {
    const { ids, L } = targetBatch(p.rows, 0);
    const act = m.model.runWithCache(ids, { names: [hook], hooks: m.hooks }).cache.get(hook);
    const D = act.shape[2], out = new Float64Array(D);
    p.subjectPos.forEach((pos, b) => { for (let d = 0; d < D; d++) out[d] += act.f[(b * L + pos) * D + d] / p.rows.length; });
    return out;
  });
}

/** A [B, L, 1] mask with a one at (b, pos[b]). */
function positionMask(B: number, L: number, pos: readonly number[], dtype: 'float32' | 'float64'): Tensor {
  const m = dtype === 'float64' ? new Float64Array(B * L) : new Float32Array(B * L);
  pos.forEach((p, b) => (m[b * L + p] = 1));
  return new Tensor(m, [B, L, 1]);
}

/**
 * The change d of the activation at `hook` (at the subject's last token) that makes the model
 * say the new object: Adam on the target loss plus a KL term keeping "{subject} is" unchanged and
 * a norm penalty; |d| is clamped to 4 times the residual stream's norm there.
 */
function optimiseDelta(m: EditedModel, tokenizer: Tokenizer, r: EditRequest, p: Prepared, hook: string, layer: number, o: EditorOptions): Float64Array {
  const model = m.model, C = model.config.dModel, dtype = model.dtype;
  // Sizes are relative to the residual stream there (an MLP's own output can be tiny).
  const base = meanActivation(m, p, blockHookNames(layer).residPost);
  const baseNorm = Math.sqrt(base.reduce((s, x) => s + x * x, 0)) || 1;
  const delta = new Tensor(dtype === 'float64' ? new Float64Array(C) : new Float32Array(C), [C]);
  const { L } = targetBatch(p.rows, 0);
  const mask = positionMask(p.rows.length, L, p.subjectPos, dtype);
  const essence = encodePrompt(tokenizer, `${r.subject} is`);
  const essencePos = subjectLastToken(tokenizer, `${r.subject} is`, r.subject);
  const V = model.config.vocabSize;
  const essenceIds = new Tensor(Int32Array.from(essence), [1, essence.length]);
  const essenceMask = positionMask(1, essence.length, [essencePos], dtype);
  // KL(before || after) on the next token after "{subject} is", up to the constant entropy term:
  // the cross term sum_v p_before(v) log p_after(v), read at the last position by a weight mask.
  const Te = essence.length;
  const before = noGrad(() => softmax(model.forward(essenceIds, { hooks: m.hooks }).logits).f.slice((Te - 1) * V));
  const weights = dtype === 'float64' ? new Float64Array(Te * V) : new Float32Array(Te * V);
  weights.set(before, (Te - 1) * V);
  const beforeT = new Tensor(weights, [1, Te, V]);
  // Adam's step is per component, so it is scaled by the stream's RMS per component.
  const opt = new SmallAdam([delta], (o.lr ?? 0.5) * baseNorm / Math.sqrt(C));
  withTrainable(model, [delta], () => {
    for (let s = 0; s < (o.steps ?? 25); s++) {
      const shift = (msk: Tensor): HookPair => [hook, (x) => add(x, mul(msk, reshape(delta, [1, 1, C])))];
      const nll = targetLoss(m, p.rows, [shift(mask)]);
      if (nll.item() < 0.02) break;
      const logits = model.forward(essenceIds, { hooks: [...m.hooks, shift(essenceMask)] }).logits; // [1, Te, V]
      const kl = mul(sum(mul(logSoftmax(logits), beforeT)), -0.0625);
      const decay = mul(sum(mul(delta, delta)), (o.valueDecay ?? 0.05) / (baseNorm * baseNorm));
      backward(add(add(nll, kl), decay)); if (process.env.DBG) console.log(s, nll.item(), kl.item(), decay.item(), baseNorm);
      opt.step();
      // clamp the norm
      const d = delta.f;
      let n = 0;
      for (let i = 0; i < C; i++) n += d[i] * d[i];
      n = Math.sqrt(n);
      if (n > 4 * baseNorm) for (let i = 0; i < C; i++) d[i] *= (4 * baseNorm) / n;
    }
  });
  return Float64Array.from(delta.f);
}

/** Adds the float64 [rows, cols] update to a parameter in place. */
function addToParam(m: EditedModel, name: string, dW: Float64Array): void {
  const w = m.model.params.get(name);
  if (!w) throw new Error(`editor: no parameter ${name}`);
  if (w.size !== dW.length) throw new Error(`editor: update of ${dW.length} values for ${name} of ${w.size}`);
  const f = w.f;
  for (let i = 0; i < f.length; i++) f[i] += dW[i];
}

function regularised(moment: Float64Array, F: number, weight: number): Float64Array {
  const A = Float64Array.from(moment, (x) => x * weight);
  let tr = 0;
  for (let i = 0; i < F; i++) tr += moment[i * F + i];
  for (let i = 0; i < F; i++) A[i * F + i] += 1e-4 * weight * (tr / F) + 1e-8;
  return A;
}

// ---- ROME ----------------------------------------------------------------------------------

export const rome: Editor = {
  name: 'rome',
  changes: (o) => [mlpProj(o.layer)],
  apply(m, tokenizer, requests, o) {
    const { nLayer, dModel: C, dMlp: F } = m.model.config;
    checkSubjectLayer(o.layer, nLayer, 'rome');
    if (!o.keyMoment) throw new Error('rome needs the key statistics (keyMoment)');
    const A = regularised(o.keyMoment(o.layer), F, 1);
    const h = blockHookNames(o.layer);
    for (const r of requests) {
      const p = prepare(tokenizer, r, o.prefixes);
      const k = meanActivation(m, p, h.mlpPost); // k* [F]
      const d = optimiseDelta(m, tokenizer, r, p, h.mlpOut, o.layer, o); // [C]
      const u = solveSpd(A, F, k, 1); // C^-1 k*
      let ku = 0;
      for (let i = 0; i < F; i++) ku += k[i] * u[i];
      const dW = new Float64Array(C * F);
      for (let i = 0; i < C; i++) for (let j = 0; j < F; j++) dW[i * F + j] = (d[i] * u[j]) / ku;
      addToParam(m, mlpProj(o.layer), dW);
    }
  },
};

// ---- MEMIT ---------------------------------------------------------------------------------

export function memitLayers(o: EditorOptions): number[] {
  return o.layers ?? [Math.max(0, o.layer - 1), o.layer].filter((x, i, a) => a.indexOf(x) === i);
}

export const memit: Editor = {
  name: 'memit',
  changes: (o) => memitLayers(o).map(mlpProj),
  apply(m, tokenizer, requests, o) {
    const { nLayer, dModel: C, dMlp: F } = m.model.config;
    const layers = memitLayers(o);
    layers.forEach((l) => checkSubjectLayer(l, nLayer, 'memit'));
    if (layers.some((l, i) => i > 0 && l <= layers[i - 1])) throw new Error(`memit: layers must increase, got ${layers.join(', ')}`);
    if (!o.keyMoment) throw new Error('memit needs the key statistics (keyMoment)');
    const top = blockHookNames(layers[layers.length - 1]).residPost;
    const prepared = requests.map((r) => prepare(tokenizer, r, o.prefixes));
    const n = requests.length;
    // target residuals z_i = h_i + d_i at the top layer
    const Z = prepared.map((p, i) => {
      const hcur = meanActivation(m, p, top), d = optimiseDelta(m, tokenizer, requests[i], p, top, layers[layers.length - 1], o);
      return hcur.map((x, j) => x + d[j]);
    });
    layers.forEach((l, li) => {
      const K = new Float64Array(F * n), R = new Float64Array(C * n); // columns are edits
      prepared.forEach((p, i) => {
        const k = meanActivation(m, p, blockHookNames(l).mlpPost), hcur = meanActivation(m, p, top);
        for (let f = 0; f < F; f++) K[f * n + i] = k[f];
        for (let c = 0; c < C; c++) R[c * n + i] = (Z[i][c] - hcur[c]) / (layers.length - li);
      });
      // (lambda C + K K^T) X = K R^T, X [F, C]; dW = X^T [C, F]
      const A = regularised(o.keyMoment!(l), F, o.momentWeight ?? 1e3);
      for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) { let s = 0; for (let i = 0; i < n; i++) s += K[a * n + i] * K[b * n + i]; A[a * F + b] += s; }
      const KR = new Float64Array(F * C);
      for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) { let s = 0; for (let i = 0; i < n; i++) s += K[f * n + i] * R[c * n + i]; KR[f * C + c] = s; }
      const X = solveSpd(A, F, KR, C);
      const dW = new Float64Array(C * F);
      for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) dW[c * F + f] = X[f * C + c];
      addToParam(m, mlpProj(l), dW);
    });
  },
};

// ---- FT-L and LoRA -------------------------------------------------------------------------

function rewriteRows(tokenizer: Tokenizer, requests: readonly EditRequest[]): TargetRow[] {
  return requests.map((r) => ({ prompt: encodePrompt(tokenizer, r.prompt), target: tokenizer.encode(r.targetNew) }));
}

export const ftL: Editor = {
  name: 'ft-l',
  changes: (o) => [mlpProj(o.layer)],
  apply(m, tokenizer, requests, o) {
    checkLayer(o.layer, m.model.config.nLayer);
    const w = m.model.params.get(mlpProj(o.layer))!;
    const w0 = Float64Array.from(w.f), eps = o.normConstraint ?? 0.01;
    const rows = rewriteRows(tokenizer, requests);
    const opt = new SmallAdam([w], o.lr ?? 1e-3);
    withTrainable(m.model, [w], () => {
      for (let s = 0; s < (o.steps ?? 25); s++) {
        const loss = targetLoss(m, rows);
        if (loss.item() < 0.02) break;
        backward(loss);
        opt.step();
        const f = w.f;
        for (let i = 0; i < f.length; i++) f[i] = Math.min(w0[i] + eps, Math.max(w0[i] - eps, f[i]));
      }
    });
  },
};

export const lora: Editor = {
  name: 'lora',
  changes: (o) => [mlpProj(o.layer)],
  apply(m, tokenizer, requests, o) {
    checkLayer(o.layer, m.model.config.nLayer);
    const { dModel: C, dMlp: F } = m.model.config, r = o.rank ?? 4, dtype = m.model.dtype;
    const arr = (n: number) => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
    // A random (seeded), B zero: the adapter starts as the identity edit.
    const a = arr(r * F), rng = new Rng(o.seed ?? 0);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() / Math.sqrt(F);
    const A = new Tensor(a, [r, F]), B = new Tensor(arr(C * r), [C, r]);
    const h = blockHookNames(o.layer);
    let post: Tensor | null = null;
    const hooks: HookPair[] = [
      [h.mlpPost, (x) => { post = x; }],
      [h.mlpOut, (x) => add(x, matmul(matmul(post!, transpose(A)), transpose(B)))],
    ];
    const rows = rewriteRows(tokenizer, requests);
    const opt = new SmallAdam([A, B], o.lr ?? 1e-2);
    withTrainable(m.model, [A, B], () => {
      for (let step = 0; step < (o.steps ?? 30); step++) {
        const loss = targetLoss(m, rows, hooks);
        if (loss.item() < 0.02) break;
        backward(loss);
        opt.step();
      }
    });
    // merge: W += B A
    const dW = new Float64Array(C * F);
    for (let i = 0; i < C; i++) for (let j = 0; j < F; j++) { let t = 0; for (let k = 0; k < r; k++) t += B.f[i * r + k] * A.f[k * F + j]; dW[i * F + j] = t; }
    addToParam(m, mlpProj(o.layer), dW);
  },
};

// ---- GRACE ---------------------------------------------------------------------------------

export interface GraceEntry { key: Float64Array; value: Float32Array | Float64Array; radius: number; target: string }

/** The codebook of a GRACE-edited model: where its hooks read their entries. */
export class GraceCodebook {
  readonly entries: GraceEntry[] = [];
  constructor(readonly layer: number) {}

  /** The hooks that replace the MLP output at positions whose key falls inside an entry's radius. */
  hooks(): HookPair[] {
    const h = blockHookNames(this.layer);
    let keys: Tensor | null = null;
    return [
      [h.mlpPost, (x) => { keys = x; }],
      [h.mlpOut, (x) => {
        if (this.entries.length === 0 || !keys) return;
        const [B, T, C] = x.shape, F = keys.shape[2], kf = keys.f;
        const hits: { at: number; e: GraceEntry }[] = [];
        for (let p = 0; p < B * T; p++) {
          let best: GraceEntry | null = null, bestD = Infinity;
          for (const e of this.entries) {
            let d = 0;
            for (let f = 0; f < F; f++) { const z = kf[p * F + f] - e.key[f]; d += z * z; }
            d = Math.sqrt(d);
            if (d <= e.radius && d < bestD) { best = e; bestD = d; }
          }
          if (best) hits.push({ at: p, e: best });
        }
        if (hits.length === 0) return;
        const mask = new (x.dtype === 'float64' ? Float64Array : Float32Array)(B * T * C).fill(1);
        const repl = new (x.dtype === 'float64' ? Float64Array : Float32Array)(B * T * C);
        for (const { at, e } of hits) { mask.fill(0, at * C, (at + 1) * C); repl.set(e.value, at * C); }
        return add(mul(x, new Tensor(mask, [B, T, C])), new Tensor(repl, [B, T, C]));
      }],
    ];
  }
}

/** GRACE editor state lives in the codebook; the EditedModel's hooks must include codebook.hooks(). */
export function graceEditor(codebook: GraceCodebook): Editor {
  return {
    name: 'grace',
    changes: () => ['hooks'],
    apply(m, tokenizer, requests, o) {
      checkLayer(codebook.layer, m.model.config.nLayer);
      const { dModel: C, dMlp: F } = m.model.config, h = blockHookNames(codebook.layer);
      for (const r of requests) {
        const prompt = encodePrompt(tokenizer, r.prompt), pos = prompt.length - 1;
        const p: Prepared = { rows: [{ prompt, target: tokenizer.encode(r.targetNew) }], subjectPos: [pos] };
        const key = meanActivation(m, p, h.mlpPost);
        const norm = Math.sqrt(key.reduce((s, x) => s + x * x, 0));
        // value: the MLP output there, trained so the model says the new object when it is used
        const value = new Tensor(Float32Array.from(meanActivation(m, p, h.mlpOut)), [C]);
        if (m.model.dtype === 'float64') throw new Error('grace: float32 models only');
        const { L } = targetBatch(p.rows, 0);
        const mask = positionMask(1, L, [pos], 'float32');
        const keep = new Tensor(Float32Array.from({ length: L * C }, (_, i) => (Math.floor(i / C) === pos ? 0 : 1)), [1, L, C]);
        const rms = Math.sqrt(Array.from(value.f).reduce((a, x) => a + x * x, 0) / C) || 1;
        const opt = new SmallAdam([value], (o.lr ?? 0.2) * rms);
        withTrainable(m.model, [value], () => {
          for (let s = 0; s < (o.steps ?? 25); s++) {
            const loss = targetLoss(m, p.rows, [[h.mlpOut, (x) => add(mul(x, keep), mul(mask, reshape(value, [1, 1, C])))]]);
            if (loss.item() < 0.02) break;
            backward(loss);
            opt.step();
          }
        });
        // the radius: a fraction of the key's norm; conflicts with other targets shrink both radii
        let radius = (o.radius ?? 0.5) * norm;
        for (const e of codebook.entries) {
          let d = 0;
          for (let f = 0; f < F; f++) d += (e.key[f] - key[f]) ** 2;
          d = Math.sqrt(d);
          if (d < radius + e.radius && e.target !== r.targetNew) { const half = d / 2; e.radius = Math.min(e.radius, half); radius = Math.min(radius, half); }
        }
        codebook.entries.push({ key, value: Float32Array.from(value.f), radius, target: r.targetNew });
      }
    },
  };
}

export function editorFor(name: EditorName, codebook?: GraceCodebook): Editor {
  switch (name) {
    case 'rome': return rome;
    case 'memit': return memit;
    case 'ft-l': return ftL;
    case 'lora': return lora;
    case 'grace':
      if (!codebook) throw new Error('grace needs a codebook');
      return graceEditor(codebook);
  }
}
