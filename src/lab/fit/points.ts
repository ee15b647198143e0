// The points a scaling fit reads, and how they come from a table: CSV (RFC 4180, header row)
// or JSON (an array of objects). Columns: params (non-embedding parameters N), tokens (D),
// loss; optionally flops (an IsoFLOP level's compute), step (for warm-up exclusion), run
// (which points are one training run or cluster: the bootstrap resamples them together), and
// what the other FLOP conventions need (flops.ts): total_params, matmul_params,
// attention_flops_per_token. Other columns are ignored. Each row is checked with
// zod and every bad cell is reported by row and column, so a typo is found in one pass.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { z } from 'zod';
import type { ComputeShape } from './flops.js';

export interface ScalingPoint extends ComputeShape {
  /** Non-embedding parameters N. */
  params: number;
  /** Training tokens seen D. */
  tokens: number;
  loss: number;
  /** The compute level this point was planned at (IsoFLOP), when the table says. */
  flops?: number;
  step?: number;
  /** Points sharing a run are one training curve (approach 1's envelope, --bootstrap-by runs). */
  run?: string;
}

/** Column names in the table for each field (defaults: the field names). */
export interface Columns {
  params: string;
  tokens: string;
  loss: string;
  flops: string;
  step: string;
  run: string;
  totalParams: string;
  matmulParams: string;
  attentionFlopsPerToken: string;
}

export const defaultColumns: Columns = {
  params: 'params', tokens: 'tokens', loss: 'loss', flops: 'flops', step: 'step', run: 'run',
  totalParams: 'total_params', matmulParams: 'matmul_params', attentionFlopsPerToken: 'attention_flops_per_token',
};

export class FitInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FitInputError';
  }
}

const blankToUndefined = (v: unknown): unknown => {
  if (typeof v !== 'string') return v ?? undefined;
  const t = v.trim();
  return t === '' ? undefined : Number(t);
};
const positive = z.preprocess(blankToUndefined, z.number().finite().positive());
const rowSchema = z.object({
  params: positive,
  tokens: positive,
  loss: positive,
  flops: positive.optional(),
  step: z.preprocess(blankToUndefined, z.number().int().nonnegative().optional()),
  run: z.preprocess((v) => (v === null || v === '' ? undefined : typeof v === 'number' ? String(v) : v), z.string().optional()),
  totalParams: positive.optional(),
  matmulParams: positive.optional(),
  attentionFlopsPerToken: positive.optional(),
});

/** One table row as read (cells as strings for CSV, any JSON value for JSON). */
type RawRow = Record<string, unknown>;

/**
 * Validates rows into points. `where(i)` names row i in messages ("row 3 (line 4)").
 * Throws FitInputError listing every bad cell (the first 20).
 */
