// The training loop end to end on the real Transformer (GPT-2 and LLaMA layouts, with dropout)
// and on a tiny hand-written model (embedding, dropout, linear head) whose failure modes are easy
// to provoke, with the data layer's real samplers: exact resume, NaN stop, cooperative stop, WSD
// branching.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, crossEntropy, dropout, embedding, linear, zeros } from '../../src/engine/index.js';
import { MemoryTokens, RandomWindowSampler, evalBatches } from '../../src/data/index.js';
import { AdamW } from '../../src/training/optimizers.js';
import { Trainer, type TrainerEvent, type TrainerOptions } from '../../src/training/trainer.js';
import { latestStep, listCheckpoints, loadCheckpoint } from '../../src/training/checkpoint.js';
import { readMetrics } from '../../src/training/metrics.js';
import { branchWsd } from '../../src/training/branch.js';
import { Transformer } from '../../src/models/transformer.js';
import { modelConfig } from '../../src/models/config.js';
import type { TrainableModel } from '../../src/training/evaluate.js';
import type { ScheduleInput } from '../../src/training/schedules.js';

const V = 13, C = 8, B = 3, T = 6;

/** Bigram-ish model: logits = W_head · dropout(wte[ids]) + b. */
class TinyModel {
  readonly params: Map<string, Tensor>;
  readonly dropoutRng: Rng;
  constructor(seed: number, readonly p = 0.1) {
    const rng = new Rng(seed);
    const mk = (shape: number[], std: number) => { const t = zeros(shape, { requiresGrad: true }); rng.fillNormal(t.f, std); return t; };
    this.params = new Map([['wte.weight', mk([V, C], 0.5)], ['head.weight', mk([V, C], 0.5)], ['head.bias', mk([V], 0.1)]]);
    this.dropoutRng = new Rng(seed + 1);
  }
  forward(ids: Tensor, o: { targets?: Tensor; training?: boolean }) {
    const x = dropout(embedding(ids, this.params.get('wte.weight')!), this.p, this.dropoutRng, o.training ?? false); // [B, T, C]
    const logits = linear(x, this.params.get('head.weight')!, this.params.get('head.bias')!); // [B, T, V]
    return { logits, loss: o.targets ? crossEntropy(logits, o.targets, { ignoreIndex: -1 }) : undefined };
  }
}

const rng = new Rng(123);
const docs = Array.from({ length: 8 }, (_, d) => Int32Array.from({ length: 30 + d * 3 }, (_, i) => (i * (d + 2) + rng.scaledInt(3)) % V));
const trainSource = new MemoryTokens(docs.slice(0, 6));
const validSource = new MemoryTokens(docs.slice(6), { totalBytes: 150 });

type ModelKind = 'tiny' | 'gpt2' | 'llama' | 'hybrid' | 'mixers';

function makeModel(kind: ModelKind, seed: number): TrainableModel {
  if (kind === 'tiny') return new TinyModel(seed);
  const sizes = { vocabSize: V, nCtx: T, dModel: 8, nLayer: 2, nHead: 2, dropout: 0.1 };
  // hybrid: every gated recurrent mixer and an attention block, so checkpoints and resume cover their parameters.
  // mixers: one block each of mamba, RWKV-6 time mix, RWKV-6 channel mix and lowrank attention (custom inits, own states).
  const c = kind === 'hybrid'
    ? modelConfig('llama', { ...sizes, nLayer: 5, layers: 'LRGMA', mixerOptions: { mamba2: { headDim: 8 } } })
    : kind === 'mixers'
      ? modelConfig('llama', { ...sizes, nLayer: 4, layers: 'SwkP', mixerOptions: { lowrank: { blockSize: 4, rank: 2 } } })
      : modelConfig(kind, sizes);
  return new Transformer(c, { seed });
}

