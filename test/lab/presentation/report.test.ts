// Sweep reports on a store of synthetic runs: the HTML inlines every figure and fetches
// nothing, the Markdown has the tables, the SVG files are well-formed; studies can add a
// verdict, figures and tables; `windtunnel report` writes the same from the command line.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { Store } from '../../../src/lab/results/store.js';
import { collectReportData, markdownToHtml, renderReport, standardTables, writeReport } from '../../../src/lab/presentation/report.js';
import { scatterChart } from '../../../src/lab/presentation/plots.js';
import { addSyntheticSweep } from '../report-fixture.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-report-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

function synthetic(): { store: Store; dir: string; db: string } {
  const dir = tempDir(), db = join(dir, 'windtunnel.db');
  const store = Store.open(db);
  addSyntheticSweep(store, { unfinished: true });
  addSyntheticSweep(store, { sweep: 'other', lrs: [1e-2], widths: [16], seeds: 1, steps: 20 });
  return { store, dir, db };
}

/** Anything a browser would fetch: src/href/url()/@import to a network address, or any script or stylesheet link. */
function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const re of [/\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?\/\/[^"'\s>]*/gi, /url\(\s*["']?\s*(?:https?:)?\/\/[^)]*\)/gi, /@import/gi, /<script\b/gi, /<link\b/gi, /<iframe\b/gi]) {
    found.push(...(html.match(re) ?? []));
  }
  return found;
}

