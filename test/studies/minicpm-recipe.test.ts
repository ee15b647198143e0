// The minicpm-recipe study: its plan (a transfer arm at the two extreme widths; one muP WSD trunk
// per width with decays branched at every shorter length), and its verdict on synthetic stores:
// a world whose law puts D*/N* far above 20 with a transferring lr is supported; one whose best
// lr moves with width, or whose ratio sits below 20, is not.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy } from '../../src/studies/run.js';
import { computeOptimal } from '../../src/lab/fit/index.js';
import { expandStudy } from '../../src/studies/study.js';
import { analyseRecipe, chinchillaRatio, ladder, minicpmRecipe } from '../../src/studies/minicpm-recipe.js';
import { rng, syntheticStudy, type SyntheticRun } from './synthetic.js';

test('plan: transfer arm at the extreme widths; per width one muP WSD trunk, the shorter lengths branched from it', () => {
  for (const budget of ['small', 'full'] as const) {
    const b = minicpmRecipe.budgets[budget];
    assert.ok(b.widths.length >= 5 && b.widths.length <= 7, 'five to seven sizes');
    const runs = expandStudy(minicpmRecipe.plan(budget));
    const transfer = runs.filter((r) => r.point.$arm === 'transfer');
    assert.deepEqual([...new Set(transfer.map((r) => r.point.$width))], [b.widths[0], b.widths[b.widths.length - 1]]);
    assert.equal(transfer.length, 2 * b.lrMultipliers.length);
    for (const w of b.widths) {
      const mine = runs.filter((r) => r.point.$arm === 'law' && r.point.$width === w);
      assert.equal(mine.length, b.lengths);
      const trunk = mine.filter((r) => r.point.$trunk === true);
      assert.equal(trunk.length, 1);
      assert.ok(mine.filter((r) => r !== trunk[0]).every((r) => r.point.$from === trunk[0].name));
      const cfg = trunk[0].config as { lr: number; clip: number; model: { mup: { baseWidth: number; readoutZeroInit: boolean; queryZeroInit: boolean }; tiedEmbeddings: boolean } };
      assert.equal(cfg.lr, b.lr, 'one learning rate for every size');
      assert.equal(cfg.clip, 0);
      assert.deepEqual(cfg.model.mup, { baseWidth: b.widths[0], readoutZeroInit: true, queryZeroInit: true });
      assert.equal(cfg.model.tiedEmbeddings, false);
    }
  }
});

// A law with D*/N* of a few hundred at these computes (beta < alpha puts the optimum towards data).
const dataHungry = { E: 1.2, A: 30, alpha: 0.45, B: 400, beta: 0.3 };
// A law with D*/N* well below 20 (alpha < beta puts the optimum towards parameters).
const paramHungry = { E: 1.2, A: 2000, alpha: 0.3, B: 40, beta: 0.45 };

function world(law: typeof dataHungry, o: { lrDriftPerDoubling?: number; noise?: number } = {}) {
  const r = rng(5);
  const b = minicpmRecipe.budgets.small;
  return (run: SyntheticRun & { nonEmbedding?: number }) => {
    const c = run.config as { steps: number; batchSize: number; context: number; lr: number; model: { dModel: number } };
    const width = run.point.$width as number;
    const noise = 1 + (o.noise ?? 0.002) * (r() - 0.5) * 2;
    if (run.point.$arm === 'transfer') {
      // A parabola in log2 lr around the best lr, which drifts with width when asked to.
      const best = b.lr * 2 ** ((o.lrDriftPerDoubling ?? 0) * Math.log2(width / b.widths[0]));
      return (3 + 0.05 * Math.log2(c.lr / best) ** 2 - 0.1 * Math.log2(width / b.widths[0])) * noise;
    }
    const N = 12 * 2 * width * width; // close to the non-embedding count of a 2-layer GPT block stack
    const D = c.steps * c.batchSize * c.context;
    return (law.E + law.A / N ** law.alpha + law.B / D ** law.beta) * noise;
  };
}

