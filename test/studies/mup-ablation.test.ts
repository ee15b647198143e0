// The mup-ablation study: its setups' configs, the verdict rule and the finding on synthetic
// stores (a world where only the tied head kills the gain of width), and the smoke budget end to end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { mupAblation } from '../../src/studies/mup-ablation.js';
import { rng, syntheticStudy, type SyntheticRun } from './synthetic.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: each setup is the model it names; no clipping; every setup over the same lr grid and widths', () => {
  const runs = expandStudy(mupAblation.plan('full'));
  const b = mupAblation.budgets.full;
  assert.equal(runs.length, b.setups.length * b.widths.length * b.lrs.length * b.seeds.length);
  const model = (setup: string) => (runs.find((r) => r.point.$setup === setup && r.point.$width === b.widths[1])!.config as { model: Record<string, unknown>; steps: number });
  assert.equal(model('tied').model.tiedEmbeddings, true);
  assert.deepEqual(model('tied').model.mup, { baseWidth: 32 });
  assert.equal(model('careful').model.tiedEmbeddings, false);
  assert.deepEqual([(model('careful').model.mup as { readoutZeroInit: boolean }).readoutZeroInit, (model('careful').model.mup as { queryZeroInit: boolean }).queryZeroInit], [true, true]);
  assert.equal(model('sp').model.mup, undefined);
  assert.equal(model('careful-fan-in').model.initScheme, 'fan-in');
  assert.equal((model('careful-base64').model.mup as { baseWidth: number }).baseWidth, 64);
  assert.equal(model('careful-3x-steps').steps, 3 * b.steps);
  assert.ok(runs.every((r) => (r.config as { clip: number }).clip === 0));
});

/** Best loss falls with width by 0.1 nats per doubling except under `flat` setups; seed noise 0.004. */
function world(flat: string[], worse: string[] = []) {
  const r = rng(3);
  return (run: SyntheticRun) => {
    const w = run.point.$width as number, lr = run.point.$lr as number, setup = run.point.$setup as string;
    const gain = worse.includes(setup) ? -0.02 * Math.log2(w / 32) : flat.includes(setup) ? 0 : 0.1 * Math.log2(w / 32);
    return 2.6 - gain + 0.03 * (Math.log2(lr) - Math.log2(8e-3)) ** 2 + 0.004 * (r() - 0.5);
  };
}

test('analysis: careful gains with width -> supported, and the finding names the setup whose gain vanishes; careful worse with width -> not supported; careful flat -> inconclusive', async () => {
  const s = syntheticStudy(mupAblation.plan('full'), world(['tied']));
  try {
    const a = await mupAblation.analyse(s.store, s.runs);
    assert.equal(a.verdict, 'supported', a.reason);
    const d = a.data as { setups: { setup: string; gain: { mean: number } }[] };
    const gain = (x: string) => d.setups.find((g) => g.setup === x)!.gain.mean;
    assert.ok(Math.abs(gain('careful') - 0.3) < 0.01 && Math.abs(gain('tied')) < 0.01, `${gain('careful')} ${gain('tied')}`);
    assert.match(a.evidence.join('\n'), /largest first: [^;]*, tied [^,]*; the SP reference gains 0\.\d+/, 'tied ranks last');
  } finally { s.dispose(); }
  for (const [flat, worse, verdict] of [[['tied'], ['careful'], 'not supported'], [['tied', 'careful'], [], 'inconclusive']] as const) {
    const t = syntheticStudy(mupAblation.plan('full'), world([...flat], [...worse]));
    try {
      assert.equal((await mupAblation.analyse(t.store, t.runs)).verdict, verdict);
    } finally { t.dispose(); }
  }
});

test('smoke end to end: the setups train and the report gives each one\'s gain of width', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-mupab-'));
  tempDirs.push(dir);
  const r = await runStudy(mupAblation, { budget: 'smoke', runsDir: dir, db: join(dir, 'windtunnel.db') });
  assert.deepEqual(r.unfinished, []);
  const md = readFileSync(r.report!.markdown, 'utf8');
  assert.match(md, /^# Study mup-ablation \(smoke\): INCONCLUSIVE \(smoke\)/);
  for (const s of ['sp', 'tied', 'careful']) assert.match(md, new RegExp(`- ${s}: best loss width 16 \\d`));
});
