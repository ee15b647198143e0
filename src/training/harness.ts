// The evaluation harness's core: score a model on items that have a prompt and a target text.
//
//   generation      greedy decoding with the KV cache, batched (prompts of unequal length share
//                   a batch, left-padded: generateRagged; items are sorted by prompt length so
//                   little padding is computed), until <|endoftext|>;
//                   exact match compares the final answers (the text after the item's answer
//                   marker, when it has one; else the whole completion, trimmed).
//   teacher-forced  one forward pass over prompt + target + <|endoftext|> per item (right-padded
//                   rows: causal attention keeps padding out of earlier positions); per-token
//                   accuracy of the argmax, the target's log-probability and the Brier score
//                   (sum over the vocabulary of (p - onehot)^2, per token), over the target's
//                   tokens and its <|endoftext|>.
//   choices         log-likelihood of each continuation after the context, as lm-evaluation-
//                   harness scores multiple choice: the choice with the largest sum (acc), sum per
//                   token (acc_norm_tokens) and sum per character (acc_norm_chars), plus the
//                   softmax over the choices' sums for a Brier score and the correct choice's
//                   probability. Context and continuation are tokenized separately (not jointly
//                   and split, as lm-evaluation-harness does), which is exact for the byte tokenizer.
// Reasoning tasks become items through taskItems; the built-in evaluation tasks (src/data/evals/)
// through src/training/task-eval.ts.

import { Tensor, noGrad } from '../engine/index.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { END_OF_TEXT } from '../data/index.js';
import { answerOfCompletion, completionText, drawInstances, getTask, type TaskFormat, type TaskInstance, type TaskOptions } from '../data/tasks/index.js';
import { generateRagged } from '../models/sampling.js';
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
  /** Teacher-forced: sum over target tokens of the Brier score sum_v (p_v - [v = target])^2. */
  brier: number;
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
  /** Mean over items of the target's whole log-probability (nats). */
  meanTargetLogProb: number;
  /** Mean per-token Brier score of the targets (0 best, 2 worst). */
  brier: number;
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
  const results: ItemResult[] = items.map((it) => ({ ...(it.group !== undefined ? { group: it.group } : {}), completion: '', exact: false, correctTokens: 0, targetTokens: 0, logProb: 0, brier: 0 }));

  // ---- teacher-forced: the target (and its <|endoftext|>) as a continuation of the prompt ----
  continuationLogProbs(model, enc.map((e) => ({ context: e.prompt, continuation: e.target })), B).forEach((c, i) => {
    Object.assign(results[i], { logProb: c.logProb, correctTokens: c.correctTokens, targetTokens: enc[i].target.length, brier: c.brier });
  });
  if (o.teacherForcedOnly) return results;

  // ---- greedy generation: ragged batches of prompts sorted by length (little padding) ----
  const slack = o.slack ?? ((n: number) => Math.ceil(n / 4) + 2);
  // each item's own budget, so its result does not depend on what it was batched with
  const budget = (i: number) => Math.max(1, Math.min(enc[i].target.length + slack(enc[i].target.length), nCtx - enc[i].prompt.length));
  const byLength = enc.map((_, i) => i).sort((a, b) => enc[a].prompt.length - enc[b].prompt.length || a - b);
  for (const idx of chunks(byLength, B)) {
    const out = generateRagged(model, idx.map((i) => enc[i].prompt), { maxNewTokens: Math.max(...idx.map(budget)), temperature: 0, stopToken: eot });
    idx.forEach((i, r) => {
      const gen = out[r].slice(0, budget(i));
      const stop = gen.indexOf(eot);
      const completion = tokenizer.decode(stop < 0 ? gen : gen.slice(0, stop));
      results[i].completion = completion;
      const marker = items[i].answerMarker;
      results[i].exact = stop >= 0 && finalAnswer(completion, marker) === finalAnswer(items[i].target, marker);
    });
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
    meanTargetLogProb: results.reduce((s, r) => s + r.logProb, 0) / n,
    brier: results.reduce((s, r) => s + r.brier, 0) / tokens,
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

// ---- choices scored by log-likelihood ----------------------------------------------------------

export interface ChoiceItem {
  /** The context every choice continues. */
  prompt: string;
  /** Continuations (each scored after the prompt; their <|endoftext|> is not added). */
  choices: string[];
  /** Index of the correct choice. */
  answer: number;
  group?: string;
}

export interface ChoiceResult {
  group?: string;
  answer: number;
  /** Per choice: sum of the continuation tokens' log-probabilities (nats). */
  logProbs: number[];
  /** Per choice: its token count and character count (the normalisers). */
  tokens: number[];
  chars: number[];
  /** Per choice: whether every continuation token is the argmax (lm-evaluation-harness's is_greedy). */
  greedy: boolean[];
}

export interface ChoiceSummary {
  items: number;
  /** Fraction of items whose correct choice has the largest log-likelihood (ties: the first). */
  acc: number;
  /** ... the largest log-likelihood per token. */
  accNormTokens: number;
  /** ... the largest log-likelihood per character (lm-evaluation-harness's acc_norm). */
  accNormChars: number;
  /** Mean log-probability of the correct continuation (nats). */
  correctLogProb: number;
  /** Mean probability of the correct choice under the softmax over the choices' log-likelihoods. */
  choiceProb: number;
  /** Mean Brier score over the choices, sum_i (p_i - [i = answer])^2 with p that softmax. */
  brier: number;
}

/** A sequence to score: the log-probability of `continuation` after `context` (token ids). */
export interface ContinuationRow {
  context: readonly number[];
  continuation: readonly number[];
}

export interface ContinuationScore {
  /** Sum of the continuation tokens' log-probabilities (nats). */
  logProb: number;
  /** Continuation tokens that are the argmax; all of them: greedy. */
  correctTokens: number;
  greedy: boolean;
  /** Sum over the continuation tokens of sum_v (p_v - [v = token])^2. */
  brier: number;
}

/**
 * Each row's continuation scored teacher-forced; rows of similar length share right-padded
 * forward passes (causal attention keeps the padding out of earlier positions).
 */
export function continuationLogProbs(model: Transformer, rows: readonly ContinuationRow[], batchSize = 64): ContinuationScore[] {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`harness: batchSize must be a positive integer, got ${batchSize}`);
  const { nCtx, vocabSize: V } = model.config;
  const len = (r: ContinuationRow) => r.context.length + r.continuation.length - 1;
  rows.forEach((r, i) => {
    if (r.context.length === 0) throw new Error(`harness: row ${i} has an empty context`);
    if (r.continuation.length === 0) throw new Error(`harness: row ${i} has an empty continuation`);
    if (len(r) > nCtx) throw new Error(`harness: row ${i} needs ${len(r)} positions, more than the model's nCtx = ${nCtx}`);
  });
  const out: ContinuationScore[] = rows.map(() => ({ logProb: 0, correctTokens: 0, greedy: true, brier: 0 }));
  const order = rows.map((_, i) => i).sort((a, b) => len(rows[a]) - len(rows[b]) || a - b);
  noGrad(() => {
    for (const idx of chunks(order, batchSize)) {
      const L = Math.max(...idx.map((i) => len(rows[i])));
      const ids = new Int32Array(idx.length * L);
      idx.forEach((i, r) => ids.set([...rows[i].context, ...rows[i].continuation].slice(0, len(rows[i])), r * L));
      const logits = model.forward(new Tensor(ids, [idx.length, L]), {}).logits.f;
      idx.forEach((i, r) => {
        const { context, continuation } = rows[i];
        for (let k = 0; k < continuation.length; k++) {
          const pos = context.length - 1 + k; // predicts continuation[k]
          const row = logits.subarray((r * L + pos) * V, (r * L + pos + 1) * V);
          let best = 0, mx = -Infinity;
          for (let v = 0; v < V; v++) if (row[v] > mx) { mx = row[v]; best = v; }
          let z = 0, sq = 0;
          for (let v = 0; v < V; v++) { const e = Math.exp(row[v] - mx); z += e; sq += e * e; }
          const lp = row[continuation[k]] - mx - Math.log(z);
          out[i].logProb += lp;
          out[i].brier += 1 - 2 * Math.exp(lp) + sq / (z * z);
          if (best === continuation[k]) out[i].correctTokens++;
          else out[i].greedy = false;
        }
      });
    }
  });
  return out;
}

