// CLI start-up time: wall-clock of `node bin/windtunnel.js ARGS` over N runs (median, min, max).
//   node scripts/bench-startup.mjs [runs] -- --help
import { spawnSync } from 'node:child_process';

const sep = process.argv.indexOf('--');
const runs = Number(process.argv[2] && sep !== 2 ? process.argv[2] : 10);
const args = sep >= 0 ? process.argv.slice(sep + 1) : ['--help'];
const ms = [];
for (let i = 0; i < runs; i++) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['bin/windtunnel.js', ...args], { encoding: 'utf8' });
  ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
}
ms.sort((a, b) => a - b);
console.log(JSON.stringify({ args: args.join(' '), runs, medianMs: Math.round(ms[runs >> 1]), minMs: Math.round(ms[0]), maxMs: Math.round(ms.at(-1)) }));
