// STUDIES.md: every study's claim and where it stands, written from the verdict files that study
// runs leave beside their reports (verdict-file.ts), never by hand. For each study the headline is
// its largest budget that has been run (full, else small; smoke only checks the plumbing), with
// the commit and date it was reached at, the reason, the evidence and the key figure (copied next
// to STUDIES.md so the page renders in a repository browser).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { writeFileDurable } from '../base/durable.js';
import { fmtCount, fmtMinutes, fmtSci } from '../base/format.js';
import { readVerdictFile, type VerdictFile } from './verdict-file.js';
import { budgets, planCost, type Budget, type Study } from './study.js';

export interface FoundVerdict {
  file: string;
  verdict: VerdictFile;
}

/** Every verdict.json in the given report folders and one level below them (reports/<sweep>/). */
export function findVerdicts(dirs: string[]): { found: FoundVerdict[]; unreadable: { file: string; error: string }[] } {
  const files = new Set<string>();
  for (const d of dirs.map((x) => resolve(x))) {
    if (!existsSync(d)) continue;
    if (existsSync(join(d, 'verdict.json'))) files.add(join(d, 'verdict.json'));
    for (const e of readdirSync(d)) {
      const f = join(d, e, 'verdict.json');
      if (statSync(join(d, e)).isDirectory() && existsSync(f)) files.add(f);
    }
  }
  const found: FoundVerdict[] = [];
  const unreadable: { file: string; error: string }[] = [];
  for (const file of [...files].sort()) {
    try {
      found.push({ file, verdict: readVerdictFile(file) });
    } catch (e) {
      unreadable.push({ file, error: (e as Error).message });
    }
  }
  return { found, unreadable };
}

const budgetRank = (b: Budget): number => budgets.indexOf(b);
const when = (v: VerdictFile): string => v.writtenAt ?? '';

/** Per study: the latest verdict of each budget, largest budget first. */
export function latestByBudget(found: FoundVerdict[]): Map<string, FoundVerdict[]> {
  const by = new Map<string, Map<Budget, FoundVerdict>>();
  for (const f of found) {
    const m = by.get(f.verdict.study) ?? new Map<Budget, FoundVerdict>();
    const prev = m.get(f.verdict.budget);
    if (!prev || when(f.verdict) > when(prev.verdict)) m.set(f.verdict.budget, f);
    by.set(f.verdict.study, m);
  }
  const out = new Map<string, FoundVerdict[]>();
  for (const [study, m] of by) out.set(study, [...m.values()].sort((a, b) => budgetRank(b.verdict.budget) - budgetRank(a.verdict.budget)));
  return out;
}

export interface SummaryOptions {
  /** The studies to list (all of them appear, run or not). */
  studies: Record<string, Study>;
  /** Report folders to search (each a reports folder or one report). */
  reportDirs: string[];
  /** The page to write (STUDIES.md). */
  out: string;
  /** Where key figures are copied (default <dir of out>/docs/studies). */
  figuresDir?: string;
  now?: Date;
}

export interface SummaryResult {
  path: string;
  figures: string[];
  studiesRun: number;
  unreadable: { file: string; error: string }[];
}

