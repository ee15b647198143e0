// Series arithmetic behind reports and the dashboard (src/lab/presentation/plots-data.ts) and the figure
// builders (src/lab/presentation/plots.ts): smoothing against hand-computed values, downsampling, seed
// bands, labels; every builder's spec compiles and renders to SVG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';
import { bands, downsample, labelFor, shortKeys, smoothEma, varyingKeys } from '../../../src/lab/presentation/plots-data.js';
import { bandChart, curveChart, parallelChart, renderSvg, scatterChart } from '../../../src/lab/presentation/plots.js';

const close = (a: number[], b: number[], tol = 1e-12): void => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol, `index ${i}: ${v} vs ${b[i]}`));
};

test('smoothEma is TensorBoard\'s debiased EMA (hand-computed values)', () => {
  // w = 0.5: last = 0.5*last + 0.5*y, divided by 1 - 0.5^n
  //   y1 = 4: last 2,    / 0.5   = 4
  //   y2 = 2: last 2,    / 0.75  = 8/3
  //   y3 = 6: last 4,    / 0.875 = 32/7
  //   y4 = 0: last 2,    / 0.9375 = 32/15
  close(smoothEma([4, 2, 6, 0], 0.5), [4, 8 / 3, 32 / 7, 32 / 15]);
  // w = 0.9 on [1, 0]: 0.1/0.1 = 1, then 0.09/0.19
  close(smoothEma([1, 0], 0.9), [1, 0.09 / 0.19]);
  close(smoothEma([3, 1, 2], 0), [3, 1, 2]);
  // the first point is never pulled towards zero
  assert.equal(smoothEma([10, 10.5], 0.99)[0], 10);
});

test('smoothEma passes non-finite values through, keeps constants, and rejects bad weights', () => {
  const s = smoothEma([4, NaN, 2, Infinity], 0.5);
  assert.equal(s[0], 4);
  assert.ok(Number.isNaN(s[1]));
  close([s[2]], [8 / 3]); // the NaN did not count as a step
  assert.equal(s[3], Infinity);
  assert.deepEqual(smoothEma([0.1, 0.1, 0.1], 0.9), [0.1, 0.1, 0.1]);
  assert.deepEqual(smoothEma([], 0.6), []);
  assert.throws(() => smoothEma([1], 1), /\[0, 1\)/);
  assert.throws(() => smoothEma([1], -0.1), /\[0, 1\)/);
});

test('downsample keeps the ends, the budget, the order and the spikes (LTTB)', () => {
  const pts = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: Math.sin(i / 300) + (i === 4321 ? 50 : 0) }));
  const d = downsample(pts, 200);
  assert.equal(d.length, 200);
  assert.equal(d[0], pts[0]);
  assert.equal(d.at(-1), pts.at(-1));
  for (let i = 1; i < d.length; i++) assert.ok(d[i].x > d[i - 1].x, 'sorted, no repeats');
  assert.ok(d.some((p) => p.x === 4321), 'the spike survives');
  assert.deepEqual(downsample(pts.slice(0, 50), 200), pts.slice(0, 50));
  assert.deepEqual(downsample(pts, 2), [pts[0], pts.at(-1)]);
  assert.deepEqual(downsample(pts, 0), []);
  // custom accessors
  const rows = pts.map((p) => ({ step: p.x, v: p.y }));
  assert.equal(downsample(rows, 100, (r) => r.step, (r) => r.v).length, 100);
});

test('bands: mean and spread across a group\'s runs, exact steps or shared bins', () => {
  const a = [{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: 3 }];
  const b = [{ x: 1, y: 3 }, { x: 2, y: 4 }];
  const std = bands([{ group: 'g', run: 'a', points: a }, { group: 'g', run: 'b', points: b }, { group: 'h', run: 'c', points: [{ x: 1, y: 7 }] }], 10, 'std');
  assert.deepEqual(std.filter((p) => p.group === 'g').map((p) => [p.x, p.mean, p.n]), [[1, 2, 2], [2, 3, 2], [3, 3, 1]]);
  const g1 = std[0];
  close([g1.lo, g1.hi], [2 - Math.SQRT2, 2 + Math.SQRT2]); // sample std of {1, 3}
  const last = std.find((p) => p.group === 'g' && p.x === 3)!;
  assert.deepEqual([last.lo, last.hi], [3, 3]); // one run: no spread
  assert.deepEqual(std.filter((p) => p.group === 'h').map((p) => [p.x, p.mean]), [[1, 7]]);
  const mm = bands([{ group: 'g', run: 'a', points: a }, { group: 'g', run: 'b', points: b }], 10, 'minmax');
  assert.deepEqual(mm.map((p) => [p.lo, p.hi]), [[1, 3], [2, 4], [3, 3]]);
  const se = bands([{ group: 'g', run: 'a', points: a }, { group: 'g', run: 'b', points: b }], 10, 'stderr');
  close([se[0].hi - se[0].mean], [Math.SQRT2 / Math.SQRT2]);
  // binned: each run votes once per bin with the mean of its own points there
  const dense = Array.from({ length: 100 }, (_, i) => ({ x: i, y: 0 }));
  const sparse = [{ x: 0, y: 10 }, { x: 99, y: 10 }];
  const binned = bands([{ group: 'g', run: 'd', points: dense }, { group: 'g', run: 's', points: sparse }], 4);
  assert.equal(binned.length, 4);
  assert.deepEqual(binned.map((p) => p.n), [2, 1, 1, 2]);
  assert.deepEqual([binned[0].mean, binned[1].mean], [5, 0]);
  assert.deepEqual(bands([{ group: 'g', run: 'a', points: [{ x: 1, y: NaN }] }]), []);
});

