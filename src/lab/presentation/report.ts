// Sweep reports: one self-contained HTML file (every figure pre-rendered to SVG and inlined,
// no scripts, no external URLs, so it opens offline and mails as one file) and a Markdown
// summary with the same tables, optionally each figure as an SVG file beside them:
//   <out>/report.html   <out>/report.md   <out>/figures/<id>.svg (with --svg)
// Files are written atomically (temp file, fsync, rename).
//
// Studies extend a report without touching this file: `verdict` goes at the top, `figures`
// (built with plots.ts from the ReportData handed to them) after the standard ones, `tables`
// after the standard tables. The standard figures: training loss (smoothed), mean and spread
// across seeds when runs repeat with other seeds, learning rate, evaluation curves, and the
// final loss against parameters, tokens and FLOPs on log-log axes.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { evalSeries, listSweeps, metricKeys, metricSeries, queryRuns, runTaskEvals, sweepSpec, flatten, type RunRecord, type SeriesPoint } from '../results/query.js';
import type { Store } from '../results/store.js';
import { bands, downsample, fmtPlain, labelFor, shortKeys, smoothEma, varyingKeys, type GroupedCurve } from './plots-data.js';
import { bandChart, curveChart, renderSvg, scatterChart, type CurveRow, type Figure, type ScatterRow } from './plots.js';
import { writeFileDurable } from '../../base/durable.js';
import { fmtCount, fmtSci } from '../../base/format.js';

/** Text for the top of a report (a study's verdict): Markdown; `html` when the Markdown subset below is not enough. */
export interface ReportText {
  title?: string;
  markdown: string;
  html?: string;
}

export interface ReportTable {
  title: string;
  header: string[];
  rows: string[][];
  caption?: string;
}

/** Everything the standard figures and tables are made of; handed to a study's figure builder. */
export interface ReportData {
  sweep: string;
  description: string | null;
  runs: RunRecord[];
  /** Config keys (dotted) that differ between runs; `groupKeys` is the same without the seed key. */
  varying: string[];
  groupKeys: string[];
  seedKey: string;
  /** Run id -> label from the varying keys ("lr=0.001 seed=1"), and -> its group's label ("lr=0.001"). */
  labels: Map<string, string>;
  groups: Map<string, string>;
  /** The final metric the scaling figures use: val_loss when any run has it, else loss. */
  metric: string;
  /** Per run: training loss (raw, downsampled) and learning rate; evaluation points by "<split>_<key>". */
  loss: Map<string, { step: number; value: number }[]>;
  lr: Map<string, { step: number; value: number }[]>;
  evals: Map<string, SeriesPoint[]>;
  /** Per run, the representation measurements logged during training (the run config's rank section: rank.eff.block0, ...). */
  rank: Map<string, { key: string; step: number; value: number }[]>;
}

export interface ReportOptions {
  title?: string;
  verdict?: ReportText;
  /** Extra figures, after the standard ones (or instead of them with `standardFigures: false`). */
  figures?: Figure[] | ((data: ReportData) => Figure[]);
  standardFigures?: boolean;
  tables?: ReportTable[];
  /** Also write each figure to figures/<id>.svg. */
  svg?: boolean;
  /** Debiased-EMA weight for the loss curves (default 0.6; 0 for none). */
  smoothing?: number;
  /** Points per curve after downsampling (default: fewer as runs grow, 60..600). */
  maxPoints?: number;
  /** The final metric of the scaling figures (default val_loss if present, else loss). */
  metric?: string;
  /** The time printed in the report (tests pin it). */
  now?: Date;
}

export interface RenderedReport {
  html: string;
  markdown: string;
  figures: (Figure & { svg: string })[];
}

export interface WrittenReport {
  dir: string;
  html: string;
  markdown: string;
  svgs: string[];
}