export function writeStudiesSummary(o: SummaryOptions): SummaryResult {
  const out = resolve(o.out);
  const figuresDir = resolve(o.figuresDir ?? join(dirname(out), 'docs', 'studies'));
  const { found, unreadable } = findVerdicts(o.reportDirs);
  const latest = latestByBudget(found);
  const figures: string[] = [];
  const rel = (p: string): string => relative(dirname(out), p).split('\\').join('/');

  const lines: string[] = [
    '# Studies',
    '',
    `Written by \`npx windtunnel study summary\` on ${(o.now ?? new Date()).toISOString().slice(0, 10)} from the verdict files beside the study reports; run it again rather than editing this page. A verdict belongs to the commit named beside it; "smoke" runs only check that a study runs end to end and never count as evidence.`,
    '',
    '| study | headline budget | verdict | commit | date | budgets run |',
    '|---|---|---|---|---|---|',
  ];
  for (const name of Object.keys(o.studies)) {
    const v = latest.get(name);
    const head = v?.[0]?.verdict;
    lines.push(`| [${name}](#${name}) | ${head ? head.budget : '-'} | ${head ? verdictLabel(head) : 'not run'} | ${head ? commitLabel(head) : '-'} | ${head?.writtenAt?.slice(0, 10) ?? '-'} | ${v ? v.map((x) => x.verdict.budget).join(', ') : '-'} |`);
  }
  for (const [name, study] of Object.entries(o.studies)) {
    lines.push('', `## ${name}`, '', `**${study.title}.**`, '', `**Claim.** ${study.claim}`, '');
    lines.push(`Budgets (planned cost, estimated on two cores): ${budgets.map((b) => {
      const c = planCost(study.plan(b));
      return `${b} ${c.runs} runs, ${fmtCount(c.tokens)} tokens, ~${fmtMinutes(c.minutes)}`;
    }).join('; ')}.`, '');
    const results = latest.get(name);
    if (!results?.length) {
      lines.push(`Not run yet: \`npx windtunnel study ${name} --budget small\`, then \`npx windtunnel study summary\`.`);
      continue;
    }
    const { verdict: h, file } = results[0];
    lines.push(`**${verdictLabel(h)}** at the ${h.budget} budget, commit ${commitLabel(h)}, ${h.writtenAt?.slice(0, 10) ?? 'date not recorded'}; ${h.runs.done} of ${h.runs.planned} runs done${h.trained ? `, ${fmtCount(h.trained.tokens)} tokens, ${fmtSci(h.trained.flops)} FLOPs, ${fmtMinutes(h.trained.runSeconds / 60)} of run time` : ''}. ${h.reason}`);
    if (h.budget === 'smoke') lines.push('', 'Only the smoke budget has been run: the plumbing works; the claim is untested.');
    const key = h.figures?.[0];
    if (key) {
      const src = join(dirname(file), key.file);
      if (existsSync(src)) {
        const dst = join(figuresDir, `${name}-${h.budget}.svg`);
        mkdirSync(figuresDir, { recursive: true });
        writeFileDurable(dst, readFileSync(src));
        figures.push(dst);
        lines.push('', `![${key.title}](${rel(dst)})`);
      }
    }
    if (h.evidence.length) lines.push('', '**Evidence.**', '', ...h.evidence.map((e) => `- ${e}`));
    if (h.caveats.length) lines.push('', '**Caveats.**', '', ...h.caveats.map((c) => `- ${c}`));
    if (results.length > 1) {
      lines.push('', '| budget | verdict | commit | date | reason |', '|---|---|---|---|---|');
      for (const { verdict: r } of results) lines.push(`| ${r.budget} | ${verdictLabel(r)} | ${commitLabel(r)} | ${r.writtenAt?.slice(0, 10) ?? '-'} | ${r.reason.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
    }
    lines.push('', `Report: ${rel(join(dirname(file), 'report.md'))} (not in the repository when it lies under runs/).`);
  }
  if (unreadable.length) lines.push('', '## Unreadable verdict files', '', ...unreadable.map((u) => `- ${basename(dirname(u.file))}: ${u.error}`));
  writeFileDurable(out, lines.join('\n') + '\n');
  return { path: out, figures, studiesRun: latest.size, unreadable };
}

function verdictLabel(v: VerdictFile): string {
  if (v.label) return v.label;
  const label = v.verdict.toUpperCase();
  return v.budget === 'smoke' && !/smoke/i.test(label) ? `${label} (smoke)` : label;
}

function commitLabel(v: VerdictFile): string {
  if (!v.source) return 'not recorded';
  if (!v.source.commit) return `v${v.source.version} (no git)`;
  return `${v.source.commit.slice(0, 7)}${v.source.dirty ? ' (uncommitted changes)' : ''}`;
}

