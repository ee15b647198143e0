// The local runner against a fake trainer (fake-trainer.mjs), which keeps the child-process
// contract of runner.ts and takes milliseconds per run.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { planParallelism, recordSweep, runSweep, type RunnerEvent, type RunnerOptions } from '../../../src/lab/experiments/runner.js';
import { hasCheckpoint, trainerCommand } from '../../../src/lab/experiments/trainer-process.js';
import { queryRuns, metricSeries, evalSeries } from '../../../src/lab/results/query.js';
import { Store } from '../../../src/lab/results/store.js';
import { expandSweep, parseSweep, type SweepInput } from '../../../src/lab/experiments/sweep.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-runner-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

const fakeTrainer = trainerCommand([process.execPath, 'test/lab/fake-trainer.mjs']);

/** A sweep of configs for the fake trainer (opaque to the lab: expanded without validation). */
function setup(extra: Partial<SweepInput>, fake: Record<string, unknown> = {}) {
  const dir = tempDir();
  const store = Store.open(join(dir, 'windtunnel.db'));
  const sweep = parseSweep({ name: 'fake', base: { lr: 0.05, steps: 20, fake: { stepMs: 2, ...fake } }, ...extra });
  const runs = expandSweep(sweep, { validate: false });
  const events: RunnerEvent[] = [];
  const go = (o: Partial<RunnerOptions> = {}) => runSweep({ store, sweep, runs, runsDir: dir, trainer: fakeTrainer, pollMs: 20, cores: 4, onEvent: (e) => events.push(e), ...o });
  const invocations = (name: string): string[] => {
    const r = queryRuns(store, { sweep: 'fake' }).find((x) => x.name === name)!;
    return readFileSync(join(r.dir!, 'invocations.log'), 'utf8').trim().split('\n');
  };
  return { dir, store, sweep, runs, events, go, invocations };
}

const statuses = (store: Store): Record<string, string> => Object.fromEntries(queryRuns(store, { sweep: 'fake' }).map((r) => [r.name, r.status]));

test('planParallelism: one thread per small run on every core, threads for big models, overrides', () => {
  assert.deepEqual(planParallelism({ cores: 16, runs: 40, params: 1e6 }).parallel, 16);
  assert.equal(planParallelism({ cores: 16, runs: 40, params: 1e6 }).threads, 1);
  assert.deepEqual([planParallelism({ cores: 16, runs: 40, params: 50e6 }).parallel, planParallelism({ cores: 16, runs: 40, params: 50e6 }).threads], [4, 4]);
  // Fewer runs than cores: the spare cores become threads.
  assert.deepEqual([planParallelism({ cores: 16, runs: 2, params: 1e6 }).parallel, planParallelism({ cores: 16, runs: 2, params: 1e6 }).threads], [2, 8]);
  assert.deepEqual([planParallelism({ cores: 16, runs: 40, parallel: 4 }).parallel, planParallelism({ cores: 16, runs: 40, parallel: 4 }).threads], [4, 4]);
  assert.deepEqual([planParallelism({ cores: 16, runs: 40, threads: 2 }).parallel, planParallelism({ cores: 16, runs: 40, threads: 2 }).threads], [8, 2]);
  assert.deepEqual([planParallelism({ cores: 16, runs: 3, parallel: 8, threads: 3 }).parallel, planParallelism({ cores: 16, runs: 3, parallel: 8, threads: 3 }).threads], [3, 3]);
  assert.deepEqual([planParallelism({ cores: 1, runs: 5, params: 1e9 }).parallel, planParallelism({ cores: 1, runs: 5, params: 1e9 }).threads], [1, 1]);
});

