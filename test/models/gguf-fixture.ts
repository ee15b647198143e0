// Test helper: tiny trained models (GPT-2 layout with the byte tokenizer, LLaMA layout with a
// small BPE) on the Brown news category, trained once per process, for the GGUF tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainRun, type TrainRunResult } from '../../src/training/train-run.js';

const cache = new Map<string, Promise<TrainRunResult>>();

export function trainedTiny(layout: 'gpt2' | 'llama'): Promise<TrainRunResult> {
  let r = cache.get(layout);
  if (!r) {
    const dir = mkdtempSync(join(tmpdir(), `wt-gguf-${layout}-`));
    r = trainRun({
      model: { preset: layout, dModel: 32, nLayer: 2, nHead: 2 },
      data: {
        corpus: { kind: 'brown', categories: ['news'] },
        tokenizer: layout === 'gpt2' ? { kind: 'byte' } : { kind: 'bpe', vocabSize: 400 },
        cacheDir: join(dir, 'cache'),
      },
      lr: 1e-2, schedule: { kind: 'constant' }, batchSize: 8, context: 32, steps: 200, evalBatches: 1, seed: 3,
    }, { runDir: join(dir, 'run') });
    cache.set(layout, r);
  }
  return r;
}
