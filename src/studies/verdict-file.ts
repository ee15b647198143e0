// verdict.json, written beside every study report: the claim, the verdict with its evidence, and
// where it came from (commit, time, how much was trained). This file owns the format; run.ts
// writes it and summary.ts reads every one of them to write STUDIES.md.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeFileDurable } from '../base/durable.js';
import { provenance } from '../base/provenance.js';
import type { Analysis, Budget, PlanCost, Study } from './study.js';
import { budgets, verdictLabel } from './study.js';

const verdictFileSchema = z.object({
  study: z.string(),
  budget: z.enum(budgets),
  sweep: z.string(),
  claim: z.string(),
  verdict: z.enum(['supported', 'not supported', 'inconclusive']),
  /** The verdict as reports name it ("INCONCLUSIVE (smoke)" for any smoke run). */
  label: z.string().optional(),
  reason: z.string(),
  evidence: z.array(z.string()),
  caveats: z.array(z.string()),
  runs: z.object({ planned: z.number(), done: z.number() }),
  data: z.record(z.unknown()),
  // Added in session 3; verdict files written before have none of these.
  writtenAt: z.string().optional(),
  source: z.object({ version: z.string(), commit: z.string().nullable(), dirty: z.boolean() }).optional(),
  /** What the plan trains (tokens, FLOPs) and the wall-clock seconds its finished runs took. */
  trained: z.object({ tokens: z.number(), flops: z.number(), runSeconds: z.number() }).optional(),
  /** Figures beside the report (figures/<id>.svg), the key one first. */
  figures: z.array(z.object({ id: z.string(), title: z.string(), file: z.string() })).optional(),
});

export type VerdictFile = z.infer<typeof verdictFileSchema>;

export interface VerdictFileInput {
  study: Pick<Study, 'name' | 'claim'>;
  budget: Budget;
  sweep: string;
  analysis: Analysis;
  runs: { planned: number; done: number };
  cost: PlanCost;
  runSeconds: number;
  /** Paths of the figures' SVG files as the report wrote them. */
  figureFiles: string[];
  now?: Date;
}

export function writeVerdictFile(path: string, v: VerdictFileInput): VerdictFile {
  const a = v.analysis;
  const order = a.keyFigure ? [...a.figures.filter((f) => f.id === a.keyFigure), ...a.figures.filter((f) => f.id !== a.keyFigure)] : a.figures;
  const file: VerdictFile = {
    study: v.study.name, budget: v.budget, sweep: v.sweep, claim: v.study.claim, verdict: a.verdict, label: verdictLabel(a.verdict, v.budget), reason: a.reason,
    evidence: a.evidence, caveats: a.caveats, runs: v.runs, data: a.data,
    writtenAt: (v.now ?? new Date()).toISOString(),
    source: provenance(),
    trained: { tokens: v.cost.tokens, flops: v.cost.flops, runSeconds: Math.round(v.runSeconds) },
    figures: order.filter((f) => v.figureFiles.some((p) => p.endsWith(`${f.id}.svg`))).map((f) => ({ id: f.id, title: f.title, file: `figures/${f.id}.svg` })),
  };
  writeFileDurable(path, JSON.stringify(file, null, 2) + '\n');
  return file;
}

/** A verdict file, or an error naming the file and the bad field. */
export function readVerdictFile(path: string): VerdictFile {
  if (!existsSync(path)) throw new Error(`${path}: no such verdict file`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message})`);
  }
  const r = verdictFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${path}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  return r.data;
}
