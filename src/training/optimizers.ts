// Optimizers over a model's named parameters: AdamW and SGD with momentum, each a thin loop
// that calls the backend's fused update kernel once per parameter. Parameters are sorted into
// groups (own lr multiplier and weight decay, as muP needs); the state (step count and the
// per-parameter buffers) exports as named Float32Arrays for checkpoints and restores exactly.
//
// Semantics follow PyTorch's torch.optim.AdamW / SGD (the defaults, foreach/fused variants agree):
//   AdamW  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  mhat = m / (1-b1^t);  vhat = v / (1-b2^t)
//          p = p - lr * (wd * p + mhat / (sqrt(vhat) + eps))          (eps outside the sqrt)
//   SGD    g' = g + wd p;  buf = mu buf + g';  p = p - lr * (nesterov ? g' + mu buf : buf)
// where lr is the group's lr (base lr * lrScale) and g is the gradient times gradScale (clipping).
// Differences from PyTorch, on purpose: one step count for the whole optimizer (PyTorch counts per
// parameter; they differ only for a parameter that had no gradient on some step), and a tied
// parameter (the same Tensor under two names) is updated once, under its first name.

import { backend, type Tensor } from '../engine/index.js';

// ---- which parameters get weight decay -----------------------------------------------

/**
 * Decides weight decay from a parameter's name and shape. The default rule (nanoGPT, HF
 * Trainer): decay matrices, never biases, norm gains or embedding tables. A parameter gets NO
 * decay when
 *   - it has fewer than `minDecayDims` dimensions (default 2: biases, norm gains, scalars), or
 *   - its dotted name matches one of `patterns` (default: embeddings, norms, biases by name).
 * Set `patterns: []` and `minDecayDims: 0` to decay everything.
 */
export interface NoDecayRule {
  minDecayDims?: number;
  patterns?: (string | RegExp)[];
}

export const DEFAULT_NO_DECAY_PATTERNS: readonly string[] = [
  '(^|\\.)(wte|wpe|embed_tokens|embed_positions|tok_embeddings|embeddings?|emb)(\\.|$)',
  '(^|\\.)(ln_\\w*|\\w*norm\\w*)(\\.|$)',
  '(^|\\.)bias$',
];

export function makeNoDecay(rule: NoDecayRule = {}): (name: string, shape: readonly number[]) => boolean {
  const minDims = rule.minDecayDims ?? 2;
  const res = (rule.patterns ?? DEFAULT_NO_DECAY_PATTERNS).map((p) => (typeof p === 'string' ? new RegExp(p) : p));
  return (name, shape) => shape.length < minDims || res.some((re) => re.test(name));
}

// ---- parameter groups ------------------------------------------------------------------

/**
 * A parameter group: every parameter the matcher accepts (first matching group wins) trains
 * with lr * lrScale and this weight decay. Unmatched parameters fall in the default group:
 * lrScale 1 and the optimizer's weight decay, or 0 where the no-decay rule says so.
 */
export interface ParamGroupSpec {
  name: string;
  match: RegExp | string | ((name: string, p: Tensor) => boolean);
  lrScale?: number;
  weightDecay?: number;
}

export interface ResolvedParam {
  name: string;
  tensor: Tensor;
  group: string;
  lrScale: number;
  weightDecay: number;
}

export interface GroupOptions {
  weightDecay?: number;
  noDecay?: NoDecayRule;
  groups?: ParamGroupSpec[];
  /** Per-parameter lr multiplier on top of the group's (muP width scaling); default 1. */
  lrScale?: (name: string, p: Tensor) => number;
  /** Per-parameter multiplier on the resolved weight decay (muP keeps lr * wd at the base model's); default 1. */
  weightDecayScale?: (name: string, p: Tensor) => number;
}

/** Assigns each distinct parameter its group, lr multiplier and weight decay. */
export function resolveParams(params: ReadonlyMap<string, Tensor>, o: GroupOptions): ResolvedParam[] {
  const noDecay = makeNoDecay(o.noDecay);
  const wd = o.weightDecay ?? 0;
  const seen = new Set<Tensor>();
  const out: ResolvedParam[] = [];
  for (const [name, t] of params) {
    if (seen.has(t)) continue; // tied weights: update once
    seen.add(t);
    if (t.dtype !== 'float32') throw new Error(`optimizer: parameter ${name} is ${t.dtype}; the fused updates need float32`);
    const g = o.groups?.find((s) => matches(s.match, name, t));
    const scale = (g?.lrScale ?? 1) * (o.lrScale?.(name, t) ?? 1);
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new Error(`optimizer: lr multiplier for ${name} must be finite and >= 0, got ${scale}`);
    let decay = g?.weightDecay ?? (noDecay(name, t.shape) ? 0 : wd);
    if (o.weightDecayScale) {
      const f = o.weightDecayScale(name, t);
      if (!(f >= 0) || !Number.isFinite(f)) throw new Error(`optimizer: weight-decay multiplier for ${name} must be finite and >= 0, got ${f}`);
      decay *= f;
    }
    out.push({ name, tensor: t, group: g?.name ?? 'default', lrScale: scale, weightDecay: decay });
  }
  if (out.length === 0) throw new Error('optimizer: no parameters');
  return out;
}

