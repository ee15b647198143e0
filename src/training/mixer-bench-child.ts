// The child process of `windtunnel bench mixers` (mixer-bench.ts): runs one case given as a
// JSON argument and prints its result as one JSON line, so the case's peak memory is its own.

import { runMixerBenchCase, type MixerBenchCase } from './mixer-bench.js';

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: mixer-bench-child <case as JSON>\n');
  process.exit(2);
}
try {
  process.stdout.write(`${JSON.stringify(runMixerBenchCase(JSON.parse(arg) as MixerBenchCase))}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
}
