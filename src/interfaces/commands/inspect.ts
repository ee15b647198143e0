// `windtunnel inspect RUN TOOL`: the dissection toolkit (src/probes) on a run's trained model.
//
//   lens        logit lens per layer on validation windows (loss, KL to the model, top-1 agreement)
//   tuned-lens  trains a tuned lens (per-layer affine translators) on validation windows and compares
//               it with the logit lens by KL to the final distribution on held-out windows
//   patch       activation or attribution patching between a clean and a corrupted prompt
//   path        path patching from --senders to --receivers (nodes of the head/MLP graph) between the prompts
//   circuit     edge attribution patching (EAP or EAP-IG) over the head/MLP graph; the top --edges
//               edges as a circuit, faithfulness and completeness curves; --svg draws the circuit
//   attention   attention patterns per head on --prompt (or a validation window); --svg draws them
//   demo-heads  heads whose attention to in-context demonstrations rises with their number
//   heads       induction (prefix matching, copying) and previous-token scores of every head
//   redundancy  Block Influence per layer and deletion curves by several orders; --save-pruned
//               writes the model without its k lowest-BI layers as a new run folder
//   rank        effective rank, stable rank and isotropy of the residual stream per layer, and of weights
//
// Calibration and scoring use the run's validation windows (the first --batches of them).

import { Argument, type Command } from 'commander';
import { tensor } from '../../engine/index.js';
import { UsageError } from '../../base/errors.js';
import { loadRun, openData, validationBatches, type LoadedRun } from '../../training/assemble.js';
import { batchTensors } from '../../training/evaluate.js';
import { saveDerivedRun } from '../../training/derived-run.js';
import { logitLens } from '../../probes/lens.js';
import { compareLenses, trainTunedLens } from '../../probes/tuned-lens.js';
import { AdamW } from '../../training/optimizers.js';
import {
  activationPatching, attributionPatching, correctTokenProbability, logitDifference, type PatchSite,
} from '../../probes/patching.js';
import { headScores, repeatedRandomTokens, topHeads } from '../../probes/heads.js';
import {
  blockInfluence, deleteLayers, deletionCurve, deletionOrder, deletionOrderKinds, type DeletionOrderKind, type TokenBatch,
} from '../../probes/redundancy.js';
import { activationSpectra, weightSpectra } from '../../probes/rank.js';
import { circuitCurves, edgeAttribution, pathPatching, pathPatchingSweep, topEdges, type EdgeAttributionMethod } from '../../probes/circuits.js';
import { attentionPatterns, demonstrationHeads } from '../../probes/attention.js';
import { attentionPatternSpec, circuitCurveSpec, circuitGraphSpec } from '../../lab/presentation/probe-figures.js';
import { renderSvg, type TopLevelSpec } from '../../lab/presentation/plots.js';
import { writeFileDurable } from '../../base/durable.js';
import { action, intOption, numberOption, usageExits } from './run-common.js';

const tools = ['lens', 'tuned-lens', 'patch', 'path', 'circuit', 'attention', 'demo-heads', 'heads', 'redundancy', 'rank'] as const;
type Tool = (typeof tools)[number];
const sites: readonly PatchSite[] = ['resid_pre', 'resid_mid', 'resid_post', 'attn_out', 'mlp_out', 'head'];

interface InspectOptions {
  checkpoint?: number;
  batches: number;
  json?: boolean;
  // patch
  clean?: string;
  corrupted?: string;
  answer?: string;
  wrong?: string;
  site: string;
  method?: string;
  metric: string;
  // heads
  length: number;
  rows: number;
  seed: number;
  // redundancy
  orders: string;
  maxFraction: number;
  savePruned?: string;
  delete?: number;
  // rank
  keep: number;
  // path, circuit, attention, demo-heads
  senders?: string;
  receivers?: string;
  edges: number;
  igSteps: number;
  svg?: string;
  prompt?: string;
  layers?: string;
  demos?: string;
  query?: string;
  // tuned-lens
  steps: number;
  lr: number;
}

