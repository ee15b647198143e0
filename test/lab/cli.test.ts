// `windtunnel sweep` and `windtunnel runs` end to end, as a user runs them (with the fake trainer).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-cli-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

const model = { vocabSize: 320, nCtx: 8, dModel: 8, nLayer: 1, nHead: 2, mlp: 'gelu', norm: 'layernorm', positions: 'learned', tiedEmbeddings: true, bias: true };
/** The fake trainer's configs are not run configs, so sweeps of them run with --no-validate. */
const fakeRun = ['--trainer', `${process.execPath} test/lab/fake-trainer.mjs`, '--no-validate'];

function workspace(fake: Record<string, unknown> = {}) {
  const dir = tempDir();
  writeFileSync(join(dir, 'real.json'), JSON.stringify({ model, lr: 0.05, batchSize: 1, context: 8, steps: 20, data: { corpus: { kind: 'brown' } } }));
  writeFileSync(join(dir, 'real.yaml'), 'name: real\nbase: real.json\ngrid:\n  lr: [0.05, 0.1]\nseeds: 2\n');
  writeFileSync(join(dir, 'fake.json'), JSON.stringify({ lr: 0.05, steps: 20, fake: { stepMs: 2, ...fake } }));
  writeFileSync(join(dir, 'demo.yaml'), 'name: demo\nbase: fake.json\ntags: [cli]\ngrid:\n  lr: [0.05, 0.1]\nseeds: 2\n');
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/windtunnel.js', ...args, '--runs-dir', join(dir, 'runs')], { encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  return { dir, cli };
}

test('sweep --dry-run lists the runs and their cost; sweep runs them; runs list/show/compare/metrics read the store', () => {
  const { dir, cli } = workspace();
  const dry = cli('sweep', join(dir, 'real.yaml'), '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /^sweep real: 4 runs, 640 tokens, [\d.]+e\d+ FLOPs\n/);
  assert.equal(dry.out.match(/ new /g)?.length, 4);
  assert.match(dry.out, /lr=0.1_seed=1/);
  assert.ok(!existsSync(join(dir, 'runs', 'windtunnel.db')), 'a dry run writes nothing');

  const run = cli('sweep', join(dir, 'demo.yaml'), ...fakeRun, '--parallel', '2');
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /4 done, 0 failed, 0 interrupted, 0 skipped/);
  assert.match(run.err, /running 4 runs, 2 side by side/);
  assert.match(cli('sweep', join(dir, 'demo.yaml'), '--dry-run', '--no-validate').out, /(\bdone\b.*\n.*){4}/);

  const csv = cli('runs', 'list', '--sweep', 'demo', '--csv').out.trimEnd().split('\n');
  assert.equal(csv.length, 5);
  const header = csv[0].split(',');
  assert.ok(['id', 'status', 'config.lr', 'config.seed', 'final.loss', 'final.val_loss'].every((c) => header.includes(c)), csv[0]);
  const only = JSON.parse(cli('runs', 'list', '--where', 'lr=0.1', '--status', 'done', '--json').out) as { id: string; config: { lr: number } }[];
  assert.deepEqual(only.map((r) => r.config.lr), [0.1, 0.1]);
  assert.equal(JSON.parse(cli('runs', 'list', '--tag', 'nope', '--json').out).length, 0);
  assert.equal(JSON.parse(cli('runs', 'list', '--final', 'loss<0', '--json').out).length, 0);
  const table = cli('runs', 'list');
  assert.match(table.out, /4 run\(s\)/);

  const show = cli('runs', 'show', only[0].id.slice(0, 6));
  assert.equal(show.code, 0, show.err);
  assert.match(show.out, /status {4}done/);
  assert.match(show.out, /loss {17}20 steps, last 20/);

  const cmp = JSON.parse(cli('runs', 'compare', '--sweep', 'demo', '--json').out) as { config: Record<string, unknown[]>; final: Record<string, unknown[]> };
  assert.deepEqual(Object.keys(cmp.config).sort(), ['lr', 'seed']);
  assert.equal(cmp.final.loss.length, 4);
  const cmpCsv = cli('runs', 'compare', only[0].id, only[1].id, '--csv').out;
  assert.match(cmpCsv, /^key,/);
  assert.match(cmpCsv, /config\.seed,0,1/);

  const series = cli('runs', 'metrics', only[0].id, '--key', 'loss').out.trimEnd().split('\n');
  assert.equal(series[0], 'run,key,step,value');
  assert.equal(series.length, 21);
  assert.match(cli('runs', 'sweeps').out, /demo\s+4\s+4 done/);

  const missing = cli('runs', 'show', 'zzzz');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no run matches "zzzz"/);
  const bad = spawnSync(process.execPath, ['bin/windtunnel.js', 'runs', 'list', '--db', join(dir, 'nope.db')], { encoding: 'utf8' });
  assert.match(bad.stderr, /no results store at .*nope\.db/);
});