function matches(m: ParamGroupSpec['match'], name: string, t: Tensor): boolean {
  if (typeof m === 'function') return m(name, t);
  return (typeof m === 'string' ? new RegExp(m) : m).test(name);
}

// ---- the optimizer contract ------------------------------------------------------------

/** Everything needed to continue exactly: scalars for state.json, buffers for a tensor file. */
export interface OptimizerState {
  kind: 'adamw' | 'sgd';
  step: number;
  /** Hyperparameters at save time (informational; a restore checks kind and names, not these). */
  hyper: Record<string, number | boolean | number[]>;
  /** Buffers by name: `m.<param>`, `v.<param>` (AdamW) or `momentum.<param>` (SGD). */
  tensors: Map<string, Float32Array>;
}

export interface StepOptions {
  /** Multiplies every gradient inside the fused update (clipping, accumulation); default 1. */
  gradScale?: number;
}

export interface Optimizer {
  readonly kind: 'adamw' | 'sgd';
  /** Updates taken so far (the t of Adam's bias correction after the next step is stepCount + 1). */
  readonly stepCount: number;
  readonly params: readonly ResolvedParam[];
  /** Drops every gradient (PyTorch's set_to_none): the next backward allocates fresh ones. */
  zeroGrad(): void;
  /** One update with base learning rate lr; parameters without a gradient are skipped. */
  step(lr: number, o?: StepOptions): void;
  state(): OptimizerState;
  setState(s: OptimizerState): void;
  /** Buffer shapes by state-tensor name, so a checkpoint can store them as tensors. */
  stateShapes(): Map<string, readonly number[]>;
}

/** One parameter's share of a step: its data, gradient, state buffers and effective lr. */
interface ParamUpdate {
  p: ResolvedParam;
  data: Float32Array;
  grad: Float32Array;
  bufs: Float32Array[];
  lr: number;
}

abstract class BaseOptimizer implements Optimizer {
  abstract readonly kind: 'adamw' | 'sgd';
  protected t = 0;
  readonly params: readonly ResolvedParam[];
  /** Buffers per parameter, in the order of bufferNames. */
  protected readonly bufs: Float32Array[][];

  constructor(params: ReadonlyMap<string, Tensor>, o: GroupOptions, protected readonly bufferNames: readonly string[]) {
    this.params = resolveParams(params, o);
    this.bufs = this.params.map((p) => bufferNames.map(() => new Float32Array(p.tensor.size)));
  }

  get stepCount(): number { return this.t; }

  zeroGrad(): void {
    for (const p of this.params) p.tensor.grad = null;
  }

  step(lr: number, o: StepOptions = {}): void {
    const gradScale = o.gradScale ?? 1;
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`${this.kind}.step: lr must be finite and >= 0, got ${lr}`);
    if (!Number.isFinite(gradScale)) throw new Error(`${this.kind}.step: gradScale must be finite, got ${gradScale}`);
    this.t++;
    const todo: ParamUpdate[] = [];
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      const g = p.tensor.grad;
      if (!g) continue;
      if (!(g.data instanceof Float32Array) || g.size !== p.tensor.size) throw new Error(`${this.kind}.step: gradient of ${p.name} is not a float32 tensor of its size`);
      todo.push({ p, data: p.tensor.data as Float32Array, grad: g.data, bufs: this.bufs[i], lr: lr * p.lrScale });
    }
    this.updateAll(todo, gradScale);
  }

  /** Updates every parameter that has a gradient; by default one update() each. */
  protected updateAll(todo: readonly ParamUpdate[], gradScale: number): void {
    for (const u of todo) this.update(u.p, u.data, u.grad, u.bufs, u.lr, gradScale);
  }

  protected abstract update(p: ResolvedParam, data: Float32Array, grad: Float32Array, bufs: Float32Array[], lr: number, gradScale: number): void;
  protected abstract hyper(): OptimizerState['hyper'];

  state(): OptimizerState {
    const tensors = new Map<string, Float32Array>();
    this.params.forEach((p, i) => this.bufferNames.forEach((b, k) => tensors.set(`${b}.${p.name}`, this.bufs[i][k].slice())));
    return { kind: this.kind, step: this.t, hyper: this.hyper(), tensors };
  }

  stateShapes(): Map<string, readonly number[]> {
    const m = new Map<string, readonly number[]>();
    for (const p of this.params) for (const b of this.bufferNames) m.set(`${b}.${p.name}`, p.tensor.shape);
    return m;
  }

  setState(s: OptimizerState): void {
    if (s.kind !== this.kind) throw new Error(`optimizer state is for ${s.kind}, this optimizer is ${this.kind}`);
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`optimizer state: bad step ${s.step}`);
    const expected = new Set(this.stateShapes().keys());
    const extra = [...s.tensors.keys()].filter((k) => !expected.has(k));
    const missing = [...expected].filter((k) => !s.tensors.has(k));
    if (extra.length || missing.length) {
      throw new Error(`optimizer state does not match the parameters: missing [${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}]` +
        `, unexpected [${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}]`);
    }
    this.params.forEach((p, i) => this.bufferNames.forEach((b, k) => {
      const src = s.tensors.get(`${b}.${p.name}`)!;
      if (src.length !== p.tensor.size) throw new Error(`optimizer state ${b}.${p.name} has ${src.length} values, parameter has ${p.tensor.size}`);
      this.bufs[i][k].set(src);
    }));
    this.t = s.step;
  }
}

