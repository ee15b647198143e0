// Every run a user trains shows up in the results store without a second command: `train` and
// `resume` record the run (status, config, size estimate, metrics, final values) in the store
// that `runs list` and `ui` read: the nearest windtunnel.db above the run folder, else one
// beside it (runs/<name> -> runs/windtunnel.db), or --db. A trainer the lab spawns leaves the
// recording to the lab.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let tmp = '';
const env = { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' };
const cli = (args: string[], extraEnv: Record<string, string> = {}) => spawnSync(process.execPath, ['bin/windtunnel.js', ...args], { encoding: 'utf8', env: { ...env, ...extraEnv } });
const train = (dir: string, ...sets: string[]) => cli(['train', '--config', 'configs/tiny-smoke.json', '--run-dir', dir,
  ...['data.cacheDir=' + join(tmp, 'cache'), 'batchSize=2', 'context=16', 'evalBatches=1', 'schedule.warmupSteps=0', 'evalInterval=0', 'checkpointInterval=0', ...sets].flatMap((s) => ['--set', s])]);
const list = (runsDir: string) => {
  const r = cli(['runs', 'list', '--runs-dir', runsDir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { id: string; name: string; status: string; dir: string; params: number; config: { steps: number }; final: Record<string, number> }[];
};

before(() => { tmp = mkdtempSync(join(tmpdir(), 'wt-train-store-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

test('train records its run in the store beside the run folder; runs list shows it with its final metrics', () => {
  const runs = join(tmp, 'runs');
  const r = train(join(runs, 'first'), 'steps=3');
  assert.equal(r.status, 0, r.stderr);
  const rs = list(runs);
  assert.equal(rs.length, 1);
  assert.equal(rs[0].status, 'done');
  assert.equal(rs[0].name, 'first');
  assert.equal(rs[0].dir, join(runs, 'first'));
  assert.equal(rs[0].config.steps, 3);
  assert.ok(rs[0].params > 0);
  assert.equal(rs[0].final.step, 3);
  assert.ok(Number.isFinite(rs[0].final.loss) && Number.isFinite(rs[0].final.val_loss), JSON.stringify(rs[0].final));
  const metrics = cli(['runs', 'metrics', rs[0].id, '--runs-dir', runs, '--csv']);
  assert.equal(metrics.status, 0, metrics.stderr);
});

test('resume updates the same record; a second run in the folder tree joins the same store', () => {
  const runs = join(tmp, 'runs');
  const dir = join(runs, 'nested', 'second');
  assert.equal(train(dir, 'steps=2').status, 0);
  assert.equal(cli(['resume', dir]).status, 0);
  const rs = list(runs);
  assert.deepEqual(rs.map((r) => r.name).sort(), ['first', 'second']);
  assert.ok(!existsSync(join(runs, 'nested', 'windtunnel.db')), 'the nearest existing store above the folder is used');
});

test('--db chooses the store; a trainer the lab spawned (WINDTUNNEL_RECORD=0) records nothing itself', () => {
  const db = join(tmp, 'elsewhere', 'results.db');
  const r = cli(['train', '--config', 'configs/tiny-smoke.json', '--run-dir', join(tmp, 'solo', 'run'), '--db', db,
    ...['data.cacheDir=' + join(tmp, 'cache'), 'batchSize=2', 'context=16', 'evalBatches=1', 'schedule.warmupSteps=0', 'steps=2'].flatMap((s) => ['--set', s])]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(cli(['runs', 'list', '--db', db, '--json']).stdout).length, 1);
  assert.ok(!existsSync(join(tmp, 'solo', 'windtunnel.db')));

  const lab = cli(['train', '--config', 'configs/tiny-smoke.json', '--run-dir', join(tmp, 'lab', 'run'),
    ...['data.cacheDir=' + join(tmp, 'cache'), 'batchSize=2', 'context=16', 'evalBatches=1', 'schedule.warmupSteps=0', 'steps=2'].flatMap((s) => ['--set', s])], { WINDTUNNEL_RECORD: '0' });
  assert.equal(lab.status, 0, lab.stderr);
  assert.ok(!existsSync(join(tmp, 'lab', 'windtunnel.db')));
});

test('samples logged during training: their own metrics lines, the same loss curve bit for bit, in the store and in runs show', () => {
  const runs = join(tmp, 'sampled');
  const lines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(train(join(runs, 'plain'), 'steps=5').status, 0);
  const r = train(join(runs, 'with'), 'steps=5', 'samples.every=2', 'samples.maxTokens=8');
  assert.equal(r.status, 0, r.stderr);
  const losses = (ls: Record<string, unknown>[]) => ls.filter((l) => l.type !== 'samples').map((l) => [l.type, l.step, l.loss, l.grad_norm]);
  const plain = lines(join(runs, 'plain')), withSamples = lines(join(runs, 'with'));
  assert.deepEqual(losses(withSamples), losses(plain)); // JSON numbers round-trip doubles exactly: bitwise equal
  const sampled = withSamples.filter((l) => l.type === 'samples') as { step: number; samples: { prompt: string; text: string }[] }[];
  assert.deepEqual(sampled.map((l) => l.step), [2, 4, 5]);
  for (const l of sampled) {
    assert.equal(l.samples.length, 1);
    assert.equal(l.samples[0].prompt, '');
    assert.ok(l.samples[0].text.length > 0 && l.samples[0].text.length <= 8 * 4, JSON.stringify(l.samples[0]));
  }
  const id = list(runs).find((x) => x.name === 'with')!.id;
  const show = cli(['runs', 'show', id, '--runs-dir', runs]);
  assert.equal(show.status, 0, show.stderr);
  assert.match(show.stdout, /samples \(step 5\)/);
  assert.ok(show.stdout.includes(`"" -> ${sampled[2].samples[0].text.split('\n')[0]}`), show.stdout);
  const json = JSON.parse(cli(['runs', 'show', id, '--runs-dir', runs, '--json']).stdout) as { samples: unknown };
  assert.deepEqual(json.samples, [{ step: 5, samples: sampled[2].samples }]);

  // Sampled (not greedy) with top-k/top-p, and once before the first step: still the same training.
  const r2 = train(join(runs, 'sampled-topk'), 'steps=5', 'samples.every=4', 'samples.maxTokens=8', 'samples.temperature=0.9', 'samples.topK=5', 'samples.topP=0.9', 'samples.atStart=true');
  assert.equal(r2.status, 0, r2.stderr);
  const topk = lines(join(runs, 'sampled-topk'));
  assert.deepEqual(losses(topk), losses(plain));
  assert.deepEqual(topk.filter((l) => l.type === 'samples').map((l) => l.step), [0, 4, 5]);
});

test('rank logged during training: diagnostics lines, the same loss curve bit for bit, one run-page panel per measure', async () => {
  const runs = join(tmp, 'ranked');
  const lines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(train(join(runs, 'plain'), 'steps=5').status, 0);
  const r = train(join(runs, 'with'), 'steps=5', 'rank.every=2');
  assert.equal(r.status, 0, r.stderr);
  const losses = (ls: Record<string, unknown>[]) => ls.filter((l) => l.type !== 'diagnostics').map((l) => [l.type, l.step, l.loss, l.grad_norm]);
  const withRank = lines(join(runs, 'with'));
  assert.deepEqual(losses(withRank), losses(lines(join(runs, 'plain'))));
  const diag = withRank.filter((l) => l.type === 'diagnostics');
  assert.deepEqual(diag.map((l) => l.step), [2, 4, 5]);
  const config = JSON.parse(readFileSync(join(runs, 'with', 'config.json'), 'utf8')) as { model: { nLayer: number; dModel: number } };
  const points = ['embed', ...Array.from({ length: config.model.nLayer }, (_, l) => `block${l}`)];
  for (const p of points) {
    const eff = diag[2][`rank.eff.${p}`] as number, stable = diag[2][`rank.stable.${p}`] as number, iso = diag[2][`rank.isotropy.${p}`] as number;
    assert.ok(eff >= 1 && eff <= config.model.dModel && stable >= 1 && stable <= eff + 1e-9 && iso >= 0, `${p}: ${eff} ${stable} ${iso}`);
  }
  const { Store } = await import('../../src/lab/results/store.js');
  const { runPageView } = await import('../../src/lab/presentation/dashboard-views.js');
  const { queryRuns } = await import('../../src/lab/results/query.js');
  const store = Store.open(join(runs, 'windtunnel.db'));
  try {
    const run = queryRuns(store, {}).find((x) => x.name === 'with')!;
    const view = runPageView(store, run, []);
    const rankPanels = view.panels.filter((p) => p.key.startsWith('rank.'));
    assert.deepEqual(rankPanels.map((p) => p.key).sort(), ['rank.eff', 'rank.isotropy', 'rank.stable']);
    assert.equal(rankPanels[0].points, 3 * points.length);
  } finally {
    store.close();
  }
  assert.equal(train(join(runs, 'bad'), 'steps=2', 'rank.every=0').status, 2);
});
