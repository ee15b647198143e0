// The lifelong-editing study: the plan, the verdict rules on synthetic measurements, and the
// smoke budget end to end (real pretraining on facts + Brown, real edits, scores in the report).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy } from '../../src/studies/run.js';
import { expandStudy } from '../../src/studies/study.js';
import { judgeEditing, lifelongEditing, type EditingResults, type SequenceScore } from '../../src/studies/lifelong-editing.js';
import type { EditScores } from '../../src/editing/metrics.js';
import type { EditorName } from '../../src/editing/editors.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('plan: one pretraining run on a facts + Brown mix with a BPE tokenizer', () => {
  const runs = expandStudy(lifelongEditing.plan('small'));
  assert.equal(runs.length, 1);
  const c = runs[0].config as { data: { corpus: { kind: string; components: { corpus: { kind: string } }[] }; tokenizer: { kind: string } } };
  assert.equal(c.data.corpus.kind, 'mix');
  assert.deepEqual(c.data.corpus.components.map((x) => x.corpus.kind), ['facts', 'brown']);
  assert.equal(c.data.tokenizer.kind, 'bpe');
  assert.deepEqual(lifelongEditing.budgets.full.edits, [1, 10, 100, 1000]);
});

const pair = (tf: number, gen: number) => ({ teacherForced: tf, generation: gen, items: 10 });
function scores(tf: number, gen: number): EditScores {
  return { reliability: pair(tf, gen), generality: pair(tf, gen), locality: pair(tf, gen), portability: pair(tf, gen), fluency: 4, validLoss: 3 };
}
function results(o: { gapTf: number; tracedLayer: number; sweep: number[] }): EditingResults {
  const sequences: SequenceScore[] = [];
  for (const method of ['rome', 'memit', 'ft-l'] as EditorName[]) for (const orderSeed of [0, 1, 2]) {
    const g = 0.4 + 0.01 * orderSeed;
    sequences.push({ method, orderSeed, edits: 10, batch: 1, layer: 1, scores: scores(g + o.gapTf, g), seconds: 1 });
  }
  const mlp = [0.01, 0.02, 0.01, 0.0];
  mlp[o.tracedLayer] = 0.2;
  return {
    knowledge: { teacherForced: 0.9, generation: 0.8 },
    trace: { traced: 8, subjectLast: { resid: mlp, mlp, attn: mlp }, promptLast: { resid: mlp, mlp, attn: mlp }, layer: o.tracedLayer },
    sequences,
    layerSweep: [0, 1, 2].flatMap((layer) => [0, 1, 2].map((orderSeed) => ({ layer, orderSeed, score: o.sweep[layer] + 0.01 * orderSeed }))),
    editableLayers: [0, 1, 2],
  };
}

test('verdicts: claim 1 stays open without WISE; claim 2 follows the teacher-forced gap; claim 3 the trace and the layer sweep', () => {
  const good = judgeEditing(results({ gapTf: 0.2, tracedLayer: 1, sweep: [0.2, 0.6, 0.3] }), { edits: [10] });
  const claims = (good.data as { claims: Record<string, string> }).claims;
  assert.deepEqual(claims, { claim1: 'inconclusive', claim2: 'supported', claim3: 'supported' });
  assert.equal(good.verdict, 'inconclusive', 'claim 1 cannot be supported without WISE');
  assert.match(good.reason, /WISE is not implemented/);
  const bad = judgeEditing(results({ gapTf: -0.2, tracedLayer: 0, sweep: [0.2, 0.6, 0.3] }), { edits: [10] });
  const bc = (bad.data as { claims: Record<string, string> }).claims;
  assert.equal(bc.claim2, 'not supported');
  assert.equal(bc.claim3, 'not supported', 'traced at the first layer, and ROME there loses to layer 1');
  assert.equal(bad.verdict, 'not supported');
});

test('smoke end to end: pretrains on facts + Brown, edits with every editor, scores both metrics, reports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-study-editing-'));
  tempDirs.push(dir);
  const r = await runStudy(lifelongEditing, { budget: 'smoke', runsDir: dir, db: join(dir, 'windtunnel.db') });
  assert.deepEqual(r.unfinished, []);
  const res = (r.analysis!.data as { results: EditingResults }).results;
  const b = lifelongEditing.budgets.smoke;
  assert.equal(res.sequences.length, b.methods.length * b.edits.length * b.orderSeeds.length);
  for (const s of res.sequences) {
    assert.ok(s.scores.reliability && s.scores.reliability.teacherForced >= 0 && s.scores.reliability.teacherForced <= 1);
    assert.ok(Number.isFinite(s.scores.validLoss!) && Number.isFinite(s.scores.fluency));
  }
  assert.equal(res.trace.subjectLast.mlp.length, 3);
  assert.equal(res.layerSweep.length, 2 * b.orderSeeds.length, 'ROME at each layer below the last');
});
