// Knowledge editing ('windtunnel/editing'): edit requests (JSONL), the editors (FT-L, LoRA, ROME,
// MEMIT, GRACE), the metrics (teacher-forced and generation side by side), causal-tracing layer
// location, and editing a run into a new run.

export * from './requests.js';
export * from './model-ops.js';
export * from './key-stats.js';
export * from './editors.js';
export * from './metrics.js';
export * from './locate.js';
export * from './run.js';
