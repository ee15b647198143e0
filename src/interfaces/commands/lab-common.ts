// Shared pieces of the lab commands (sweep, runs): the store location, run filters as
// options, value cells and plain text tables.

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCondition, type RunFilter } from '../../lab/results/query.js';
import { runStatuses, Store, type RunStatus } from '../../lab/results/store.js';

export interface StoreOptions {
  db?: string;
  runsDir: string;
}

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--runs-dir <dir>', 'where run folders (and by default the store) live', 'runs')
    .option('--db <path>', 'the results store (default <runs-dir>/windtunnel.db)');
}

export const storePath = (o: StoreOptions): string => o.db ?? join(o.runsDir, 'windtunnel.db');

/** Opens the store for reading; a missing one is an error that says how to make one. */
export function openStoreForReading(o: StoreOptions): Store {
  const path = storePath(o);
  if (!existsSync(path)) throw new Error(`no results store at ${path} (run a sweep first, or pass --db / --runs-dir)`);
  return Store.open(path, { readonly: true });
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export interface FilterOptions {
  sweep?: string;
  tag?: string[];
  status?: string[];
  where?: string[];
  final?: string[];
  limit?: string;
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--sweep <name>', 'runs of this sweep')
    .option('--tag <tag>', 'runs with this tag (repeat: all of them)', collect)
    .option('--status <status>', `runs with this status (${runStatuses.join('|')}; repeat or comma-separate)`, collect)
    .option('--where <cond>', 'config test, e.g. model.dModel=128 or optim.lr<=3e-3 (repeat: all of them)', collect)
    .option('--final <cond>', 'final-metric test, e.g. "loss<3.5" or val_loss>=2 (repeat)', collect)
    .option('--limit <n>', 'at most this many runs');
}

export function filterFrom(o: FilterOptions): RunFilter {
  const status = (o.status ?? []).flatMap((s) => s.split(',')).filter(Boolean);
  for (const s of status) if (!runStatuses.includes(s as RunStatus)) throw new Error(`unknown status "${s}" (known: ${runStatuses.join(', ')})`);
  return {
    sweep: o.sweep, tags: o.tag, status: status.length ? status as RunStatus[] : undefined,
    where: o.where?.map(parseCondition), final: o.final?.map(parseCondition),
    limit: o.limit === undefined ? undefined : positiveInt(o.limit, '--limit'),
  };
}

export function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

export function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(5));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A plain text table, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