/** Reads what a report of `sweep` shows from the store. */
export function collectReportData(store: Store, sweep: string, opts: Pick<ReportOptions, 'maxPoints' | 'metric'> = {}): ReportData {
  const known = listSweeps(store);
  if (!known.some((s) => s.name === sweep)) {
    throw new Error(`no sweep "${sweep}" in ${store.path}${known.length ? ` (known: ${known.map((s) => s.name).join(', ')})` : ' (it has no sweeps yet)'}`);
  }
  const spec = sweepSpec(store, sweep) as { seedKey?: unknown; description?: unknown } | null;
  const seedKey = typeof spec?.seedKey === 'string' ? spec.seedKey : 'seed';
  const runs = queryRuns(store, { sweep });
  // unfinished runs have no final metrics yet: show their latest values
  for (const r of runs) if (r.final === null) r.final = store.finalMetrics(r.id);
  const varying = varyingKeys(runs);
  const groupKeys = varying.filter((k) => k !== seedKey);
  const short = shortKeys(varying);
  const labels = new Map(runs.map((r) => [r.id, labelFor(r, varying, short)]));
  const groups = new Map(runs.map((r) => [r.id, labelFor(r, groupKeys, short)]));
  const maxPoints = opts.maxPoints ?? Math.max(60, Math.min(600, Math.floor(60_000 / Math.max(runs.length, 1))));
  const loss = new Map<string, { step: number; value: number }[]>(), lr = new Map<string, { step: number; value: number }[]>();
  const evals = new Map<string, SeriesPoint[]>();
  const rank = new Map<string, { key: string; step: number; value: number }[]>();
  for (const r of runs) {
    const rankKeys = metricKeys(store, r.id).map((k) => k.key).filter((k) => k.startsWith('rank.'));
    if (rankKeys.length) rank.set(r.id, metricSeries(store, { runs: [r.id], keys: rankKeys }).filter((p) => p.value !== null).map((p) => ({ key: p.key, step: p.step, value: p.value as number })));
    // one run at a time keeps memory flat for long sweeps; each curve is one index range
    const series = metricSeries(store, { runs: [r.id], keys: ['loss', 'lr'] });
    const curve = (key: string) => series.filter((p) => p.key === key && p.value !== null).map((p) => ({ step: p.step, value: p.value as number }));
    loss.set(r.id, curve('loss'));
    lr.set(r.id, downsample(curve('lr'), maxPoints, (p) => p.step, (p) => p.value));
    for (const p of evalSeries(store, { runs: [r.id] })) {
      const k = p.key.startsWith(`${p.split}_`) ? p.key : `${p.split}_${p.key}`;
      const list = evals.get(k) ?? [];
      if (list.length === 0) evals.set(k, list);
      list.push(p);
    }
  }
  const metric = opts.metric ?? (runs.some((r) => typeof r.final?.val_loss === 'number') ? 'val_loss' : 'loss');
  return {
    sweep, description: typeof spec?.description === 'string' ? spec.description : null, runs, varying, groupKeys, seedKey,
    labels, groups, metric, loss, lr, evals, rank,
  };
}

/** The series a figure colours by: run labels for a few runs, group labels for many, else nothing to tell apart. */
function seriesOf(d: ReportData): { of: (id: string) => string; title: string } {
  if (d.runs.length <= 20 || d.groupKeys.length === 0) return { of: (id) => d.labels.get(id) ?? id, title: 'run' };
  return { of: (id) => d.groups.get(id) ?? id, title: 'group' };
}

