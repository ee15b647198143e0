// The evaluation harness's core: score a model on items that have a prompt and a target text.
//
//   generation      greedy decoding with the KV cache, batched (prompts of equal token length
//                   share a batch, since the cache has no padding mask), until <|endoftext|>;
//                   exact match compares the final answers (the text after the item's answer
//                   marker, when it has one; else the whole completion, trimmed).
//   teacher-forced  one forward pass over prompt + target + <|endoftext|> per item (right-padded
//                   rows: causal attention keeps padding out of earlier positions); per-token
//                   accuracy of the argmax and the target's log-probability, over the target's
//                   tokens and its <|endoftext|>.
// Reasoning tasks become items through taskItems; other item sources (issue 14's harness: fixed
// tasks, few-shot prompts, choices scored by log-likelihood) are meant to build on this file.

import { Tensor, noGrad } from '../engine/index.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { END_OF_TEXT } from '../data/index.js';
import { answerOfCompletion, completionText, drawInstances, getTask, type TaskFormat, type TaskInstance, type TaskOptions } from '../data/tasks/index.js';
import { generate } from '../models/sampling.js';
import type { Transformer } from '../models/transformer.js';

export interface TargetItem {
  prompt: string;
  /** What the model should write after the prompt (its <|endoftext|> is added). */
  target: string;
  /** The final answer follows the last occurrence of this text (chain-of-thought formats). */
  answerMarker?: string;
  /** A label carried into the per-item results (e.g. the task size). */
  group?: string;
}

export interface ItemResult {
  group?: string;
  completion: string;
  exact: boolean;
  /** Teacher-forced: target tokens (end-of-text included) whose argmax is right, of how many. */
  correctTokens: number;
  targetTokens: number;
  /** Teacher-forced: sum of the log-probabilities of the target tokens (nats). */
  logProb: number;
}

export interface HarnessSummary {
  items: number;
  /** Fraction of items whose generated final answer equals the target's. */
  exactMatch: number;
  /** Teacher-forced argmax accuracy over all target tokens. */
  tokenAccuracy: number;
  /** Mean per-token log-probability of the targets (nats). */
  meanTokenLogProb: number;
  /** Fraction of items whose every target token is the argmax (teacher-forced exact match). */
  forcedExactMatch: number;
}

export interface HarnessOptions {
  /** Rows per forward pass (default 64). */
  batchSize?: number;
  /** Skip greedy generation (teacher-forced metrics only). */
  teacherForcedOnly?: boolean;
  /** Generated tokens allowed beyond the target's length (default: a quarter of it, plus 2). */
  slack?: (targetTokens: number) => number;
}

export function finalAnswer(text: string, marker: string | undefined): string {
  return marker === undefined ? text.trim() : answerOfCompletion(text, marker);
}

/** A task instance as an item: the completion in the given format is the target. */
export function taskItems(instances: readonly TaskInstance[], format: TaskFormat): TargetItem[] {
  return instances.map((inst) => ({ prompt: inst.prompt, target: completionText(inst, format), answerMarker: getTask(inst.task).marker, group: `${inst.task}:${inst.size}` }));
}

function endId(tokenizer: Tokenizer): number {
  const id = tokenizer.specialId(END_OF_TEXT);
  if (id === undefined) throw new Error(`harness: the tokenizer has no ${END_OF_TEXT} token to end a target with`);
  return id;
}

