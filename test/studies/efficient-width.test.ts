// The efficient-width study's verdict from accuracies alone: a world where efficient mixers need
// a width that grows with n while attention's stays flat is supported; one where every mixer
// grows alike is not; attention that never learns leaves it inconclusive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeWidth, type WidthPoint } from '../../src/studies/efficient-width.js';

const sizes = [4, 8, 16], widths = [16, 32, 64, 128];

/** Accuracy 0.98 at and above a mixer's needed width for n, 0.3 below. */
function world(needed: Record<string, (n: number) => number>, items = 200): WidthPoint[] {
  const out: WidthPoint[] = [];
  for (const [mixer, need] of Object.entries(needed)) {
    for (const size of sizes) for (const width of widths) out.push({ task: 'lis', size, width, mixer, exact: width >= need(size) ? 0.98 : 0.3, items });
  }
  return out;
}

test('efficient mixers need width growing with n, attention does not -> supported, with Holm-adjusted intervals above 0', () => {
  const a = judgeWidth(world({ attention: () => 16, linear: (n) => 4 * n, mamba2: (n) => 8 * n }), 200);
  assert.equal(a.verdict, 'supported', `${a.reason}\n${a.evidence.join('\n')}`);
  const g = (a.data as { growths: { mixer: string; slope: number; diff?: { ci: [number, number]; level: number } }[] }).growths;
  assert.equal(g.find((x) => x.mixer === 'attention')!.slope, 0);
  assert.ok(Math.abs(g.find((x) => x.mixer === 'linear')!.slope - 1) < 1e-9, 'w* = 4n over n = 4, 8, 16: slope 1');
  const levels = g.filter((x) => x.diff).map((x) => x.diff!.level).sort();
  assert.deepEqual(levels, [0.95, 0.975], 'Holm: the first test at 0.05/2, the second at 0.05');
});

test('every mixer grows alike -> not supported; attention never learning -> inconclusive', () => {
  const same = judgeWidth(world({ attention: (n) => 4 * n, linear: (n) => 4 * n }), 200);
  assert.equal(same.verdict, 'not supported', same.reason);
  const never = judgeWidth(world({ attention: () => 1e9, linear: (n) => 4 * n }), 200);
  assert.equal(never.verdict, 'inconclusive');
  assert.match(never.reason, /taught nothing/);
});

test('a mixer that never reaches the threshold is censored at 2x the largest width and said so', () => {
  const a = judgeWidth(world({ attention: () => 16, linear: (n) => (n >= 16 ? 1e9 : 8 * n) }), 200);
  const lin = (a.data as { growths: { mixer: string; minWidth: { size: number; width: number; censored: boolean }[] }[] }).growths.find((x) => x.mixer === 'linear')!;
  assert.deepEqual(lin.minWidth.at(-1), { size: 16, width: 256, censored: true });
  assert.ok(a.caveats.some((c) => /Censored.*lis\/linear/.test(c)));
  assert.ok(a.evidence.some((e) => e.includes('n=16 >128')));
});
