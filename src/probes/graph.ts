// The model as a graph of heads and MLPs, with one residual-stream input per receiver, so that a
// single edge (sender -> receiver) can be patched: the foundation of path patching and of edge
// attribution patching.
//
// Senders write into the residual stream: `input` (token plus learned position embeddings), every
// head `a{l}.h{h}` (its hook_result, without the projection's bias) and every MLP `m{l}` (its
// hook_mlp_out). Receivers read from it: every head (q, k and v together: one input per head), every
// MLP and `logits` (the final norm and head). Sender u feeds receiver v when u comes before v: heads
// of layer l read input, the heads and MLPs of earlier layers; MLP l also reads the heads of layer l;
// logits read everything. The attention projections' biases are constants of the residual stream.
//
// graphForward recomputes the model from its parameters this way. With no patch it gives the
// model's logits (a test checks this against Transformer.forward); a patch replaces, on chosen
// edges, the sender's value in this run by its value from another run (a cache of sender
// outputs), mixed by a weight alpha (1: fully replaced):
//   input_v = sum_u a_u + sum_{(u,v) patched} alpha (source_u - a_u).

import { Tensor, add, attention, embedding, gelu, layerNorm, linear, mul, reshape, rmsNorm, rope, ropeTables, silu, slice, split, tensor, arange, sub } from '../engine/index.js';
import { groupLayerNorm, type Transformer } from '../models/transformer.js';
import type { ModelConfig } from '../models/config.js';
import { mupAttentionScale } from '../models/mup.js';

export interface GraphNode { name: string; kind: 'input' | 'head' | 'mlp' | 'logits'; layer: number; head: number | null }
export interface GraphEdge { from: string; to: string }

export const headNode = (layer: number, head: number) => `a${layer}.h${head}`;
export const mlpNode = (layer: number) => `m${layer}`;
export const edgeKey = (e: GraphEdge) => `${e.from}->${e.to}`;

export interface ModelGraph {
  senders: GraphNode[];
  receivers: GraphNode[];
  edges: GraphEdge[];
  /** Receiver name -> its senders, in forward order. */
  upstream: Map<string, string[]>;
}

/** The graph of a model config (see the file comment). */
export function modelGraph(c: Pick<ModelConfig, 'nLayer' | 'nHead'>): ModelGraph {
  const senders: GraphNode[] = [{ name: 'input', kind: 'input', layer: -1, head: null }];
  const receivers: GraphNode[] = [];
  const upstream = new Map<string, string[]>();
  const edges: GraphEdge[] = [];
  const connect = (r: GraphNode) => {
    receivers.push(r);
    const from = senders.map((s) => s.name);
    upstream.set(r.name, from);
    for (const f of from) edges.push({ from: f, to: r.name });
  };
  for (let l = 0; l < c.nLayer; l++) {
    const heads = Array.from({ length: c.nHead }, (_, h): GraphNode => ({ name: headNode(l, h), kind: 'head', layer: l, head: h }));
    for (const h of heads) connect(h);
    senders.push(...heads);
    const m: GraphNode = { name: mlpNode(l), kind: 'mlp', layer: l, head: null };
    connect(m);
    senders.push(m);
  }
  connect({ name: 'logits', kind: 'logits', layer: c.nLayer, head: null });
  return { senders, receivers, edges, upstream };
}

export interface EdgePatch {
  /** Sender outputs of the run whose values are put in (graphForward(...).senders of another prompt). */
  source: ReadonlyMap<string, Tensor>;
  /** Edge key -> alpha (1 replaces the sender's value on that edge). */
  edges: ReadonlyMap<string, number>;
}

export interface GraphForwardOptions {
  patch?: EdgePatch;
  /** Replaces the input node's output [B, T, C] (integrated gradients interpolate it). */
  input?: Tensor;
  /** Keep .grad on every receiver's input after backward (edge attribution reads them). */
  retainReceiverGrad?: boolean;
  docIds?: Tensor;
}

export interface GraphForwardResult {
  logits: Tensor;
  /** Sender name -> output [B, T, C] in this run. */
  senders: Map<string, Tensor>;
  /** Receiver name -> its input [B, T, C] in this run. */
  receivers: Map<string, Tensor>;
}

function norm(model: Transformer, x: Tensor, prefix: string): Tensor {
  const c = model.config, p = model.params;
  const w = p.get(`${prefix}.weight`)!;
  if (c.norm === 'groupnorm') return groupLayerNorm(x, c.normGroups!, w, p.get(`${prefix}.bias`) ?? null, c.normEps);
  return c.norm === 'layernorm' ? layerNorm(x, w, p.get(`${prefix}.bias`) ?? null, c.normEps) : rmsNorm(x, w, c.normEps);
}

const tablesByModel = new WeakMap<Transformer, { cos: Tensor; sin: Tensor }>();

