// Where to edit: causal tracing (probes/causal-trace.ts) over facts the model knows, averaged
// per layer at the subject's last token and at the prompt's last token. ROME edits the layer
// whose MLP output at the subject's last token has the largest mean indirect effect.

import type { Tokenizer } from '../data/index.js';
import type { EditRequest } from '../data/fact-world.js';
import { causalTrace, lastSubjectTokenEffects, type CausalTrace, type TraceSite } from '../probes/causal-trace.js';
import { encodePrompt, subjectLastToken, type EditedModel } from './model-ops.js';

export interface LayerTrace {
  /** Facts traced (those whose clean probability beat the corrupted one). */
  traced: number;
  /** Per site, per layer: mean indirect effect at the subject's last token and at the prompt's last token. */
  subjectLast: Record<TraceSite, number[]>;
  promptLast: Record<TraceSite, number[]>;
  /** argmax over layers of the MLP effect at the subject's last token. */
  layer: number;
}

/** Traces the true fact behind each request (rewrite prompt, true object's first token). */
export function traceRequests(m: EditedModel, tokenizer: Tokenizer, requests: readonly EditRequest[], o: { samples?: number; seed?: number } = {}): LayerTrace {
  if (m.hooks.length > 0) throw new Error('traceRequests: trace an unedited model (no editing hooks)');
  const traces: CausalTrace[] = [];
  for (const r of requests) {
    const ids = encodePrompt(tokenizer, r.prompt);
    const end = subjectLastToken(tokenizer, r.prompt, r.subject) + 1;
    const start = encodePrompt(tokenizer, r.prompt.slice(0, r.prompt.indexOf(r.subject))).length;
    const answer = tokenizer.encode(r.targetTrue)[0];
    const tr = causalTrace(m.model, ids, [Math.min(start, end - 1), end], answer, { samples: o.samples ?? 5, seed: o.seed ?? 0 });
    if (tr.clean > tr.corrupted) traces.push(tr);
  }
  if (traces.length === 0) throw new Error('traceRequests: the model does not prefer any true object over its corrupted run; train it longer');
  const sites: TraceSite[] = ['resid', 'mlp', 'attn'];
  const subjectLast = Object.fromEntries(sites.map((s) => [s, lastSubjectTokenEffects(traces, s)])) as Record<TraceSite, number[]>;
  const promptLast = Object.fromEntries(sites.map((s) => [s, subjectLast[s].map((_, l) => traces.reduce((acc, tr) => {
    const row = tr.effects[s]![l];
    return acc + row[row.length - 1];
  }, 0) / traces.length)])) as Record<TraceSite, number[]>;
  const mlp = subjectLast.mlp;
  return { traced: traces.length, subjectLast, promptLast, layer: mlp.indexOf(Math.max(...mlp)) };
}
