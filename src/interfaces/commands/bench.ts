// `windtunnel bench ops|train`: benchmarks that print one JSON line per case, each with
// the ceiling (or the PyTorch peer's keys) measured in the same run.

import type { Command } from 'commander';
import { benchOps } from '../../engine/bench.js';
import { backend } from '../../engine/index.js';
import { nativeCeilings } from '../../engine/native.js';

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (one JSON line per case)');
  bench
    .command('ops')
    .description('engine ops against raw OpenBLAS sgemm and memory-copy ceilings')
    .option('--json', 'JSON lines only (the default output is also JSON lines, plus a header)')
    .option('--quick', 'a few small cases')
    .action((o: { json?: boolean; quick?: boolean }) => {
      if (backend().name !== 'native') throw new Error('bench ops measures the native backend against its own ceilings; build it with npm run build:native');
      if (!o.json) console.error(`# backend ${backend().name}, ${backend().threads()} threads, ${backend().blas()}`);
      for (const line of benchOps(nativeCeilings(), { quick: o.quick })) console.log(JSON.stringify(line));
    });
}