// ---- AdamW -----------------------------------------------------------------------------

export interface AdamWOptions extends GroupOptions {
  betas?: [number, number];
  eps?: number;
}

export class AdamW extends BaseOptimizer {
  readonly kind = 'adamw' as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(params: ReadonlyMap<string, Tensor>, o: AdamWOptions = {}) {
    super(params, { weightDecay: 0.01, ...o }, ['m', 'v']); // PyTorch's AdamW default weight decay
    [this.beta1, this.beta2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    for (const [k, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new Error(`AdamW: ${k} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps >= 0)) throw new Error(`AdamW: eps must be >= 0, got ${this.eps}`);
  }

  protected update(p: ResolvedParam, data: Float32Array, grad: Float32Array, [m, v]: Float32Array[], lr: number, gradScale: number): void {
    const bc1 = 1 - Math.pow(this.beta1, this.t), bc2 = 1 - Math.pow(this.beta2, this.t);
    backend().adamw(data, grad, m, v, lr, this.beta1, this.beta2, this.eps, p.weightDecay, bc1, bc2, gradScale);
  }

  /** All parameters in one backend call (one native crossing, one parallel pass); same bits as update() on each. */
  protected override updateAll(todo: readonly ParamUpdate[], gradScale: number): void {
    const bc1 = 1 - Math.pow(this.beta1, this.t), bc2 = 1 - Math.pow(this.beta2, this.t);
    const params = todo.map((u) => ({ p: u.data, g: u.grad, m: u.bufs[0], v: u.bufs[1], lr: u.lr, weightDecay: u.p.weightDecay }));
    backend().adamwMulti(params, this.beta1, this.beta2, this.eps, bc1, bc2, gradScale);
  }

  protected hyper(): OptimizerState['hyper'] {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps };
  }
}

// ---- SGD -------------------------------------------------------------------------------

export interface SgdOptions extends GroupOptions {
  momentum?: number;
  nesterov?: boolean;
}

export class Sgd extends BaseOptimizer {
  readonly kind = 'sgd' as const;
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(params: ReadonlyMap<string, Tensor>, o: SgdOptions = {}) {
    super(params, { weightDecay: 0, ...o }, ['momentum']);
    this.momentum = o.momentum ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new Error(`SGD: momentum must be in [0, 1), got ${this.momentum}`);
    if (this.nesterov && this.momentum === 0) throw new Error('SGD: Nesterov momentum needs momentum > 0');
  }

  protected update(p: ResolvedParam, data: Float32Array, grad: Float32Array, [buf]: Float32Array[], lr: number, gradScale: number): void {
    // PyTorch starts the buffer at the first gradient; from zeros, mu * 0 + g' is the same thing.
    backend().sgd(data, grad, buf, lr, this.momentum, p.weightDecay, this.nesterov, gradScale);
  }

  protected hyper(): OptimizerState['hyper'] {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }
}

// ---- from a run config -------------------------------------------------------------------

export interface OptimizerConfig {
  optimizer: 'adamw' | 'sgd';
  betas: [number, number];
  eps: number;
  weightDecay: number;
  noDecay?: NoDecayRule;
  momentum: number;
  nesterov: boolean;
}

/**
 * The optimizer a run config names; groups and per-parameter multipliers come from code, not
 * config. For muP pass `mupOptimizerOptions(model.config, c.optimizer)` (models/mup.ts) as `extra`.
 */
export function createOptimizer(params: ReadonlyMap<string, Tensor>, c: OptimizerConfig, extra: Pick<GroupOptions, 'groups' | 'lrScale' | 'weightDecayScale'> = {}): Optimizer {
  const common = { weightDecay: c.weightDecay, noDecay: c.noDecay, ...extra };
  return c.optimizer === 'adamw'
    ? new AdamW(params, { ...common, betas: c.betas, eps: c.eps })
    : new Sgd(params, { ...common, momentum: c.momentum, nesterov: c.nesterov });
}