/** The standard figures of a sweep report. */
export function standardFigures(d: ReportData, opts: Pick<ReportOptions, 'smoothing' | 'maxPoints'> = {}): Figure[] {
  const figs: Figure[] = [];
  const weight = opts.smoothing ?? 0.6;
  const maxPoints = opts.maxPoints ?? Math.max(60, Math.min(600, Math.floor(60_000 / Math.max(d.runs.length, 1))));
  const s = seriesOf(d);
  const lossRows: CurveRow[] = [];
  for (const r of d.runs) {
    const pts = d.loss.get(r.id) ?? [];
    const sm = weight > 0 ? smoothEma(pts.map((p) => p.value), weight) : null;
    const rows = pts.map((p, i) => ({ run: r.id, series: s.of(r.id), x: p.step, y: sm ? sm[i] : p.value, ...(sm ? { raw: p.value } : {}) }));
    lossRows.push(...downsample(rows, maxPoints));
  }
  if (lossRows.length) {
    figs.push({
      id: 'loss', title: 'Training loss',
      caption: weight > 0 ? `Debiased EMA smoothing ${weight} (raw values faint); log y.` : 'Log y.',
      spec: curveChart(lossRows, { xTitle: 'step', yTitle: 'training loss', logY: true, colorTitle: s.title }),
    });
  }
  const grouped = new Map<string, number>();
  for (const r of d.runs) if ((d.loss.get(r.id) ?? []).length) grouped.set(d.groups.get(r.id)!, (grouped.get(d.groups.get(r.id)!) ?? 0) + 1);
  if (d.groupKeys.length < d.varying.length && [...grouped.values()].some((n) => n > 1)) {
    const curves: GroupedCurve[] = d.runs.map((r) => {
      const pts = d.loss.get(r.id) ?? [];
      const sm = weight > 0 ? smoothEma(pts.map((p) => p.value), weight) : pts.map((p) => p.value);
      return { group: d.groups.get(r.id)!, run: r.id, points: pts.map((p, i) => ({ x: p.step, y: sm[i] })) };
    });
    figs.push({
      id: 'loss-seeds', title: `Training loss: mean and standard deviation over ${d.seedKey}`,
      caption: `Each line is the mean of the runs that differ only in ${d.seedKey}; the band is one standard deviation.`,
      spec: bandChart(bands(curves, maxPoints, 'std'), { xTitle: 'step', yTitle: 'training loss', logY: true, colorTitle: 'group' }),
    });
  }
  const lrRows: CurveRow[] = d.runs.flatMap((r) => (d.lr.get(r.id) ?? []).map((p) => ({ run: r.id, series: s.of(r.id), x: p.step, y: p.value })));
  if (lrRows.length) figs.push({ id: 'lr', title: 'Learning rate', spec: curveChart(lrRows, { xTitle: 'step', yTitle: 'learning rate', colorTitle: s.title }) });
  for (const [key, pts] of d.evals) {
    if (!/loss$/.test(key)) continue;
    const rows = pts.filter((p) => p.value !== null).map((p) => ({ run: p.run, series: s.of(p.run), x: p.step, y: p.value as number }));
    if (rows.length) figs.push({ id: `eval-${slug(key)}`, title: `Evaluation: ${key}`, spec: curveChart(rows, { xTitle: 'step', yTitle: key, logY: true, colorTitle: s.title }) });
  }
  for (const [measure, title] of [['eff', 'Effective rank'], ['isotropy', 'Isotropy distance (whitening)']] as const) {
    const rows: CurveRow[] = [];
    for (const [run, pts] of d.rank) {
      for (const p of pts) {
        if (!p.key.startsWith(`rank.${measure}.`)) continue;
        const layer = p.key.slice(`rank.${measure}.`.length);
        rows.push({ run: `${run} ${layer}`, series: `${s.of(run)} ${layer}`, x: p.step, y: p.value });
      }
    }
    if (rows.length) {
      figs.push({
        id: `rank-${measure}`, title: `${title} of the residual stream over training`,
        caption: 'Logged every rank.every steps on fixed validation tokens; one line per run and layer (embed: the embeddings, blockN: after block N).',
        spec: curveChart(rows, { xTitle: 'step', yTitle: title.toLowerCase(), colorTitle: s.title === 'run' ? 'run and layer' : 'group and layer' }),
      });
    }
  }
  const scale: [keyof RunRecord & ('params' | 'tokens' | 'flops'), string][] = [['params', 'parameters'], ['tokens', 'training tokens'], ['flops', 'training FLOPs']];
  for (const [field, name] of scale) {
    const rows: ScatterRow[] = [];
    for (const r of d.runs.filter((x) => x.status === 'done')) {
      const x = r[field], y = r.final?.[d.metric];
      if (typeof x === 'number' && x > 0 && typeof y === 'number' && Number.isFinite(y) && y > 0) rows.push({ run: r.id, series: s.of(r.id), x, y, label: d.labels.get(r.id) });
    }
    if (new Set(rows.map((r) => r.x)).size < 2) continue; // nothing to see along one x
    figs.push({
      id: `final-vs-${field}`, title: `Final ${d.metric} against ${name}`, caption: 'Finished runs; log-log axes.',
      spec: scatterChart(rows, { xTitle: name, yTitle: `final ${d.metric}`, logX: true, logY: true, colorTitle: s.title, width: 360, height: 260 }),
    });
  }
  return figs;
}

