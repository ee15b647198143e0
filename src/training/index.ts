// The training layer's public surface: optimizers, gradient utilities, lr schedules, checkpoints,
// metrics, evaluation, the training loop, WSD branching and the run config schema.
export * from './optimizers.js';
export * from './grads.js';
export * from './schedules.js';
export * from './checkpoint.js';
export * from './metrics.js';
export * from './evaluate.js';
export * from './trainer.js';
export * from './branch.js';
export * from './config.js';
export * from './train-run.js';
export * from './assemble.js';
