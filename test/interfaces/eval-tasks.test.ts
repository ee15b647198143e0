// `eval RUN --tasks ... --shots k --checkpoints all`: every checkpoint scored on every built-in
// task, the scores recorded in the run's store (the same numbers the library computes), shown by
// `runs show`; evaluating again replaces rather than duplicates; bad requests are usage errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRun } from '../../src/training/assemble.js';
import { evaluateEvalTask } from '../../src/training/task-eval.js';
import { getEvalTask } from '../../src/data/evals/index.js';

let tmp = '';
const env = { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' };
const cli = (args: string[]) => spawnSync(process.execPath, ['bin/windtunnel.js', ...args], { encoding: 'utf8', env });

before(() => { tmp = mkdtempSync(join(tmpdir(), 'wt-eval-tasks-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

test('eval --tasks over all checkpoints records per step, task, shots and metric; runs show lists them', () => {
  const dir = join(tmp, 'runs', 'r');
  const t = cli(['train', '--config', 'configs/tiny-smoke.json', '--run-dir', dir,
    ...['data.cacheDir=' + join(tmp, 'cache'), 'batchSize=2', 'context=48', 'evalBatches=1', 'schedule.warmupSteps=0', 'evalInterval=0',
      'steps=4', 'checkpointInterval=2', 'keepCheckpoints=0'].flatMap((s) => ['--set', s])]);
  assert.equal(t.status, 0, t.stderr);
  const args = ['eval', dir, '--tasks', 'addition:2,icl-mapping:1', '--shots', '1', '--checkpoints', 'all', '--n', '12', '--json'];
  const e = cli(args);
  assert.equal(e.status, 0, e.stderr);
  const lines = e.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
  assert.deepEqual(lines.map((l) => `${l.step} ${l.task}`), ['2 addition', '2 icl-mapping', '4 addition', '4 icl-mapping']);
  assert.ok(lines.every((l) => l.shots === 1 && l.items === 12));
  const show = () => {
    const r = cli(['runs', 'show', 'r', '--runs-dir', join(tmp, 'runs'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { taskEvals: { step: number; task: string; shots: number; metric: string; value: number }[] }).taskEvals;
  };
  const stored = show();
  assert.equal(stored.length, 2 * 6 + 2 * 6); // two checkpoints x (6 target metrics + 6 choice metrics)
  // the stored numbers are the library's
  const run = loadRun(dir, 4);
  const mine = evaluateEvalTask(run.model, run.tokenizer, getEvalTask('icl-mapping'), 1, { count: 12, shots: 1, seed: 0 });
  for (const [metric, v] of Object.entries(mine.metrics)) {
    const row = stored.find((s) => s.step === 4 && s.task === 'icl-mapping:1' && s.metric === metric)!;
    assert.ok(Math.abs(row.value - v) < 1e-9, `${metric}: stored ${row.value}, computed ${v}`);
  }
  assert.equal(cli(args).status, 0);
  assert.equal(show().length, stored.length, 'evaluating again replaces the scores');
  const text = cli(['runs', 'show', 'r', '--runs-dir', join(tmp, 'runs')]);
  assert.match(text.stdout, /task scores\n {2}addition:2 1-shot\s+step 4 \(2 checkpoints, 12 items\)/);
  const bad = cli(['eval', dir, '--tasks', 'addition:9']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /addition: size \(digits per operand\) must be an integer in 1\.\.7/);
  const missing = cli(['eval', dir, '--tasks', 'addition', '--checkpoints', '3']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /no checkpoint at step 3 \(it has 2, 4\)/);
});
