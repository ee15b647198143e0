// The dissection toolkit as a library: `import { probes } from 'windtunnel'` or 'windtunnel/probes'.
export * from './lens.js';
export * from './tuned-lens.js';
export * from './patching.js';
export * from './graph.js';
export * from './circuits.js';
export * from './heads.js';
export * from './attention.js';
export * from './redundancy.js';
export * from './rank.js';
export * from './causal-trace.js';
