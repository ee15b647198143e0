// Exact resume across thread counts: the native kernels' results depend on the thread count, so
// a checkpoint records the backend and thread count; resuming uses the recorded count unless the
// user forced another (WINDTUNNEL_THREADS), and then warns that the result will not be bitwise
// identical to an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, backend, crossEntropy, embedding, linear, zeros } from '../../src/engine/index.js';
import { nativeInfo, nativeIsa, nativeThreads, setNativeIsa, setNativeThreads } from '../../src/engine/native.js';
import { MemoryTokens, RandomWindowSampler } from '../../src/data/index.js';
import { AdamW } from '../../src/training/optimizers.js';
import { Trainer, type TrainerEvent } from '../../src/training/trainer.js';
import { loadCheckpoint } from '../../src/training/checkpoint.js';

const V = 11, C = 8;

class Bigram {
  readonly params: Map<string, Tensor>;
  constructor() {
    const rng = new Rng(3);
    const mk = (shape: number[]) => { const t = zeros(shape, { requiresGrad: true }); rng.fillNormal(t.f, 0.5); return t; };
    this.params = new Map([['wte.weight', mk([V, C])], ['head.weight', mk([V, C])]]);
  }
  forward(ids: Tensor, o: { targets?: Tensor }) {
    const logits = linear(embedding(ids, this.params.get('wte.weight')!), this.params.get('head.weight')!);
    return { logits, loss: o.targets ? crossEntropy(logits, o.targets, { ignoreIndex: -1 }) : undefined };
  }
}

const source = new MemoryTokens([Int32Array.from({ length: 200 }, (_, i) => (i * 7) % V)]);

async function run(dir: string, steps: number, resume: boolean, threadsForced: boolean): Promise<TrainerEvent[]> {
  const model = new Bigram();
  const events: TrainerEvent[] = [];
  await new Trainer({
    runDir: dir, model, optimizer: new AdamW(model.params, {}), train: new RandomWindowSampler(source, { B: 2, T: 5, seed: 1 }),
    schedule: resume ? undefined : { config: { kind: 'constant' }, lr: 1e-2, totalSteps: steps }, resume, threadsForced,
    onEvent: (e) => events.push(e),
  }).run();
  return events;
}

test('a checkpoint records the backend, thread count and (native) instruction set', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-engine-'));
  try {
    await run(dir, 2, false, false);
    const expected = backend().name === 'native'
      ? { backend: 'native', threads: backend().threads(), isa: nativeIsa() }
      : { backend: backend().name, threads: backend().threads() };
    assert.deepEqual(loadCheckpoint(dir).state.engine, expected);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('resume uses the saved thread count, or warns when the user forced another', { skip: backend().name !== 'native' && 'the native backend is not in use' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-engine-'));
  const original = nativeThreads();
  try {
    setNativeThreads(3);
    await run(dir, 2, false, false);
    assert.equal(loadCheckpoint(dir).state.engine?.threads, 3);

    setNativeThreads(1); // as a fresh process with another default would have
    const quiet = await run(dir, 2, true, false);
    assert.equal(nativeThreads(), 3, 'resume switched to the saved thread count');
    assert.deepEqual(quiet.filter((e) => e.type === 'warning'), []);

    setNativeThreads(2);
    const forced = await run(dir, 2, true, true);
    assert.equal(nativeThreads(), 2, 'a forced count is kept');
    const w = forced.filter((e): e is Extract<TrainerEvent, { type: 'warning' }> => e.type === 'warning');
    assert.equal(w.length, 1);
    assert.match(w[0].message, /saved with native \w+, 3 threads.*resuming with native \w+, 2 threads.*not be bitwise identical.*WINDTUNNEL_THREADS/s);
  } finally {
    setNativeThreads(original);
    rmSync(dir, { recursive: true, force: true });
  }
});

const lowerIsa = backend().name === 'native' && nativeInfo().isaBest !== 'sse2';

test('resume uses the saved instruction set, or warns when WINDTUNNEL_ISA forced another', { skip: !lowerIsa && 'needs the native backend on a CPU with more than one ISA' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-engine-'));
  const original = nativeIsa();
  const threads = nativeThreads();
  try {
    setNativeIsa('sse2');
    await run(dir, 2, false, false);
    assert.equal(loadCheckpoint(dir).state.engine?.isa, 'sse2');

    setNativeIsa(nativeInfo().isaBest); // as a fresh process would start
    const quiet = await run(dir, 2, true, false);
    assert.equal(nativeIsa(), 'sse2', 'resume switched to the saved ISA');
    assert.deepEqual(quiet.filter((e) => e.type === 'warning'), []);

    setNativeIsa(nativeInfo().isaBest);
    process.env.WINDTUNNEL_ISA = nativeInfo().isaBest;
    const forced = await run(dir, 2, true, false);
    assert.equal(nativeIsa(), nativeInfo().isaBest, 'a forced ISA is kept');
    const w = forced.filter((e): e is Extract<TrainerEvent, { type: 'warning' }> => e.type === 'warning');
    assert.equal(w.length, 1);
    assert.match(w[0].message, /saved with native sse2.*not be bitwise identical.*WINDTUNNEL_ISA/s);
  } finally {
    delete process.env.WINDTUNNEL_ISA;
    setNativeIsa(original);
    setNativeThreads(threads);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the lab starts a resumed trainer with the thread count its checkpoint was computed with', async () => {
  const { startTrainer } = await import('../../src/lab/experiments/trainer-process.js');
  const dir = mkdtempSync(join(tmpdir(), 'wt-engine-'));
  // The child reports the WINDTUNNEL_THREADS it was given as a progress line.
  const threadsGiven = async (): Promise<number> => {
    let seen = -1;
    const { exited } = startTrainer({
      invocation: { command: process.execPath, args: ['-e', 'const n = Number(process.env.WINDTUNNEL_THREADS); console.log(JSON.stringify({ type: "progress", step: n, totalSteps: n, loss: 0 }))'] },
      dir, threads: 7, pollMs: 1000, onLines: () => {}, onProgress: (step) => { seen = step; },
    });
    await exited;
    return seen;
  };
  try {
    assert.equal(await threadsGiven(), 7, 'a fresh run gets the planned count');
    await run(dir, 2, false, false);
    const saved = loadCheckpoint(dir).state.engine!;
    assert.equal(await threadsGiven(), saved.backend === 'native' ? saved.threads : 7);
    if (saved.backend === 'native') assert.notEqual(saved.threads, 7);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