test('writeReport: self-contained HTML with every figure inline, Markdown tables, SVG files that parse', async () => {
  const { store, dir } = synthetic();
  try {
    const out = join(dir, 'report');
    const r = await writeReport(store, 'synth', out, { svg: true, now: new Date('2026-01-02T03:04:05Z') });
    assert.deepEqual([r.html, r.markdown], [join(out, 'report.html'), join(out, 'report.md')]);
    const ids = ['loss', 'loss-seeds', 'lr', 'eval-val-loss', 'final-vs-params', 'final-vs-flops'];
    assert.deepEqual(r.svgs.map((p) => p.slice(join(out, 'figures').length + 1)), ids.map((id) => `${id}.svg`));
    assert.deepEqual(readdirSync(out).sort(), ['figures', 'report.html', 'report.md'], 'no temporary files left');

    const html = readFileSync(r.html, 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    for (const id of ids) assert.match(html, new RegExp(`<figure id="fig-${id}"><figcaption>.*?</figcaption><svg `), `figure ${id} inline`);
    assert.equal(html.match(/<svg /g)?.length, ids.length);
    assert.deepEqual(externalReferences(html), [], 'the report fetches nothing');
    assert.match(html, /8 runs \(6 done, 1 failed, 1 running\); best final val_loss/);
    assert.match(html, /generated 2026-01-02T03:04:05Z/);
    assert.match(html, /<td>failed: Error: loss is NaN at step 66 \(op: softmax\)<\/td>/);
    // the loss figure shows every run's label in its legend; the axes are labelled
    const loss = r.svgs[0] && readFileSync(r.svgs[0], 'utf8');
    assert.ok(loss.includes('dModel=64 lr=0.003 seed=1') && loss.includes('training loss'));
    // the scaling figure is on log axes: its x ticks read like 40k, 100k
    assert.match(readFileSync(r.svgs[4], 'utf8'), />\d+k</);
    for (const p of r.svgs) {
      const svg = readFileSync(p, 'utf8');
      assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg /);
      assert.equal(XMLValidator.validate(svg), true, `${p} is well-formed XML`);
    }

    const md = readFileSync(r.markdown, 'utf8');
    assert.match(md, /^# Sweep synth\n\n8 runs/);
    assert.match(md, /\n## Runs\n\n\| # \| run \| status \| dModel \| lr \| seed \| params \| tokens \| FLOPs \| steps \| final val_loss \|\n\|---\|/);
    assert.match(md, /\| 6 \| lr=0.003_dModel=64_seed=0 \| failed: Error: loss is NaN at step 66 \(op: softmax\) \| 64 \| 0.003 \| 0 \|/);
    assert.match(md, /\| 7 \| lr=0.003_dModel=64_seed=1 \| running \| 64 \| 0.003 \| 1 \| 115K \| 819K \| 5.64e11 \| 100 \|/, 'a running run shows its latest step');
    assert.match(md, /\n## Configs that vary\n\n\| key \| values \|\n\|---\|---\|\n\| model.dModel \| 32, 64 \|\n\| optim.lr \| 0.001, 0.003 \|\n\| seed \| 0, 1 \|/);
    assert.match(md, /\n## Config shared by all runs\n[^#]*\| schedule.kind \| cosine \|/);
    assert.match(md, /\n## Final metrics\n\n\| run \| loss \| val_loss \|/);
    assert.match(md, /\n## Final metrics\n[^#]*\n\| lr=0.001_dModel=32_seed=0 \| \d/, 'final metrics name runs by name, not config strings');
    assert.doesNotMatch(md.slice(md.indexOf('## Final metrics')), /\| dModel=\d+ lr=/);
    assert.match(md, /!\[Training loss\]\(figures\/loss.svg\)/);
    assert.equal(md.match(/^\| \d+ \| /gm)?.length, 8, 'one row per run');
  } finally {
    store.close();
  }
});

test('a study extends a report: verdict at the top, its own figures (built from the report data) and tables', async () => {
  const { store } = synthetic();
  try {
    const r = await renderReport(store, 'synth', {
      title: 'Width study',
      verdict: { title: 'Verdict', markdown: 'Wider is **better** at `lr=3e-3`.\n\n- seeds agree\n- one run diverged' },
      figures: (d) => [{
        id: 'width', title: 'Final loss by width',
        spec: scatterChart(d.runs.filter((x) => x.final?.loss).map((x) => ({ run: x.id, series: 'all', x: (x.config.model as { dModel: number }).dModel, y: x.final!.loss! })), { xTitle: 'dModel' }),
      }],
      tables: [{ title: 'Fits', header: ['law', 'exponent'], rows: [['L(N)', '0.07']] }],
      standardFigures: false,
    });
    assert.equal(r.figures.length, 1);
    assert.ok(r.html.indexOf('class="verdict"') < r.html.indexOf('<h2>Figures</h2>'), 'the verdict comes first');
    assert.match(r.html, /<h1>Width study<\/h1>/);
    assert.match(r.html, /<p>Wider is <b>better<\/b> at <code>lr=3e-3<\/code>.<\/p>\n<ul><li>seeds agree<\/li><li>one run diverged<\/li><\/ul>/);
    assert.match(r.html, /<figure id="fig-width">/);
    assert.match(r.markdown, /^# Width study\n[^]*## Verdict\n\nWider is \*\*better\*\*[^]*## Fits\n\n\| law \| exponent \|\n\|---\|---\|\n\| L\(N\) \| 0.07 \|/);
    assert.match(r.markdown, /- Final loss by width/, 'without --svg the Markdown lists the figures');
    await assert.rejects(renderReport(store, 'synth', { standardFigures: false, figures: [{ id: 'Bad Id', title: 'x', spec: scatterChart([]) }] }), /figure id "Bad Id"/);
    await assert.rejects(renderReport(store, 'nope'), /no sweep "nope" in .* \(known: other, synth\)/);
    assert.equal(markdownToHtml('<script>x</script>'), '<p>&lt;script&gt;x&lt;/script&gt;</p>');
  } finally {
    store.close();
  }
});

test('report data: varying keys, seed groups and the final metric; figures drop what cannot be drawn', async () => {
  const { store } = synthetic();
  try {
    const d = collectReportData(store, 'synth');
    assert.deepEqual(d.varying, ['model.dModel', 'optim.lr', 'seed']);
    assert.deepEqual(d.groupKeys, ['model.dModel', 'optim.lr']);
    assert.equal(d.metric, 'val_loss');
    assert.equal(d.groups.get('synth-0000'), 'dModel=32 lr=0.001');
    assert.equal(d.loss.get('synth-0000')!.length, 200);
    // one run, one size: no seed bands, no scaling figures
    const one = await renderReport(store, 'other');
    assert.deepEqual(one.figures.map((f) => f.id), ['loss', 'lr']);
    assert.match(one.markdown, /^# Sweep other\n\n1 run \(1 done\)/);
    assert.doesNotMatch(one.markdown, /## Configs that vary/);
  } finally {
    store.close();
  }
});

test('the runs table lists each column once: a config key named like a fixed column keeps its path', () => {
  const { store } = synthetic();
  try {
    const d = collectReportData(store, 'synth');
    (d.runs[0].config as { steps: number }).steps = 100; // a sweep over the step count
    d.varying = [...d.varying, 'steps'];
    const runs = standardTables(d)[0];
    assert.deepEqual(runs.header, ['#', 'run', 'status', 'dModel', 'lr', 'seed', 'config.steps', 'params', 'tokens', 'FLOPs', 'steps', 'final val_loss']);
    assert.equal(new Set(runs.header).size, runs.header.length);
    assert.deepEqual(runs.rows.map((r) => r[1]), d.runs.map((r) => r.name));
    assert.deepEqual(runs.rows.map((r) => r[6]).slice(0, 2), ['100', '200']);
  } finally {
    store.close();
  }
});

test('windtunnel report SWEEP --svg writes the report (by default under <runs-dir>/<sweep>/report) and says where', () => {
  const { store, dir, db } = synthetic();
  store.close();
  const out = join(dir, 'synth', 'report');
  const r = spawnSync(process.execPath, ['bin/windtunnel.js', 'report', 'synth', '--runs-dir', dir, '--svg', '--smoothing', '0.3'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^report: ${out}/report.html\nsummary: ${out}/report.md\nfigures: 6 SVG files in ${out}/figures\n$`));
  assert.ok(existsSync(join(out, 'figures', 'loss.svg')));
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /Debiased EMA smoothing 0.3/);
  const bad = spawnSync(process.execPath, ['bin/windtunnel.js', 'report', 'nope', '--db', db, '--out', join(dir, 'x')], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: no sweep "nope"/);
  assert.ok(!existsSync(join(dir, 'x')), 'nothing written on error');
});

test('runs that logged rank during training get rank figures over training, one line per run and layer', async () => {
  const { store } = synthetic();
  try {
    const [first] = addSyntheticSweep(store, { sweep: 'ranked', lrs: [1e-2], widths: [16], seeds: 1, steps: 20 });
    store.logMetrics(first, [10, 20].map((step) => ({ step, values: { 'rank.eff.embed': 5 + step / 10, 'rank.eff.block0': 3, 'rank.isotropy.embed': 0.5, 'rank.stable.embed': 2 } })));
    const r = await renderReport(store, 'ranked', { standardFigures: true });
    const ids = r.figures.map((f) => f.id);
    assert.ok(ids.includes('rank-eff') && ids.includes('rank-isotropy'), ids.join(', '));
    const eff = r.figures.find((f) => f.id === 'rank-eff')!;
    assert.match(eff.svg, /block0/);
    assert.match(eff.svg, /embed/);
    const plain = await renderReport(store, 'synth', { standardFigures: true });
    assert.ok(!plain.figures.some((f) => f.id.startsWith('rank-')), 'no rank figure without rank metrics');
  } finally {
    store.close();
  }
});
