// `windtunnel info`: version, active backend, threads and BLAS, so a slow run can be explained.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { backend } from '../../engine/index.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('print the version, active backend, thread count, BLAS and instruction set')
    .option('--json', 'print one JSON object')
    .action((o: { json?: boolean }) => {
      const b = backend();
      const info = { version: packageVersion(), backend: b.name, threads: b.threads(), blas: b.blas(), isa: b.isa(), node: process.version };
      if (o.json) console.log(JSON.stringify(info));
      else for (const [k, v] of Object.entries(info)) console.log(`${k.padEnd(8)} ${v}`);
    });
}
