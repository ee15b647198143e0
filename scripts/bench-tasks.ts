// Training and evaluation throughput on the reasoning tasks (issue 13): for each task and format
// at a typical size, a 3-layer, 64-wide model (the cot-expressivity study's shape) trains
// `--steps` steps on packed instances; then the harness scores the test instances (batched
// greedy decoding with the KV cache, and the teacher-forced pass).
//
//   node --import tsx scripts/bench-tasks.ts [--steps 40] [--json]
//
// Reported per config: training tokens/s (all B x T positions), how full the packed rows are
// (instance tokens / positions) and the share of positions that are scored (the completion),
// and evaluation items/s.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { ByteTokenizer, END_OF_TEXT, IGNORE_INDEX } from '../src/data/index.js';
import { InstanceSampler } from '../src/data/tasks/index.js';
import { backend } from '../src/engine/index.js';
import { assembleRun, openData, resolveRunConfig } from '../src/training/assemble.js';
import { scoreItems, taskItems } from '../src/training/harness.js';

const args = process.argv.slice(2);
const steps = Number(args[args.indexOf('--steps') + 1] ?? 40) || 40;
const json = args.includes('--json');
const cases = [
  { task: 'arithmetic', size: 4 }, { task: 'equations', size: 3 }, { task: 'lis', size: 8 }, { task: 'edit-distance', size: 6 },
] as const;

const tokenizer = new ByteTokenizer({ specialTokens: [END_OF_TEXT] });
console.error(`backend ${backend().name}, ${backend().threads()} threads, ${cpus()[0]?.model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const { task, size } of cases) {
  for (const format of ['direct', 'cot'] as const) {
    const config = resolveRunConfig({
      model: { preset: 'gpt2', positions: 'rotary', dModel: 64, nLayer: 3, nHead: 4 },
      data: { corpus: { kind: 'task', task, format, sizes: [size], train: 2000, test: 200 } },
      lr: 3e-3, batchSize: 32, context: 256, steps, evalBatches: 1,
    });
    const data = openData(config, tokenizer);
    const runDir = mkdtempSync(join(tmpdir(), 'wt-bench-tasks-'));
    try {
      // how full the packed rows are, and the share of positions scored, over a few batches
      const enc = data.tasks!.train;
      const probe = new InstanceSampler(enc, { B: config.batchSize, T: config.context, seed: 0 });
      let scored = 0, positions = 0;
      for (let i = 0; i < 5; i++) {
        const b = probe.next();
        positions += b.B * b.T;
        for (const t of b.targets) if (t !== IGNORE_INDEX) scored++;
      }
      const meanLen = enc.tokens.length / (enc.bounds.length - 1);
      const consumed = probe.state().epoch * (enc.bounds.length - 1) + probe.state().doc;
      const fill = (consumed * meanLen) / (5 * config.batchSize * (config.context + 1));
      const rates: number[] = [];
      const run = assembleRun(config, data, { runDir, resume: false, onEvent: (e) => { if (e.type === 'step' && e.step > 3) rates.push(e.tokensPerSec); } });
      await run.trainer.run();
      rates.sort((a, b) => a - b);
      const t0 = performance.now();
      const items = taskItems(data.tasks!.sets.test, format);
      scoreItems(run.model, tokenizer, items, { batchSize: 64 });
      const evalSeconds = (performance.now() - t0) / 1000;
      const line = {
        task, size, format, tokens_per_s: Math.round(rates[rates.length >> 1]), row_fill: +fill.toFixed(3),
        scored_share: +(scored / positions).toFixed(3), eval_items_per_s: Math.round(items.length / evalSeconds), eval_items: items.length,
      };
      if (json) console.log(JSON.stringify(line));
      else console.log(`${`${task}:${size}`.padEnd(16)} ${format.padEnd(6)} train ${String(line.tokens_per_s).padStart(6)} tok/s  rows ${(100 * line.row_fill).toFixed(0)}% full, ${(100 * line.scored_share).toFixed(0)}% scored  eval ${line.eval_items_per_s} items/s`);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }
}