test('recordSweep stores each run with its folder and cost estimate, pending', () => {
  const dir = tempDir();
  const store = Store.open(join(dir, 'windtunnel.db'));
  const model = { vocabSize: 320, nCtx: 8, dModel: 8, nLayer: 1, nHead: 2, mlp: 'gelu', norm: 'layernorm', positions: 'learned', tiedEmbeddings: true, bias: true };
  const sweep = parseSweep({ name: 'real', tags: ['t'], base: { model, lr: 0.1, batchSize: 2, context: 8, steps: 10, data: { corpus: { kind: 'brown' } } }, grid: { lr: [0.1, 0.2] } });
  const runs = expandSweep(sweep);
  const recs = recordSweep(store, sweep, runs, join(dir, 'runs'));
  assert.deepEqual(recs.map((r) => [r.id, r.status, r.tokens, r.tags]), runs.map((r) => [r.id, 'pending', 10 * 2 * 8, ['t']]));
  assert.ok(recs.every((r) => (r.params ?? 0) > 0 && (r.flops ?? 0) > 0));
  assert.equal(recs[1].dir, join(dir, 'runs', 'real', `lr=0.2-${runs[1].id}`));
  store.close();
});

test('runs every run to done, ingests metrics and evals, and a second run of the sweep does nothing', async () => {
  const t = setup({ grid: { lr: [0.05, 0.1] }, seeds: 2 });
  const summary = await t.go({ parallel: 2 });
  assert.equal(summary.done.length, 4);
  assert.deepEqual(Object.values(statuses(t.store)), ['done', 'done', 'done', 'done']);
  const plan = t.events.find((e) => e.type === 'plan')!;
  assert.ok(plan.type === 'plan' && plan.parallel === 2 && plan.threads === 2);
  const rs = queryRuns(t.store, { sweep: 'fake' });
  for (const r of rs) {
    const loss = metricSeries(t.store, { runs: [r.id], keys: ['loss'] });
    assert.deepEqual(loss.map((p) => p.step), Array.from({ length: 20 }, (_, i) => i + 1), 'each step once');
    assert.equal(evalSeries(t.store, { runs: [r.id], keys: ['loss'] }).length, 4);
    assert.equal(r.final?.step, 20);
    assert.equal(r.final?.loss, loss[19].value);
    assert.equal(typeof r.final?.val_loss, 'number');
    assert.equal(typeof r.final?.val_perplexity, 'number');
    assert.equal(r.attempts, 1);
    assert.ok(existsSync(join(r.dir!, 'run-config.json')));
    assert.deepEqual(JSON.parse(readFileSync(join(r.dir!, 'run-config.json'), 'utf8')), r.config);
  }
  assert.deepEqual(t.invocations('lr=0.05_seed=0'), ['train 1 threads=2']);
  assert.ok(t.events.some((e) => e.type === 'progress' && e.step === 20 && e.totalSteps === 20));
  // Again: everything is done, nothing is started.
  t.events.length = 0;
  const again = await t.go();
  assert.deepEqual([again.done.length, again.skipped.length], [0, 4]);
  assert.ok(!t.events.some((e) => e.type === 'start'));
  assert.deepEqual(t.invocations('lr=0.05_seed=0'), ['train 1 threads=2']);
  t.store.close();
});

test('a failed run is recorded with its stderr tail and the sweep goes on; failed runs are retried only on request', async () => {
  const t = setup({ list: [{ 'fake.failAt': 7 }, { 'fake.failAt': -1 }, { 'fake.failAt': -2 }] });
  const summary = await t.go({ parallel: 1 });
  assert.deepEqual([summary.done.length, summary.failed.length], [2, 1]);
  const failed = queryRuns(t.store, { status: ['failed'] });
  assert.equal(failed.length, 1);
  assert.match(failed[0].error!, /^exit code 3\nfake trainer: some log line\nfake trainer: loss is NaN at step 7$/);
  assert.equal(failed[0].final?.step, 6, 'metrics up to the failure are kept');
  assert.ok(hasCheckpoint(failed[0].dir!));
  const again = await t.go();
  assert.deepEqual([again.done.length, again.failed.length, again.skipped.length], [0, 0, 3]);
  const retried = await t.go({ retryFailed: true });
  assert.deepEqual(retried.failed, [failed[0].id]);
  // It had a checkpoint (step 5), so the retry resumed from there and failed again at 7.
  assert.deepEqual(t.invocations('failAt=7'), ['train 1 threads=4', 'resume 6 threads=4']);
  assert.equal(queryRuns(t.store, { ids: [failed[0].id] })[0].attempts, 2);
  t.store.close();
});

