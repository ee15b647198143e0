// Reverse-mode autograd: recording op applications and running them backwards.
// Each op records a GraphNode on its output; backward() walks the graph in reverse
// topological order, asks the op's rule in gradients.ts for the input gradients, and
// accumulates them. Leaves (parameters) keep .grad across calls (gradient accumulation);
// intermediate gradients are dropped as soon as they are used, and the graph is cut
// after the pass so a training step's activations become garbage when the step ends.

import { Tensor, fmtShape } from './tensor.js';
import { detectAnomaly, isGradEnabled, noGrad } from './runtime.js';
import { gradRules } from './gradients.js';
import { backend } from './runtime.js';

export type OpName =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'unary' | 'biasAct' | 'where'
  | 'sum' | 'max'
  | 'matmul'
  | 'reshape' | 'permute' | 'slice' | 'concat' | 'expand'
  | 'softmax' | 'logSoftmax'
  | 'layerNorm' | 'rmsNorm'
  | 'embedding' | 'crossEntropy' | 'dropout' | 'attention' | 'rope'
  | 'selectiveScan' | 'rwkv6' | 'lowrankAttention' | 'gatedRecurrence';

/** Attaches the graph node to `out` when gradients are on and some input needs them. */
export function record(out: Tensor, op: OpName, inputs: Tensor[], saved: Record<string, unknown> = {}): Tensor {
  if (isGradEnabled()) {
    for (const t of inputs) {
      if (t.requiresGrad) {
        out.requiresGrad = true;
        out.node = { op, inputs, saved };
        break;
      }
    }
  }
  if (detectAnomaly()) assertFinite(out, op, inputs);
  return out;
}

function hasNonFinite(t: Tensor): boolean {
  if (t.dtype === 'int32') return false;
  const d = t.f;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return true;
  return false;
}

function assertFinite(out: Tensor, op: string, inputs: Tensor[]): void {
  if (hasNonFinite(out) && !inputs.some(hasNonFinite)) {
    throw new Error(`anomaly: ${op} produced NaN/Inf in output ${fmtShape(out.shape)} from finite inputs ${inputs.map((t) => fmtShape(t.shape)).join(', ')}`);
  }
}

/** Tensors reachable from `root` through graph nodes, inputs before outputs. */
export function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  // Iterative DFS: deep graphs (many layers, long accumulation) must not overflow the stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root.id);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, k] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (k < inputs.length) {
      top[1]++;
      const child = inputs[k];
      if (!seen.has(child.id) && (child.requiresGrad || child.node)) { seen.add(child.id); stack.push([child, 0]); }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

export interface BackwardOptions {
  /** Gradient of the root (defaults to 1 for a scalar root). */
  grad?: Tensor;
  /** Keep the graph so backward can run again through it. */
  retainGraph?: boolean;
}

export function backward(root: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root} does not require grad (no parameter in its graph, or built under noGrad)`);
  let seed = opts.grad;
  if (!seed) {
    if (root.size !== 1) throw new Error(`backward: root has shape ${fmtShape(root.shape)}; pass opts.grad for a non-scalar root`);
    seed = new Tensor(root.dtype === 'float64' ? new Float64Array([1]) : new Float32Array([1]), root.shape);
  } else if (seed.size !== root.size) {
    throw new Error(`backward: grad shape ${fmtShape(seed.shape)} does not match root ${fmtShape(root.shape)}`);
  }
  const order = topologicalOrder(root);
  // Pending gradients; `owned` marks buffers this pass allocated itself, which may be
  // summed into in place. A rule may hand back its incoming gradient or a view of it
  // (add, reshape), so a borrowed buffer is copied only when a second gradient arrives.
  const grads = new Map<number, { g: Tensor; owned: boolean }>([[root.id, { g: seed, owned: false }]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const entry = grads.get(t.id);
      if (!entry) continue;
      grads.delete(t.id);
      let g = entry.g;
      if (t.graphFreed) throw new Error(`backward: the graph through ${t} was already freed by an earlier backward; pass { retainGraph: true } to the first one`);
      if (t.gradHooks) for (const h of t.gradHooks) g = h(g) ?? g;
      if (!t.node || t.retainsGrad) accumulateGrad(t, g, entry.owned && g === entry.g);
      const node = t.node;
      if (!node) continue;
      const inGrads = gradRules[node.op as OpName](g, node, t);
      for (let j = 0; j < node.inputs.length; j++) {
        const x = node.inputs[j], gx = inGrads[j];
        if (!gx || !x.requiresGrad) continue;
        if (gx.size !== x.size) throw new Error(`internal: ${node.op} gave a gradient of shape ${fmtShape(gx.shape)} for input ${fmtShape(x.shape)}`);
        const prev = grads.get(x.id);
        if (!prev) {
          const borrowed = gx.data === g.data || inGrads.some((o, k) => k !== j && o?.data === gx.data);
          grads.set(x.id, { g: gx.shape === x.shape ? gx : new Tensor(gx.data, x.shape), owned: !borrowed });
        } else {
          if (!prev.owned) { prev.g = copyOf(prev.g); prev.owned = true; }
          addInto(prev.g, gx);
        }
      }
      if (!opts.retainGraph) { t.node = null; t.graphFreed = true; }
    }
  });
}

function copyOf(t: Tensor): Tensor {
  return new Tensor(t.data.slice(), t.shape);
}

/** dst += src, in place (both float, same size). */
function addInto(dst: Tensor, src: Tensor): void {
  backend().axpy(1, src.f, dst.f);
}

function accumulateGrad(t: Tensor, g: Tensor, owned: boolean): void {
  if (t.grad) addInto(t.grad, g);
  else t.grad = new Tensor(owned ? g.data : g.data.slice(), t.shape);
}

/**
 * After a NaN/Inf loss: the first op (in forward order) whose output holds a non-finite
 * value while all its inputs are finite. Needs the graph, so call it before backward.
 */
export function findFirstNonFinite(root: Tensor): { op: string; shape: number[]; inputShapes: number[][]; name?: string } | null {
  for (const t of topologicalOrder(root)) {
    if (!hasNonFinite(t)) continue;
    if (!t.node) return { op: 'leaf', shape: [...t.shape], inputShapes: [], name: t.name };
    if (!t.node.inputs.some(hasNonFinite)) {
      return { op: t.node.op, shape: [...t.shape], inputShapes: t.node.inputs.map((x) => [...x.shape]), name: t.name };
    }
  }
  return null;
}
