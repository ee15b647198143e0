// The engine's public surface: tensors, ops, autograd and backend selection, and the seeded RNG
// (base/random.ts) that initialisation and dropout take.
export * from './tensor.js';
export * from './ops.js';
export * from './nn.js';
export * from './mixer-ops.js';
export { backward, findFirstNonFinite, topologicalOrder } from './autograd.js';
export { backend, setBackend, withBackend, noGrad, isGradEnabled, setDetectAnomaly } from './runtime.js';
export { Rng, type RngState } from '../base/random.js';
export type { AttentionMask, Backend, BiasActOp } from './backend.js';
export type { LowRankShape, Rwkv6Shape, SelectiveScanShape } from './sequence-kernels.js';
export { BIAS_ACT_OPS } from './backend.js';
