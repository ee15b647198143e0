// One table of op cases, shared by every engine test: finite-difference gradient checks
// (float64, reference backend), native against reference (float32), and the PyTorch
// fixtures. Shapes include awkward sizes (1, 3, 7, 129) and broadcasting.

import * as E from '../../src/engine/index.js';
import { Rng, Tensor, type DType } from '../../src/engine/index.js';

export interface OpCase {
  name: string;
  /** Builds the float inputs that get gradients (plus anything fixed, captured in fn). */
  inputs: (rng: Rng, dtype: 'float32' | 'float64') => Tensor[];
  fn: (...xs: Tensor[]) => Tensor;
}

export function rand(rng: Rng, shape: number[], dtype: DType, lo = -1, hi = 1): Tensor {
  const t = E.zeros(shape, { dtype });
  rng.fillUniform(t.f, lo, hi);
  return t;
}

function ints(rng: Rng, shape: number[], n: number): Tensor {
  const t = E.zeros(shape, { dtype: 'int32' });
  for (let i = 0; i < t.size; i++) t.data[i] = rng.scaledInt(n);
  return t;
}

const unaryCase = (name: string, f: (x: Tensor) => Tensor, lo = -2, hi = 2, shape = [3, 7]): OpCase => ({
  name, inputs: (r, d) => [rand(r, shape, d, lo, hi)], fn: f,
});

// Fixed integer inputs are drawn once per case so that every evaluation sees the same ones.
const fixed = new Rng(1234);
const ceTargets = ints(fixed, [7], 11);
ceTargets.data[2] = -100; // one ignored position
const ceTargets129 = ints(fixed, [2, 3], 129);
const embIds = ints(fixed, [3, 4], 7);
embIds.data[5] = embIds.data[1]; // a repeated id exercises scatter-add
const docIds = new Tensor(Int32Array.from([0, 0, 0, 1, 1, 2, 2, 0, 1, 1, 1, 1, 1, 1]), [2, 7]);
const blockLayout = Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 1, 1]); // 3x3 blocks of 3 over T=7
const ropeTab = E.ropeTables(16, 4, 10000, 'float64');
const ropeTab32 = E.ropeTables(16, 4, 10000, 'float32');
const condMask = (() => { const m = E.zeros([3, 1]); m.data[0] = 1; m.data[2] = 1; return m; })();

const ceWeights = rand(fixed, [7], 'float64', 0.1, 2);
const scanH0 = rand(fixed, [2, 3, 4], 'float64');
const rwkvS0 = rand(fixed, [2, 2, 3, 3], 'float64');
const as = (t: Tensor, like: Tensor) => (like.dtype === 'float64' ? t : E.toFloat(t, 'float32'));
const ceW = (x: Tensor) => (x.dtype === 'float64' ? ceWeights : E.toFloat(ceWeights, 'float32'));
const tables = (x: Tensor) => (x.dtype === 'float64' ? ropeTab : ropeTab32);
const cond = (x: Tensor) => (x.dtype === 'float64' ? E.toFloat(condMask, 'float64') : condMask);

function att(mask: E.AttentionMask, Tq = 7, Tk = 7, docs = false): OpCase {
  return {
    name: `attention ${mask.kind}${docs ? ' +docs' : ''}${Tq !== Tk ? ` Tq=${Tq}` : ''}`,
    inputs: (r, d) => [rand(r, [2, Tq, 2, 3], d), rand(r, [2, Tk, 2, 3], d), rand(r, [2, Tk, 2, 3], d)],
    fn: (q, k, v) => E.attention(q, k, v, { mask, docQ: docs ? docIds : null, docK: docs ? docIds : null }),
  };
}