test('a bad sweep file fails before anything runs, naming the field', () => {
  const { dir, cli } = workspace();
  writeFileSync(join(dir, 'bad.yaml'), 'name: bad\nbase: real.json\ngrid:\n  lr: [0.1, -1]\n');
  const r = cli('sweep', join(dir, 'bad.yaml'));
  assert.equal(r.code, 2);
  assert.match(r.err, /run lr=-1: config: lr: Number must be greater than 0/);
  writeFileSync(join(dir, 'bad2.yaml'), 'name: bad\nbase: real.json\nzip:\n  lr: [0.1]\n  seed: [1, 2]\n');
  assert.match(cli('sweep', join(dir, 'bad2.yaml')).err, /zip\.seed: has 2 values but zip\.lr has 1/);
  // The fake trainer's configs are not run configs: without --no-validate they are refused.
  assert.match(cli('sweep', join(dir, 'demo.yaml'), '--dry-run').err, /run lr=0.05_seed=0: config: .*fake: unknown key/);
  assert.ok(!existsSync(join(dir, 'runs', 'windtunnel.db')));
});

test('Ctrl-C stops the sweep with every run checkpointed and interrupted; the same command resumes them', async () => {
  const { dir, cli } = workspace({ hangAt: 12 });
  const child = spawn(process.execPath, ['bin/windtunnel.js', 'sweep', join(dir, 'demo.yaml'), ...fakeRun, '--parallel', '4', '--runs-dir', join(dir, 'runs')],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  // Wait until all four runs hang at step 12 (their metrics reach step 11).
  const sweepDir = join(dir, 'runs', 'demo');
  const hanging = (): boolean => existsSync(sweepDir) && readdirSync(sweepDir).length === 4 &&
    readdirSync(sweepDir).every((d) => { try { return readFileSync(join(sweepDir, d, 'metrics.jsonl'), 'utf8').includes('"step":11,'); } catch { return false; } });
  const deadline = Date.now() + 30_000;
  while (!hanging()) {
    assert.ok(Date.now() < deadline, `runs never reached step 11:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGINT');
  assert.equal(await exited, 130, out);
  assert.match(out, /stopping: asking 4 run\(s\) to checkpoint/);
  assert.match(out, /0 done, 0 failed, 4 interrupted/);
  const interrupted = JSON.parse(cli('runs', 'list', '--status', 'interrupted', '--json').out) as { dir: string; final: { step: number } }[];
  assert.equal(interrupted.length, 4);
  assert.ok(interrupted.every((r) => r.final.step === 11 && readFileSync(join(r.dir, 'latest'), 'utf8').trim() === 'ckpt-11'));

  const again = cli('sweep', join(dir, 'demo.yaml'), ...fakeRun);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /4 done, 0 failed, 0 interrupted, 0 skipped/);
  for (const r of interrupted) assert.deepEqual(readFileSync(join(r.dir, 'invocations.log'), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')), ['train 1', 'resume 12']);
  const done = JSON.parse(cli('runs', 'list', '--json').out) as { status: string; final: { step: number } }[];
  assert.ok(done.every((r) => r.status === 'done' && r.final.step === 20));
});
