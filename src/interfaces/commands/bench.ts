// `windtunnel bench ops|train`: benchmarks that print one JSON line per case, each with
// the ceiling (or the PyTorch peer's keys) measured in the same run.

import type { Command } from 'commander';
import { benchOps } from '../../engine/bench.js';
import { backend } from '../../engine/index.js';
import { nativeCeilings, rawSgemm } from '../../engine/native.js';
import { benchTrain, type PeerConfig } from '../../training/bench.js';
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
}