export const opCases: OpCase[] = [
  { name: 'add broadcast', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [7], d)], fn: E.add },
  { name: 'add both broadcast', inputs: (r, d) => [rand(r, [3, 1], d), rand(r, [1, 7], d)], fn: E.add },
  { name: 'sub', inputs: (r, d) => [rand(r, [2, 3, 7], d), rand(r, [3, 1], d)], fn: E.sub },
  { name: 'mul', inputs: (r, d) => [rand(r, [129], d), rand(r, [129], d)], fn: E.mul },
  { name: 'mul scalar-shaped', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [1], d)], fn: E.mul },
  { name: 'div', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [3, 7], d, 0.5, 2)], fn: E.div },
  { name: 'pow', inputs: (r, d) => [rand(r, [3, 7], d, 0.5, 2), rand(r, [7], d, -1.5, 2)], fn: E.pow },
  { name: 'maximum', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [3, 7], d)], fn: E.maximum },
  { name: 'minimum', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [1, 7], d)], fn: E.minimum },
  unaryCase('neg', E.neg),
  unaryCase('exp', E.exp),
  unaryCase('log', E.log, 0.2, 3),
  unaryCase('sqrt', E.sqrt, 0.2, 3),
  unaryCase('rsqrt', E.rsqrt, 0.2, 3),
  unaryCase('tanh', E.tanh),
  unaryCase('sigmoid', E.sigmoid),
  unaryCase('relu', E.relu),
  unaryCase('gelu tanh', (x) => E.gelu(x, 'tanh'), -3, 3, [129]),
  unaryCase('gelu exact', (x) => E.gelu(x, 'none'), -3, 3, [129]),
  unaryCase('silu', E.silu),
  unaryCase('abs', E.abs),
  unaryCase('square', E.square),
  unaryCase('reciprocal', E.reciprocal, 0.5, 2),
  unaryCase('sin', E.sin),
  unaryCase('cos', E.cos),
  { name: 'where', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [7], d)], fn: (a, b) => E.where(cond(a), a, b) },
  { name: 'sum all', inputs: (r, d) => [rand(r, [3, 7], d)], fn: (x) => E.sum(x) },
  { name: 'sum axes keepdim', inputs: (r, d) => [rand(r, [2, 3, 7], d)], fn: (x) => E.sum(x, [0, 2], true) },
  { name: 'mean axis', inputs: (r, d) => [rand(r, [3, 129], d)], fn: (x) => E.mean(x, -1) },
  { name: 'variance', inputs: (r, d) => [rand(r, [3, 7], d)], fn: (x) => E.variance(x, 1) },
  { name: 'max axis', inputs: (r, d) => [rand(r, [3, 7, 2], d)], fn: (x) => E.max(x, 1) },
  { name: 'matmul', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [7, 5], d)], fn: (a, b) => E.matmul(a, b) },
  { name: 'matmul transA', inputs: (r, d) => [rand(r, [7, 3], d), rand(r, [7, 5], d)], fn: (a, b) => E.matmul(a, b, { transA: true }) },
  { name: 'matmul transB', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [5, 7], d)], fn: (a, b) => E.matmul(a, b, { transB: true }) },
  { name: 'matmul transA transB', inputs: (r, d) => [rand(r, [7, 3], d), rand(r, [5, 7], d)], fn: (a, b) => E.matmul(a, b, { transA: true, transB: true }) },
  { name: 'matmul batched', inputs: (r, d) => [rand(r, [2, 3, 3, 7], d), rand(r, [2, 3, 7, 1], d)], fn: (a, b) => E.matmul(a, b) },
  { name: 'matmul batched transB', inputs: (r, d) => [rand(r, [2, 3, 7], d), rand(r, [2, 5, 7], d)], fn: (a, b) => E.matmul(a, b, { transB: true }) },
  { name: 'matmul batched transA', inputs: (r, d) => [rand(r, [2, 7, 3], d), rand(r, [2, 7, 5], d)], fn: (a, b) => E.matmul(a, b, { transA: true }) },
  { name: 'matmul shared weight', inputs: (r, d) => [rand(r, [2, 3, 7], d), rand(r, [5, 7], d)], fn: (a, b) => E.matmul(a, b, { transB: true }) },
  { name: 'matmul shared A', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [2, 7, 5], d)], fn: (a, b) => E.matmul(a, b) },
  { name: 'matmul shared A transA', inputs: (r, d) => [rand(r, [7, 3], d), rand(r, [2, 5, 7], d)], fn: (a, b) => E.matmul(a, b, { transA: true, transB: true }) },
  { name: 'linear', inputs: (r, d) => [rand(r, [2, 3, 7], d), rand(r, [4, 7], d), rand(r, [4], d)], fn: E.linear },
  { name: 'reshape', inputs: (r, d) => [rand(r, [3, 7], d)], fn: (x) => E.mul(E.reshape(x, [7, -1]), E.reshape(x, [7, 3])) },
  { name: 'permute', inputs: (r, d) => [rand(r, [2, 3, 7], d)], fn: (x) => E.permute(x, [2, 0, 1]) },
  { name: 'transpose', inputs: (r, d) => [rand(r, [3, 7], d)], fn: (x) => E.transpose(x) },
  { name: 'slice', inputs: (r, d) => [rand(r, [3, 7], d)], fn: (x) => E.slice(x, 1, 2, 6) },
  { name: 'concat', inputs: (r, d) => [rand(r, [3, 2], d), rand(r, [3, 5], d)], fn: (a, b) => E.concat([a, b, a], 1) },
  { name: 'split', inputs: (r, d) => [rand(r, [3, 7], d)], fn: (x) => { const [a, b] = E.split(x, [3, 4], 1); return E.mul(E.sum(a, 1, true), b); } },
  { name: 'expand', inputs: (r, d) => [rand(r, [3, 1], d)], fn: (x) => E.expand(x, [2, 3, 7]) },
  { name: 'biasAct gelu_erf', inputs: (r, d) => [rand(r, [3, 19], d, -3, 3), rand(r, [19], d)], fn: (x, b) => E.biasAct(x, b, 'gelu_erf') },
  { name: 'biasAct gelu_tanh', inputs: (r, d) => [rand(r, [2, 3, 7], d, -3, 3), rand(r, [7], d)], fn: (x, b) => E.biasAct(x, b, 'gelu_tanh') },
  { name: 'biasAct silu', inputs: (r, d) => [rand(r, [2, 33], d, -3, 3), rand(r, [33], d)], fn: (x, b) => E.biasAct(x, b, 'silu') },
  { name: 'linearAct gelu_erf', inputs: (r, d) => [rand(r, [2, 3, 5], d), rand(r, [17, 5], d), rand(r, [17], d)], fn: (x, w, b) => E.linearAct(x, w, b, 'gelu_erf') },
  { name: 'softmax', inputs: (r, d) => [rand(r, [3, 129], d, -3, 3)], fn: E.softmax },
  { name: 'softmax width 1', inputs: (r, d) => [rand(r, [7, 1], d)], fn: E.softmax },
  { name: 'logSoftmax', inputs: (r, d) => [rand(r, [3, 7], d, -3, 3)], fn: E.logSoftmax },
  { name: 'layerNorm', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [7], d), rand(r, [7], d)], fn: (x, w, b) => E.layerNorm(x, w, b) },
  { name: 'layerNorm no affine', inputs: (r, d) => [rand(r, [2, 3, 129], d)], fn: (x) => E.layerNorm(x, null, null) },
  { name: 'rmsNorm', inputs: (r, d) => [rand(r, [3, 7], d), rand(r, [7], d)], fn: (x, w) => E.rmsNorm(x, w) },
  { name: 'rmsNorm no weight', inputs: (r, d) => [rand(r, [1, 129], d)], fn: (x) => E.rmsNorm(x, null) },
  { name: 'groupNorm', inputs: (r, d) => [rand(r, [2, 6, 3], d), rand(r, [6], d), rand(r, [6], d)], fn: (x, w, b) => E.groupNorm(x, 3, w, b) },
  { name: 'embedding', inputs: (r, d) => [rand(r, [7, 3], d)], fn: (t) => E.embedding(embIds, t) },
  { name: 'crossEntropy mean ignore', inputs: (r, d) => [rand(r, [7, 11], d, -3, 3)], fn: (l) => E.crossEntropy(l, ceTargets) },
  { name: 'crossEntropy V=129 sum', inputs: (r, d) => [rand(r, [2, 3, 129], d, -3, 3)], fn: (l) => E.crossEntropy(l, ceTargets129, { reduction: 'sum' }) },
  { name: 'crossEntropy weighted none', inputs: (r, d) => [rand(r, [7, 11], d, -3, 3)], fn: (l) => E.crossEntropy(l, ceTargets, { weights: ceW(l), reduction: 'none' }) },
  { name: 'crossEntropy weighted mean', inputs: (r, d) => [rand(r, [7, 11], d, -3, 3)], fn: (l) => E.crossEntropy(l, ceTargets, { weights: ceW(l) }) },
  att({ kind: 'causal' }),
  att({ kind: 'none' }),
  att({ kind: 'sliding', window: 3 }),
  att({ kind: 'block', blockSize: 3, layout: blockLayout, nKeyBlocks: 3 }),
  att({ kind: 'causal' }, 7, 7, true),
  att({ kind: 'causal' }, 3, 7),
  // Gated linear recurrence: decays mapped into [-1.1, -0.1]; chunks of 3 over T = 7 leave a partial chunk.
  {
    name: 'gatedRecurrence per-channel decay chunk 3',
    inputs: (r, d) => [rand(r, [2, 7, 2, 3], d), rand(r, [2, 7, 2, 3], d), rand(r, [2, 7, 2, 4], d), rand(r, [2, 7, 2, 3], d)],
    fn: (q, k, v, g) => E.gatedRecurrence(q, k, v, E.sub(E.mul(g, 0.5), 0.6), { chunk: 3 }),
  },
  {
    name: 'gatedRecurrence scalar decay chunk 4',
    inputs: (r, d) => [rand(r, [1, 7, 3, 2], d), rand(r, [1, 7, 3, 2], d), rand(r, [1, 7, 3, 3], d), rand(r, [1, 7, 3], d)],
    fn: (q, k, v, g) => E.gatedRecurrence(q, k, v, E.sub(E.mul(g, 0.5), 0.6), { chunk: 4 }),
  },
  { name: 'rope', inputs: (r, d) => [rand(r, [2, 5, 3, 4], d)], fn: (x) => E.rope(x, tables(x), 2) },
  ...scanCases(),
];

