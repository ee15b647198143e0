// The scores of an edited model, each measured two ways side by side:
//
//   teacher-forced  token accuracy: the fraction of target tokens that are the argmax when the
//                   true target prefix is fed (EasyEdit's metric; partial credit per token).
//   generation      exact match: greedy decoding of the target's length plus two tokens, which
//                   must begin with the target text followed by a word boundary.
//
//   reliability   the rewrite prompt gives the new object
//   generality    held-out paraphrases give the new object
//   locality      neighbourhood and unrelated prompts: the edited model agrees with the model
//                 before editing (teacher-forced: same argmax on the true target's positions;
//                 generation: the same continuation)
//   portability   two-hop prompts give the object implied by the new one
//
// plus fluency (the mean of bigram and trigram entropy, in bits, of word sequences the model
// generates after each subject: repetitive text scores low) and, given held-out text windows, the
// mean next-token loss on them.

import { Tensor, crossEntropy, noGrad } from '../engine/index.js';
import type { Tokenizer } from '../data/index.js';
import { asTarget, fill, relation, type EditRequest, type FactWorld, type PromptTarget, type Relation } from '../data/fact-world.js';
import { encodePrompt, greedyContinuations, targetBatch, type EditedModel } from './model-ops.js';

export const metricNames = ['reliability', 'generality', 'locality', 'portability'] as const;
export type MetricName = (typeof metricNames)[number];
export interface PairScore { teacherForced: number; generation: number; items: number }
export type EditScores = Record<MetricName, PairScore | null> & { fluency: number; validLoss: number | null };

interface Item { prompt: number[]; target: number[]; targetText: string }

/** Per item: argmax at each target position (teacher-forced) and the greedy continuation. */
export interface Readout { argmax: number[][]; continuation: number[][] }

export function readout(m: EditedModel, items: readonly Item[]): Readout {
  const V = m.model.config.vocabSize;
  const argmax: number[][] = [];
  noGrad(() => {
    for (let s = 0; s < items.length; s += 64) {
      const chunk = items.slice(s, s + 64);
      const { ids, L } = targetBatch(chunk, 0);
      const logits = m.model.forward(ids, { hooks: m.hooks }).logits.f;
      chunk.forEach((it, b) => argmax.push(it.target.map((_, k) => {
        const off = (b * L + it.prompt.length - 1 + k) * V;
        let best = 0, mx = -Infinity;
        for (let v = 0; v < V; v++) if (logits[off + v] > mx) { mx = logits[off + v]; best = v; }
        return best;
      })));
    }
  });
  const continuation = greedyContinuations(m, items.map((it) => it.prompt), (i) => items[i].target.length + 2);
  return { argmax, continuation };
}

const startsWithWord = (text: string, target: string) => text.startsWith(target) && !/^[\p{L}\p{N}]/u.test(text.slice(target.length));

function toItems(tokenizer: Tokenizer, pts: readonly PromptTarget[]): Item[] {
  return pts.map((pt) => ({ prompt: encodePrompt(tokenizer, pt.prompt), target: tokenizer.encode(pt.target), targetText: pt.target }));
}

/** The prompts of each metric for these requests. */
export function metricPrompts(requests: readonly EditRequest[]): Record<MetricName, PromptTarget[]> {
  return {
    reliability: requests.map((r) => ({ prompt: r.prompt, target: r.targetNew })),
    generality: requests.flatMap((r) => r.paraphrasePrompts.map((prompt) => ({ prompt, target: r.targetNew }))),
    locality: requests.flatMap((r) => [...r.neighborhoodPrompts, ...r.unrelatedPrompts]),
    portability: requests.flatMap((r) => r.portabilityPrompts),
  };
}

/** What locality compares against: the unedited model's readout on the locality prompts. */
export function localityBaseline(m: EditedModel, tokenizer: Tokenizer, requests: readonly EditRequest[]): Readout {
  return readout(m, toItems(tokenizer, metricPrompts(requests).locality));
}