function setup(dir: string, o: { kind?: ModelKind; seed?: number; schedule?: TrainerOptions['schedule']; resume?: TrainerOptions['resume']; onEvent?: (e: TrainerEvent, t: Trainer) => void } & Omit<Partial<TrainerOptions>, 'onEvent'> = {}) {
  const model = makeModel(o.kind ?? 'tiny', o.seed ?? 1);
  const optimizer = new AdamW(model.params, { weightDecay: 0.1, betas: [0.9, 0.95] });
  const events: TrainerEvent[] = [];
  const trainer: Trainer = new Trainer({
    runDir: dir, model, optimizer,
    train: new RandomWindowSampler(trainSource, { B, T, seed: 7 }),
    eval: { batches: () => evalBatches(validSource, { B, T, maxBatches: 2 }), bytesPerToken: 150 / validSource.length },
    gradAccum: 2, clip: 0.5, evalInterval: 3, checkpointInterval: 3, keepCheckpoints: 2,
    config: { note: 'test' },
    ...o,
    onEvent: (e) => { events.push(e); o.onEvent?.(e, trainer); },
  });
  return { model, optimizer, trainer, events };
}

const cosine = (total: number): TrainerOptions['schedule'] => ({ config: { kind: 'cosine', warmupSteps: 2, minLrRatio: 0.1 }, lr: 0.05, totalSteps: total });
const losses = (events: TrainerEvent[]) => events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));

function withDirs(n: number, fn: (...dirs: string[]) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'wt-trainer-'));
    try { await fn(...Array.from({ length: n }, (_, i) => join(root, `run${i}`))); } finally { rmSync(root, { recursive: true, force: true }); }
  };
}

