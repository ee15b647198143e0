// Path patching and circuit discovery on the graph of heads and MLPs (graph.ts).
//
// Path patching (Wang et al. 2022, in its edge form): run the corrupted prompt and put the clean
// outputs of the senders back only on their direct edges into the receivers (through the residual
// stream, not through any node in between); everything downstream of the receivers is recomputed.
// The effect is normalised as in patching.ts: 0 the corrupted run, 1 the clean one.
//
// Edge attribution patching (EAP, Syed et al. 2023): the effect on the metric of corrupting one edge
// (u -> v) of the clean run, to first order, is (a_u(corrupted) - a_u(clean)) . dm/d input_v,
// the gradient taken on the clean run; one forward and one backward pass score every edge.
// EAP with integrated gradients (EAP-IG, Hanna et al. 2024) averages that gradient over `steps`
// runs whose input embeddings lie on the line from the corrupted to the clean input
// (alpha = k / steps, k = 1..steps), which follows the metric's curvature better.
// Scores are normalised by m_clean - m_corrupted, so -1 means "corrupting this edge alone undoes
// the whole behaviour"; edges are ranked by absolute score.
//
// A circuit is a set of edges. It is run on the clean prompt with every edge outside it carrying
// the corrupted value of its sender (edges inside carry this run's value):
//   faithfulness  (m_circuit - m_corrupted) / (m_clean - m_corrupted): 1 when the circuit alone
//                 does what the model does, 0 when it does nothing
//   completeness  1 - (m_without - m_corrupted) / (m_clean - m_corrupted), where "without" is the
//                 clean run with only the circuit's edges corrupted: 1 when nothing outside the
//                 circuit can still do the task, 0 when the rest does it all.

import { Tensor, add, backward, mul, noGrad, sub } from '../engine/index.js';
import type { Transformer } from '../models/transformer.js';
import { edgeKey, graphForward, modelGraph, type GraphEdge } from './graph.js';
import type { PatchTask } from './patching.js';

function metrics(model: Transformer, task: PatchTask) {
  for (const [n, x] of [['clean', task.clean], ['corrupted', task.corrupted]] as const) {
    if (x.dtype !== 'int32' || x.ndim !== 2) throw new Error(`circuits: ${n} ids must be int32 [B, T]`);
  }
  if (task.clean.shape.some((s, i) => s !== task.corrupted.shape[i])) throw new Error(`circuits: clean [${task.clean.shape}] and corrupted [${task.corrupted.shape}] prompts must have the same shape`);
  return noGrad(() => {
    const clean = graphForward(model, task.clean), corrupted = graphForward(model, task.corrupted);
    const mClean = task.metric(clean.logits).item(), mCorrupted = task.metric(corrupted.logits).item();
    if (!(Math.abs(mClean - mCorrupted) > 1e-12)) throw new Error(`circuits: the metric is the same on clean and corrupted prompts (${mClean}); nothing to recover`);
    return { clean, corrupted, mClean, mCorrupted };
  });
}

export interface PathPatchResult {
  metricClean: number;
  metricCorrupted: number;
  /** The patched run's metric, normalised (0 corrupted, 1 clean). */
  effect: number;
  /** The edges that were patched (sender -> receiver pairs that exist in the graph). */
  edges: GraphEdge[];
}

/** Path patching from senders to receivers (node names as in graph.ts: 'a1.h0', 'm0', 'input', 'logits'). */
export function pathPatching(model: Transformer, task: PatchTask, senders: readonly string[], receivers: readonly string[]): PathPatchResult {
  const g = modelGraph(model.config);
  for (const s of senders) if (!g.senders.some((n) => n.name === s)) throw new Error(`pathPatching: unknown sender "${s}" (senders: input, aL.hH, mL)`);
  for (const r of receivers) if (!g.receivers.some((n) => n.name === r)) throw new Error(`pathPatching: unknown receiver "${r}" (receivers: aL.hH, mL, logits)`);
  const edges = g.edges.filter((e) => senders.includes(e.from) && receivers.includes(e.to));
  if (!edges.length) throw new Error(`pathPatching: no edge from [${senders}] to [${receivers}] (a sender must come before its receiver)`);
  const { clean, mClean, mCorrupted } = metrics(model, task);
  const m = noGrad(() => task.metric(graphForward(model, task.corrupted, { patch: { source: clean.senders, edges: new Map(edges.map((e) => [edgeKey(e), 1])) } }).logits).item());
  return { metricClean: mClean, metricCorrupted: mCorrupted, effect: (m - mCorrupted) / (mClean - mCorrupted), edges };
}

/** Path patching from every sender, one at a time, to the receivers: the effect per sender (senders with no edge to them left out). */
export function pathPatchingSweep(model: Transformer, task: PatchTask, receivers: readonly string[]): { sender: string; effect: number }[] {
  const g = modelGraph(model.config);
  const { clean, mClean, mCorrupted } = metrics(model, task);
  const out: { sender: string; effect: number }[] = [];
  for (const s of g.senders) {
    const edges = g.edges.filter((e) => e.from === s.name && receivers.includes(e.to));
    if (!edges.length) continue;
    const m = noGrad(() => task.metric(graphForward(model, task.corrupted, { patch: { source: clean.senders, edges: new Map(edges.map((e) => [edgeKey(e), 1])) } }).logits).item());
    out.push({ sender: s.name, effect: (m - mCorrupted) / (mClean - mCorrupted) });
  }
  return out;
}