function score(tokenizer: Tokenizer, items: Item[], r: Readout, base?: Readout): PairScore {
  let right = 0, total = 0, exact = 0;
  items.forEach((it, i) => {
    it.target.forEach((t, k) => { total++; if (r.argmax[i][k] === (base ? base.argmax[i][k] : t)) right++; });
    if (base) { if (r.continuation[i].every((t, k) => t === base.continuation[i][k])) exact++; }
    else if (startsWithWord(tokenizer.decode(r.continuation[i]), it.targetText)) exact++;
  });
  return { teacherForced: right / total, generation: exact / items.length, items: items.length };
}

/** Bigram and trigram entropy (bits, averaged) of the words in a text. */
export function ngramEntropy(text: string): number {
  const words = text.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  const H = (n: number) => {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= words.length; i++) { const g = words.slice(i, i + n).join(' '); counts.set(g, (counts.get(g) ?? 0) + 1); }
    const N = [...counts.values()].reduce((a, b) => a + b, 0);
    return N === 0 ? 0 : [...counts.values()].reduce((s, c) => s - (c / N) * Math.log2(c / N), 0);
  };
  return (H(2) + H(3)) / 2;
}

/** Mean next-token loss on fixed windows [W, T+1] of held-out text (ids). */
export function windowLoss(m: EditedModel, windows: readonly Int32Array[]): number {
  return noGrad(() => {
    let total = 0;
    for (const w of windows) {
      const T = w.length - 1;
      const ids = new Tensor(w.slice(0, T), [1, T]), targets = new Tensor(w.slice(1), [1, T]);
      total += crossEntropy(m.model.forward(ids, { hooks: m.hooks }).logits, targets).item();
    }
    return total / windows.length;
  });
}

export interface ScoreOptions {
  /** The unedited model's readout on the locality prompts (localityBaseline); without it locality is scored against the true objects. */
  localityBase?: Readout;
  /** Held-out text windows for the validation loss. */
  validWindows?: readonly Int32Array[];
  /** Tokens generated per subject for fluency (default 24). */
  fluencyTokens?: number;
}

export function scoreEdits(m: EditedModel, tokenizer: Tokenizer, requests: readonly EditRequest[], o: ScoreOptions = {}): EditScores {
  const prompts = metricPrompts(requests);
  const out = {} as EditScores;
  for (const name of metricNames) {
    const items = toItems(tokenizer, prompts[name]);
    if (items.length === 0) { out[name] = null; continue; }
    out[name] = score(tokenizer, items, readout(m, items), name === 'locality' ? o.localityBase : undefined);
  }
  const subjects = [...new Set(requests.map((r) => r.subject))];
  const gens = greedyContinuations(m, subjects.map((s) => encodePrompt(tokenizer, s)), o.fluencyTokens ?? 24);
  out.fluency = gens.reduce((s, g) => s + ngramEntropy(tokenizer.decode(g)), 0) / gens.length;
  out.validLoss = o.validWindows && o.validWindows.length > 0 ? windowLoss(m, o.validWindows) : null;
  return out;
}

/**
 * How well a model knows a fact world: every fact asked with its relation's first training
 * template and with its first held-out paraphrase, scored like reliability (both metrics).
 */
export function factKnowledge(m: EditedModel, tokenizer: Tokenizer, world: FactWorld): { train: PairScore; heldOut: PairScore } {
  const name = (id: number) => world.entities[id].name;
  const ask = (pick: (r: Relation) => string): PairScore => {
    const items = toItems(tokenizer, world.facts.map((f) => ({ prompt: fill(pick(relation(f.relation)), name(f.subject)), target: asTarget(name(f.object)) })));
    return score(tokenizer, items, readout(m, items));
  };
  return { train: ask((r) => r.train[0]), heldOut: ask((r) => r.heldOut[0]) };
}
