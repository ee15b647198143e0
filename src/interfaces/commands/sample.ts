// `windtunnel sample RUN|HF_DIR --prompt TEXT`: continues a prompt with a run's trained model (KV-cache
// sampling from src/models/sampling.ts). Deterministic for a seed. When the run separated its
// documents with <|endoftext|> (for a Hugging Face folder: when its tokenizer has it), the prompt is read as the start of a document (the token is put
// before it) and sampling stops at the next one.

import { checkMemory, estimateSampleMemory } from '../../training/memory.js';
import { InvalidArgumentError, type Command } from 'commander';
import type { SamplingOptions } from '../../models/sampling.js';
import { loadModelSource, sampleText, type SampleOptions } from '../../training/assemble.js';
import { UsageError } from '../../base/errors.js';
import { action, intOption, numberOption, usageExits } from './run-common.js';

// sampleText is the training layer's (the trainer logs samples with it too).
export { sampleText, type SampleOptions } from '../../training/assemble.js';

export const DEFAULT_SAMPLING = { maxTokens: 200, temperature: 0.8, seed: 0 } as const;

export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option('--max-tokens <n>', 'tokens to generate', intOption('--max-tokens'), DEFAULT_SAMPLING.maxTokens)
    .option('--temperature <t>', 'softmax temperature (0: greedy)', numberOption('--temperature', (n) => n >= 0, 'a number >= 0'), DEFAULT_SAMPLING.temperature)
    .option('--top-k <k>', 'sample only from the k most likely tokens', intOption('--top-k', 1))
    .option('--top-p <p>', 'sample only from the smallest set of tokens whose probability reaches p', numberOption('--top-p', (n) => n > 0 && n <= 1, 'in (0, 1]'))
    .option('--seed <s>', 'sampling seed (same seed, same text)', intOption('--seed'), DEFAULT_SAMPLING.seed);
}

/** "--sinks 4,60" -> { keep: 4, window: 60 }. */
export function sinksOption(v: string): { keep: number; window: number } {
  const m = /^(\d+),(\d+)$/.exec(v.trim());
  if (!m || Number(m[2]) < 1) throw new InvalidArgumentError(`--sinks must be KEEP,WINDOW (integers, WINDOW >= 1), got "${v}".`);
  return { keep: Number(m[1]), window: Number(m[2]) };
}

export function registerSample(program: Command): void {
  usageExits(addSamplingOptions(program
    .command('sample')
    .description("continue a prompt with a run's model (latest checkpoint unless --checkpoint) or a Hugging Face folder's")
    .argument('<run>', 'run folder, or a Hugging Face folder (config.json + model.safetensors + a tokenizer we read)')
    .option('--prompt <text>', 'text to continue (default: start a new document)')
    .option('--checkpoint <step>', 'use this checkpoint instead of the latest', intOption('--checkpoint')))
    .option('--sinks <keep,window>', 'attention sinks (StreamingLLM): keep the first KEEP tokens and the last WINDOW in the cache, and generate past the context length', sinksOption)
    .option('--json', 'print one JSON object: prompt, text, tokens, checkpoint step'))
    .action(action((runDir: string, o: SampleOptions & { prompt?: string; checkpoint?: number; json?: boolean }) => {
      const run = loadModelSource(runDir, o.checkpoint);
      const prompt = o.prompt ?? '';
      checkMemory(`--max-tokens ${o.maxTokens}`, estimateSampleMemory(run.model.config, o.maxTokens, prompt.length), 1, 'ask for fewer tokens');
      const c = run.model.config;
      if (o.sinks && o.sinks.keep + o.sinks.window > c.nCtx) throw new UsageError(`--sinks ${o.sinks.keep},${o.sinks.window}: KEEP + WINDOW must be at most the context length ${c.nCtx}`);
      const { text, newTokens } = sampleText(run, prompt, o);
      if (o.json) console.log(JSON.stringify({ run: runDir, step: run.step, seed: o.seed, prompt, text, tokens: newTokens }));
      else console.log(text);
    }));
}
