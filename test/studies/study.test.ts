// The study framework: plans as sweeps of named runs, the plan-time checks on WSD branches, what a
// plan costs (a branch counts only its decay), and the verdict block every report opens with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandStudy, gcd, planCost, planSweep, smokeAnalysis, studyBase, verdictLabel, verdictMarkdown, type Analysis, type PlannedRun } from '../../src/studies/study.js';

const base = studyBase({ dModel: 16, nLayer: 1, nHead: 2, batchSize: 4, context: 32, lr: 1e-3, evalBatches: 2, categories: ['news'] });
const wsd = (steps: number, decaySteps: number) => ({ kind: 'wsd', warmupSteps: 2, decayShape: '1-sqrt', decaySteps, minLrRatio: 0 });
const trunk: PlannedRun = { run: 'trunk', set: { steps: 40, schedule: wsd(40, 4), checkpointInterval: 9, keepCheckpoints: 0 } };
const branch = (at: number, steps: number, extra: Record<string, unknown> = {}): PlannedRun =>
  ({ run: `b${at}`, set: { steps, schedule: wsd(steps, steps - at), checkpointInterval: 9, keepCheckpoints: 0, ...extra }, from: { run: 'trunk', at } });

test('planSweep: runs are named by $run, variables kept in the point, branches marked with $from and $at', () => {
  const sweep = planSweep({ study: 'demo', budget: 'smoke', base, runs: [trunk, { ...branch(18, 20), vars: { length: 20 } }] });
  assert.equal(sweep.name, 'demo-smoke');
  assert.deepEqual(sweep.tags, ['study', 'demo', 'smoke']);
  const runs = expandStudy(sweep);
  assert.deepEqual(runs.map((r) => r.name), ['trunk', 'b18']);
  assert.deepEqual([runs[1].point.$from, runs[1].point.$at, runs[1].point.$length], ['trunk', 18, 20]);
  assert.throws(() => planSweep({ study: 'demo', budget: 'smoke', base, runs: [trunk, trunk] }), /two runs are named trunk/);
});

test('checkBranches: a branch outside the stable phase, off the checkpoints, or with another model fails at plan time', () => {
  const plan = (...runs: PlannedRun[]) => planSweep({ study: 'demo', budget: 'smoke', base, runs: [trunk, ...runs] });
  assert.throws(() => plan(branch(38, 40)), /outside the source's stable phase \(steps 2\.\.36\)/);
  assert.throws(() => plan(branch(20, 22)), /checkpoints every 9 steps, not at 20/);
  assert.throws(() => plan(branch(18, 20, { 'model.dModel': 32 })), /its model differs/);
  assert.throws(() => plan({ ...branch(18, 20), set: { ...branch(18, 20).set, schedule: wsd(20, 3) } }), /decay over steps - at = 2 steps/);
  assert.throws(() => plan({ ...branch(18, 20), from: { run: 'nope', at: 18 } }), /no run of that name/);
  assert.throws(() => planSweep({ study: 'demo', budget: 'smoke', base, runs: [{ ...trunk, set: { ...trunk.set, keepCheckpoints: 3 } }, branch(18, 20)] }), /keep all its checkpoints/);
});

test('planCost: a branch costs its decay steps only; gcd', () => {
  const c = planCost(planSweep({ study: 'demo', budget: 'smoke', base, runs: [trunk, branch(18, 20), branch(27, 30)] }));
  assert.equal(c.runs, 3);
  assert.equal(c.steps, 40 + 2 + 3);
  assert.equal(c.tokens, 45 * 4 * 32);
  assert.ok(c.flops > 0 && c.minutes > 0);
  assert.equal(gcd(18, 27, 36), 9);
});

test('verdictMarkdown: the claim, then the verdict with its reason, then the evidence and caveats', () => {
  const a: Analysis = { verdict: 'not supported', reason: 'Because.', evidence: ['x = 1 [0, 2]'], caveats: ['small'], figures: [], tables: [], data: {} };
  const md = verdictMarkdown({ claim: 'A claim.' }, 'small', a).split('\n');
  assert.deepEqual(md.slice(0, 3), ['**Claim.** A claim.', '', '**Verdict: NOT SUPPORTED** (small budget). Because.']);
  assert.ok(md.includes('- x = 1 [0, 2]') && md.includes('- small'));
  assert.match(verdictMarkdown({ claim: 'c' }, 'small', { ...a, verdict: 'inconclusive' }), /INCONCLUSIVE\*\* at this scale/);
  assert.match(verdictMarkdown({ claim: 'c' }, 'smoke', { ...a, verdict: 'inconclusive' }), /INCONCLUSIVE \(smoke\)\*\* \(smoke budget\)[^]*- The smoke budget only checks/);
});

test('smoke budget: whatever the analysis says, the verdict is INCONCLUSIVE (smoke), the analysis\'s own verdict kept aside', () => {
  for (const verdict of ['supported', 'not supported', 'inconclusive'] as const) {
    const a: Analysis = { verdict, reason: 'Because.', evidence: [], caveats: [], figures: [], tables: [], data: { x: 1 } };
    const s = smokeAnalysis(a);
    assert.equal(s.verdict, 'inconclusive');
    assert.match(s.reason, new RegExp(`INCONCLUSIVE \\(smoke\\) whatever the numbers \\(taken alone they would say ${verdict}: Because\\.\\)`));
    assert.deepEqual(s.data, { x: 1, smoke: { analysisVerdict: verdict } });
    assert.equal(verdictLabel(verdict, 'smoke'), 'INCONCLUSIVE (smoke)');
    assert.equal(verdictLabel(verdict, 'full'), verdict.toUpperCase());
  }
});
