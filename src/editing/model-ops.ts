// What every editor and the metrics share: an edited model (the transformer, whose weights the
// weight editors change in place, plus the hooks that hook-based editors such as GRACE add),
// prompts encoded the way the model saw documents in training (after <|endoftext|>), the token
// position of a subject's last token, a teacher-forced loss on target tokens, greedy decoding
// that runs the hooks, and a scope that makes only chosen tensors trainable.

import { Tensor, crossEntropy, noGrad } from '../engine/index.js';
import type { HookPair, Transformer } from '../models/index.js';
import { END_OF_TEXT, type Tokenizer } from '../data/index.js';

export interface EditedModel {
  model: Transformer;
  /** Hooks run on every forward pass (hook-based editors); empty for weight editors. */
  hooks: HookPair[];
}

export const plainModel = (model: Transformer): EditedModel => ({ model, hooks: [] });

/** Encodes a prompt as a document start: <|endoftext|> first when the tokenizer has it. */
export function encodePrompt(tokenizer: Tokenizer, prompt: string): number[] {
  const eot = tokenizer.specialId(END_OF_TEXT);
  return [...(eot === undefined ? [] : [eot]), ...tokenizer.encode(prompt)];
}

/**
 * Index (in encodePrompt's tokens) of the last token of `subject` inside `prompt`. The prompt's
 * tokens must begin with the tokens of the text up to the subject's end (true when a word
 * boundary follows the subject, as in every fact-world template); otherwise it is an error.
 */
export function subjectLastToken(tokenizer: Tokenizer, prompt: string, subject: string): number {
  const at = prompt.indexOf(subject);
  if (at < 0) throw new Error(`the prompt "${prompt}" does not contain the subject "${subject}"`);
  const full = encodePrompt(tokenizer, prompt), head = encodePrompt(tokenizer, prompt.slice(0, at + subject.length));
  if (head.length > full.length || head.some((t, i) => full[i] !== t)) throw new Error(`the subject "${subject}" does not end on a token boundary in "${prompt}"`);
  return head.length - 1;
}

export interface TargetRow { prompt: number[]; target: number[] }

/** Right-padded ids [B, L] and targets [B, L] (-100 except where a target token is predicted). */
export function targetBatch(rows: readonly TargetRow[], pad: number): { ids: Tensor; targets: Tensor; L: number } {
  const L = Math.max(...rows.map((r) => r.prompt.length + r.target.length - 1));
  const ids = new Int32Array(rows.length * L).fill(pad), targets = new Int32Array(rows.length * L).fill(-100);
  rows.forEach((r, b) => {
    const seq = [...r.prompt, ...r.target].slice(0, L);
    ids.set(seq, b * L);
    r.target.forEach((t, k) => (targets[b * L + r.prompt.length - 1 + k] = t));
  });
  return { ids: new Tensor(ids, [rows.length, L]), targets: new Tensor(targets, [rows.length, L]), L };
}

/** Mean cross-entropy of the target tokens (differentiable), with extra hooks for this pass. */
export function targetLoss(m: EditedModel, rows: readonly TargetRow[], hooks: HookPair[] = [], pad = 0): Tensor {
  const { ids, targets } = targetBatch(rows, pad);
  const { logits } = m.model.forward(ids, { hooks: [...m.hooks, ...hooks] });
  return crossEntropy(logits, targets);
}

/** Runs fn with only `trainable` requiring gradients (the model's other parameters frozen). */
export function withTrainable<T>(model: Transformer, trainable: readonly Tensor[], fn: () => T): T {
  const saved = [...model.params.values()].map((t) => [t, t.requiresGrad] as const);
  for (const [t] of saved) t.requireGrad(false);
  for (const t of trainable) { t.requireGrad(true); t.grad = null; }
  try {
    return fn();
  } finally {
    for (const t of trainable) t.grad = null;
    for (const [t, on] of saved) t.requireGrad(on);
  }
}

/** Adam on plain float arrays (the editors' few trainable tensors). */
export class SmallAdam {
  private m: Float64Array[];
  private v: Float64Array[];
  private t = 0;
  constructor(readonly tensors: readonly Tensor[], readonly lr: number, readonly betas: [number, number] = [0.9, 0.999]) {
    this.m = tensors.map((x) => new Float64Array(x.size));
    this.v = tensors.map((x) => new Float64Array(x.size));
  }
  step(): void {
    this.t++;
    const [b1, b2] = this.betas, c1 = 1 - b1 ** this.t, c2 = 1 - b2 ** this.t;
    this.tensors.forEach((x, j) => {
      const g = x.grad?.f;
      if (!g) return;
      const w = x.f, m = this.m[j], v = this.v[j];
      for (let i = 0; i < w.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        w[i] -= this.lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + 1e-8);
      }
      x.grad = null;
    });
  }
}

/**
 * Greedy continuations of `maxNew` tokens for each prompt, running the edited model's hooks.
 * Each step re-runs the whole sequence (no KV cache: hooks may read any position), batched by
 * prompt length so no padding enters.
 */
export function greedyContinuations(m: EditedModel, prompts: readonly number[][], maxNew: number | ((i: number) => number)): number[][] {
  const budget = typeof maxNew === 'number' ? () => maxNew : maxNew;
  const out: number[][] = prompts.map(() => []);
  const byLen = new Map<number, number[]>();
  prompts.forEach((p, i) => byLen.set(p.length, [...(byLen.get(p.length) ?? []), i]));
  const { vocabSize: V, nCtx } = m.model.config;
  noGrad(() => {
    for (const [len, group] of byLen) {
      for (let s = 0; s < group.length; s += 64) {
        const idx = group.slice(s, s + 64);
        const steps = Math.min(Math.max(...idx.map(budget)), nCtx - len);
        const seqs = idx.map((i) => [...prompts[i]]);
        for (let k = 0; k < steps; k++) {
          const T = len + k;
          const logits = m.model.forward(new Tensor(Int32Array.from(seqs.flat()), [idx.length, T]), { hooks: m.hooks }).logits.f;
          seqs.forEach((seq, r) => {
            let best = 0, mx = -Infinity;
            const off = (r * T + T - 1) * V;
            for (let v = 0; v < V; v++) if (logits[off + v] > mx) { mx = logits[off + v]; best = v; }
            seq.push(best);
          });
        }
        idx.forEach((i, r) => (out[i] = seqs[r].slice(len, len + budget(i))));
      }
    }
  });
  return out;
}