/** Mamba's selective scan, RWKV-6's time mix and causal low-rank attention (mixer-ops.ts). */
function scanCases(): OpCase[] {
  const scanInputs = (r: Rng, d: 'float32' | 'float64', B = 2, T = 5, C = 3, N = 4) =>
    [rand(r, [B, T, C], d), rand(r, [B, T, C], d, -2, 1), rand(r, [C, N], d, -1.5, -0.2), rand(r, [B, T, N], d), rand(r, [B, T, N], d)];
  const rwkvInputs = (r: Rng, d: 'float32' | 'float64', B = 2, T = 5, H = 2, D = 3) =>
    [rand(r, [B, T, H, D], d), rand(r, [B, T, H, D], d), rand(r, [B, T, H, D], d), rand(r, [B, T, H, D], d, -2, 1), rand(r, [H, D], d)];
  const lowrank = (name: string, Tq: number, Tk: number, o: E.LowRankAttentionOptions, nc: number): OpCase => ({
    name,
    inputs: (r, d) => [rand(r, [2, Tq, 2, 3], d), rand(r, [2, Tk, 2, 3], d), rand(r, [2, Tk, 2, 3], d),
      rand(r, [2, nc * o.rank, 2, 3], d), rand(r, [2, nc * o.rank, 2, 3], d)],
    fn: (q, k, v, kc, vc) => E.lowrankAttention(q, k, v, kc, vc, o),
  });
  return [
    { name: 'selectiveScan', inputs: (r, d) => scanInputs(r, d), fn: (x, dt, A, Bm, Cm) => E.selectiveScan(x, dt, A, Bm, Cm).y },
    { name: 'selectiveScan h0, N=17', inputs: (r, d) => scanInputs(r, d, 1, 4, 3, 17), fn: (x, dt, A, Bm, Cm) => E.selectiveScan(x, dt, A, Bm, Cm, { h0: null }).y },
    { name: 'selectiveScan from a state', inputs: (r, d) => scanInputs(r, d), fn: (x, dt, A, Bm, Cm) => E.selectiveScan(x, dt, A, Bm, Cm, { h0: as(scanH0, x) }).y },
    { name: 'rwkv6', inputs: (r, d) => rwkvInputs(r, d), fn: (rr, k, v, w, u) => E.rwkv6(rr, k, v, w, u).y },
    { name: 'rwkv6 from a state', inputs: (r, d) => rwkvInputs(r, d), fn: (rr, k, v, w, u) => E.rwkv6(rr, k, v, w, u, { s0: as(rwkvS0, rr) }).y },
    { name: 'rwkv6 D=17', inputs: (r, d) => rwkvInputs(r, d, 1, 3, 1, 17), fn: (rr, k, v, w, u) => E.rwkv6(rr, k, v, w, u).y },
    lowrank('lowrankAttention', 7, 7, { blockSize: 3, rank: 2 }, 2),
    lowrank('lowrankAttention decode pos0', 2, 4, { blockSize: 3, rank: 2, pos0: 3 }, 2),
    lowrank('lowrankAttention fewer summaries than blocks', 7, 7, { blockSize: 2, rank: 1, scale: 0.7 }, 1),
  ];
}
