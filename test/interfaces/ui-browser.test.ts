// The dashboard in a real headless browser: Debian's chromium driven by playwright-core.
// `windtunnel ui` serves a store while this process writes to it as a trainer would: the page
// must show the runs, grow the running run's curve and step, and pick up a new sweep, all
// without a reload. Then 500 runs: the page loads, the table renders a page, sorting and
// grouping answer. And the HTML report opens with the network off. Skipped, saying why, only
// when chromium is missing (scripts/setup.sh installs it with WINDTUNNEL_WITH_CHROMIUM=1, as CI does).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Store } from '../../src/lab/results/store.js';
import { startUi } from '../../src/interfaces/ui/server.js';
import { writeReport } from '../../src/lab/presentation/report.js';
import { addSyntheticSweep } from '../lab/report-fixture.js';

const chromiumPath = process.env.WINDTUNNEL_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(chromiumPath) ? false : `chromium not found at ${chromiumPath}: apt-get install chromium (scripts/setup.sh does with WINDTUNNEL_WITH_CHROMIUM=1)`;
if (skip) console.log(`SKIP browser tests: ${skip}`);

let dir: string, browser: BrowserContext | null = null;
const children: ChildProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wt-ui-browser-'));
  if (skip) return;
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: chromiumPath, headless: true, viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
  rmSync(dir, { recursive: true, force: true });
});

/** A page that records console errors and any request that leaves `origin`. */
async function openPage(origin: string): Promise<{ page: Page; errors: string[]; foreign: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [], foreign: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) foreign.push(r.url()); });
  return { page, errors, foreign };
}