test('stopping sends SIGINT, runs are interrupted at a checkpoint, and the next run of the sweep resumes them', async () => {
  const t = setup({ grid: { lr: [0.05, 0.1, 0.2] } }, { hangAt: 12 });
  const ctrl = new AbortController();
  const reached = new Set<string>();
  const stopWhenAllHang = (e: RunnerEvent) => {
    t.events.push(e);
    if (e.type === 'progress' && e.step === 11) reached.add(e.run.id);
    if (reached.size === 3) ctrl.abort();
  };
  const summary = await t.go({ parallel: 3, signal: ctrl.signal, onEvent: stopWhenAllHang });
  assert.equal(summary.stopped, true);
  assert.equal(summary.interrupted.length, 3);
  assert.deepEqual(Object.values(statuses(t.store)), ['interrupted', 'interrupted', 'interrupted']);
  for (const r of queryRuns(t.store, { sweep: 'fake' })) {
    assert.ok(hasCheckpoint(r.dir!));
    assert.equal(r.final?.step, 11);
    assert.match(r.error ?? '', /stopped by the user/);
  }
  const resumed = await t.go({ parallel: 3 });
  assert.equal(resumed.done.length, 3);
  for (const r of queryRuns(t.store, { sweep: 'fake' })) {
    assert.equal(r.status, 'done');
    assert.equal(r.attempts, 2);
    const steps = metricSeries(t.store, { runs: [r.id], keys: ['loss'] }).map((p) => p.step);
    assert.deepEqual(steps, Array.from({ length: 20 }, (_, i) => i + 1), 'every step exactly once across both attempts');
  }
  assert.deepEqual(t.invocations('lr=0.1'), ['train 1 threads=1', 'resume 12 threads=1']);
  t.store.close();
});

test('a trainer that ignores SIGINT is killed after the grace time and still recorded as interrupted', async () => {
  const t = setup({}, { hangAt: 3, ignoreSigint: true });
  const ctrl = new AbortController();
  const summary = await t.go({
    signal: ctrl.signal, graceMs: 200,
    onEvent: (e) => { if (e.type === 'progress' && e.step === 2) ctrl.abort(); },
  });
  assert.equal(summary.interrupted.length, 1);
  assert.match(queryRuns(t.store, { sweep: 'fake' })[0].error ?? '', /SIGKILL/);
  t.store.close();
});

test('a run left running by a runner that died is recovered as interrupted and resumed', async () => {
  const t = setup({ grid: { lr: [0.05, 0.1] } });
  recordSweep(t.store, t.sweep, t.runs, t.dir);
  const deadPid = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
  assert.ok(t.store.claim(t.runs[0].id, `local:${hostname()}:${deadPid}`));
  // Another machine's run is left alone.
  assert.ok(t.store.claim(t.runs[1].id, 'local:some-other-host:1'));
  const summary = await t.go();
  assert.deepEqual(summary.done, [t.runs[0].id]);
  assert.deepEqual(summary.skipped, [t.runs[1].id]);
  const plan = t.events.find((e) => e.type === 'plan');
  assert.ok(plan?.type === 'plan' && plan.recovered === 1 && plan.skipped.busy === 1);
  t.store.close();
});

test('a trainer that cannot start is a failed run that says why', async () => {
  const t = setup({});
  const summary = await t.go({ trainer: trainerCommand(['/nonexistent/trainer']) });
  assert.equal(summary.failed.length, 1);
  assert.match(queryRuns(t.store, { sweep: 'fake' })[0].error ?? '', /could not start \/nonexistent\/trainer: .*ENOENT/);
  t.store.close();
});
