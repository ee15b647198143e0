// `windtunnel fit scaling` as a user runs it: the real CLI once (valid JSON on stdout, errors
// on stderr), the rest in-process through the same command module (no tsx start-up per case).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { XMLValidator } from 'fast-xml-parser';
import { registerFit } from '../../../src/interfaces/commands/fit.js';
import type { ScalingFit } from '../../../src/lab/fit/scaling.js';
import { scalingFitRows } from '../../../src/lab/fit/figure-rows.js';
import { toCsv } from '../../../src/lab/results/query.js';
import { gridTable, isoflopTable, smallLaw } from './synthetic.js';
import { scalingStore } from './store-fixture.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-fit-cli-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

/** Runs `fit ...` in-process, capturing stdout, stderr and the exit code. */
async function fitCmd(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = new Command('windtunnel').exitOverride();
  registerFit(program);
  let out = '', err = '';
  const write = process.stdout.write.bind(process.stdout), error = console.error;
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  console.error = (...a: unknown[]) => { err += a.join(' ') + '\n'; };
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'windtunnel', 'fit', ...args]);
    return { code: Number(process.exitCode ?? 0), out, err };
  } finally {
    process.stdout.write = write;
    console.error = error;
    process.exitCode = before;
  }
}

test('the CLI fits a CSV table and prints valid JSON with all three approaches; bad input names the row and column', () => {
  const dir = tempDir();
  const pts = [...gridTable(smallLaw, { N0: 1e5, D0: 1e6, seed: 1, nN: 6, nD: 6 }), ...isoflopTable(smallLaw, { C0: 1e13, seed: 1, noise: 0.003 })];
  writeFileSync(join(dir, 'runs.csv'), toCsv(pts.map((p) => ({ ...p, note: 'synthetic' }))));
  const r = spawnSync(process.execPath, ['bin/windtunnel.js', 'fit', 'scaling', '--input', join(dir, 'runs.csv'), '--json', '--grid', 'coarse',
    '--bootstrap', '50', '--seed', '3', '--compute', '1e14', '3e15'], { encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const fit = JSON.parse(r.stdout) as ScalingFit;
  assert.equal(fit.input.points, pts.length);
  for (const k of ['E', 'A', 'B', 'alpha', 'beta'] as const) {
    assert.equal(typeof fit.approach3[k], 'number');
    assert.equal(fit.approach3.ci![k].length, 2);
  }
  assert.equal(fit.approach3.residuals.length, pts.length);
  assert.deepEqual(Object.keys(fit.approach3.residuals[0]), ['params', 'tokens', 'observed', 'predicted', 'logResidual', 'compute']);
  assert.equal(fit.compute.convention, 'non-embedding', 'a table without attention FLOPs is counted as 6ND over non-embedding N');
  assert.equal(fit.approach3.bootstrap.by, 'points', 'no run column: points are resampled');
  assert.match(fit.approach1.ciMethod!, /bootstrap by points/);
  assert.deepEqual(fit.approach3.allocation.map((a) => a.compute), [1e14, 3e15]);
  assert.ok(fit.approach3.allocation.every((a) => a.ci && a.ci.N[0] <= a.N && a.N <= a.ci.N[1]));
  assert.equal(typeof fit.approach1.a, 'number');
  assert.equal(typeof fit.approach2.a, 'number', fit.approach2.warnings.join('; '));
  assert.ok(fit.approach2.parabolas.length > 0 && Array.isArray(fit.warnings));

  writeFileSync(join(dir, 'bad.csv'), 'params,tokens,loss\n1e6,2e7,3.5\n1e6,2e7,oops\n');
  const bad = spawnSync(process.execPath, ['bin/windtunnel.js', 'fit', 'scaling', '--input', join(dir, 'bad.csv'), '--json'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /bad\.csv: bad input table:\n {2}row 2 \(line 3\), column "loss": expected a positive number, got "oops"/);
});

test('without --json: a readable table of the three approaches, allocations and warnings', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 't.json'), JSON.stringify(gridTable(smallLaw, { N0: 1e5, D0: 1e6, seed: 2, nN: 5, nD: 5 }).map((p, i) => ({ ...p, step: i }))));
  const r = await fitCmd('scaling', '--input', join(dir, 't.json'), '--grid', 'coarse', '--bootstrap', '20', '--exclude-warmup', '4', '--compute', '1e15');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^scaling fit: 20 points, 4 model sizes/);
  assert.match(r.out, /5 point\(s\) at or before step 4 \(warm-up\) excluded/);
  assert.match(r.out, /\n {2}alpha +[\d.]+ +\[[\d.]+, [\d.]+\]\n/);
  assert.match(r.out, /1 lowest loss per compute \(bins\)/);
  assert.match(r.out, /compute-optimal allocation at C = 1\.00e15 FLOPs/);
  assert.match(r.out, /\nwarnings\n {2}- approach 3: the 95% interval on A spans/);
  assert.match(r.out, /\n {2}- approach 2: the points do not form IsoFLOP levels/);
});

