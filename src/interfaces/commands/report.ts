// `windtunnel report SWEEP`: a self-contained HTML report (figures inlined as SVG, opens
// offline) and a Markdown summary of a sweep, by default in <runs-dir>/<sweep>/report/.

import type { Command } from 'commander';
import { join } from 'node:path';
import { writeReport } from '../../lab/presentation/report.js';
import { addStoreOptions, openStoreForReading, type StoreOptions } from './lab-common.js';
import { action } from './run-common.js';

interface ReportCliOptions extends StoreOptions {
  out?: string;
  svg?: boolean;
  smoothing: string;
  metric?: string;
  title?: string;
}

export function registerReport(program: Command): void {
  addStoreOptions(program
    .command('report')
    .description('write a sweep report: report.html (self-contained, offline) and report.md; --svg also writes each figure')
    .argument('<sweep>', 'sweep name (see `windtunnel runs sweeps`)')
    .option('--out <dir>', 'output folder (default <runs-dir>/<sweep>/report)')
    .option('--svg', 'also write each figure as figures/<id>.svg')
    .option('--smoothing <w>', 'debiased-EMA weight for loss curves, 0 (none) to 0.99', '0.6')
    .option('--metric <key>', 'final metric of the scaling figures (default val_loss if logged, else loss)')
    .option('--title <text>', 'report title (default "Sweep <name>")'))
    .action(action(async (sweep: string, o: ReportCliOptions) => {
      const smoothing = Number(o.smoothing);
      if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`--smoothing must be in [0, 1), got "${o.smoothing}"`);
      const store = openStoreForReading(o);
      try {
        const out = o.out ?? join(o.runsDir, sweep, 'report');
        const r = await writeReport(store, sweep, out, { svg: o.svg, smoothing, metric: o.metric, title: o.title });
        console.log(`report: ${r.html}`);
        console.log(`summary: ${r.markdown}`);
        if (r.svgs.length) console.log(`figures: ${r.svgs.length} SVG files in ${join(r.dir, 'figures')}`);
      } finally {
        store.close();
      }
    }));
}
