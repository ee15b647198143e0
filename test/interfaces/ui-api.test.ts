// The dashboard's HTTP API (src/interfaces/ui/server.ts over src/lab/presentation/dashboard-views.ts) on a
// store of synthetic runs: the page and the plotting libraries are served locally; the runs
// table pages, sorts and filters; curves are smoothed, downsampled, grouped; hyperparameter
// views, comparison, reports; bad input is a 400 naming the problem; the event stream reports
// writes made by another connection; nothing can write through the server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { Store } from '../../src/lab/results/store.js';
import { startUi, type UiServer } from '../../src/interfaces/ui/server.js';
import { addSyntheticSweep } from '../lab/report-fixture.js';
import { isBookkeeping } from '../../src/lab/presentation/dashboard-views.js';

let dir: string, db: string, store: Store, ui: UiServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wt-ui-api-'));
  db = join(dir, 'windtunnel.db');
  store = Store.open(db);
  addSyntheticSweep(store, { unfinished: true, steps: 1000 });
  addSyntheticSweep(store, { sweep: 'other', lrs: [1e-2], widths: [16], seeds: 1, steps: 20 });
  store.logSamples('synth-0000', [
    { step: 500, samples: [{ prompt: '', text: 'the jury' }, { prompt: 'He', text: 'He said' }] },
    { step: 1000, samples: [{ prompt: '', text: 'the grand jury said' }, { prompt: 'He', text: 'He said it' }] },
  ]);
  store.logTaskEvals('synth-0000', [
    { step: 500, task: 'addition:2', shots: 2, items: 100, seed: 0, metrics: { exact_match: 0.1, brier: 0.9 } },
    { step: 1000, task: 'addition:2', shots: 2, items: 100, seed: 0, metrics: { exact_match: 0.4, brier: 0.6 } },
  ]);
  ui = await startUi({ db, port: 0, pollMs: 50 });
});