/** The standard tables: runs, config values that vary, config shared by all, final metrics. */
export function standardTables(d: ReportData): ReportTable[] {
  const finals = [...new Set(d.runs.flatMap((r) => Object.keys(r.final ?? {})))].sort(lossFirst);
  const short = shortKeys(d.varying);
  const flats = new Map(d.runs.map((r) => [r.id, flatten(r.config)]));
  // each column once: a config key named like a fixed column ("steps") is shown as config.<key>
  const fixedColumns = ['#', 'run', 'status', 'params', 'tokens', 'FLOPs', 'steps', `final ${d.metric}`];
  const column = (k: string): string => {
    const s = short.get(k) ?? k;
    return fixedColumns.includes(s) ? `config.${k}` : s;
  };
  const tables: ReportTable[] = [{
    title: 'Runs',
    header: ['#', 'run', 'status', ...d.varying.map(column), 'params', 'tokens', 'FLOPs', 'steps', `final ${d.metric}`],
    rows: d.runs.map((r, i) => [
      String(i), r.name, r.status + (r.error ? `: ${r.error.split('\n').pop()!.slice(0, 80)}` : ''),
      ...d.varying.map((k) => fmtPlain(flats.get(r.id)![k])),
      fmtCount(r.params, '-'), fmtCount(r.tokens, '-'), fmtSci(r.flops, '-'), fmtPlain(r.final?.step), fmtPlain(r.final?.[d.metric]),
    ]),
  }];
  if (d.varying.length) {
    tables.push({
      title: 'Configs that vary', header: ['key', 'values'],
      rows: d.varying.map((k) => [k, [...new Set(d.runs.map((r) => fmtPlain(flats.get(r.id)![k])))].join(', ')]),
    });
  }
  const first = d.runs[0] ? flats.get(d.runs[0].id)! : {};
  const fixed = Object.keys(first).filter((k) => !d.varying.includes(k)).sort();
  if (fixed.length) tables.push({ title: 'Config shared by all runs', header: ['key', 'value'], rows: fixed.map((k) => [k, fmtPlain(first[k])]) });
  if (finals.length) {
    tables.push({
      title: 'Final metrics', header: ['run', ...finals],
      rows: d.runs.map((r) => [r.name, ...finals.map((k) => fmtPlain(r.final?.[k] ?? undefined))]),
    });
  }
  return tables;
}

/**
 * The evaluation harness's scores (eval RUN --tasks): per run, task and shots, every metric at the
 * run's last evaluated checkpoint for that task. None when no run was evaluated on tasks.
 */
export function taskScoreTables(store: Store, runs: readonly RunRecord[]): ReportTable[] {
  const rows: string[][] = [];
  const metrics = new Set<string>();
  const per: { run: string; task: string; shots: number; step: number; values: Map<string, number | null>; checkpoints: number }[] = [];
  for (const r of runs) {
    const pts = runTaskEvals(store, r.id);
    for (const key of [...new Set(pts.map((p) => `${p.task}\0${p.shots}`))]) {
      const mine = pts.filter((p) => `${p.task}\0${p.shots}` === key);
      const step = Math.max(...mine.map((p) => p.step));
      const last = mine.filter((p) => p.step === step);
      last.forEach((p) => metrics.add(p.metric));
      per.push({ run: r.name, task: mine[0].task, shots: mine[0].shots, step, values: new Map(last.map((p) => [p.metric, p.value])), checkpoints: new Set(mine.map((p) => p.step)).size });
    }
  }
  if (per.length === 0) return [];
  const cols = [...metrics].sort();
  for (const p of per) rows.push([p.run, p.task, String(p.shots), `${p.step} (${p.checkpoints})`, ...cols.map((m) => fmtPlain(p.values.get(m) ?? undefined))]);
  return [{ title: 'Task scores', caption: 'The evaluation harness (eval RUN --tasks): each metric at the last evaluated checkpoint (how many checkpoints were evaluated in parentheses).', header: ['run', 'task', 'shots', 'step', ...cols], rows }];
}

