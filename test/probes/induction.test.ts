// The head finders, the lens and patching on a model with a known circuit: a two-layer
// attention-only model trained here on an induction task (induction-model.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, noGrad, crossEntropy } from '../../src/engine/index.js';
import { headScores, repeatedRandomTokens, topHeads } from '../../src/probes/heads.js';
import { logitLens } from '../../src/probes/lens.js';
import { activationPatching, attributionPatching, logitDifference } from '../../src/probes/patching.js';
import { circuitCurves, edgeAttribution, pathPatching, patchedEdgesMetric } from '../../src/probes/circuits.js';
import { edgeKey, headNode } from '../../src/probes/graph.js';
import { inductionSizes, trainInductionModel } from './induction-model.js';

// Some initialisations settle on another solution within 600 steps (previous-token heads in
// layer 1, no induction); take the first seed whose training loss shows induction was learned,
// a criterion independent of the head finder under test.
const { model, finalLoss } = (() => {
  let last = trainInductionModel({ steps: 600, seed: 1 });
  for (let seed = 2; seed <= 4 && last.finalLoss >= 1.5; seed++) last = trainInductionModel({ steps: 600, seed });
  return last;
})();
const V = inductionSizes.vocabSize, n = 8;

/** Mean loss on the second copy of repeated tokens, with some heads' outputs (hook_z) zeroed. */
function secondCopyLoss(ids: Tensor, ablate: { layer: number; head: number }[] = []): number {
  const [B, T] = ids.shape;
  const targets = new Int32Array(B * T).fill(-1);
  for (let b = 0; b < B; b++) for (let i = n; i < T - 1; i++) targets[b * T + i] = ids.i[b * T + i + 1];
  const hooks = ablate.map(({ layer, head }): [string, (z: Tensor) => Tensor] => [`blocks.${layer}.attn.hook_z`, (z) => {
    const out = z.f.slice(), D = z.shape[3], H = z.shape[2];
    for (let r = 0; r < B * T; r++) out.fill(0, (r * H + head) * D, (r * H + head + 1) * D);
    return new Tensor(out, z.shape);
  }]);
  return noGrad(() => crossEntropy(model.forward(ids, { hooks }).logits, tensor(targets, [B, T], { dtype: 'int32' }), { ignoreIndex: -1 }).item());
}

test('the trained model does induction: second-copy loss far below chance', () => {
  const ids = repeatedRandomTokens(V, n, 16, 99);
  assert.ok(finalLoss < 1.5, `training loss ${finalLoss}`);
  assert.ok(secondCopyLoss(ids) < 1, `second-copy loss ${secondCopyLoss(ids)} (chance ${Math.log(V).toFixed(2)})`);
});

test('the head finder names layer 1 heads as induction heads and a layer 0 head as previous-token head, and they are causal', () => {
  const ids = repeatedRandomTokens(V, n, 16, 7);
  const scores = headScores(model, ids);
  assert.equal(scores.length, 4);
  const [induction] = topHeads(scores, 'induction', 1);
  assert.equal(induction.layer, 1, 'the induction head must be in the second layer (it needs the previous-token head before it)');
  assert.ok(induction.prefixMatching > 0.5 && induction.copying > 0.9, JSON.stringify(induction));
  const [prev] = topHeads(scores, 'previousToken', 1);
  assert.equal(prev.layer, 0);
  assert.ok(prev.previousToken > 0.6, JSON.stringify(prev));
  for (const s of scores.filter((s) => s.layer === 0)) assert.ok(s.prefixMatching < 0.2, `layer 0 heads cannot do prefix matching: ${JSON.stringify(s)}`);
  // Causal check, independent of the scores: without the named heads the model loses induction;
  // without the other layer-0 head it keeps most of it.
  const evalIds = repeatedRandomTokens(V, n, 16, 123);
  const base = secondCopyLoss(evalIds);
  const inductionHeads = scores.filter((s) => s.layer === 1 && s.prefixMatching > 0.5);
  assert.ok(secondCopyLoss(evalIds, inductionHeads) > base + 1.5, 'ablating the induction heads destroys induction');
  assert.ok(secondCopyLoss(evalIds, [prev]) > base + 1.5, 'ablating the previous-token head destroys induction');
  const other = scores.find((s) => s.layer === 0 && s.head !== prev.head)!;
  assert.ok(secondCopyLoss(evalIds, [other]) < secondCopyLoss(evalIds, [prev]), 'the other layer-0 head matters less');
  // A random (untrained) model has no such heads.
  const s0 = headScores(trainInductionModel({ steps: 0 }).model, ids);
  assert.ok(Math.max(...s0.map((s) => s.prefixMatching)) < 0.3);
});

