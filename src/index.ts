// windtunnel as a library: `import { ... } from 'windtunnel'`.
//
// The root export carries the layers a model needs end to end: the engine (tensors, ops,
// backward), models (build, load, forward, hooks, KV-cache generation, safetensors, Hugging
// Face), data (tokenizers, corpora, samplers) and training (optimizers, schedules, the Trainer,
// trainRun for a whole config). Knowledge editing, the lab and the studies are namespaces here and subpaths
// ('windtunnel/editing', 'windtunnel/lab', 'windtunnel/studies'), as are the layers ('windtunnel/engine', ...).
// README.md, section "Library", walks through it; examples/ has runnable scripts.

export * from './engine/index.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './training/index.js';
export * as probes from './probes/index.js';
export * as editing from './editing/index.js';
export * as lab from './lab/index.js';
export * as studies from './studies/index.js';
