// `windtunnel ui`: the local dashboard (src/interfaces/ui) on the results store, read-only.
// Runs until Ctrl-C.

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { startUi } from '../ui/server.js';
import { addStoreOptions, storePath, type StoreOptions } from './lab-common.js';
import { action } from './run-common.js';

interface UiCliOptions extends StoreOptions {
  port: string;
  host: string;
}

export function registerUi(program: Command): void {
  addStoreOptions(program
    .command('ui')
    .description('serve the dashboard: runs table, live curves, grouping by config, hyperparameters, comparison, reports')
    .option('--port <n>', 'port (0 picks a free one)', '8050')
    .option('--host <host>', 'address to listen on (0.0.0.0 to share on the network)', '127.0.0.1'))
    .action(action(async (o: UiCliOptions) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer in 0..65535, got "${o.port}"`);
      const db = storePath(o);
      if (!existsSync(db)) throw new Error(`no results store at ${db} (run a sweep first, or pass --db / --runs-dir)`);
      const ui = await startUi({ db, port, host: o.host });
      console.log(`dashboard: ${ui.url}  (store ${db}; Ctrl-C to stop)`);
      await new Promise<void>((done) => {
        const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); void ui.close().then(done); };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    }));
}
