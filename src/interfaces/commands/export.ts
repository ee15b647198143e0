// `windtunnel export RUN --format hf-gpt2|hf-llama|gguf`: a run's model as a Hugging Face checkpoint
// folder (config.json + model.safetensors, HF tensor names; src/models/hf.ts). A model that does
// not fit the format is refused with what differs. The run's tokenizer goes with it in HF's
// format (tokenizer.json and friends, src/data/hf-tokenizer.ts) and ours (windtunnel-tokenizer.json).
// gguf: one file for llama.cpp with the tokenizer in its metadata (src/models/gguf.ts).
// An --out that already has files in it (or, for gguf, an existing file) is refused unless
// --force. The folder is written into a hidden folder beside the target and renamed into place
// whole, so an interrupted export never leaves a config.json beside weights it does not describe.

import type { Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { familyMismatches, type HFFamily } from '../../models/hf.js';
import { loadRun } from '../../training/assemble.js';
import { HF_FILES, exportModelHF } from '../../training/hf-folder.js';
import { exportGGUF, type GGUFFloat } from '../../models/gguf.js';
import { toGGUFTokenizer } from '../../data/index.js';
import { UsageError } from '../../base/errors.js';
import { replaceFolderDurable } from '../../base/durable.js';
import { action, intOption, usageExits } from './run-common.js';

const FORMATS: Record<string, HFFamily> = { 'hf-gpt2': 'gpt2', 'hf-llama': 'llama' };

const FLOATS: GGUFFloat[] = ['f32', 'f16'];

export function registerExport(program: Command): void {
  usageExits(program
    .command('export')
    .description("write a run's model as a Hugging Face checkpoint folder (config.json + model.safetensors + tokenizer) or a GGUF file for llama.cpp")
    .argument('<run>', 'run folder')
    .requiredOption('--format <format>', `${Object.keys(FORMATS).join(' | ')} | gguf`)
    .option('--out <path>', 'output folder (gguf: file; default: <run>/export-<format>, <run>/model-<float>.gguf)')
    .option('--float <type>', 'gguf weight precision: f32 | f16 (norms and biases stay f32)', 'f32')
    .option('--checkpoint <step>', 'export this checkpoint instead of the latest', intOption('--checkpoint'))
    .option('--force', 'replace an --out folder that already has files in it (gguf: an existing file)'))
    .action(action((runDir: string, o: { format: string; out?: string; checkpoint?: number; float: string; force?: boolean }) => {
      if (o.format === 'gguf') {
        if (!FLOATS.includes(o.float as GGUFFloat)) throw new UsageError(`--float must be one of ${FLOATS.join(', ')}, got ${JSON.stringify(o.float)}`);
        const run = loadRun(runDir, o.checkpoint);
        const out = resolve(o.out ?? join(runDir, `model-${o.float}.gguf`));
        if (existsSync(out) && !o.force) throw new UsageError(`${out} exists; pass --force to replace it, or choose another --out`);
        exportGGUF(run.model, toGGUFTokenizer(run.tokenizer), out, { float: o.float as GGUFFloat, name: basename(resolve(runDir)) });
        console.log(`exported step ${run.step} of ${runDir} as GGUF (${o.float}) to ${out}`);
        return;
      }
      const family = FORMATS[o.format];
      if (!family) throw new UsageError(`--format must be one of ${[...Object.keys(FORMATS), 'gguf'].join(', ')}, got ${JSON.stringify(o.format)}`);
      const run = loadRun(runDir, o.checkpoint);
      const bad = familyMismatches(run.model.config, family);
      if (bad.length) {
        const other = Object.entries(FORMATS).find(([, f]) => f !== family && familyMismatches(run.model.config, f).length === 0);
        throw new UsageError(`this run's model does not fit the Hugging Face ${family} format: ${bad.join('; ')}` +
          (other ? `. It is ${other[1]}-shaped: use --format ${other[0]}` : ''));
      }
      const out = resolve(o.out ?? join(runDir, `export-${o.format}`));
      if (existsSync(out) && readdirSync(out).length > 0 && !o.force) {
        throw new UsageError(`${out} is not empty; pass --force to replace it, or choose another --out`);
      }
      replaceFolderDurable(out, (tmp) => exportModelHF(run.model, run.tokenizer, tmp, family));
      console.log(`exported step ${run.step} of ${runDir} as Hugging Face ${family} to ${out}`);
      console.log(`  ${HF_FILES.join(', ')}`);
    }));
}