/** The model's forward pass, written out receiver by receiver (see the file comment). */
export function graphForward(model: Transformer, ids: Tensor, o: GraphForwardOptions = {}): GraphForwardResult {
  const c = model.config, p = model.params;
  if (ids.dtype !== 'int32' || ids.ndim !== 2) throw new Error('graphForward: ids must be int32 [B, T]');
  const [B, T] = ids.shape;
  const { nHead: H, dHead: D, dModel: C } = c;
  const graph = modelGraph(c);
  const senders = new Map<string, Tensor>(), receivers = new Map<string, Tensor>();
  if (o.patch) {
    const keys = new Set(graph.edges.map(edgeKey));
    for (const k of o.patch.edges.keys()) if (!keys.has(k)) throw new Error(`graphForward: no edge ${k} in the model's graph`);
  }
  // Patched edges grouped by receiver.
  const patchesOf = new Map<string, [string, number][]>();
  for (const [k, alpha] of o.patch?.edges ?? []) {
    const [from, to] = k.split('->');
    if (!patchesOf.has(to)) patchesOf.set(to, []);
    patchesOf.get(to)!.push([from, alpha]);
  }
  let resid: Tensor; // sum of this run's sender outputs (and the attention biases)
  const receiverInput = (name: string): Tensor => {
    let x = add(resid, 0); // a node of its own, so that each receiver has its own gradient
    for (const [from, alpha] of patchesOf.get(name) ?? []) {
      const src = o.patch!.source.get(from);
      if (!src) throw new Error(`graphForward: the patch source has no output for ${from}`);
      const delta = sub(src, senders.get(from)!);
      x = add(x, alpha === 1 ? delta : mul(delta, alpha));
    }
    if (o.retainReceiverGrad && x.requiresGrad) x.retainGrad();
    receivers.set(name, x);
    return x;
  };

  let input = o.input ?? embedding(ids, p.get('wte.weight')!);
  if (!o.input && p.has('wpe.weight')) input = add(input, embedding(tensor(arange(T).i, [T], { dtype: 'int32' }), p.get('wpe.weight')!));
  if (input.shape.length !== 3 || input.shape[0] !== B || input.shape[1] !== T || input.shape[2] !== C) throw new Error(`graphForward: input must be [${B}, ${T}, ${C}]`);
  senders.set('input', input);
  resid = input;
  let rotary: { cos: Tensor; sin: Tensor } | null = null;
  if (c.positions === 'rotary') {
    rotary = tablesByModel.get(model) ?? ropeTables(c.nCtx, D, c.ropeTheta, model.dtype);
    tablesByModel.set(model, rotary);
  }
  const scale = c.mup ? mupAttentionScale(c) : undefined;
  const doc = o.docIds ?? null;

  for (let l = 0; l < c.nLayer; l++) {
    const pre = `blocks.${l}`;
    const qkvW = p.get(`${pre}.attn.qkv.weight`)!, qkvB = p.get(`${pre}.attn.qkv.bias`) ?? null;
    const projW = p.get(`${pre}.attn.proj.weight`)!, projB = p.get(`${pre}.attn.proj.bias`) ?? null;
    const results: Tensor[] = [];
    for (let h = 0; h < H; h++) {
      const x = norm(model, receiverInput(headNode(l, h)), `${pre}.ln1`);
      const part = (which: number) => {
        const lo = which * C + h * D;
        return reshape(linear(x, slice(qkvW, 0, lo, lo + D), qkvB ? slice(qkvB, 0, lo, lo + D) : null), [B, T, 1, D]);
      };
      let q = part(0), k = part(1);
      const v = part(2);
      if (rotary) { q = rope(q, rotary); k = rope(k, rotary); }
      const z = attention(q, k, v, { mask: { kind: 'causal' }, docQ: doc, docK: doc, scale });
      const result = linear(reshape(z, [B, T, D]), slice(projW, 1, h * D, (h + 1) * D)); // [B, T, C]
      senders.set(headNode(l, h), result);
      results.push(result);
    }
    for (const r of results) resid = add(resid, r);
    if (projB) resid = add(resid, projB);
    const xm = norm(model, receiverInput(mlpNode(l)), `${pre}.ln2`);
    const fc = linear(xm, p.get(`${pre}.mlp.fc.weight`)!, p.get(`${pre}.mlp.fc.bias`) ?? null);
    let act: Tensor;
    if (c.mlp === 'swiglu') { const [gate, up] = split(fc, 2, -1); act = mul(silu(gate), up); } else act = gelu(fc, c.geluApproximate);
    const out = linear(act, p.get(`${pre}.mlp.proj.weight`)!, p.get(`${pre}.mlp.proj.bias`) ?? null);
    senders.set(mlpNode(l), out);
    resid = add(resid, out);
  }
  const logits = model.unembed(receiverInput('logits'));
  return { logits, senders, receivers };
}
