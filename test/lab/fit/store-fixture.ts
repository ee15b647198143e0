// A results store holding a small scaling sweep, for the store-reading and CLI tests.
import { join } from 'node:path';
import { Store } from '../../../src/lab/results/store.js';
import { predictLoss } from '../../../src/lab/fit/chinchilla.js';
import { smallLaw } from './synthetic.js';

/**
 * A sweep of 4 model sizes, each evaluated every 100 steps to step 400 (warm-up 100 steps,
 * 1024 tokens per step); one run failed, one lacks a parameter count, one logs no tokens.
 */
export function scalingStore(dir: string): Store {
  const s = Store.open(join(dir, 'wt.db'));
  s.saveSweep({ name: 'scale', spec: {} });
  const sizes = [1e5, 2e5, 4e5, 8e5];
  const cfg = (i: number) => ({ model: { dModel: 16 * (i + 1) }, batchSize: 4, context: 256, schedule: { kind: 'wsd', warmupSteps: 100 } });
  s.addRuns('scale', [
    ...sizes.map((N, i) => ({ id: `r${i}`, name: `n${i}`, config: cfg(i), index: i, params: N * 1.5, nonEmbeddingParams: N })),
    { id: 'bad', name: 'diverged', config: cfg(9), index: 4, nonEmbeddingParams: 1e6 },
    { id: 'nop', name: 'no-count', config: cfg(8), index: 5 },
  ]);
  sizes.forEach((N, i) => {
    s.claim(`r${i}`, 'w');
    s.logEvals(`r${i}`, [0, 100, 200, 300, 400].map((step) => {
      const D = step * 1024;
      // run r3 logs no token count: D comes from its config (batchSize x context x step).
      const values: Record<string, number> = { loss: step === 0 ? 5.5 : predictLoss(smallLaw, N, D), perplexity: 1 };
      if (i !== 3) values.tokens = D;
      return { step, split: 'val', values };
    }));
    s.finish(`r${i}`);
  });
  s.claim('bad', 'w');
  s.logEvals('bad', [{ step: 100, split: 'val', values: { loss: 9, tokens: 102400 } }]);
  s.fail('bad', 'NaN');
  s.claim('nop', 'w');
  s.logEvals('nop', [{ step: 100, split: 'val', values: { loss: 3, tokens: 102400 } }]);
  s.finish('nop');
  return s;
}
