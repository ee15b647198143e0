// bench mixers: one case measured in process (tiny sizes: the numbers are not checked, their
// presence and consistency are), and the crossover arithmetic on made-up curves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultMixerBenchOptions, mixerCrossovers, runMixerBenchCase, type MixerBenchLine } from '../../src/training/mixer-bench.js';

test('a training and a generation case measure throughput, CPU time, memory and the state size', () => {
  const o = { ...defaultMixerBenchOptions(), dModel: 16, nLayer: 1, nHead: 2, vocab: 32, tokensPerStep: 32, minSeconds: 0.01, maxSteps: 1, decodeTokens: 4 };
  const train = runMixerBenchCase({ mixer: 'mamba', T: 16, phase: 'train', o });
  assert.equal(train.batch, 2);
  assert.equal(train.steps, 1);
  assert.ok(train.tokens_per_s > 0 && train.tokens_per_cpu_s > 0 && train.peak_rss_mb >= train.base_rss_mb);
  const gen = runMixerBenchCase({ mixer: 'rwkv', T: 16, phase: 'generate', o });
  assert.equal(gen.steps, 4);
  // rwkv time mix per layer: C shift + H D^2 state, batch 1
  assert.equal(gen.state_floats, 16 + 2 * 8 * 8);
  assert.ok(gen.prefill_tokens_per_s! > 0);
});

test('crossovers: the first length from which a mixer stays faster, interpolated in log T', () => {
  const line = (mixer: string, T: number, rate: number): MixerBenchLine => ({
    kind: 'case', mixer, T, phase: 'train', params: 0, batch: 1, tokens_per_s: rate, tokens_per_cpu_s: rate, ms_per_unit: 0, steps: 1,
    peak_rss_mb: 0, base_rss_mb: 0, backend: 'x', threads: 1, isa: 'x',
  });
  const lines = [
    line('attention', 256, 1000), line('attention', 1024, 500), line('attention', 4096, 125),
    line('fast', 256, 500), line('fast', 1024, 1000), line('fast', 4096, 1000), // ratio 0.5, 2, 8
    line('never', 256, 100), line('never', 1024, 100), line('never', 4096, 100),
    line('dip', 256, 2000), line('dip', 1024, 400), line('dip', 4096, 1000), // faster, slower, faster
  ];
  const byName = Object.fromEntries(mixerCrossovers(lines).filter((c) => c.metric === 'tokens_per_s').map((c) => [c.mixer, c]));
  assert.equal(byName.fast.overtakes_at, 1024);
  assert.equal(byName.fast.crossover_estimate, 512); // log ratio -ln2 at 256, +ln2 at 1024: halfway in log T
  assert.deepEqual(byName.fast.speedup, { 256: 0.5, 1024: 2, 4096: 8 });
  assert.equal(byName.never.overtakes_at, null);
  assert.equal(byName.dip.overtakes_at, 4096, 'faster from 4096 on, not from 256');
});
