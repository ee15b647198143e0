// STUDIES.md from verdict files: the largest budget run is the headline, each with its commit and
// date; the key figure is copied beside the page; studies never run are listed as such; a broken
// verdict file is named, not fatal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSweep, studyBase, type Analysis, type Study } from '../../src/studies/study.js';
import { readVerdictFile, writeVerdictFile } from '../../src/studies/verdict-file.js';
import { writeStudiesSummary } from '../../src/studies/summary.js';

const base = studyBase({ dModel: 16, nLayer: 1, nHead: 2, batchSize: 4, context: 32, lr: 1e-3, evalBatches: 2, categories: ['news'] });
const fakeStudy = (name: string): Study => ({
  name, title: `The ${name} study`, claim: `${name} holds.`, budgets: { smoke: {}, small: {}, full: {} },
  plan: (budget) => planSweep({ study: name, budget, base, runs: [{ run: 'r', set: { steps: budget === 'full' ? 100 : 10 } }] }),
  analyse: () => { throw new Error('not used'); },
});
const analysis = (verdict: Analysis['verdict'], reason: string, figureIds: string[] = []): Analysis => ({
  verdict, reason, evidence: [`${reason} evidence`], caveats: [], tables: [], data: { x: 1 },
  figures: figureIds.map((id) => ({ id, title: `figure ${id}`, spec: {} as never })),
  keyFigure: figureIds[1],
});
const cost = { runs: 1, steps: 10, tokens: 1280, flops: 1e9, minutes: 0.5 };

function writeReportDir(root: string, study: Study, budget: 'smoke' | 'small' | 'full', a: Analysis, now: string): string {
  const dir = join(root, `${study.name}-${budget}`);
  mkdirSync(join(dir, 'figures'), { recursive: true });
  const files = a.figures.map((f) => {
    const p = join(dir, 'figures', `${f.id}.svg`);
    writeFileSync(p, `<svg id="${f.id}-${budget}"/>`);
    return p;
  });
  writeVerdictFile(join(dir, 'verdict.json'), { study, budget, sweep: `${study.name}-${budget}`, analysis: a, runs: { planned: 1, done: 1 }, cost, runSeconds: 90, figureFiles: files, now: new Date(now) });
  return dir;
}

test('writeVerdictFile records provenance and the key figure first; readVerdictFile names a bad field', () => {
  const root = mkdtempSync(join(tmpdir(), 'wt-summary-'));
  const dir = writeReportDir(root, fakeStudy('alpha'), 'small', analysis('supported', 'Clear.', ['loss', 'fit']), '2026-12-01T10:00:00Z');
  const v = readVerdictFile(join(dir, 'verdict.json'));
  assert.equal(v.writtenAt, '2026-12-01T10:00:00.000Z');
  assert.deepEqual(v.figures!.map((f) => f.id), ['fit', 'loss']);
  assert.equal(v.trained!.runSeconds, 90);
  assert.ok(v.source && typeof v.source.version === 'string');
  writeFileSync(join(dir, 'verdict.json'), JSON.stringify({ ...v, verdict: 'maybe' }));
  assert.throws(() => readVerdictFile(join(dir, 'verdict.json')), /verdict\.json: verdict: Invalid enum value/);
});

test('writeStudiesSummary: headline is the largest budget run; figures copied; unrun and unreadable studies shown', () => {
  const root = mkdtempSync(join(tmpdir(), 'wt-summary-'));
  const reports = join(root, 'runs', 'reports');
  const alpha = fakeStudy('alpha'), beta = fakeStudy('beta'), gamma = fakeStudy('gamma');
  writeReportDir(reports, alpha, 'smoke', analysis('inconclusive', 'Plumbing only.', ['a', 'b']), '2026-12-02T10:00:00Z');
  writeReportDir(reports, alpha, 'small', analysis('not supported', 'The gap is 3% [1%, 5%].', ['loss', 'gap']), '2026-12-01T10:00:00Z');
  writeReportDir(reports, beta, 'smoke', analysis('supported', 'Looks fine.'), '2026-12-01T10:00:00Z');
  mkdirSync(join(reports, 'broken-small'), { recursive: true });
  writeFileSync(join(reports, 'broken-small', 'verdict.json'), '{"study": 3}');

  const out = join(root, 'STUDIES.md');
  const r = writeStudiesSummary({ studies: { alpha, beta, gamma }, reportDirs: [reports], out, now: new Date('2026-12-03T00:00:00Z') });
  const md = readFileSync(out, 'utf8');
  assert.equal(r.studiesRun, 2);
  assert.equal(r.unreadable.length, 1);
  // the table: alpha's headline is small (not the newer smoke), beta only smoke, gamma not run
  assert.match(md, /\| \[alpha\]\(#alpha\) \| small \| NOT SUPPORTED \| [0-9a-f]{7}|\| \[alpha\]\(#alpha\) \| small \| NOT SUPPORTED \| (v0|not)/);
  assert.match(md, /\| \[beta\]\(#beta\) \| smoke \| INCONCLUSIVE \(smoke\) \|/, 'a smoke run is named INCONCLUSIVE (smoke) whatever its analysis said');
  assert.match(md, /\| \[gamma\]\(#gamma\) \| - \| not run \|/);
  assert.match(md, /Not run yet: `npx windtunnel study gamma --budget small`/);
  assert.match(md, /Only the smoke budget has been run/);
  assert.match(md, /- The gap is 3% \[1%, 5%\]\. evidence/);
  // the key figure of alpha's headline (its second figure, "gap") is copied and linked
  const fig = join(root, 'docs', 'studies', 'alpha-small.svg');
  assert.ok(existsSync(fig));
  assert.equal(readFileSync(fig, 'utf8'), '<svg id="gap-small"/>');
  assert.match(md, /!\[figure gap\]\(docs\/studies\/alpha-small\.svg\)/);
  // both of alpha's budgets appear in its own table
  assert.match(md, /\| smoke \| INCONCLUSIVE \(smoke\) \|/);
  assert.match(md, /broken-small: .*verdict\.json: study: Expected string, received number/);
});
