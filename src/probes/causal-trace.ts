// Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations"): where in the
// network does a model keep what it knows about a subject? Run the prompt clean, then with noise
// added to the subject tokens' embeddings (the model loses the fact), then corrupted again but
// with one state restored to its clean value: a layer's residual stream, MLP output or attention
// output at one position. The indirect effect of that state is p(answer | restored) minus
// p(answer | corrupted); states with a large effect are where the fact is recalled. ROME edits
// the MLP whose output at the subject's last token has the largest effect.
//
// The noise is Gaussian with standard deviation `noiseScale` (default 3, as the paper) times the
// standard deviation of the token embedding table, drawn once per sample from a seed, so a trace
// is reproducible. The knowledge-editing work (src/editing/) and the dissection work both use it.

import { Tensor, noGrad, softmax } from '../engine/index.js';
import type { Transformer } from '../models/transformer.js';
import { blockHookNames, topHookNames } from '../models/hooks.js';
import { Rng } from '../base/random.js';

export type TraceSite = 'resid' | 'mlp' | 'attn';

export interface CausalTraceOptions {
  /** Sites to trace (default all three). */
  sites?: TraceSite[];
  /** Noise samples averaged (default 10). */
  samples?: number;
  /** Noise std in units of the embedding table's std (default 3). */
  noiseScale?: number;
  seed?: number;
}

export interface CausalTrace {
  /** p(answer) on the clean prompt and averaged over the corrupted runs. */
  clean: number;
  corrupted: number;
  /** Per site, [layer][position]: p(answer | corrupted, that state restored) - corrupted. */
  effects: Partial<Record<TraceSite, number[][]>>;
  /** The positions the noise covered: [start, end). */
  subject: [number, number];
}

const siteHook = (site: TraceSite, l: number): string => {
  const h = blockHookNames(l);
  return site === 'resid' ? h.residPost : site === 'mlp' ? h.mlpOut : h.attnOut;
};

function embeddingStd(model: Transformer): number {
  const w = model.params.get('wte.weight')!.f;
  let m = 0, s = 0;
  for (let i = 0; i < w.length; i++) m += w[i];
  m /= w.length;
  for (let i = 0; i < w.length; i++) s += (w[i] - m) ** 2;
  return Math.sqrt(s / w.length);
}

/**
 * Traces one prompt: `ids` the prompt tokens, `subject` the token range [start, end) to corrupt,
 * `answer` the token whose probability at the last position is measured (the object's first token).
 */
export function causalTrace(model: Transformer, ids: readonly number[], subject: [number, number], answer: number, o: CausalTraceOptions = {}): CausalTrace {
  const T = ids.length, L = model.config.nLayer, C = model.config.dModel, V = model.config.vocabSize;
  const [s0, s1] = subject;
  if (!(Number.isInteger(s0) && Number.isInteger(s1) && 0 <= s0 && s0 < s1 && s1 <= T)) throw new Error(`causalTrace: subject range [${s0}, ${s1}) is not inside the ${T} prompt tokens`);
  if (!(Number.isInteger(answer) && answer >= 0 && answer < V)) throw new Error(`causalTrace: answer token ${answer} outside the vocabulary`);
  const S = o.samples ?? 10;
  if (!(Number.isInteger(S) && S > 0)) throw new Error(`causalTrace: samples must be a positive integer, got ${S}`);
  const sites = o.sites ?? ['resid', 'mlp', 'attn'];
  const std = (o.noiseScale ?? 3) * embeddingStd(model);
  const rng = new Rng(o.seed ?? 0);
  const noise = new Float32Array(S * (s1 - s0) * C);
  for (let i = 0; i < noise.length; i++) noise[i] = std * rng.normal();

  return noGrad(() => {
    const prob = (logits: Tensor, rows: number): number => {
      const p = softmax(logits).f;
      let sum = 0;
      for (let b = 0; b < rows; b++) sum += p[(b * T + T - 1) * V + answer];
      return sum / rows;
    };
    const one = new Tensor(Int32Array.from(ids), [1, T]);
    // Clean run, keeping every traced state.
    const wanted = sites.flatMap((s) => Array.from({ length: L }, (_, l) => siteHook(s, l)));
    const { logits, cache } = model.runWithCache(one, { names: wanted });
    const clean = prob(logits, 1);
    const batch = new Tensor(Int32Array.from({ length: S * T }, (_, i) => ids[i % T]), [S, T]);
    const corrupt = (x: Tensor): Tensor => {
      const out = x.f.slice();
      for (let b = 0; b < S; b++) for (let t = s0; t < s1; t++) for (let c = 0; c < C; c++) out[(b * T + t) * C + c] += noise[(b * (s1 - s0) + t - s0) * C + c];
      return new Tensor(out, x.shape);
    };
    const corrupted = prob(model.forward(batch, { hooks: [[topHookNames.embed, corrupt]] }).logits, S);
    const effects: CausalTrace['effects'] = {};
    for (const site of sites) {
      effects[site] = Array.from({ length: L }, (_, l) => {
        const name = siteHook(site, l), cleanAct = cache.get(name)!.f;
        return Array.from({ length: T }, (_, t) => {
          const restore = (x: Tensor): Tensor => {
            const out = x.f.slice();
            for (let b = 0; b < S; b++) out.set(cleanAct.subarray(t * C, (t + 1) * C), (b * T + t) * C);
            return new Tensor(out, x.shape);
          };
          return prob(model.forward(batch, { hooks: [[topHookNames.embed, corrupt], [name, restore]] }).logits, S) - corrupted;
        });
      });
    }
    return { clean, corrupted, effects, subject: [s0, s1] };
  });
}

/** Per layer, the mean effect of a site at the subject's last token over several traces. */
export function lastSubjectTokenEffects(traces: readonly CausalTrace[], site: TraceSite): number[] {
  if (traces.length === 0) throw new Error('lastSubjectTokenEffects: no traces');
  const L = traces[0].effects[site]?.length ?? 0;
  return Array.from({ length: L }, (_, l) => traces.reduce((s, tr) => {
    const e = tr.effects[site];
    if (!e) throw new Error(`lastSubjectTokenEffects: a trace has no ${site} site`);
    return s + e[l][tr.subject[1] - 1];
  }, 0) / traces.length);
}
