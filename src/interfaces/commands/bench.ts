// `windtunnel bench ops|train|mixers`: benchmarks that print one JSON line per case, each with
// the ceiling (or the PyTorch peer's keys) measured in the same run; `mixers` compares the
// token mixers at one width over sequence lengths (training/mixer-bench.ts).

import type { Command } from 'commander';
import { benchOps } from '../../engine/bench.js';
import { backend } from '../../engine/index.js';
import { nativeCeilings, rawSgemm } from '../../engine/native.js';
import { benchTrain, type PeerConfig } from '../../training/bench.js';
import { defaultMixerBenchOptions, mixerCrossovers, runMixerBenchChild, type MixerBenchLine } from '../../training/mixer-bench.js';
import { mixerNames } from '../../models/mixers/index.js';
import { UsageError } from '../../base/errors.js';
import { existsSync, readFileSync } from 'node:fs';

/** The peer's configs: ../shared/bench/configs.json when present, else our copy of it. */
function peerConfigs(path?: string): Record<string, PeerConfig> {
  const candidates = path ? [path] : [new URL('../../../../shared/bench/configs.json', import.meta.url).pathname, new URL('../../../bench/peer-configs.json', import.meta.url).pathname];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`bench configs not found (looked in ${candidates.join(', ')})`);
  return JSON.parse(readFileSync(found, 'utf8')) as Record<string, PeerConfig>;
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (one JSON line per case)');
  bench
    .command('ops')
    .description('engine ops against raw OpenBLAS sgemm and memory-copy ceilings')
    .option('--json', 'JSON lines only (the default output is also JSON lines, plus a header)')
    .option('--quick', 'a few small cases')
    .option('--only <substring>', 'only the cases whose op name contains this (e.g. attention)')
    .action((o: { json?: boolean; quick?: boolean; only?: string }) => {
      if (backend().name !== 'native') throw new Error('bench ops measures the native backend against its own ceilings; build it with npm run build:native');
      if (!o.json) console.error(`# backend ${backend().name}, ${backend().threads()} threads, ${backend().blas()}`);
      for (const line of benchOps(nativeCeilings(), { quick: o.quick, only: o.only })) console.log(JSON.stringify(line));
    });
  bench
    .command('train')
    .description('training throughput on the PyTorch peer benchmark configs (tiny, small, medium, large)')
    .option('--config <names>', 'comma-separated config names', 'tiny,small,medium,large')
    .option('--configs <file>', 'configs JSON (default: ../shared/bench/configs.json, else bench/peer-configs.json)')
    .option('--json', 'JSON lines (the only output format; accepted for symmetry with the peer)')
    .action((o: { config: string; configs?: string }) => {
      const all = peerConfigs(o.configs);
      const names = o.config.split(',').map((s) => s.trim()).filter(Boolean);
      for (const n of names) if (!all[n]) throw new Error(`--config: unknown config "${n}" (have ${Object.keys(all).join(', ')})`);
      const sgemm = backend().name === 'native' ? (2 * 1024 ** 3) / rawSgemm(1024, 1024, 1024, 10) / 1e9 : NaN;
      for (const n of names) console.log(JSON.stringify(benchTrain(n, all[n], sgemm)));
    });
  const d = defaultMixerBenchOptions();
  bench
    .command('mixers')
    .description('training and generation throughput and peak memory of each token mixer over sequence lengths, and where each overtakes attention')
    .option('--json', 'JSON lines only (otherwise a readable table on stderr as well)')
    .option('--lengths <list>', 'comma-separated sequence lengths', d.lengths.join(','))
    .option('--mixers <list>', 'comma-separated mixer names (attention is always included)', d.mixers.join(','))
    .option('--phases <list>', 'train, generate or both', 'train,generate')
    .option('--d-model <n>', 'model width', String(d.dModel))
    .option('--layers <n>', 'blocks', String(d.nLayer))
    .option('--heads <n>', 'heads', String(d.nHead))
    .option('--tokens <n>', 'tokens per training step (batch = tokens / length, at least 1)', String(d.tokensPerStep))
    .option('--seconds <s>', 'timed training steps stop after this long (1 to 5 steps)', String(d.minSeconds))
    .action((o: { json?: boolean; lengths: string; mixers: string; phases: string; dModel: string; layers: string; heads: string; tokens: string; seconds: string }) => {
      const ints = (flag: string, v: string) => v.split(',').map((x) => {
        const n = Number(x.trim());
        if (!Number.isInteger(n) || n < 2) throw new UsageError(`${flag}: expected integers >= 2, got "${x}"`);
        return n;
      });
      const one = (flag: string, v: string) => ints(flag, v)[0];
      const known = mixerNames();
      const mixers = ['attention', ...o.mixers.split(',').map((x) => x.trim()).filter((x) => x && x !== 'attention')];
      for (const m of mixers) if (!known.includes(m)) throw new UsageError(`--mixers: unknown mixer "${m}" (known: ${known.join(', ')})`);
      const phases = o.phases.split(',').map((x) => x.trim());
      for (const p of phases) if (p !== 'train' && p !== 'generate') throw new UsageError(`--phases: expected train and/or generate, got "${p}"`);
      const seconds = Number(o.seconds);
      if (!(seconds > 0)) throw new UsageError(`--seconds: expected a positive number, got "${o.seconds}"`);
      const opts = { ...d, mixers, lengths: ints('--lengths', o.lengths), dModel: one('--d-model', o.dModel), nLayer: one('--layers', o.layers), nHead: one('--heads', o.heads), tokensPerStep: one('--tokens', o.tokens), minSeconds: seconds };
      if (!o.json) console.error(`# bench mixers: dModel ${opts.dModel}, ${opts.nLayer} layers, ${opts.nHead} heads, ~${opts.tokensPerStep} tokens per training step; one child process per case`);
      const lines: MixerBenchLine[] = [];
      for (const phase of phases as ('train' | 'generate')[]) {
        for (const T of opts.lengths) {
          for (const mixer of opts.mixers) {
            const line = runMixerBenchChild({ mixer, T, phase, o: opts });
            lines.push(line);
            console.log(JSON.stringify(line));
            if (!o.json) console.error(`# ${phase.padEnd(8)} T=${String(T).padStart(6)} ${mixer.padEnd(10)} ${line.tokens_per_s.toFixed(1).padStart(10)} tok/s ${line.tokens_per_cpu_s.toFixed(1).padStart(10)} tok/cpu-s  peak ${line.peak_rss_mb.toFixed(0)} MB`);
          }
        }
      }
      for (const c of mixerCrossovers(lines)) console.log(JSON.stringify(c));
    });
}