after(async () => {
  await ui?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; type: string; text: string; json: () => any }> {
  const res = await fetch(ui.url + path.replace(/^\//, ''));
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
}

test('the page, its script and the plotting libraries come from this server', async () => {
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.type, /text\/html/);
  const scripts = [...page.text.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(scripts, ['/vendor/vega.min.js', '/vendor/vega-lite.min.js', '/vendor/vega-embed.min.js', '/app.js']);
  assert.doesNotMatch(page.text, /https?:\/\//, 'no CDN');
  for (const s of [...scripts, '/app.css']) {
    const r = await get(s);
    assert.equal(r.status, 200, s);
    assert.ok(r.text.length > 1000, s);
  }
  assert.equal((await get('/favicon.ico')).status, 204);
  assert.equal((await get('/nope')).status, 404);
});

test('runs table: pages, sorts (missing values last), filters by sweep, status, tag, config, final metric and text', async () => {
  const all = (await get('/api/runs?limit=3')).json();
  assert.equal(all.total, 9);
  assert.equal(all.rows.length, 3);
  assert.deepEqual(all.byStatus, { done: 7, failed: 1, running: 1 });
  assert.deepEqual(all.configKeys, ['model.dModel', 'optim.lr', 'seed', 'steps']);
  assert.deepEqual(all.finalKeys.slice(0, 3), ['loss', 'val_loss', 'val_perplexity']);
  const second = (await get('/api/runs?limit=3&offset=3')).json();
  assert.deepEqual(second.rows.map((r: any) => r.id), ['synth-0003', 'synth-0004', 'synth-0005']);

  const running = (await get('/api/runs?sweep=synth&status=running')).json();
  assert.equal(running.total, 1);
  assert.equal(running.rows[0].step, 500, 'a running run shows its latest step');
  assert.equal(typeof running.rows[0].final.loss, 'number');

  const sorted = (await get('/api/runs?sweep=synth&sort=final.val_loss')).json().rows;
  const vals = sorted.map((r: any) => r.final.val_loss);
  assert.deepEqual(vals, [...vals].sort((a: number, b: number) => a - b));
  for (const desc of ['0', '1']) {
    const ids = (await get(`/api/runs?sort=final.val_loss&desc=${desc}`)).json().rows.map((r: any) => r.id);
    assert.equal(ids.at(-1), 'other-0000', 'a run without val_loss sorts last either way');
  }
  const byLr = (await get('/api/runs?sort=config.optim.lr&desc=1')).json().rows.map((r: any) => r.config['optim.lr']);
  assert.deepEqual(byLr.slice(0, 2), [0.01, 0.003]);

  assert.equal((await get('/api/runs?tag=w64')).json().total, 4);
  assert.equal((await get(`/api/runs?where=${encodeURIComponent('optim.lr<=0.001')}&where=${encodeURIComponent('model.dModel=32')}`)).json().total, 2);
  const ranged = (await get(`/api/runs?final=${encodeURIComponent('val_loss>=2.9')}&final=${encodeURIComponent('val_loss<=2.95')}`)).json();
  assert.deepEqual(ranged.rows.map((r: any) => r.id), ['synth-0002', 'synth-0003', 'synth-0004', 'synth-0005']);
  assert.equal((await get('/api/runs?q=DMODEL=64_seed=1')).json().total, 2);
});

test('bad requests are 400s that say what is wrong; the server refuses to write', async () => {
  const cases: [string, RegExp][] = [
    ['/api/runs?where=lr', /cannot read condition "lr"/],
    ['/api/runs?status=finished', /unknown status "finished"/],
    ['/api/runs?sort=colour', /cannot sort by "colour"/],
    ['/api/runs?limit=0', /limit must be a number in \[1, 1000\]/],
    ['/api/curves?smoothing=1', /smoothing must be a number in \[0, 0.999\]/],
    ['/api/curves?spread=wide', /spread must be one of std, stderr, minmax, none/],
    ['/api/compare', /give ids/],
    ['/api/run/zzz', /no run matches "zzz"/],
    ['/report/nope', /no sweep "nope"/],
  ];
  for (const [path, message] of cases) {
    const r = await get(path);
    assert.equal(r.status, 400, path);
    assert.match(r.json().error, message);
  }
  const before = statSync(db).mtimeMs;
  const post = await fetch(ui.url + 'api/runs', { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.match((await post.json()).error, /read-only/);
  assert.equal(statSync(db).mtimeMs, before);
});

test('curves: smoothed and downsampled per run, capped in number, grouped with bands, against tokens, for chosen ids', async () => {
  const metrics = (await get('/api/metrics?sweep=synth')).json();
  assert.deepEqual(metrics, { train: ['loss', 'grad_norm', 'lr', 'tokens'], eval: ['val/loss', 'val/perplexity'] });

  const c = (await get('/api/curves?sweep=synth&metric=loss&smoothing=0.6&points=100&logY=1')).json();
  assert.equal(c.shown, 8);
  const rows = c.spec.datasets.rows;
  assert.equal(c.points, rows.length);
  assert.ok(rows.length <= 8 * 100, `${rows.length} points: downsampled on the server`);
  const first = rows.filter((r: any) => r.run === 'synth-0000');
  assert.equal(first.length, 100);
  assert.deepEqual([first[0].x, first.at(-1).x], [1, 1000], 'ends kept');
  assert.equal(first[0].y, first[0].raw, 'debiased: the first smoothed point is the first value');
  assert.ok(first.every((r: any) => typeof r.raw === 'number'));
  assert.equal(first[0].series, 'dModel=32 lr=0.001 seed=0');
  assert.equal(c.spec.layer[0].encoding.y.scale.type, 'log');

  const capped = (await get('/api/curves?metric=loss&maxRuns=3')).json();
  assert.deepEqual([capped.shown, capped.total], [3, 9]);

  const g = (await get('/api/curves?sweep=synth&metric=loss&group=optim.lr&spread=minmax&points=50')).json();
  assert.deepEqual([g.groups, g.shown], [2, 8]);
  const band = g.spec.datasets.rows;
  assert.deepEqual([...new Set(band.map((r: any) => r.series))], ['lr=0.001', 'lr=0.003']);
  assert.ok(band.every((r: any) => r.lo <= r.mean && r.mean <= r.hi && r.n >= 1 && r.n <= 4));
  assert.ok(band.some((r: any) => r.n === 4) && band.some((r: any) => r.n === 3), 'the failed and the running run stop contributing where they stop');

  const vsTokens = (await get('/api/curves?ids=synth-0001,synth-0000&metric=val/loss&x=tokens')).json();
  assert.equal(vsTokens.shown, 2);
  const ev = vsTokens.spec.datasets.rows;
  assert.deepEqual(ev.filter((r: any) => r.run === 'synth-0000').map((r: any) => r.x).slice(0, 2), [50 * 4096, 100 * 4096]);
  assert.equal(vsTokens.spec.layer[0].encoding.x.title, 'tokens');
});

test('hyperparameters (parallel and scatter), comparison, one run, sweeps, and the report page', async () => {
  const par = (await get('/api/hparams?sweep=synth&metric=val_loss')).json();
  assert.deepEqual(par.keys, ['model.dModel', 'optim.lr', 'seed']);
  assert.equal(par.runs, 8, 'the running run counts with its latest value');
  const sc = (await get('/api/hparams?sweep=synth&metric=val_loss&view=scatter&keys=optim.lr&color=model.dModel&logX=1')).json();
  assert.deepEqual(sc.keys, ['optim.lr']);
  assert.deepEqual([...new Set(sc.spec.datasets.rows.map((r: any) => r.series))].sort(), ['32', '64']);

  const cmp = (await get('/api/compare?ids=synth-0000,synth-0006')).json();
  assert.deepEqual(cmp.runs.map((r: any) => r.status), ['done', 'failed']);
  assert.deepEqual(cmp.config['optim.lr'], [0.001, 0.003]);
  assert.equal(cmp.final.loss.length, 2);

  // The run page: config by full path with bookkeeping flagged, one panel per metric, a running
  // run's values called latest (never final), a command that trains it again, links to its sweeps.
  const one = (await get('/api/run/synth-0007')).json();
  assert.equal(one.run.status, 'running');
  assert.equal(one.valuesAre, 'latest');
  assert.deepEqual(one.series.map((s: any) => s.key), ['grad_norm', 'loss', 'lr', 'tokens']);
  assert.deepEqual(one.panels.map((p: any) => p.key).slice(0, 4), ['grad_norm', 'loss', 'lr', 'tokens']);
  for (const p of one.panels) assert.ok(p.spec.datasets.rows.length > 0 && p.spec.datasets.rows.length <= 300, `${p.key} panel rows`);
  assert.ok(one.config.some((c: any) => c.key === 'optim.lr' && c.bookkeeping === false), 'optim.lr by its full path');
  assert.deepEqual(one.sweeps.map((s: any) => s.report), ['/report/synth']);
  const done = (await get('/api/run/synth-0000')).json();
  assert.equal(done.valuesAre, 'final');
  // Samples logged during training, by step (newest first), in prompt order; none for a run without.
  assert.deepEqual(done.samples, [
    { step: 1000, samples: [{ prompt: '', text: 'the grand jury said' }, { prompt: 'He', text: 'He said it' }] },
    { step: 500, samples: [{ prompt: '', text: 'the jury' }, { prompt: 'He', text: 'He said' }] },
  ]);
  assert.deepEqual(one.samples, []);
  // Task scores (eval RUN --tasks): a table's rows and one panel per task, shots and metric over the checkpoints.
  assert.deepEqual(done.taskEvals.map((t: any) => [t.step, t.task, t.shots, t.metric, t.value]), [
    [500, 'addition:2', 2, 'brier', 0.9], [1000, 'addition:2', 2, 'brier', 0.6], [500, 'addition:2', 2, 'exact_match', 0.1], [1000, 'addition:2', 2, 'exact_match', 0.4],
  ]);
  const taskPanel = done.panels.find((p: any) => p.key === 'task/addition:2 2-shot/exact_match');
  assert.deepEqual(taskPanel.last, { step: 1000, value: 0.4 });
  assert.deepEqual(one.taskEvals, []);
  assert.ok(isBookkeeping('samples.every') && isBookkeeping('samples.prompts') && !isBookkeeping('seed'), 'the samples section is bookkeeping, not a hyperparameter');
  assert.ok(isBookkeeping('rank.every') && isBookkeeping('rank.rows'), 'so is the rank section');
  assert.deepEqual((await get('/api/sweeps')).json().map((s: any) => s.name), ['other', 'synth']);
  assert.deepEqual((await get('/api/tags')).json(), ['synthetic', 'w16', 'w32', 'w64']);

  const rep = await get('/report/synth');
  assert.equal(rep.status, 200);
  assert.match(rep.type, /text\/html/);
  assert.equal(rep.text.match(/<figure id="fig-/g)?.length, 6);
});

test('the event stream reports writes by another connection; answers follow the store', async () => {
  const v0 = (await get('/api/version')).json().version;
  const before = (await get('/api/runs?status=running')).json().rows[0].step;
  const events: number[] = [];
  const got = new Promise<void>((resolve, reject) => {
    const req = request(`${ui.url}api/events`, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buf = '';
      res.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        for (const m of buf.matchAll(/event: version\ndata: (\{.*\})\n\n/g)) events.push(JSON.parse(m[1]).version);
        buf = buf.slice(buf.lastIndexOf('\n\n') + 2);
        if (events.length === 1) store.logMetrics('synth-0007', [{ step: 501, values: { loss: 3.3 } }]);
        if (events.length >= 2) { req.destroy(); resolve(); }
      });
    });
    req.on('error', (e) => { if (events.length < 2) reject(e); });
    req.end();
  });
  await got;
  assert.equal(events[0], v0);
  assert.notEqual(events[1], v0);
  const after = (await get('/api/runs?status=running')).json().rows[0].step;
  assert.deepEqual([before, after], [500, 501], 'cached answers are dropped when the store changes');
});

test('bookkeeping keys are hidden from the runs table and the hyperparameters unless asked for; hparams follow chosen ids', async () => {
  // a sweep whose runs differ in logInterval and evalBatches as well as in lr and width
  addSyntheticSweep(store, { sweep: 'bk', steps: 20, extraConfig: (i) => ({ logInterval: 10 * (i + 1), evalBatches: i % 2 ? 4 : 8 }) });
  const page = (await get('/api/runs?sweep=bk')).json();
  assert.deepEqual(page.configKeys, ['model.dModel', 'optim.lr', 'seed']);
  assert.deepEqual(page.hiddenKeys, ['evalBatches', 'logInterval']);
  assert.deepEqual(Object.keys(page.rows[0].config), ['model.dModel', 'optim.lr', 'seed']);
  const shown = (await get('/api/runs?sweep=bk&bookkeeping=1')).json();
  assert.deepEqual(shown.configKeys, ['evalBatches', 'logInterval', 'model.dModel', 'optim.lr', 'seed']);
  assert.deepEqual(shown.hiddenKeys, []);
  assert.equal(shown.rows[1].config.logInterval, 20);

  const par = (await get('/api/hparams?sweep=bk&metric=loss')).json();
  assert.deepEqual(par.keys, ['model.dModel', 'optim.lr', 'seed']);
  assert.deepEqual(par.hiddenKeys, ['evalBatches', 'logInterval']);
  assert.deepEqual((await get('/api/hparams?sweep=bk&metric=loss&bookkeeping=1')).json().keys, ['evalBatches', 'logInterval', 'model.dModel', 'optim.lr', 'seed']);

  // the chosen runs, not the filter: two runs that differ only in lr (and logInterval, hidden)
  const chosen = (await get('/api/hparams?ids=bk-0000,bk-0004&sweep=synth&metric=loss')).json();
  assert.equal(chosen.runs, 2);
  assert.deepEqual(chosen.keys, ['optim.lr']);
  assert.deepEqual(chosen.spec.datasets.rows.map((r: any) => r.run).filter((v: string, i: number, a: string[]) => a.indexOf(v) === i).sort(), ['bk-0000', 'bk-0004']);
});