/** Builds the report in memory (the dashboard serves it from here without writing files). */
export async function renderReport(store: Store, sweep: string, opts: ReportOptions = {}): Promise<RenderedReport> {
  const d = collectReportData(store, sweep, opts);
  const figures = [
    ...(opts.standardFigures === false ? [] : standardFigures(d, opts)),
    ...(typeof opts.figures === 'function' ? opts.figures(d) : opts.figures ?? []),
  ];
  const ids = new Set<string>();
  for (const f of figures) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(f.id)) throw new Error(`figure id "${f.id}": use lower-case letters, digits and "-" (it names a file)`);
    if (ids.has(f.id)) throw new Error(`two figures have the id "${f.id}"`);
    ids.add(f.id);
  }
  const rendered = [];
  for (const f of figures) rendered.push({ ...f, svg: await renderSvg(f.spec) });
  const tables = [...standardTables(d), ...taskScoreTables(store, d.runs), ...(opts.tables ?? [])];
  const title = opts.title ?? `Sweep ${sweep}`;
  const when = (opts.now ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const summary = summaryLine(d);
  return {
    html: renderHtml(title, when, d, summary, opts.verdict, rendered, tables),
    markdown: renderMarkdown(title, when, d, summary, opts.verdict, rendered, tables, opts.svg ?? false),
    figures: rendered,
  };
}

/**
 * Writes <outDir>/report.html and report.md (and figures/<id>.svg with `svg`), each file
 * atomically; returns their paths.
 */
export async function writeReport(store: Store, sweep: string, outDir: string, opts: ReportOptions = {}): Promise<WrittenReport> {
  const r = await renderReport(store, sweep, opts);
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const svgs: string[] = [];
  if (opts.svg) {
    mkdirSync(join(dir, 'figures'), { recursive: true });
    for (const f of r.figures) {
      const p = join(dir, 'figures', `${f.id}.svg`);
      writeFileDurable(p, f.svg.startsWith('<?xml') ? f.svg : `<?xml version="1.0" encoding="UTF-8"?>\n${f.svg}\n`);
      svgs.push(p);
    }
  }
  const html = join(dir, 'report.html'), markdown = join(dir, 'report.md');
  writeFileDurable(markdown, r.markdown);
  writeFileDurable(html, r.html);
  return { dir, html, markdown, svgs };
}

function summaryLine(d: ReportData): string {
  const by = new Map<string, number>();
  for (const r of d.runs) by.set(r.status, (by.get(r.status) ?? 0) + 1);
  const parts = [`${d.runs.length} run${d.runs.length === 1 ? '' : 's'} (${[...by].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'})`];
  const scored = d.runs.filter((r) => typeof r.final?.[d.metric] === 'number').sort((a, b) => (a.final![d.metric] as number) - (b.final![d.metric] as number));
  if (scored.length) parts.push(`best final ${d.metric} ${fmtPlain(scored[0].final![d.metric])}: ${d.labels.get(scored[0].id) ?? scored[0].name}`);
  return parts.join('; ');
}