const cheap = { grid: 'coarse' as const, bootstrap: 60, lr: minicpmRecipe.budgets.small.lr };

test('analysis: transferring lr and a data-hungry law -> supported, ratio above 20 with its interval', () => {
  // sanity of the synthetic world itself: its compute-optimal ratio is far above 20 at these computes
  assert.ok(computeOptimal(dataHungry, 1e13).tokensPerParam > 5 * chinchillaRatio);
  const s = syntheticStudy(minicpmRecipe.plan('small'), world(dataHungry));
  try {
    const a = analyseRecipe(s.runs, cheap);
    const d = a.data as { transfer: { result: string; steps: number }; ratios: { result: string; ratio: number; ci: [number, number] }[]; cost: { wsdSteps: number; cosineSteps: number } };
    assert.equal(d.transfer.result, 'holds', a.evidence.join('\n'));
    assert.ok(Math.abs(d.transfer.steps) < 0.5);
    assert.equal(d.ratios[1].result, 'holds', a.evidence.join('\n'));
    assert.ok(d.ratios[1].ci[0] > chinchillaRatio);
    assert.equal(a.verdict, 'supported', `${a.reason}\n${a.evidence.join('\n')}`);
    assert.ok(d.cost.cosineSteps > d.cost.wsdSteps, 'branched decays cost less than one run per point');
    assert.deepEqual(a.figures.map((f) => f.id), ['ratio', 'law', 'frontier', 'transfer']);
    assert.equal(a.keyFigure, 'ratio');
  } finally {
    s.dispose();
  }
});

test('analysis: the best lr doubles with every doubling of width -> transfer fails -> not supported', () => {
  const s = syntheticStudy(minicpmRecipe.plan('small'), world(dataHungry, { lrDriftPerDoubling: 1 }));
  try {
    const a = analyseRecipe(s.runs, cheap);
    const d = a.data as { transfer: { result: string } };
    assert.equal(d.transfer.result, 'fails', a.evidence.join('\n'));
    assert.equal(a.verdict, 'not supported');
  } finally {
    s.dispose();
  }
});

test('analysis: a parameter-hungry law (D*/N* below 20) -> not supported; missing runs leave it inconclusive, never supported', () => {
  const s = syntheticStudy(minicpmRecipe.plan('small'), world(paramHungry));
  try {
    const a = analyseRecipe(s.runs, cheap);
    const d = a.data as { ratios: { result: string; ci: [number, number] }[] };
    assert.equal(d.ratios[1].result, 'fails', a.evidence.join('\n'));
    assert.equal(a.verdict, 'not supported');
  } finally {
    s.dispose();
  }
  const few = syntheticStudy(minicpmRecipe.plan('small'), (r) => (r.point.$arm === 'law' && (r.point.$width as number) > 24 ? null : world(dataHungry)(r)));
  try {
    const a = analyseRecipe(few.runs, cheap);
    assert.equal(a.verdict, 'inconclusive');
    assert.match(a.reason, /too few to fit the law/);
  } finally {
    few.dispose();
  }
});

test('ladder: factor-2 lengths from minSteps', () => {
  assert.deepEqual(ladder(minicpmRecipe.budgets.small), [250, 500, 1000, 2000, 4000]);
});

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('smoke end to end: transfer arm and 3 muP widths x 3 lengths (6 branched) trained, fitted and reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-minicpm-'));
  tempDirs.push(dir);
  const r = await runStudy(minicpmRecipe, { budget: 'smoke', runsDir: dir, db: join(dir, 'windtunnel.db') });
  assert.deepEqual(r.unfinished, []);
  const md = readFileSync(r.report!.markdown, 'utf8');
  assert.match(md.split('\n')[0], /^# Study minicpm-recipe \(smoke\): /);
  assert.ok(existsSync(r.report!.html));
  const d = JSON.parse(readFileSync(r.verdictFile!, 'utf8'));
  assert.equal(d.data.points.length, 9);
  assert.equal(d.data.cost.points, 9);
  assert.equal(d.data.transfer.small.cells.length, 3);
});