export function pointsFromRows(rows: RawRow[], columns: Partial<Columns> = {}, where: (i: number) => string = (i) => `row ${i + 1}`, present?: string[]): ScalingPoint[] {
  const cols = { ...defaultColumns, ...columns };
  if (present) {
    const missing = (['params', 'tokens', 'loss'] as const).filter((k) => !present.includes(cols[k]));
    if (missing.length) {
      throw new FitInputError(`missing column${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${cols[k]}"`).join(', ')} (the table has: ${present.join(', ') || 'no columns'})`);
    }
  }
  const errors: string[] = [];
  const points: ScalingPoint[] = [];
  rows.forEach((row, i) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) { errors.push(`${where(i)}: expected an object with columns ${cols.params}, ${cols.tokens}, ${cols.loss}`); return; }
    const picked = Object.fromEntries((Object.keys(cols) as (keyof Columns)[]).map((k) => [k, row[cols[k]]]));
    const r = rowSchema.safeParse(picked);
    if (r.success) {
      const p: ScalingPoint = { params: r.data.params, tokens: r.data.tokens, loss: r.data.loss };
      if (r.data.flops !== undefined) p.flops = r.data.flops;
      if (r.data.step !== undefined) p.step = r.data.step;
      if (r.data.run !== undefined) p.run = r.data.run;
      for (const k of ['totalParams', 'matmulParams', 'attentionFlopsPerToken'] as const) if (r.data[k] !== undefined) p[k] = r.data[k];
      points.push(p);
      return;
    }
    for (const issue of r.error.issues) {
      const key = issue.path[0] as keyof Columns;
      const raw = row[cols[key]];
      const what = key === 'step' ? 'a non-negative integer' : key === 'run' ? 'a string' : 'a positive number';
      errors.push(`${where(i)}, column "${cols[key]}": ${raw === undefined || raw === null || raw === '' ? 'missing' : `expected ${what}, got ${JSON.stringify(raw)}`}`);
    }
  });
  if (errors.length) {
    const shown = errors.slice(0, 20);
    throw new FitInputError(`bad input table:\n  ${shown.join('\n  ')}${errors.length > shown.length ? `\n  ... and ${errors.length - shown.length} more` : ''}`);
  }
  return points;
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. Returns records with the line each starts on. */
export function parseCsv(text: string): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  let fields: string[] = [], field = '', quoted = false, line = 1, start = 1, i = 0, wasQuoted = false;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0].trim() === '' && !wasQuoted)) out.push({ fields, line: start });
    fields = []; field = ''; wasQuoted = false;
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field.trim() === '') { quoted = true; wasQuoted = true; field = ''; }
    else if (ch === ',') { fields.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else field += ch;
  }
  if (quoted) throw new FitInputError(`CSV: a quoted field opened on line ${start} is never closed`);
  if (field !== '' || fields.length > 0) endRecord();
  return out;
}

export function parseCsvTable(text: string, columns: Partial<Columns> = {}): ScalingPoint[] {
  const records = parseCsv(text);
  if (records.length === 0) throw new FitInputError('CSV: the file is empty');
  const header = records[0].fields.map((h) => h.trim());
  const rows = records.slice(1);
  for (const r of rows) {
    if (r.fields.length !== header.length) {
      throw new FitInputError(`CSV row ${rows.indexOf(r) + 1} (line ${r.line}): ${r.fields.length} fields, but the header has ${header.length}`);
    }
  }
  if (rows.length === 0) throw new FitInputError('CSV: the table has a header but no rows');
  return pointsFromRows(
    rows.map((r) => Object.fromEntries(header.map((h, j) => [h, r.fields[j]]))), columns,
    (i) => `row ${i + 1} (line ${rows[i].line})`, header,
  );
}

export function parseJsonTable(text: string, columns: Partial<Columns> = {}): ScalingPoint[] {
  let data: unknown;
  try { data = JSON.parse(text); } catch (e) { throw new FitInputError(`JSON: ${(e as Error).message}`); }
  if (!Array.isArray(data)) throw new FitInputError('JSON: expected an array of objects, one per point');
  if (data.length === 0) throw new FitInputError('JSON: the array is empty');
  return pointsFromRows(data as RawRow[], columns, (i) => `row ${i + 1} (index ${i})`);
}

/** Reads a CSV or JSON table (by extension; otherwise JSON when the text starts with "["). */
export function readTable(path: string, columns: Partial<Columns> = {}): ScalingPoint[] {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new FitInputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  const ext = extname(path).toLowerCase();
  const json = ext === '.json' || (ext !== '.csv' && text.trimStart().startsWith('['));
  try {
    return json ? parseJsonTable(text, columns) : parseCsvTable(text, columns);
  } catch (e) {
    if (e instanceof FitInputError) e.message = `${path}: ${e.message}`;
    throw e;
  }
}

export interface PointFilter {
  /** Drop points at or before this step (needs a step on every point). */
  excludeWarmupSteps?: number;
  /** Drop points with fewer tokens. */
  minTokens?: number;
}

/** Applies the exclusions; returns the kept points and a line per reason for what was dropped. */
export function filterPoints(points: ScalingPoint[], f: PointFilter): { kept: ScalingPoint[]; notes: string[] } {
  const notes: string[] = [];
  let kept = points;
  if (f.excludeWarmupSteps !== undefined) {
    const noStep = kept.filter((p) => p.step === undefined).length;
    if (noStep > 0) throw new FitInputError(`--exclude-warmup needs a step on every point; ${noStep} point(s) have none (add a "step" column, or use --min-tokens)`);
    const before = kept.length;
    kept = kept.filter((p) => p.step! > f.excludeWarmupSteps!);
    notes.push(`${before - kept.length} point(s) at or before step ${f.excludeWarmupSteps} (warm-up) excluded`);
  }
  if (f.minTokens !== undefined) {
    const before = kept.length;
    kept = kept.filter((p) => p.tokens >= f.minTokens!);
    notes.push(`${before - kept.length} point(s) with fewer than ${f.minTokens} tokens excluded`);
  }
  return { kept, notes };
}