/** Scores every choice of every item; results in item order. */
export function scoreChoices(model: Transformer, tokenizer: Tokenizer, items: readonly ChoiceItem[], o: { batchSize?: number } = {}): ChoiceResult[] {
  const rows: ContinuationRow[] = [];
  items.forEach((it, i) => {
    if (it.choices.length < 2) throw new Error(`harness: item ${i} has ${it.choices.length} choice(s); it needs at least 2`);
    if (!(Number.isInteger(it.answer) && it.answer >= 0 && it.answer < it.choices.length)) throw new Error(`harness: item ${i}'s answer ${it.answer} is not one of its ${it.choices.length} choices`);
    const context = tokenizer.encode(it.prompt);
    for (const c of it.choices) rows.push({ context, continuation: tokenizer.encode(c) });
  });
  const scored = continuationLogProbs(model, rows, o.batchSize ?? 64);
  let at = 0;
  return items.map((it) => {
    const n = it.choices.length, mine = scored.slice(at, at + n), mineRows = rows.slice(at, at + n);
    at += n;
    return {
      ...(it.group !== undefined ? { group: it.group } : {}), answer: it.answer,
      logProbs: mine.map((m) => m.logProb), greedy: mine.map((m) => m.greedy),
      tokens: mineRows.map((r) => r.continuation.length), chars: it.choices.map((c) => [...c].length),
    };
  });
}

const argmaxFirst = (xs: readonly number[]): number => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

export function summarizeChoices(results: readonly ChoiceResult[]): ChoiceSummary {
  const n = results.length;
  if (n === 0) throw new Error('harness: no items to summarize');
  let acc = 0, accT = 0, accC = 0, lp = 0, prob = 0, brier = 0;
  for (const r of results) {
    if (argmaxFirst(r.logProbs) === r.answer) acc++;
    if (argmaxFirst(r.logProbs.map((x, i) => x / r.tokens[i])) === r.answer) accT++;
    if (argmaxFirst(r.logProbs.map((x, i) => x / Math.max(1, r.chars[i]))) === r.answer) accC++;
    lp += r.logProbs[r.answer];
    const mx = Math.max(...r.logProbs);
    const e = r.logProbs.map((x) => Math.exp(x - mx));
    const z = e.reduce((s, x) => s + x, 0);
    const p = e.map((x) => x / z);
    prob += p[r.answer];
    brier += p.reduce((s, pi, i) => s + (pi - (i === r.answer ? 1 : 0)) ** 2, 0);
  }
  return { items: n, acc: acc / n, accNormTokens: accT / n, accNormChars: accC / n, correctLogProb: lp / n, choiceProb: prob / n, brier: brier / n };
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