export type EdgeAttributionMethod = 'eap' | 'eap-ig';

export interface EdgeScore extends GraphEdge { score: number }

export interface EdgeAttribution {
  method: EdgeAttributionMethod;
  metricClean: number;
  metricCorrupted: number;
  /** Every edge of the graph, by absolute score, largest first. */
  edges: EdgeScore[];
}

/** Scores every edge of the graph by EAP or EAP-IG (see the file comment). */
export function edgeAttribution(model: Transformer, task: PatchTask, o: { method?: EdgeAttributionMethod; steps?: number } = {}): EdgeAttribution {
  const method = o.method ?? 'eap';
  const steps = method === 'eap' ? 1 : o.steps ?? 5;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`edgeAttribution: steps must be a positive integer, got ${steps}`);
  const g = modelGraph(model.config);
  const { clean, corrupted, mClean, mCorrupted } = metrics(model, task);
  const grads = new Map<string, Float64Array>();
  const inClean = clean.senders.get('input')!, inCorrupted = corrupted.senders.get('input')!;
  try {
    for (let k = 1; k <= steps; k++) {
      const alpha = k / steps;
      const mixed = alpha === 1 ? inClean : noGrad(() => add(inCorrupted, mul(sub(inClean, inCorrupted), alpha)));
      const input = new Tensor(mixed.f.slice(), mixed.shape, true); // a leaf that needs a gradient, so every receiver gets one
      const run = graphForward(model, task.clean, { input, retainReceiverGrad: true });
      backward(task.metric(run.logits));
      for (const [name, x] of run.receivers) {
        if (!x.grad) throw new Error(`edgeAttribution: no gradient reached ${name}`);
        const acc = grads.get(name) ?? new Float64Array(x.size);
        const gr = x.grad.f;
        for (let i = 0; i < acc.length; i++) acc[i] += gr[i] / steps;
        grads.set(name, acc);
      }
      model.zeroGrad();
    }
  } finally {
    model.zeroGrad();
  }
  const span = mClean - mCorrupted;
  // (a_corrupted - a_clean) per sender, then its dot product with each receiver's gradient.
  const deltas = new Map<string, Float64Array>();
  for (const s of g.senders) {
    const a = corrupted.senders.get(s.name)!.f, b = clean.senders.get(s.name)!.f;
    deltas.set(s.name, Float64Array.from(a, (v, i) => v - b[i]));
  }
  const edges = g.edges.map((e): EdgeScore => {
    const d = deltas.get(e.from)!, gr = grads.get(e.to)!;
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i] * gr[i];
    return { ...e, score: s / span };
  });
  edges.sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || edgeKey(a).localeCompare(edgeKey(b)));
  return { method, metricClean: mClean, metricCorrupted: mCorrupted, edges };
}

/** The metric of the clean run with the given edges carrying corrupted values (alpha 1), or any alpha per edge. */
export function patchedEdgesMetric(model: Transformer, task: PatchTask, corruptedEdges: ReadonlyMap<string, number>): number {
  return noGrad(() => {
    const source = graphForward(model, task.corrupted).senders;
    return task.metric(graphForward(model, task.clean, { patch: { source, edges: corruptedEdges } }).logits).item();
  });
}

export interface CircuitPoint {
  edges: number;
  faithfulness: number;
  completeness: number;
}

export interface CircuitEvaluation {
  metricClean: number;
  metricCorrupted: number;
  totalEdges: number;
  points: CircuitPoint[];
}

/** Faithfulness and completeness of the circuits made of the top k edges of `ranking`, for each k. */
export function circuitCurves(model: Transformer, task: PatchTask, ranking: readonly GraphEdge[], ks: readonly number[]): CircuitEvaluation {
  const g = modelGraph(model.config);
  const { clean, corrupted, mClean, mCorrupted } = metrics(model, task);
  void clean;
  const all = g.edges.map(edgeKey);
  const order = ranking.map(edgeKey);
  const known = new Set(all);
  for (const k of order) if (!known.has(k)) throw new Error(`circuitCurves: no edge ${k} in the model's graph`);
  const span = mCorrupted - mClean;
  const run = (patched: string[]) => noGrad(() => task.metric(graphForward(model, task.clean, { patch: { source: corrupted.senders, edges: new Map(patched.map((k) => [k, 1])) } }).logits).item());
  const points = ks.map((k): CircuitPoint => {
    if (!Number.isInteger(k) || k < 0 || k > order.length) throw new Error(`circuitCurves: k ${k} outside 0..${order.length}`);
    const inside = new Set(order.slice(0, k));
    const outside = all.filter((e) => !inside.has(e));
    const mCircuit = run(outside), mWithout = run([...inside]);
    return { edges: k, faithfulness: (mCircuit - mCorrupted) / -span, completeness: 1 - (mWithout - mCorrupted) / -span };
  });
  return { metricClean: mClean, metricCorrupted: mCorrupted, totalEdges: all.length, points };
}

/** The top k edges of an attribution: the circuit of that size. */
export function topEdges(attribution: EdgeAttribution, k: number): EdgeScore[] {
  if (!Number.isInteger(k) || k < 0) throw new Error(`topEdges: k must be a non-negative integer, got ${k}`);
  return attribution.edges.slice(0, k);
}