export function registerInspect(program: Command): void {
  usageExits(program
    .command('inspect')
    .description("open a run's model: logit and tuned lens, patching, circuits, head finders, layer redundancy, representation rank")
    .argument('<run>', 'run folder')
    .addArgument(new Argument('<tool>', 'what to run').choices(tools))
    .option('--checkpoint <step>', 'this checkpoint instead of the latest', intOption('--checkpoint'))
    .option('--batches <n>', 'validation batches used for calibration and scoring', intOption('--batches', 1), 4)
    .option('--json', 'print one JSON object')
    .option('--clean <text>', 'patch: the clean prompt')
    .option('--corrupted <text>', 'patch: the corrupted prompt (same number of tokens)')
    .option('--answer <text>', "patch: the clean answer (its first token)")
    .option('--wrong <text>', "patch: the corrupted answer (its first token; needed for logit-diff)")
    .option('--site <site>', `patch: ${sites.join(', ')}`, 'resid_pre')
    .option('--method <m>', 'patch: activation or attribution; circuit: eap or eap-ig (default eap-ig)')
    .option('--metric <m>', 'patch: logit-diff or prob', 'logit-diff')
    .option('--length <n>', 'heads: length n of the random sequence that is repeated', intOption('--length', 2), 16)
    .option('--rows <n>', 'heads: sequences', intOption('--rows', 1), 8)
    .option('--seed <s>', 'heads, tuned-lens, redundancy (random order): seed', intOption('--seed'), 0)
    .option('--orders <list>', `redundancy: deletion orders, comma-separated (${deletionOrderKinds.join(', ')})`, deletionOrderKinds.join(','))
    .option('--max-fraction <f>', 'redundancy: delete up to this fraction of the layers', numberOption('--max-fraction', (n) => n > 0 && n < 1, 'in (0, 1)'), 0.5)
    .option('--save-pruned <dir>', 'redundancy: write the model without its --delete lowest-BI layers as a new run folder')
    .option('--delete <k>', 'redundancy: layers to delete for --save-pruned', intOption('--delete', 1))
    .option('--keep <n>', 'rank: leading singular values to print', intOption('--keep', 1), 8)
    .option('--senders <list>', "path: sender nodes, comma-separated (input, aL.hH, mL)")
    .option('--receivers <list>', 'path: receiver nodes, comma-separated (aL.hH, mL, logits); without --senders every sender is tried alone', 'logits')
    .option('--edges <k>', 'circuit: edges in the circuit', intOption('--edges', 1), 20)
    .option('--ig-steps <n>', 'circuit: integrated-gradient steps for --method eap-ig', intOption('--ig-steps', 1), 5)
    .option('--svg <file>', 'circuit, attention: write the figure as SVG')
    .option('--prompt <text>', 'attention: the prompt (default: the first validation window)')
    .option('--layers <list>', 'attention: layers to draw, comma-separated (default all)')
    .option('--demos <list>', "demo-heads: demonstrations separated by '|'")
    .option('--query <text>', 'demo-heads: the query that follows the demonstrations')
    .option('--steps <n>', 'tuned-lens: training steps', intOption('--steps', 0), 200)
    .option('--lr <x>', 'tuned-lens: learning rate', numberOption('--lr', (n) => n > 0, 'positive'), 1e-3))
    .action(action(async (runDir: string, tool: Tool, o: InspectOptions) => {
      const run = loadRun(runDir, o.checkpoint);
      const data = openData(run.config, run.tokenizer);
      try {
        const batches = (): TokenBatch[] => [...validationBatches(run.config, data, o.batches)].map(batchTensors);
        const result = await runTool(tool, runDir, run, batches, o);
        if (o.json) console.log(JSON.stringify({ run: runDir, step: run.step, tool, ...result.json }));
        else console.log(result.text.join('\n'));
      } finally {
        data.train.close();
        data.valid.close();
      }
    }));
}

type Output = { json: Record<string, unknown>; text: string[] };
const f = (x: number | null, d = 4) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(d));

/** The clean/corrupted task of --clean, --corrupted, --answer, --wrong and --metric. */
function patchTask(run: LoadedRun, o: InspectOptions, tool: string) {
  if (!o.clean || !o.corrupted || !o.answer) throw new UsageError(`inspect ${tool} needs --clean, --corrupted and --answer`);
  if (o.metric !== 'logit-diff' && o.metric !== 'prob') throw new UsageError(`--metric must be logit-diff or prob, got ${o.metric}`);
  if (o.metric === 'logit-diff' && !o.wrong) throw new UsageError('--metric logit-diff needs --wrong');
  const clean = run.tokenizer.encode(o.clean), corrupted = run.tokenizer.encode(o.corrupted);
  if (clean.length !== corrupted.length) throw new UsageError(`--clean has ${clean.length} tokens but --corrupted has ${corrupted.length}; they must match`);
  const first = (text: string, flag: string) => {
    const ids = run.tokenizer.encode(text);
    if (!ids.length) throw new UsageError(`${flag} is empty`);
    return ids[0];
  };
  const answer = { correct: [first(o.answer, '--answer')], wrong: o.wrong ? [first(o.wrong, '--wrong')] : undefined };
  const ids = (t: number[]) => tensor(Int32Array.from(t), [1, t.length], { dtype: 'int32' });
  return { clean: ids(clean), corrupted: ids(corrupted), metric: o.metric === 'prob' ? correctTokenProbability(answer) : logitDifference(answer) };
}