test('--sweep reads the store: per-eval points, warm-up exclusion from each run\'s config, --final-only', async () => {
  const dir = tempDir();
  scalingStore(dir).close();
  const db = join(dir, 'wt.db');
  const all = await fitCmd('scaling', '--sweep', 'scale', '--db', db, '--json', '--grid', 'coarse', '--bootstrap', '10', '--bootstrap-by', 'runs');
  assert.equal(all.code, 0, all.err);
  const fit = JSON.parse(all.out) as ScalingFit;
  assert.equal(fit.input.points, 16);
  assert.equal(fit.input.runs, 4);
  assert.equal(fit.approach1.method, 'envelope');
  assert.match(fit.input.notes[0], /from sweep "scale" in .*wt\.db: 5 run\(s\) \(done\), val loss/);
  assert.equal(fit.approach3.bootstrap.by, 'runs');

  const warm = JSON.parse((await fitCmd('scaling', '--sweep', 'scale', '--db', db, '--json', '--grid', 'coarse', '--bootstrap', '0', '--exclude-warmup')).out) as ScalingFit;
  assert.equal(warm.input.points, 12);
  assert.match(warm.warnings.join('\n'), /no bootstrap/);
  assert.equal(warm.approach3.ci, null);

  const none = await fitCmd('scaling', '--sweep', 'scale', '--db', db, '--final-only', '--bootstrap', '0');
  assert.equal(none.code, 1);
  assert.match(none.err, /needs at least 5 points .* got 4/);
  assert.match((await fitCmd('scaling', '--db', db)).err, /give exactly one of --input FILE or --sweep NAME/);
  assert.match((await fitCmd('scaling', '--sweep', 'scale', '--db', join(dir, 'nope.db'))).err, /no results store at .*nope\.db/);
});

test('--figure draws the fit (observed points, the law per size, the frontier, residuals) into SVG or HTML', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 't.json'), JSON.stringify(gridTable(smallLaw, { N0: 1e5, D0: 1e6, seed: 2, nN: 5, nD: 5 })));
  const svgPath = join(dir, 'fit.svg'), htmlPath = join(dir, 'fit.html');
  const r = await fitCmd('scaling', '--input', join(dir, 't.json'), '--grid', 'coarse', '--bootstrap', '0', '--figure', svgPath);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /figure: .*fit\.svg/);
  const svg = readFileSync(svgPath, 'utf8');
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg /);
  assert.equal(XMLValidator.validate(svg), true);
  for (const text of ['Loss against compute', 'Residuals', 'compute C (FLOPs; non-embedding convention)', 'log residual', 'model size', 'N=100K']) assert.ok(svg.includes(text), `the figure shows "${text}"`);
  // one observed point per row in each panel, and the law and frontier as lines
  const fit = JSON.parse((await fitCmd('scaling', '--input', join(dir, 't.json'), '--grid', 'coarse', '--bootstrap', '0', '--json')).out) as ScalingFit;
  const rows = scalingFitRows(fit);
  assert.equal(rows.observed.length, 25);
  assert.equal(rows.residuals.length, 25);
  assert.equal(new Set(rows.law.map((l) => l.series)).size, 5);
  assert.ok(rows.frontier.length > 10 && rows.frontier.every((f, i) => i === 0 || f.y < rows.frontier[i - 1].y), 'the frontier falls with compute');
  for (const o of rows.observed) assert.ok(Math.abs(Math.log(o.y / o.predicted)) < 0.05, 'the law passes near the points');

  const h = await fitCmd('scaling', '--input', join(dir, 't.json'), '--grid', 'coarse', '--bootstrap', '0', '--figure', htmlPath);
  assert.equal(h.code, 0, h.err);
  const html = readFileSync(htmlPath, 'utf8');
  assert.match(html, /^<!DOCTYPE html>[^]*<svg [^]*<pre>scaling fit: 25 points/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
  const bad = await fitCmd('scaling', '--input', join(dir, 't.json'), '--grid', 'coarse', '--bootstrap', '0', '--figure', join(dir, 'fit.png'));
  assert.equal(bad.code, 1);
  assert.match(bad.err, /fit\.png: the file must end in \.svg or \.html/);
});

test('data that cannot identify the law (an exponent above 2) exits 3 with the reasons first, unless --allow-unidentified', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'steep.json'), JSON.stringify(gridTable({ E: 1.2, A: 1e16, B: 250, alpha: 3, beta: 0.35 }, { N0: 1e5, D0: 1e6, seed: 2, nN: 5, nD: 5 })));
  const r = await fitCmd('scaling', '--input', join(dir, 'steep.json'), '--grid', 'coarse', '--bootstrap', '0');
  assert.equal(r.code, 3);
  assert.match(r.err, /^the data cannot identify the scaling law:\n {2}- approach 3: an exponent above 2 \(alpha 3\.\d+/);
  assert.match(r.out, /^scaling fit: 25 points/, 'the fit still follows for inspection');
  const ok = await fitCmd('scaling', '--input', join(dir, 'steep.json'), '--grid', 'coarse', '--bootstrap', '0', '--allow-unidentified', '--json');
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.err, '');
  const fit = JSON.parse(ok.out) as ScalingFit;
  assert.equal(fit.approach3.unidentified.length, 1);
  assert.ok(fit.warnings.includes(fit.approach3.unidentified[0]));
});