test('logit lens: the embeddings alone cannot predict the second copy; the last layer is the model', () => {
  const ids = repeatedRandomTokens(V, n, 8, 5);
  const [B, T] = ids.shape;
  const targets = new Int32Array(B * T).fill(-1);
  for (let b = 0; b < B; b++) for (let i = n; i < T - 1; i++) targets[b * T + i] = ids.i[b * T + i + 1];
  const lens = logitLens(model, ids, { targets: tensor(targets, [B, T], { dtype: 'int32' }) });
  assert.deepEqual(lens.map((l) => l.layer), ['embed', 'blocks.0', 'blocks.1']);
  const last = lens[2];
  assert.ok(last.klToFinal < 1e-6 && last.top1AgreesWithFinal === 1, 'the last layer read through the head is the model itself');
  assert.ok(Math.abs(last.loss! - secondCopyLoss(ids)) < 1e-4);
  assert.ok(lens[0].loss! > last.loss! + 1 && lens[1].loss! > last.loss! + 1, JSON.stringify(lens.map((l) => l.loss)));
});

test('patching the induction task: the induction heads carry the answer; attribution agrees on the ranking', () => {
  // Clean: a repeated sequence; corrupted: the token after the earlier occurrence changed, so the
  // answer at the last position differs. Metric: logit(clean answer) - logit(corrupted answer).
  const clean = repeatedRandomTokens(V, n, 8, 31);
  const [B, T] = clean.shape;
  const corrupt = clean.i.slice();
  const correct: number[] = [], wrong: number[] = [];
  for (let b = 0; b < B; b++) {
    // Last position T-1 holds token x = ids[n-1]; its earlier occurrence is at n-1 and was followed by ids[n].
    // Change ids[n-1]'s successor in the first copy: the earlier context now predicts something else.
    const ans = clean.i[b * T + n];
    const other = (ans + 1 + (b % (V - 1))) % V;
    corrupt[b * T + n] = other === ans ? (ans + 1) % V : other;
    correct.push(clean.i[b * T + n]);
    wrong.push(corrupt[b * T + n]);
  }
  // Positions up to the last: ask for the token after position T-1 (which is ids[n-1], followed by ids[n] before).
  const task = { clean, corrupted: tensor(corrupt, [B, T], { dtype: 'int32' }), metric: logitDifference({ correct, wrong }) };
  const heads = activationPatching(model, task, 'head');
  assert.ok(heads.metricClean > heads.metricCorrupted + 2, `clean ${heads.metricClean} corrupted ${heads.metricCorrupted}`);
  const layer1 = heads.effects[1], layer0 = heads.effects[0];
  assert.ok(Math.max(...layer1) > 0.3, `some induction head restores the answer: ${layer1}`);
  assert.ok(Math.max(...layer0.map(Math.abs)) < Math.max(...layer1), 'layer-0 heads at the last position do not carry it');
  // Residual stream by position: at block 0's input only the corrupted position matters.
  const resid = activationPatching(model, task, 'resid_pre', { layers: [0] });
  resid.effects[0].forEach((e, t) => {
    if (t === n) assert.ok(e > 0.5, `patching the changed token restores most of it (${e})`);
    else assert.ok(Math.abs(e) < 1e-6, `position ${t} is the same in both prompts, so patching it changes nothing (${e})`);
  });
  const approx = attributionPatching(model, task, 'head');
  const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
  const flat = (r: typeof heads) => r.effects.flat();
  assert.equal(argmax(flat(approx)), argmax(flat(heads)), `attribution ${flat(approx)} vs activation ${flat(heads)}`);
});

