// `windtunnel eval RUN|HF_DIR`: validation loss, perplexity and bits per byte of a run's model on its
// held-out split (every validation window unless --batches), shaped like its training batches.
// A Hugging Face folder has no data of its own: --config names a run config whose data,
// batchSize and context it is evaluated with (for a run, --config replaces the run's own).

import type { Command } from 'commander';
import { evaluate } from '../../training/evaluate.js';
import { openData, resolveRunConfig, validationBatches, type RunConfig } from '../../training/assemble.js';
import { loadModelSource } from '../../training/assemble.js';
import { readConfigFile } from '../../base/config-file.js';
import { UsageError } from '../../base/errors.js';
import { action, intOption, usageExits } from './run-common.js';

export function registerEval(program: Command): void {
  usageExits(program
    .command('eval')
    .description("evaluate a run's model on its validation split: loss, perplexity, bits per byte")
    .argument('<run>', 'run folder, or a Hugging Face folder (with --config)')
    .option('--config <file>', 'run config whose data, batchSize and context to evaluate with (needed for a Hugging Face folder)')
    .option('--checkpoint <step>', 'evaluate this checkpoint instead of the latest', intOption('--checkpoint'))
    .option('--batches <n>', 'only the first n validation batches (default: all)', intOption('--batches', 1))
    .option('--json', 'print one JSON object'))
    .action(action((runDir: string, o: { checkpoint?: number; batches?: number; json?: boolean; config?: string }) => {
      const src = loadModelSource(runDir, o.checkpoint);
      let config: RunConfig;
      if (o.config) {
        config = resolveRunConfig({ ...readConfigFile(o.config), model: src.model.config });
      } else if (src.config) config = src.config;
      else throw new UsageError(`${runDir} is a Hugging Face folder: give --config FILE, a run config whose data, batchSize and context to evaluate with`);
      const run = { ...src, config };
      const data = openData(run.config, run.tokenizer);
      try {
        const t0 = Date.now();
        const r = evaluate(run.model, validationBatches(run.config, data, o.batches), data.bytesPerToken);
        const seconds = (Date.now() - t0) / 1000;
        if (o.json) {
          console.log(JSON.stringify({
            run: runDir, step: run.step, loss: r.loss, perplexity: r.perplexity, bits_per_byte: r.bitsPerByte ?? null,
            tokens: r.tokens, batches: r.batches, seconds,
          }));
          return;
        }
        console.log(`run          ${runDir} (checkpoint step ${run.step})`);
        console.log(`loss         ${r.loss.toFixed(4)} nats/token`);
        console.log(`perplexity   ${r.perplexity.toFixed(2)}`);
        if (r.bitsPerByte !== undefined) console.log(`bits/byte    ${r.bitsPerByte.toFixed(4)}`);
        console.log(`evaluated    ${r.tokens} tokens in ${r.batches} batches of ${run.config.batchSize} x ${run.config.context} (${seconds.toFixed(1)} s)`);
      } finally {
        data.train.close();
        data.valid.close();
      }
    }));
}