test('varying keys, short names and run labels', () => {
  const runs = [
    { name: 'a', config: { optim: { lr: 0.001 }, model: { dModel: 64, lr: 1 }, seed: 0 } },
    { name: 'b', config: { optim: { lr: 0.003 }, model: { dModel: 64, lr: 2 }, seed: 1 } },
  ];
  assert.deepEqual(varyingKeys(runs), ['model.lr', 'optim.lr', 'seed']);
  const short = shortKeys(['model.lr', 'optim.lr', 'seed', 'model.dModel']);
  assert.deepEqual([...short.values()], ['model.lr', 'optim.lr', 'seed', 'dModel']);
  assert.equal(labelFor(runs[1], ['optim.lr', 'seed'], shortKeys(['optim.lr', 'seed'])), 'lr=0.003 seed=1');
  assert.equal(labelFor(runs[0], []), 'a');
});

test('figure builders: specs with named datasets that compile and render to well-formed SVG', async () => {
  const curve = curveChart([
    { run: 'a', series: 'lr=1', x: 0, y: 3, raw: 3.2 }, { run: 'a', series: 'lr=1', x: 10, y: 2, raw: 1.9 },
    { run: 'b', series: 'lr=2', x: 0, y: 4, raw: 4.1 }, { run: 'b', series: 'lr=2', x: 10, y: 2.5, raw: 2.4 },
  ], { logX: true, logY: true, xTitle: 'step', yTitle: 'loss' });
  const specs = [
    curve,
    bandChart([{ group: 'g', x: 1, mean: 2, lo: 1.5, hi: 2.5, n: 2 }, { group: 'g', x: 2, mean: 1, lo: 0.8, hi: 1.2, n: 2 }], { logY: true }),
    scatterChart([{ run: 'a', series: 's', x: 1e5, y: 3 }, { run: 'b', series: 's', x: 1e6, y: 2.5 }], { logX: true, logY: true, connect: true }),
    scatterChart([{ run: 'a', series: 's', x: 'cosine', y: 3 }, { run: 'b', series: 's', x: 'wsd', y: 2.5 }]),
    parallelChart([
      { run: 'a', label: 'a', values: { lr: 1e-3, kind: 'cosine', d: 64 }, metric: 3 },
      { run: 'b', label: 'b', values: { lr: 1e-1, kind: 'wsd', d: 64 }, metric: 2.5 },
    ], ['lr', 'kind', 'd'], { metricTitle: 'val_loss' }),
  ];
  assert.equal((curve as unknown as { datasets: { rows: unknown[] } }).datasets.rows.length, 4);
  assert.deepEqual((curve as unknown as { transform: unknown[] }).transform, [{ filter: 'datum.x > 0 && datum.y > 0 && datum.raw > 0' }]);
  for (const spec of specs) {
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal(XMLValidator.validate(svg), true);
  }
  // legends are never truncated: a long run label is drawn whole, with no ellipsis
  const long = 'model.attention.kind=grouped-query optim.lr=0.00031622776 schedule.kind=warmup-stable-decay seed=12345';
  const legend = await renderSvg(curveChart([{ run: 'a', series: long, x: 0, y: 3 }, { run: 'a', series: long, x: 10, y: 2 }, { run: 'b', series: 'short', x: 0, y: 4 }], {}));
  assert.ok(legend.includes(`>${long}<`), 'the long legend label is whole');
  assert.ok(!legend.includes('\u2026'), 'no ellipsis');
  const par = await renderSvg(specs[4]);
  for (const text of ['val_loss', 'cosine', 'wsd', 'lr']) assert.ok(par.includes(`>${text}<`), `parallel axis shows ${text}`);
});