test('circuit discovery on the induction model: EAP-IG names the known circuit, which alone is faithful', () => {
  // Corrupt the earlier occurrence of the last token (position n-1): the previous-token head's
  // output at position n no longer matches the query, so the induction heads lose their key.
  // The known circuit: input -> previous-token head -> (keys of) the induction heads -> logits.
  const clean = repeatedRandomTokens(V, n, 8, 31);
  const [B, T] = clean.shape;
  const corrupt = clean.i.slice();
  const correct: number[] = [], wrong: number[] = [];
  for (let b = 0; b < B; b++) {
    corrupt[b * T + n - 1] = (clean.i[b * T + n - 1] + 1 + (b % (V - 1))) % V;
    correct.push(clean.i[b * T + n]);
    wrong.push((clean.i[b * T + n] + 3) % V);
  }
  const task = { clean, corrupted: tensor(corrupt, [B, T], { dtype: 'int32' }), metric: logitDifference({ correct, wrong }) };
  const scores = headScores(model, repeatedRandomTokens(V, n, 16, 7));
  const prev = topHeads(scores, 'previousToken', 1)[0];
  const induction = scores.filter((s) => s.layer === 1 && s.prefixMatching > 0.5);
  assert.ok(induction.length >= 1);
  const P = headNode(prev.layer, prev.head);
  const known = new Set([`input->${P}`, ...induction.flatMap((s) => [`${P}->${headNode(1, s.head)}`, `${headNode(1, s.head)}->logits`])]);
  const ig = edgeAttribution(model, task, { method: 'eap-ig', steps: 8 });
  const top = new Set(ig.edges.slice(0, known.size).map(edgeKey));
  assert.deepEqual([...top].sort(), [...known].sort(), `top EAP-IG edges ${[...top]} vs the known circuit`);
  const total = ig.edges.length;
  const curve = circuitCurves(model, task, ig.edges, [0, known.size, total]);
  assert.ok(curve.points[1].faithfulness > 0.8, `${known.size} of ${total} edges recover ${curve.points[1].faithfulness}`);
  assert.ok(curve.points[1].completeness > 0.8, `without them the rest does little: completeness ${curve.points[1].completeness}`);
  // Plain EAP saturates here (the metric is flat around the clean run): on the circuit's edges its
  // scores are further from the exact effect of corrupting each edge alone than EAP-IG's.
  const eap = edgeAttribution(model, task, { method: 'eap' });
  const span = ig.metricClean - ig.metricCorrupted;
  let errIg = 0, errEap = 0;
  for (const k of known) {
    const exact = (patchedEdgesMetric(model, task, new Map([[k, 1]])) - ig.metricClean) / span;
    errIg += Math.abs(ig.edges.find((e) => edgeKey(e) === k)!.score - exact);
    errEap += Math.abs(eap.edges.find((e) => edgeKey(e) === k)!.score - exact);
  }
  assert.ok(errIg < errEap, `summed error on the circuit's edges: EAP-IG ${errIg}, EAP ${errEap}`);
  // Path patching agrees: the previous-token head matters through the induction heads' input, not directly.
  const viaInduction = pathPatching(model, task, [P], induction.map((s) => headNode(1, s.head)));
  const direct = pathPatching(model, task, [P], ['logits']);
  assert.ok(viaInduction.effect > 0.5 && Math.abs(direct.effect) < 0.1, `via induction heads ${viaInduction.effect}, direct ${direct.effect}`);
});