function chunks<A>(xs: A[], n: number): A[][] {
  const out: A[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Scores every item; results in item order. */
export function scoreItems(model: Transformer, tokenizer: Tokenizer, items: readonly TargetItem[], o: HarnessOptions = {}): ItemResult[] {
  const B = o.batchSize ?? 64;
  if (!(Number.isInteger(B) && B > 0)) throw new Error(`harness: batchSize must be a positive integer, got ${B}`);
  const eot = endId(tokenizer);
  const { nCtx, vocabSize: V } = model.config;
  const enc = items.map((it, i) => {
    const prompt = tokenizer.encode(it.prompt), target = [...tokenizer.encode(it.target), eot];
    if (prompt.length === 0) throw new Error(`harness: item ${i} has an empty prompt`);
    if (prompt.length + target.length - 1 > nCtx) throw new Error(`harness: item ${i} needs ${prompt.length + target.length - 1} positions, more than the model's nCtx = ${nCtx}`);
    return { prompt, target };
  });
  const results: ItemResult[] = items.map((it) => ({ ...(it.group !== undefined ? { group: it.group } : {}), completion: '', exact: false, correctTokens: 0, targetTokens: 0, logProb: 0 }));

  noGrad(() => {
    // ---- teacher-forced ----
    const order = enc.map((_, i) => i);
    for (const idx of chunks(order, B)) {
      const L = Math.max(...idx.map((i) => enc[i].prompt.length + enc[i].target.length - 1));
      const ids = new Int32Array(idx.length * L).fill(eot);
      idx.forEach((i, r) => ids.set([...enc[i].prompt, ...enc[i].target].slice(0, L), r * L));
      const logits = model.forward(new Tensor(ids, [idx.length, L]), {}).logits.f;
      idx.forEach((i, r) => {
        const { prompt, target } = enc[i];
        const res = results[i];
        for (let k = 0; k < target.length; k++) {
          const pos = prompt.length - 1 + k; // predicts target[k]
          const row = logits.subarray((r * L + pos) * V, (r * L + pos + 1) * V);
          let best = 0, mx = -Infinity;
          for (let v = 0; v < V; v++) if (row[v] > mx) { mx = row[v]; best = v; }
          let z = 0;
          for (let v = 0; v < V; v++) z += Math.exp(row[v] - mx);
          res.logProb += row[target[k]] - mx - Math.log(z);
          if (best === target[k]) res.correctTokens++;
          res.targetTokens++;
        }
      });
    }
  });
  if (o.teacherForcedOnly) return results;

  // ---- greedy generation, batched by prompt length ----
  const byLength = new Map<number, number[]>();
  enc.forEach((e, i) => {
    const group = byLength.get(e.prompt.length);
    if (group) group.push(i);
    else byLength.set(e.prompt.length, [i]);
  });
  const slack = o.slack ?? ((n: number) => Math.ceil(n / 4) + 2);
  for (const [len, group] of [...byLength].sort((a, b) => a[0] - b[0])) {
    for (const idx of chunks(group, B)) {
      // each item's own budget, so its result does not depend on what it was batched with
      const budget = (i: number) => Math.max(1, Math.min(enc[i].target.length + slack(enc[i].target.length), nCtx - len));
      const out = generate(model, idx.map((i) => enc[i].prompt), { maxNewTokens: Math.max(...idx.map(budget)), temperature: 0, stopToken: eot });
      const T = out.shape[1];
      idx.forEach((i, r) => {
        const gen = Array.from(out.i.subarray(r * T + len, Math.min((r + 1) * T, r * T + len + budget(i))));
        const stop = gen.indexOf(eot);
        const completion = tokenizer.decode(stop < 0 ? gen : gen.slice(0, stop));
        results[i].completion = completion;
        const marker = items[i].answerMarker;
        results[i].exact = stop >= 0 && finalAnswer(completion, marker) === finalAnswer(items[i].target, marker);
      });
    }
  }
  return results;
}

export function summarize(results: readonly ItemResult[]): HarnessSummary {
  const n = results.length;
  if (n === 0) throw new Error('harness: no items to summarize');
  const tokens = results.reduce((s, r) => s + r.targetTokens, 0);
  return {
    items: n,
    exactMatch: results.filter((r) => r.exact).length / n,
    tokenAccuracy: results.reduce((s, r) => s + r.correctTokens, 0) / tokens,
    meanTokenLogProb: results.reduce((s, r) => s + r.logProb, 0) / tokens,
    forcedExactMatch: results.filter((r) => r.correctTokens === r.targetTokens).length / n,
  };
}

/** Summaries per item group (e.g. per task size), in first-seen order. */
export function summarizeByGroup(results: readonly ItemResult[]): Map<string, HarnessSummary> {
  const groups = new Map<string, ItemResult[]>();
  for (const r of results) {
    const g = groups.get(r.group ?? '');
    if (g) g.push(r);
    else groups.set(r.group ?? '', [r]);
  }
  return new Map([...groups].map(([g, rs]) => [g, summarize(rs)]));
}

// ---- reasoning tasks on a run ----------------------------------------------------------------

export interface TaskEvalRequest {
  task: string;
  size: number;
}

export interface TaskEvalResult extends TaskEvalRequest, HarnessSummary {
  format: TaskFormat;
  seconds: number;
}

/**
 * Test instances of each requested task and size, drawn from the test split (with the run's own
 * split settings and task options when it trained on that task, so they are never training
 * instances), scored in the given format.
 */
export function evaluateTasks(
  model: Transformer, tokenizer: Tokenizer, requests: readonly TaskEvalRequest[],
  o: { format: TaskFormat; count: number; seed: number; split?: { testFraction: number; salt: string }; options?: Partial<TaskOptions>; batchSize?: number },
): TaskEvalResult[] {
  return requests.map((r) => {
    const t0 = performance.now();
    const instances = drawInstances(r.task, { size: r.size, count: o.count, seed: o.seed, split: 'test', splitConfig: o.split, options: o.options });
    const summary = summarize(scoreItems(model, tokenizer, taskItems(instances, o.format), { batchSize: o.batchSize }));
    return { ...r, format: o.format, ...summary, seconds: (performance.now() - t0) / 1000 };
  });
}
