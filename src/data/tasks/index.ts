// Reasoning tasks (arithmetic, equations, lis, edit-distance): generators, the text format, and
// the packing of instances into training batches with the prompt masked.

export * from './format.js';
export * from './task.js';
export * from './generate.js';
export * from './modular.js';
export { applyOp, ops, type Op } from './arithmetic.js';
export { gaussJordan, variableNames } from './equations.js';
export { lisTable } from './lis.js';
export { editTable } from './edit-distance.js';
export * from './dataset.js';
export * from './packing.js';
