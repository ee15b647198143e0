// The data layer's public surface: tokenizers, corpora, token caches, samplers. No engine dependency.

export * from './utf8.js';
export * from './pretokenize.js';
export * from './tokenizer.js';
export * from './bpe.js';
export { countWords, learnMerges, type Merge, type LearnMergesOptions } from './bpe-train.js';
export * from './brown.js';
export * from './corpora.js';
export * from './tokensource.js';
export * from './tokenfile.js';
export * from './tokencache.js';
export * from './batching.js';
export * from './eval-batches.js';
export * from './hf-tokenizer.js';
export * from './data-config.js';
export * from './fact-world.js';