/** `windtunnel ui --port 0`, as a user starts it; resolves with its URL. */
function serveCli(db: string): Promise<string> {
  const child = spawn(process.execPath, ['bin/windtunnel.js', 'ui', '--port', '0', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '', err = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /dashboard: (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('exit', (code) => reject(new Error(`windtunnel ui exited with ${code}: ${err}`)));
  });
}

const points = async (page: Page, id: string): Promise<number> => Number(await page.getAttribute(`#${id}`, 'data-points'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('live dashboard: the runs table, curves and step grow while a run trains, a new sweep appears without a restart', { skip, timeout: 60_000 }, async () => {
  const db = join(dir, 'live.db');
  const store = Store.open(db);
  try {
    addSyntheticSweep(store, { unfinished: true, steps: 200 });
    const url = await serveCli(db);
    const { page, errors, foreign } = await openPage(url);
    await page.goto(url);
    await page.waitForSelector('#runs-table tbody tr:nth-child(8)');
    assert.match(await page.textContent('#runs-summary') ?? '', /^8 runs \(6 done, 1 failed, 1 running\)/);
    const runningRow = '#runs-table tbody tr[data-id="synth-0007"]';
    assert.equal(await page.textContent(`${runningRow} td:nth-child(3)`), 'running');
    assert.equal(await page.textContent(`${runningRow} td:nth-child(4)`), '100');
    await page.waitForFunction(() => Number(document.querySelector('#curves')?.getAttribute('data-points')) > 0);
    assert.ok(await page.locator('#curves svg path').count() > 8, 'one line per run, drawn as SVG');
    const before = await points(page, 'curves');

    // "training": the run logs ten steps at a time, as the runner ingests its metrics file
    for (let s = 101; s <= 160; s += 10) {
      store.logMetrics('synth-0007', Array.from({ length: 10 }, (_, k) => ({ step: s + k, values: { loss: 3 + 1 / (s + k), lr: 1e-3, tokens: (s + k) * 4096 } })));
      await sleep(150);
    }
    await page.waitForFunction(() => document.querySelector('#runs-table tbody tr[data-id="synth-0007"] td:nth-child(4)')?.textContent === '160', undefined, { timeout: 15_000 });
    await page.waitForFunction((n) => Number(document.querySelector('#curves')?.getAttribute('data-points')) >= n + 60, before, { timeout: 15_000 });
    assert.equal(await points(page, 'curves'), before + 60, 'every new step reached the chart (no reload)');
    assert.ok(Number(await page.getAttribute('#curves', 'data-updates')) >= 2);

    // a sweep registered while the page is open shows up by itself
    addSyntheticSweep(store, { sweep: 'late', lrs: [1e-2], widths: [16], seeds: 1, steps: 20 });
    await page.waitForFunction(() => /^9 runs/.test(document.querySelector('#runs-summary')?.textContent ?? ''), undefined, { timeout: 15_000 });
    assert.deepEqual(await page.locator('#f-sweep option').allTextContents(), ['all', 'late', 'synth']);
    assert.deepEqual(await page.locator('#report-list a').allTextContents(), ['late', 'synth']);

    // pick two runs: the comparison appears and the curves show just them
    await page.check('#runs-table tbody tr[data-id="synth-0000"] input');
    await page.check('#runs-table tbody tr[data-id="synth-0006"] input');
    await page.waitForSelector('#compare:not([hidden]) #compare-table tbody tr');
    assert.match(await page.textContent('#compare-table') ?? '', /config\.optim\.lr.*0\.001.*0\.003/);
    await page.waitForFunction(() => /^2 of 2 selected runs/.test(document.querySelector('#curves-note')?.textContent ?? ''));
    // the hyperparameter view follows the selection too
    await page.waitForFunction(() => / selected runs with a final/.test(document.querySelector('#hp-note')?.textContent ?? ''), undefined, { timeout: 10_000 })
      .catch(async () => assert.fail(`hp-note: ${await page.textContent('#hp-note')}`));
    const chosen = await (await fetch(`${url}api/hparams?ids=synth-0000,synth-0006&metric=val_loss`)).json() as { runs: number };
    const everyone = await (await fetch(`${url}api/hparams?metric=val_loss`)).json() as { runs: number };
    assert.ok(chosen.runs >= 1 && chosen.runs <= 2 && everyone.runs > chosen.runs);
    assert.equal(await page.textContent('#hp-note'), `${chosen.runs} selected runs with a final val_loss`);
    assert.deepEqual(errors, []);
    assert.deepEqual(foreign, [], 'nothing fetched from anywhere else');
    await page.close();
  } finally {
    store.close();
  }
});

test('500 runs: the page loads and renders the table quickly; sorting, paging and grouping answer', { skip, timeout: 60_000 }, async () => {
  const db = join(dir, 'big.db');
  const store = Store.open(db);
  addSyntheticSweep(store, { sweep: 'big', lrs: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], widths: [16, 32, 64, 128, 256], seeds: 20, steps: 100 });
  store.close();
  const ui = await startUi({ db, port: 0 });
  try {
    const { page, errors } = await openPage(ui.url);
    const t0 = Date.now();
    await page.goto(ui.url);
    await page.waitForSelector('#runs-table tbody tr:nth-child(50)');
    const tableMs = Date.now() - t0;
    await page.waitForFunction(() => Number(document.querySelector('#curves')?.getAttribute('data-points')) > 0 && Number(document.querySelector('#hp-chart')?.getAttribute('data-points')) > 0);
    const allMs = Date.now() - t0;
    console.log(`# 500 runs: table in ${tableMs} ms, table + curves + hyperparameters in ${allMs} ms`);
    assert.ok(tableMs < 10_000, `table took ${tableMs} ms`);
    assert.ok(allMs < 20_000, `page took ${allMs} ms`);
    assert.equal(await page.locator('#runs-table tbody tr').count(), 50, 'one page of the table');
    assert.match(await page.textContent('#runs-summary') ?? '', /^500 runs \(500 done\)/);
    assert.match(await page.textContent('#pager') ?? '', /page 1 of 10/);
    assert.match(await page.textContent('#curves-note') ?? '', /^50 of 500 matching runs/);

    await page.click('#runs-table th[data-sort="final.loss"]');
    await page.waitForSelector('#runs-table th.sorted[data-sort="final.loss"]');
    const losses = (await page.locator('#runs-table tbody tr td:nth-child(8)').allTextContents()).map(Number);
    assert.deepEqual(losses, [...losses].sort((a, b) => a - b), 'sorted by final loss');
    await page.click('#pager button:has-text("next")');
    await page.waitForFunction(() => /page 2 of 10/.test(document.querySelector('#pager')?.textContent ?? ''));

    await page.check('#c-group input[value="optim.lr"]');
    await page.waitForFunction(() => /^5 groups of 500 matching runs/.test(document.querySelector('#curves-note')?.textContent ?? ''), undefined, { timeout: 20_000 });
    assert.ok(await page.locator('#curves svg path').count() >= 10, 'a band and a mean line per group');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await ui.close();
  }
});

test('the HTML report opens in a browser with the network off and shows every figure', { skip, timeout: 30_000 }, async () => {
  const db = join(dir, 'report.db');
  const store = Store.open(db);
  try {
    addSyntheticSweep(store, { steps: 100 });
    const r = await writeReport(store, 'synth', join(dir, 'report'));
    const { page, errors, foreign } = await openPage('file://');
    await browser!.setOffline(true);
    await page.goto(pathToFileURL(r.html).href);
    assert.equal(await page.locator('figure svg').count(), 6);
    const box = await page.locator('#fig-loss svg').boundingBox();
    assert.ok(box && box.width > 300 && box.height > 200, 'the figure is drawn at size');
    assert.deepEqual(errors, []);
    assert.deepEqual(foreign, []);
    await page.close();
  } finally {
    await browser!.setOffline(false);
    store.close();
  }
});

test('run page: config by full key path (bookkeeping one click away), a grid of metric panels, single points drawn, tooltips with run, step and value, CSV download', { skip, timeout: 60_000 }, async () => {
  const db = join(dir, 'runpage.db');
  const store = Store.open(db);
  addSyntheticSweep(store, { unfinished: true, steps: 50 });
  // Bookkeeping settings as a real run config carries them.
  store.db.prepare("UPDATE runs SET config = json_set(config, '$.checkpointInterval', 100, '$.logInterval', 10, '$.keepCheckpoints', 3) WHERE id = 'synth-0000'").run();
  store.logSamples('synth-0000', [{ step: 25, samples: [{ prompt: '', text: 'the jury' }] }, { step: 50, samples: [{ prompt: '', text: 'the grand\njury said' }] }]);
  store.close();
  const ui = await startUi({ db, port: 0 });
  try {
    const { page, errors } = await openPage(ui.url);
    await page.goto(ui.url);
    // Columns carry their full key path, not its last segment.
    await page.waitForSelector('#runs-table tbody tr[data-id="synth-0000"] a.run-link');
    const heads = async () => page.locator('#runs-table thead th').allTextContents();
    assert.ok((await heads()).includes('optim.lr'));
    // Bookkeeping keys stay out of the table and the hyperparameter choices, one click away.
    const bookkeeping = ['checkpointInterval', 'keepCheckpoints', 'logInterval'];
    for (const k of bookkeeping) assert.ok(!(await heads()).includes(k), `${k} not a column by default`);
    assert.match(await page.textContent('#bookkeeping-note') ?? '', /^\(3 hidden: checkpointInterval, keepCheckpoints, logInterval\)$/);
    assert.ok(!(await page.locator('#hp-x option').allTextContents()).includes('logInterval'));
    await page.check('#bookkeeping');
    await page.waitForFunction(() => [...document.querySelectorAll('#runs-table thead th')].some((th) => th.textContent === 'logInterval'));
    for (const k of bookkeeping) assert.ok((await heads()).includes(k), `${k} a column when asked for`);
    assert.ok((await page.locator('#hp-x option').allTextContents()).includes('logInterval'));
    await page.uncheck('#bookkeeping');
    await page.waitForFunction(() => ![...document.querySelectorAll('#runs-table thead th')].some((th) => th.textContent === 'logInterval'));
    await page.click('#runs-table tbody tr[data-id="synth-0000"] a.run-link');
    await page.waitForSelector('#run:not([hidden]) #run-panels .panel svg');
    const api = await (await fetch(`${ui.url}api/run/synth-0000`)).json() as { panels: { key: string }[]; evals: unknown[] };
    // Every metric its own panel, each drawn; the evaluations (one point each at step 50) as dots.
    await page.waitForFunction((n) => document.querySelectorAll('#run-panels .panel svg.marks').length === n, api.panels.length);
    assert.deepEqual(await page.locator('#run-panels .panel').evaluateAll((els) => els.map((e) => e.getAttribute('data-key'))), api.panels.map((p) => p.key));
    assert.ok(api.panels.some((p) => p.key === 'val/loss'));
    const evalPanel = page.locator('#run-panels .panel[data-key="val/loss"]');
    assert.equal(await evalPanel.locator('g.mark-symbol.role-mark path').count(), 1, 'a one-point series is drawn as a point');
    const box = (await page.locator('#run-panels').boundingBox())!;
    const first = (await page.locator('#run-panels .panel').first().boundingBox())!;
    const second = (await page.locator('#run-panels .panel').nth(1).boundingBox())!;
    assert.ok(second.x > first.x && Math.abs(second.y - first.y) < 2 && box.width > 2 * first.width, 'panels sit side by side in a grid');

    // Hover the eval point: the tooltip names the run and reads off step and value.
    await evalPanel.locator('g.mark-symbol.role-mark path').hover();
    await page.waitForSelector('#vg-tooltip-element.visible');
    const tip = await page.textContent('#vg-tooltip-element') ?? '';
    assert.match(tip, /synth-0000/);
    assert.match(tip, /step\s*50/);
    assert.match(tip, /val\/loss\s*\d\.\d+/);

    // Config: full key paths; bookkeeping keys hidden until asked for.
    const keys = async () => page.locator('#run-config tr td:first-child').allTextContents();
    assert.ok((await keys()).includes('optim.lr'));
    const all = api as unknown as { config: { key: string; bookkeeping: boolean }[] };
    const hidden = all.config.filter((c) => c.bookkeeping).map((c) => c.key);
    assert.deepEqual(hidden, ['checkpointInterval', 'keepCheckpoints', 'logInterval']);
    for (const k of hidden) assert.ok(!(await keys()).includes(k), `${k} hidden by default`);
    await page.check('#run-bookkeeping');
    await page.waitForFunction((n) => document.querySelectorAll('#run-config tr').length === n + 1, all.config.length);
    for (const k of hidden) assert.ok((await keys()).includes(k), `${k} shown when asked for`);

    // A finished run's values are final; the reproduce command and the sweep's report link are there.
    assert.match(await page.textContent('#run-evals') ?? '', /final run/);
    assert.match(await page.textContent('#run-links') ?? '', /synth \(report\)/);
    // Samples logged during training, by step, newest first, line breaks kept.
    assert.deepEqual(await page.locator('#run-samples tr td:first-child').allTextContents(), ['50', '25']);
    assert.deepEqual(await page.locator('#run-samples tr td:last-child').evaluateAll((els) => els.map((e) => (e as HTMLElement).innerText)), ['the grand\njury said', 'the jury']);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#run-csv')]);
    const csv = await (await import('node:fs/promises')).readFile((await dl.path())!, 'utf8');
    assert.match(csv, /^run,metric,step,value\nsynth-0000,/);
    assert.match(csv, /synth-0000,val\/loss,50,\d/);

    // The running run's numbers are never called final.
    await page.click('#run-close');
    await page.waitForSelector('#run[hidden]', { state: 'attached' });
    await page.click('#runs-table tbody tr[data-id="synth-0007"] a.run-link');
    await page.waitForFunction(() => document.querySelector('#run:not([hidden]) #run-status')?.textContent === 'running');
    assert.doesNotMatch(await page.textContent('#run-evals') ?? '', /final/);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await ui.close();
  }
});