async function writeSvg(path: string | undefined, spec: TopLevelSpec): Promise<string | null> {
  if (!path) return null;
  if (!path.endsWith('.svg')) throw new UsageError(`--svg ${path}: the file must end in .svg`);
  writeFileDurable(path, `<?xml version="1.0" encoding="UTF-8"?>\n${await renderSvg(spec)}\n`);
  return path;
}

const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

async function runTool(tool: Tool, runDir: string, run: LoadedRun, batches: () => TokenBatch[], o: InspectOptions): Promise<Output> {
  const model = run.model;
  switch (tool) {
    case 'lens': {
      const [b] = batches();
      const layers = logitLens(model, b.ids, { targets: b.targets });
      const decode = (ids: number[]) => ids.map((i) => JSON.stringify(run.tokenizer.decode([i])));
      return {
        json: { layers },
        text: ['layer        loss     KL(final||lens)  top-1 = final  top tokens at the last position',
          ...layers.map((l) => `${l.layer.padEnd(10)} ${f(l.loss).padStart(7)}  ${f(l.klToFinal).padStart(15)}  ${f(l.top1AgreesWithFinal, 3).padStart(13)}  ${decode(l.lastPositionTop).join(' ')}`)],
      };
    }
    case 'tuned-lens': {
      // Calibration on all but the last of the --batches windows (the seed is --seed), comparison on the last.
      const all = batches();
      if (all.length < 2) throw new UsageError('inspect tuned-lens needs --batches of at least 2 (calibration, then a held-out one)');
      const held = all[all.length - 1];
      const lens = trainTunedLens(model, all.slice(0, -1), { optimizer: (p) => new AdamW(p, { weightDecay: 0 }), steps: o.steps, lr: o.lr, seed: o.seed });
      const layers = compareLenses(model, lens, held.ids, { targets: held.targets, docIds: held.docIds });
      return {
        json: { layers, trainLoss: lens.trainLoss, seed: o.seed, steps: o.steps },
        text: [`tuned lens: ${o.steps} steps (seed ${o.seed}), training KL ${f(lens.trainLoss[0] ?? null)} -> ${f(lens.trainLoss.at(-1) ?? null)}; held-out window:`,
          'layer      KL logit lens  KL tuned lens  loss logit  loss tuned',
          ...layers.map((l) => `${l.layer.padEnd(10)} ${f(l.klLogitLens).padStart(13)}  ${f(l.klTunedLens).padStart(13)}  ${f(l.lossLogitLens).padStart(10)}  ${f(l.lossTunedLens).padStart(10)}`)],
      };
    }
    case 'patch': {
      if (!sites.includes(o.site as PatchSite)) throw new UsageError(`--site must be one of ${sites.join(', ')}, got ${o.site}`);
      const method = o.method ?? 'activation';
      if (method !== 'activation' && method !== 'attribution') throw new UsageError(`--method must be activation or attribution, got ${method}`);
      const task = patchTask(run, o, 'patch');
      const r = (method === 'activation' ? activationPatching : attributionPatching)(model, task, o.site as PatchSite);
      return {
        json: { patch: r },
        text: [`${r.method} patching at ${r.site}: metric clean ${f(r.metricClean)}, corrupted ${f(r.metricCorrupted)}; effects (0 corrupted, 1 clean)`,
          `layer  ${r.units.map((u) => u.padStart(8)).join(' ')}`,
          ...r.effects.map((row, l) => `${String(l).padEnd(5)}  ${row.map((e) => f(e, 3).padStart(8)).join(' ')}`)],
      };
    }
    case 'path': {
      const task = patchTask(run, o, 'path');
      const receivers = list(o.receivers);
      if (!receivers.length) throw new UsageError('--receivers is empty');
      try {
        if (o.senders) {
          const r = pathPatching(model, task, list(o.senders), receivers);
          return { json: { path: r }, text: [`path patching ${list(o.senders).join(',')} -> ${receivers.join(',')}: effect ${f(r.effect)} (0 corrupted, 1 clean; metric clean ${f(r.metricClean)}, corrupted ${f(r.metricCorrupted)})`] };
        }
        const sweep = pathPatchingSweep(model, task, receivers);
        return { json: { receivers, senders: sweep }, text: [`path patching each sender -> ${receivers.join(',')} (0 corrupted, 1 clean)`, ...sweep.map((s) => `${s.sender.padEnd(8)} ${f(s.effect).padStart(8)}`)] };
      } catch (e) {
        if (e instanceof Error && /unknown (sender|receiver)|no edge/.test(e.message)) throw new UsageError(e.message);
        throw e;
      }
    }
    case 'circuit': {
      const task = patchTask(run, o, 'circuit');
      const method = (o.method ?? 'eap-ig') as EdgeAttributionMethod;
      if (method !== 'eap' && method !== 'eap-ig') throw new UsageError(`--method must be eap or eap-ig for circuit, got ${method}`);
      const attribution = edgeAttribution(model, task, { method, steps: o.igSteps });
      const total = attribution.edges.length;
      const k = Math.min(o.edges, total);
      const ks = [...new Set([0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, k, total].filter((x) => x <= total))].sort((a, b) => a - b);
      const curves = circuitCurves(model, task, attribution.edges, ks);
      const circuit = topEdges(attribution, k);
      const svg = await writeSvg(o.svg, circuitGraphSpec(model.config, circuit, { title: `circuit: top ${k} of ${total} edges (${method})` }));
      const at = curves.points.find((p) => p.edges === k)!;
      return {
        json: { method, totalEdges: total, circuit, curves: curves.points, metricClean: curves.metricClean, metricCorrupted: curves.metricCorrupted, svg },
        text: [`${method}: ${total} edges; the top ${k} keep faithfulness ${f(at.faithfulness, 3)}, completeness ${f(at.completeness, 3)}`,
          ...circuit.map((e) => `  ${`${e.from} -> ${e.to}`.padEnd(20)} ${f(e.score).padStart(8)}`),
          'edges  faithfulness  completeness', ...curves.points.map((p) => `${String(p.edges).padStart(5)}  ${f(p.faithfulness, 3).padStart(12)}  ${f(p.completeness, 3).padStart(12)}`),
          ...(svg ? [`wrote ${svg}`] : [])],
      };
    }
    case 'attention': {
      const ids = o.prompt ? run.tokenizer.encode(o.prompt) : Array.from(batches()[0].ids.i.subarray(0, batches()[0].ids.shape[1]));
      if (!ids.length) throw new UsageError('--prompt is empty');
      if (ids.length > model.config.nCtx) throw new UsageError(`--prompt has ${ids.length} tokens; the model's context is ${model.config.nCtx}`);
      const layers = o.layers ? list(o.layers).map(Number) : undefined;
      if (layers?.some((l) => !Number.isInteger(l) || l < 0 || l >= model.config.nLayer)) throw new UsageError(`--layers must name layers 0..${model.config.nLayer - 1}`);
      const patterns = attentionPatterns(model, tensor(Int32Array.from(ids), [1, ids.length], { dtype: 'int32' }), { layers });
      const tokens = ids.map((i) => run.tokenizer.decode([i]));
      const svg = await writeSvg(o.svg, attentionPatternSpec(patterns, { tokens, title: 'attention patterns per head' }));
      const T = ids.length;
      const summary = patterns.map((p) => {
        let prev = 0, first = 0, self = 0;
        for (let i = 1; i < T; i++) { prev += p.pattern[i * T + i - 1]; first += p.pattern[i * T]; self += p.pattern[i * T + i]; }
        return { layer: p.layer, head: p.head, previous: prev / (T - 1), first: first / (T - 1), self: self / (T - 1) };
      });
      return {
        json: { tokens, patterns, svg },
        text: ['layer head  to previous  to first  to self   (mean over query positions >= 1)',
          ...summary.map((s) => `${String(s.layer).padEnd(5)} ${String(s.head).padEnd(4)}  ${f(s.previous, 3).padStart(11)}  ${f(s.first, 3).padStart(8)}  ${f(s.self, 3).padStart(7)}`),
          ...(svg ? [`wrote ${svg}`] : [])],
      };
    }
    case 'demo-heads': {
      const demos = (o.demos ?? '').split('|').filter((d) => d.length);
      if (demos.length < 2 || !o.query) throw new UsageError("inspect demo-heads needs --demos with at least two demonstrations separated by '|', and --query");
      const query = run.tokenizer.encode(o.query);
      const prompts = demos.map((_, k) => {
        const ids: number[] = [], demonstration: boolean[] = [];
        for (const d of demos.slice(0, k + 1)) for (const t of run.tokenizer.encode(d)) { ids.push(t); demonstration.push(true); }
        for (const t of query) { ids.push(t); demonstration.push(false); }
        if (ids.length > model.config.nCtx) throw new UsageError(`${k + 1} demonstrations and the query make ${ids.length} tokens; the model's context is ${model.config.nCtx}`);
        return [{ ids, demonstration }];
      });
      const heads = demonstrationHeads(model, prompts);
      return {
        json: { heads },
        text: ['layer head  slope   attention to demonstrations for k = 1..' + demos.length,
          ...heads.map((h) => `${String(h.layer).padEnd(5)} ${String(h.head).padEnd(4)}  ${f(h.slope, 3).padStart(6)}  ${h.massByCount.map((m) => f(m, 3)).join(' ')}`)],
      };
    }
    case 'heads': {
      const ids = repeatedRandomTokens(run.tokenizer.vocabSize, o.length, o.rows, o.seed);
      const scores = headScores(model, ids);
      return {
        json: { heads: scores, induction: topHeads(scores, 'induction', 3), previousToken: topHeads(scores, 'previousToken', 3) },
        text: ['layer head  prefix-matching  copying  previous-token',
          ...scores.map((s) => `${String(s.layer).padEnd(5)} ${String(s.head).padEnd(4)}  ${f(s.prefixMatching, 3).padStart(15)}  ${f(s.copying, 3).padStart(7)}  ${f(s.previousToken, 3).padStart(14)}`)],
      };
    }
    case 'redundancy': {
      const L = model.config.nLayer;
      const orders = o.orders.split(',').map((s) => s.trim()).filter(Boolean);
      for (const k of orders) if (!deletionOrderKinds.includes(k as DeletionOrderKind)) throw new UsageError(`--orders: unknown order "${k}" (known: ${deletionOrderKinds.join(', ')})`);
      const bi = blockInfluence(model, batches());
      const maxK = Math.min(L - 1, Math.floor(o.maxFraction * L));
      const ks = Array.from({ length: maxK + 1 }, (_, k) => k);
      const curves = orders.map((kind) => {
        const order = deletionOrder(model, kind as DeletionOrderKind, { calibration: batches, seed: o.seed, bi });
        return { order: kind, layers: order, points: deletionCurve(model, order, ks, batches) };
      });
      let saved: { runDir: string; deleted: number[] } | null = null;
      if (o.savePruned) {
        if (o.delete === undefined) throw new UsageError('--save-pruned needs --delete K (how many layers)');
        if (o.delete >= L) throw new UsageError(`--delete ${o.delete}: the model has ${L} layers`);
        const deleted = deletionOrder(model, 'bi', { bi }).slice(0, o.delete).sort((a, b) => a - b);
        saveDerivedRun({ from: runDir, step: run.step, to: o.savePruned, model: deleteLayers(model, deleted), operation: { kind: 'delete-layers', layers: deleted, by: 'block-influence' } });
        saved = { runDir: o.savePruned, deleted };
      }
      return {
        json: { blockInfluence: bi, curves, saved },
        text: [`Block Influence: ${bi.map((v, l) => `${l}:${f(v)}`).join('  ')}`,
          `validation loss with k layers deleted (k = ${ks.join(', ')})`,
          ...curves.map((c) => `${c.order.padEnd(14)} ${c.points.map((p) => f(p.score.value)).join('  ')}   (order ${c.layers.join(',')})`),
          ...(saved ? [`saved ${saved.runDir} without layers ${saved.deleted.join(', ')}`] : [])],
      };
    }
    case 'rank': {
      const [b] = batches();
      const acts = activationSpectra(model, b.ids, { keep: o.keep });
      const weights = weightSpectra(model, { keep: o.keep });
      return {
        json: { activations: acts, weights },
        text: ['residual stream        eff. rank  stable rank  isotropy dist.',
          ...acts.map((s) => `${s.name.padEnd(24)} ${f(s.effectiveRank, 2).padStart(8)}  ${f(s.stableRank, 2).padStart(11)}  ${f(s.isotropyDistance ?? null, 3).padStart(14)}`),
          'weights                        eff. rank  stable rank',
          ...weights.map((s) => `${s.name.padEnd(30)} ${f(s.effectiveRank, 2).padStart(8)}  ${f(s.stableRank, 2).padStart(11)}`)],
      };
    }
  }
}
