// Edit requests as a file: one JSON object per line in the CounterFact / ZsRE shape that
// data/fact-world.ts generates (EditRequest), validated by a zod schema so a bad line is an
// error naming its line and field. `writeEditRequests` writes atomically.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeFileDurable } from '../base/durable.js';
import { UsageError } from '../base/errors.js';
import { buildFactWorld, editRequests, relations, type EditRequest, type FactWorldConfig, type RelationName } from '../data/fact-world.js';

const promptTarget = z.object({ prompt: z.string().min(1), target: z.string().min(1) }).strict();

export const editRequestSchema = z.object({
  caseId: z.number().int().nonnegative(),
  subject: z.string().min(1),
  relation: z.enum(relations.map((r) => r.name) as [RelationName, ...RelationName[]]),
  prompt: z.string().min(1),
  targetTrue: z.string().min(1),
  targetNew: z.string().min(1),
  paraphrasePrompts: z.array(z.string().min(1)),
  neighborhoodPrompts: z.array(promptTarget),
  unrelatedPrompts: z.array(promptTarget),
  portabilityPrompts: z.array(promptTarget),
  zsre: z.object({ src: z.string().min(1), rephrase: z.string().min(1), alt: z.string().min(1) }).strict(),
}).strict().superRefine((r, ctx) => {
  if (!r.prompt.includes(r.subject)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['prompt'], message: `the prompt must contain the subject "${r.subject}"` });
  if (r.targetNew === r.targetTrue) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['targetNew'], message: 'targetNew equals targetTrue: nothing to edit' });
});

/** Parses JSONL text; `source` names the file in errors. */
export function parseEditRequests(text: string, source = 'requests'): EditRequest[] {
  const out: EditRequest[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new UsageError(`${source}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    const r = editRequestSchema.safeParse(obj);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new UsageError(`${source}:${i + 1}: ${first.path.join('.') || '(request)'}: ${first.message}`);
    }
    out.push(r.data);
  });
  if (out.length === 0) throw new UsageError(`${source}: no edit requests`);
  return out;
}

export function readEditRequests(path: string): EditRequest[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read edit requests ${path}: ${(e as Error).message}`);
  }
  return parseEditRequests(text, path);
}

export function writeEditRequests(path: string, requests: readonly EditRequest[]): void {
  for (const r of requests) editRequestSchema.parse(r);
  writeFileDurable(path, requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** n requests drawn from the fact world of a `facts` corpus config (the one a model trained on). */
export function requestsForWorld(world: Partial<FactWorldConfig>, n: number, seed?: number): EditRequest[] {
  return editRequests(buildFactWorld(world), n, seed === undefined ? {} : { seed });
}

/** The fact world a run's corpus was written from (a `facts` corpus, alone or inside a `mix`), or null. */
export function factWorldOfCorpus(corpus: { kind: string; world?: Partial<FactWorldConfig>; components?: { corpus: { kind: string; world?: Partial<FactWorldConfig> } }[] }): Partial<FactWorldConfig> | null {
  if (corpus.kind === 'facts') return corpus.world ?? {};
  if (corpus.kind === 'mix') for (const c of corpus.components ?? []) if (c.corpus.kind === 'facts') return c.corpus.world ?? {};
  return null;
}
