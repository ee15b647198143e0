// `windtunnel runs list|show|compare|metrics|sweeps`: the results store from the command line,
// with filters (--sweep, --tag, --status, --where, --final) and CSV / JSON export.

import type { Command } from 'commander';
import {
  compareRuns, evalSeries, findRun, flatten, flattenRun, listSweeps, metricKeys, metricSeries, queryRuns, runSamples, runTaskEvals, toCsv, toJson, type RunRecord,
} from '../../lab/results/query.js';
import {
  addFilterOptions, addStoreOptions, filterFrom, fmtValue, openStoreForReading, table,
  type FilterOptions, type StoreOptions,
} from './lab-common.js';
import { action } from './run-common.js';
import { fmtCount, fmtSci } from '../../base/format.js';

interface ExportOptions {
  csv?: boolean;
  json?: boolean;
}

const addExportOptions = (cmd: Command): Command => cmd.option('--csv', 'print CSV').option('--json', 'print JSON');

export function registerRuns(program: Command): void {
  exitQuietlyOnClosedPipe();
  const runs = program.command('runs').description('query the results store: list, show, compare and export runs');

  addExportOptions(addFilterOptions(addStoreOptions(runs.command('list').description('list runs (filtered); --csv / --json export them'))))
    .option('--columns <list>', 'CSV columns, comma-separated (default: all, config.* and final.* included)')
    .action(action((o: StoreOptions & FilterOptions & ExportOptions & { columns?: string }) => {
      const store = openStoreForReading(o);
      try {
        const rs = queryRuns(store, filterFrom(o));
        if (o.json) return void process.stdout.write(toJson(rs));
        if (o.csv) return void process.stdout.write(toCsv(rs.map(flattenRun), o.columns?.split(',')));
        const finals = [...new Set(rs.flatMap((r) => Object.keys(r.final ?? {})))].filter((k) => k.endsWith('loss')).sort(preferLoss).slice(0, 3);
        console.log(table(['id', 'status', 'params', 'tokens', 'FLOPs', 'step', ...finals, 'name'], rs.map((r) => [
          r.id, r.status, fmtCount(r.params), fmtCount(r.tokens), fmtSci(r.flops), fmtValue(r.final?.step), ...finals.map((k) => fmtValue(r.final?.[k])), r.name,
        ])));
        console.log(`${rs.length} run(s)`);
      } finally {
        store.close();
      }
    }));

  addStoreOptions(runs.command('show').description('one run: status, error, config, final metrics, logged series, latest text samples')
    .argument('<run>', 'run id, id prefix or name'))
    .option('--json', 'print JSON')
    .action(action((ref: string, o: StoreOptions & { json?: boolean }) => {
      const store = openStoreForReading(o);
      try {
        const r = findRun(store, ref);
        const keys = metricKeys(store, r.id);
        const samples = runSamples(store, r.id, 1);
        const taskEvals = runTaskEvals(store, r.id);
        if (o.json) return void process.stdout.write(toJson({ ...r, series: keys, samples, taskEvals }));
        const lines: [string, string][] = [
          ['id', r.id], ['name', r.name], ['status', r.status], ['sweeps', r.sweeps.join(', ') || '-'], ['tags', r.tags.join(', ') || '-'],
          ['dir', r.dir ?? '-'], ['attempts', String(r.attempts)], ['worker', r.worker ?? '-'], ['started', r.startedAt ?? '-'], ['finished', r.finishedAt ?? '-'],
          ['params', `${fmtCount(r.params)} (non-embedding ${fmtCount(r.nonEmbeddingParams)})`], ['tokens', fmtCount(r.tokens)], ['FLOPs', fmtSci(r.flops)],
        ];
        for (const [k, v] of lines) console.log(`${k.padEnd(9)} ${v}`);
        if (r.error) console.log(`error\n${r.error.replace(/^/gm, '  ')}`);
        console.log('final');
        for (const [k, v] of Object.entries(r.final ?? {})) console.log(`  ${k.padEnd(20)} ${fmtValue(v)}`);
        console.log('series');
        for (const k of keys) console.log(`  ${k.key.padEnd(20)} ${k.steps} steps, last ${k.lastStep}`);
        if (taskEvals.length > 0) {
          // per task and shots: each metric at the last evaluated checkpoint, and how many checkpoints
          console.log('task scores');
          const groups = new Map<string, typeof taskEvals>();
          for (const t of taskEvals) {
            const key = `${t.task} ${t.shots}-shot`;
            groups.set(key, [...(groups.get(key) ?? []), t]);
          }
          for (const [key, pts] of groups) {
            const last = Math.max(...pts.map((p) => p.step));
            const steps = new Set(pts.map((p) => p.step)).size;
            const shown = pts.filter((p) => p.step === last).map((p) => `${p.metric} ${fmtValue(p.value)}`).join('  ');
            console.log(`  ${key.padEnd(24)} step ${last} (${steps} checkpoint${steps === 1 ? '' : 's'}, ${pts[0].items} items)  ${shown}`);
          }
        }
        for (const { step, samples: ss } of samples) {
          console.log(`samples (step ${step})`);
          for (const s of ss) console.log(`  ${JSON.stringify(s.prompt)} -> ${s.text.replace(/\n/g, '\n  ')}`);
        }
        console.log('config');
        for (const [k, v] of Object.entries(flatten(r.config))) console.log(`  ${k.padEnd(28)} ${fmtValue(v)}`);
      } finally {
        store.close();
      }
    }));

  addExportOptions(addFilterOptions(addStoreOptions(runs.command('compare')
    .description('side by side: the config values that differ, and final metrics')
    .argument('[runs...]', 'run ids, prefixes or names (or use the filters)'))))
    .action(action((refs: string[], o: StoreOptions & FilterOptions & ExportOptions) => {
      const store = openStoreForReading(o);
      try {
        const rs: RunRecord[] = refs.length ? refs.map((ref) => findRun(store, ref)) : queryRuns(store, filterFrom(o));
        if (rs.length === 0) throw new Error('no runs to compare (give run ids or filters)');
        const c = compareRuns(rs);
        if (o.json) return void process.stdout.write(toJson(c));
        const rows = [
          ...Object.entries(c.config).map(([k, vs]) => ({ key: `config.${k}`, values: vs })),
          ...Object.entries(c.final).map(([k, vs]) => ({ key: `final.${k}`, values: vs as unknown[] })),
        ];
        if (o.csv) {
          const cols = ['key', ...c.runs.map((r) => r.id)];
          return void process.stdout.write(toCsv(rows.map((row) => Object.fromEntries([['key', row.key], ...c.runs.map((r, i) => [r.id, row.values[i]])])), cols));
        }
        console.log(table(['', ...c.runs.map((r) => r.id)], [
          ['name', ...c.runs.map((r) => r.name)], ['status', ...c.runs.map((r) => r.status)],
          ...rows.map((row) => [row.key, ...row.values.map(fmtValue)]),
        ]));
      } finally {
        store.close();
      }
    }));

  addExportOptions(addStoreOptions(runs.command('metrics').description('metric time series of runs (CSV by default; --json)')
    .argument('<runs...>', 'run ids, prefixes or names')))
    .option('--key <key>', 'only these metrics (repeat)', (v: string, p: string[] = []) => [...p, v])
    .option('--evals', 'evaluation series instead of training metrics')
    .action(action((refs: string[], o: StoreOptions & ExportOptions & { key?: string[]; evals?: boolean }) => {
      const store = openStoreForReading(o);
      try {
        const ids = refs.map((ref) => findRun(store, ref).id);
        const rows = o.evals ? evalSeries(store, { runs: ids, keys: o.key }) : metricSeries(store, { runs: ids, keys: o.key });
        process.stdout.write(o.json ? toJson(rows) : toCsv(rows as unknown as Record<string, unknown>[], o.evals ? ['run', 'split', 'key', 'step', 'value'] : ['run', 'key', 'step', 'value']));
      } finally {
        store.close();
      }
    }));

  addExportOptions(addStoreOptions(runs.command('sweeps').description('the sweeps in the store, with run counts by status')))
    .action(action((o: StoreOptions & ExportOptions) => {
      const store = openStoreForReading(o);
      try {
        const ss = listSweeps(store);
        if (o.json) return void process.stdout.write(toJson(ss));
        const rows = ss.map((s) => ({ name: s.name, runs: s.runs, ...s.byStatus, tags: s.tags.join(';'), file: s.file, updated: s.updatedAt }));
        if (o.csv) return void process.stdout.write(toCsv(rows, ['name', 'runs', 'pending', 'running', 'done', 'failed', 'interrupted', 'tags', 'file', 'updated']));
        console.log(table(['sweep', 'runs', 'status', 'file'], ss.map((s) => [
          s.name, String(s.runs), Object.entries(s.byStatus).map(([k, v]) => `${v} ${k}`).join(', '), s.file ?? '-',
        ])));
      } finally {
        store.close();
      }
    }));
}

/** `windtunnel runs list | head` closes stdout early: that is not an error. */
function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
}

/** Loss-like keys first in the list table. */
function preferLoss(a: string, b: string): number {
  const rank = (k: string): number => (k === 'loss' ? 0 : k.endsWith('loss') ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b);
}