const css = `body{font:14px/1.45 Helvetica,Arial,sans-serif;color:#222;max-width:1200px;margin:2em auto;padding:0 1em}
h1{font-weight:normal;margin-bottom:.2em}h2{font-weight:normal;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#666}.verdict{background:#f5f8ff;border-left:4px solid #4c78a8;padding:.4em 1em;margin:1em 0}
.figs{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}figcaption{color:#555;font-size:12px;max-width:560px}
figure svg{max-width:100%;height:auto}table{border-collapse:collapse;font-size:12px;margin:.5em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}`;

function renderHtml(title: string, when: string, d: ReportData, summary: string, verdict: ReportText | undefined, figs: (Figure & { svg: string })[], tables: ReportTable[]): string {
  const out: string[] = [
    '<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">', `<title>${esc(title)}</title>`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">', `<style>${css}</style>`, '</head><body>',
    `<h1>${esc(title)}</h1>`, `<p class="meta">${esc(summary)}<br>generated ${esc(when)} by windtunnel report</p>`,
  ];
  if (d.description) out.push(`<p>${esc(d.description)}</p>`);
  if (verdict) out.push(`<section class="verdict">${verdict.title ? `<h2>${esc(verdict.title)}</h2>` : ''}${verdict.html ?? markdownToHtml(verdict.markdown)}</section>`);
  if (figs.length) {
    out.push('<h2>Figures</h2><div class="figs">');
    for (const f of figs) out.push(`<figure id="fig-${f.id}"><figcaption><b>${esc(f.title)}</b>${f.caption ? ` ${esc(f.caption)}` : ''}</figcaption>${f.svg}</figure>`);
    out.push('</div>');
  }
  for (const t of tables) {
    out.push(`<h2>${esc(t.title)}</h2>`);
    if (t.caption) out.push(`<p>${esc(t.caption)}</p>`);
    out.push('<div class="scroll"><table><thead><tr>', ...t.header.map((h) => `<th>${esc(h)}</th>`), '</tr></thead><tbody>');
    for (const row of t.rows) out.push(`<tr>${row.map((c) => `<td${/^-?[\d.]+(e-?\d+)?[KMBT]?$/.test(c) ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`);
    out.push('</tbody></table></div>');
  }
  out.push('</body></html>', '');
  return out.join('\n');
}

function renderMarkdown(title: string, when: string, d: ReportData, summary: string, verdict: ReportText | undefined, figs: Figure[], tables: ReportTable[], svg: boolean): string {
  const out: string[] = [`# ${title}`, '', `${summary}. Generated ${when} by windtunnel report; ${svg ? 'the figures are also' : 'the figures are'} in report.html.`, ''];
  if (d.description) out.push(d.description, '');
  if (verdict) out.push(...(verdict.title ? [`## ${verdict.title}`, ''] : []), verdict.markdown.trim(), '');
  if (figs.length) {
    out.push('## Figures', '');
    for (const f of figs) out.push(svg ? `![${f.title}](figures/${f.id}.svg)` : `- ${f.title}${f.caption ? `: ${f.caption}` : ''}`);
    out.push('');
  }
  for (const t of tables) {
    out.push(`## ${t.title}`, '');
    if (t.caption) out.push(t.caption, '');
    out.push(mdTable(t.header, t.rows), '');
  }
  return out.join('\n');
}

/** A GitHub-flavoured Markdown table. */
export function mdTable(header: string[], rows: string[][]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** The Markdown a verdict needs: paragraphs, "- " lists, **bold**, `code`. Anything else stays text. */
export function markdownToHtml(md: string): string {
  const inline = (s: string): string => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>');
  return md.trim().split(/\n\s*\n/).map((block) => {
    const lines = block.split('\n');
    if (lines.every((l) => /^\s*[-*] /.test(l))) return `<ul>${lines.map((l) => `<li>${inline(l.replace(/^\s*[-*] /, ''))}</li>`).join('')}</ul>`;
    return `<p>${inline(block)}</p>`;
  }).join('\n');
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

function lossFirst(a: string, b: string): number {
  const rank = (k: string): number => (k === 'loss' ? 0 : k.endsWith('loss') ? 1 : k === 'step' ? 3 : 2);
  return rank(a) - rank(b) || a.localeCompare(b);
}