for (const kind of ['gpt2', 'llama', 'tiny', 'hybrid', 'mixers'] as const) test(`exact resume (${kind}): 2N steps straight == N steps, stop, resume N more (bitwise losses, params, metrics)`, withDirs(2, async (dirA, dirB) => {
  const N = 5;
  const a = setup(dirA, { kind, schedule: cosine(2 * N) });
  const ra = await a.trainer.run();
  assert.equal(ra.status, 'completed');
  assert.equal(ra.step, 2 * N);
  assert.equal(ra.tokensSeen, 2 * N * 2 * B * T);
  assert.ok(a.events.some((e) => e.type === 'step' && e.clipped), 'clipping fired at least once');

  const b1 = setup(dirB, { kind, schedule: cosine(2 * N), onEvent: (e, t) => { if (e.type === 'step' && e.step === N) t.requestStop(); } });
  const rb1 = await b1.trainer.run();
  assert.equal(rb1.status, 'stopped');
  assert.equal(rb1.step, N);
  assert.equal(latestStep(dirB), N); // final checkpoint on stop (N is not a multiple of 3)

  // A fresh process: different init seed (the checkpoint overwrites it), schedule from the checkpoint.
  const b2 = setup(dirB, { kind, seed: 99, resume: true });
  const rb2 = await b2.trainer.run();
  assert.equal(rb2.status, 'completed');
  assert.deepEqual([...losses(b1.events), ...losses(b2.events)], losses(a.events));
  for (const [name, t] of a.model.params) assert.deepEqual(Array.from(b2.model.params.get(name)!.f), Array.from(t.f), name);
  assert.deepEqual(b2.model.dropoutRng!.state(), a.model.dropoutRng!.state());

  const ma = readMetrics(join(dirA, 'metrics.jsonl')), mb = readMetrics(join(dirB, 'metrics.jsonl'));
  const strip = (l: (typeof ma)[number]) => ({ ...l, time: 0, ...(l.type === 'train' ? { tokens_per_s: 0 } : {}) });
  assert.deepEqual(mb.map(strip), ma.map(strip));
  assert.deepEqual(mb.filter((l) => l.type === 'train').map((l) => l.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(listCheckpoints(dirA), [9, 10]); // keep 2
  const ev = ma.find((l) => l.type === 'eval')!;
  assert.equal(ev.type === 'eval' && ev.perplexity, Math.exp(ev.loss));
  assert.ok(ev.type === 'eval' && Math.abs(ev.bits_per_byte! - ev.loss / Math.LN2 / (150 / validSource.length)) < 1e-12);
  assert.deepEqual(JSON.parse(readFileSync(join(dirA, 'config.json'), 'utf8')), { note: 'test' });
}));

test('a NaN loss stops the run naming the step and the op; latest stays the last good checkpoint', withDirs(1, async (dir) => {
  const s: ReturnType<typeof setup> = setup(dir, {
    schedule: cosine(10), checkpointInterval: 2,
    onEvent: (e) => {
      if (e.type !== 'step' || e.step !== 3) return;
      // Overflow float32 inside the head's matmul on the next forward.
      s.model.params.get('wte.weight')!.f.fill(1e20);
      s.model.params.get('head.weight')!.f.fill(1e20);
    },
  });
  const r = await s.trainer.run();
  assert.equal(r.status, 'diverged');
  assert.equal(r.step, 3);
  assert.equal(r.lastCheckpoint, 2);
  assert.match(r.error!.message, /loss is (NaN|Infinity) at step 4 \(micro-batch 1\); first non-finite value from op 'matmul'/);
  assert.match(r.error!.message, /latest is still ckpt-2/);
  assert.equal(loadCheckpoint(dir).step, 2);
  assert.ok(readMetrics(join(dir, 'metrics.jsonl')).every((l) => l.step <= 3));
  assert.equal(s.events.at(-1)?.type, 'end');
}));

test('cooperative stop before the first step checkpoints step 0; a fresh run refuses a used run dir', withDirs(1, async (dir) => {
  const s = setup(dir, { schedule: cosine(4) });
  s.trainer.requestStop();
  const r = await s.trainer.run();
  assert.deepEqual([r.status, r.step, r.lastCheckpoint], ['stopped', 0, 0]);
  await assert.rejects(setup(dir, { schedule: cosine(4) }).trainer.run(), /already has checkpoints \(steps 0\)/);
  await assert.rejects(setup(join(dir, 'missing'), { resume: true }).trainer.run(), /does not exist/);
  const auto = await setup(dir, { resume: 'auto' }).trainer.run();
  assert.deepEqual([auto.status, auto.step], ['completed', 4]);
  const stepEvents = s.events.filter((e) => e.type === 'step');
  assert.equal(stepEvents.length, 0);
}));

test('progress events carry step, loss, lr, tokens/s and ETA', withDirs(1, async (dir) => {
  const s = setup(dir, { schedule: cosine(3), evalInterval: 0 });
  await s.trainer.run();
  const types = s.events.map((e) => e.type);
  assert.deepEqual(types, ['start', 'step', 'step', 'step', 'eval', 'checkpoint', 'end']);
  const last = s.events[3];
  assert.ok(last.type === 'step' && last.etaSec === 0 && last.tokensPerSec > 0 && last.totalSteps === 3 && last.tokens === 3 * 2 * B * T);
}));

function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      h.update(p);
      if (statSync(p).isDirectory()) walk(p); else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

test('WSD branching: cool down from a stable-phase checkpoint into a new run; equals a fresh short WSD run', withDirs(3, async (src, branch, ref) => {
  const wsd = (decaySteps: number): ScheduleInput => ({ kind: 'wsd', warmupSteps: 2, decaySteps, decayShape: 'linear', minLrRatio: 0 });
  const kind = 'gpt2';
  const source = setup(src, { kind, schedule: { config: wsd(4), lr: 0.05, totalSteps: 12 }, checkpointInterval: 2, keepCheckpoints: 0, config: { steps: 12, schedule: wsd(4) } });
  await source.trainer.run();
  const before = hashTree(src);

  const b = branchWsd({ from: src, step: 6, to: branch, decaySteps: 3 });
  assert.equal(b.totalSteps, 9);
  assert.deepEqual(b.schedule.config, { kind: 'wsd', warmupSteps: 2, decayShape: 'linear', decaySteps: 3, minLrRatio: 0 });
  const st = loadCheckpoint(branch).state;
  assert.deepEqual(st.branchedFrom, { runDir: src, step: 6 });
  assert.deepEqual(st.config, { steps: 9, schedule: b.schedule.config });

  const run = setup(branch, { kind, seed: 42, resume: true });
  const r = await run.trainer.run();
  assert.deepEqual([r.status, r.step], ['completed', 9]);
  assert.equal(hashTree(src), before, 'the source run dir is untouched');
  const lrs = run.events.flatMap((e) => (e.type === 'step' ? [e.lr] : []));
  [0.05, 0.05 * (2 / 3), 0.05 * (1 / 3)].forEach((x, i) => assert.ok(Math.abs(lrs[i] - x) < 1e-15, `lr ${i}: ${lrs[i]}`)); // decay starts at the branch step

  const fresh = setup(ref, { kind, schedule: { config: wsd(3), lr: 0.05, totalSteps: 9 } });
  await fresh.trainer.run();
  assert.deepEqual(losses(run.events), losses(fresh.events).slice(6));
  assert.deepEqual(losses(fresh.events).slice(0, 6), losses(source.events).slice(0, 6));
  assert.deepEqual(readMetrics(join(branch, 'metrics.jsonl')).filter((l) => l.type === 'train').map((l) => l.step), [1, 2, 3, 4, 5, 6, 7, 8, 9]);

  assert.throws(() => branchWsd({ from: src, step: 10, to: join(ref, 'x') }), /outside the stable phase .* \(steps 2\.\.8\)/);
  assert.throws(() => branchWsd({ from: src, step: 6, to: branch }), /not empty/);
  assert.throws(() => branchWsd({ from: ref, step: 9, to: join(ref, 'y') }), /ckpt-9|latest|stable/);
}));

test('noise scale: a measured step split in two halves takes the same update up to rounding, and logs McCandlish\'s estimates on its train line', withDirs(3, async (plain, split, accum) => {
  const train = () => new RandomWindowSampler(trainSource, { B: 4, T, seed: 7 });
  const a = setup(plain, { schedule: cosine(4), gradAccum: 1, clip: 0, train: train() });
  const b = setup(split, { schedule: cosine(4), gradAccum: 1, clip: 0, train: train(), noiseScaleEvery: 2 });
  await a.trainer.run();
  await b.trainer.run();
  const la = losses(a.events), lb = losses(b.events);
  assert.equal(la[0], lb[0], 'step 1 is not measured: bit for bit');
  for (let i = 0; i < la.length; i++) assert.ok(Math.abs(la[i] - lb[i]) < 1e-5, `step ${i + 1}: ${la[i]} vs ${lb[i]}`);
  const rows = readMetrics(join(split, 'metrics.jsonl')).filter((r) => r.type === 'train') as unknown as Record<string, number>[];
  const measured = rows.filter((r) => r.gns_big !== undefined);
  assert.deepEqual(measured.map((r) => r.step), [2, 4]);
  for (const r of measured) {
    assert.deepEqual([r.gns_small, r.gns_big], [2, 4]);
    assert.ok(Math.abs(r.gns_big_sq - r.grad_norm ** 2) < 1e-9 * r.gns_big_sq);
    assert.ok(Math.abs(r.gns_grad_sq - (4 * r.gns_big_sq - 2 * r.gns_small_sq) / 2) < 1e-9 * Math.abs(r.gns_grad_sq) + 1e-12);
    assert.ok(Math.abs(r.gns_b_simple - r.gns_trace / r.gns_grad_sq) < 1e-9 * Math.abs(r.gns_b_simple) + 1e-12);
  }
  // with micro-batches the first one is the small batch
  const c = setup(accum, { schedule: cosine(2), gradAccum: 2, clip: 0, noiseScaleEvery: 1 });
  await c.trainer.run();
  const m = readMetrics(join(accum, 'metrics.jsonl')).filter((r) => r.type === 'train') as unknown as Record<string, number>[];
  assert.deepEqual(m.map((r) => [r.gns_small, r.gns_big]), [[B, 2 * B], [B, 2 * B]]);
}));
