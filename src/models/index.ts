// The model layer: configs, the decoder-only transformer (GPT-2 and LLaMA layouts), hooks,
// sampling, safetensors, Hugging Face checkpoints and muP.
export * from './config.js';
export * from './transformer.js';
export * from './hooks.js';
export * from './sampling.js';
export * from './safetensors.js';
export * from './hf.js';
export * from './mup.js';
export * from './gguf.js';
export * from './mixers/index.js';
