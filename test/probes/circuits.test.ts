// The graph of heads and MLPs (graph.ts), path patching and edge attribution patching (circuits.ts):
// the graph forward against the model's own forward and hooks, path patching against activation
// patching (itself checked against PyTorch), EAP against finite differences of real edge patches.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad } from '../../src/engine/index.js';
import { Transformer } from '../../src/models/transformer.js';
import { blockHookNames } from '../../src/models/hooks.js';
import { edgeKey, graphForward, headNode, mlpNode, modelGraph } from '../../src/probes/graph.js';
import { circuitCurves, edgeAttribution, pathPatching, pathPatchingSweep, patchedEdgesMetric } from '../../src/probes/circuits.js';
import { activationPatching, logitDifference } from '../../src/probes/patching.js';
import { maxAbsDiff, randomIds, tinyConfig } from '../models/helpers.js';

function tinyTask(model: Transformer) {
  const V = model.config.vocabSize;
  const clean = randomIds(2, 7, V, 3);
  const corrupt = clean.i.slice();
  for (let b = 0; b < 2; b++) corrupt[b * 7 + 2] = (corrupt[b * 7 + 2] + 5) % V;
  return { clean, corrupted: new Tensor(corrupt, [2, 7]), metric: logitDifference({ correct: [1, 4], wrong: [2, 9] }) };
}

for (const layout of ['gpt2', 'llama'] as const) {
  const model = new Transformer(tinyConfig(layout, { nLayer: 3 }), { seed: 11, dtype: 'float64' });

  test(`${layout}: the graph forward is the model's forward; senders are hook_result and hook_mlp_out`, () => {
    const x = randomIds(2, 7, model.config.vocabSize, 5);
    const names = [0, 1, 2].flatMap((l) => [blockHookNames(l).result, blockHookNames(l).mlpOut]);
    const ref = noGrad(() => model.runWithCache(x, { names }));
    const g = noGrad(() => graphForward(model, x));
    assert.ok(maxAbsDiff(g.logits.f, ref.logits.f) < 1e-10, `logits differ by ${maxAbsDiff(g.logits.f, ref.logits.f)}`);
    const H = model.config.nHead, C = model.config.dModel;
    for (let l = 0; l < 3; l++) {
      assert.ok(maxAbsDiff(g.senders.get(mlpNode(l))!.f, ref.cache.get(blockHookNames(l).mlpOut).f) < 1e-10);
      const res = ref.cache.get(blockHookNames(l).result).f; // [B, T, H, C]
      for (let h = 0; h < H; h++) {
        const mine = g.senders.get(headNode(l, h))!.f;
        for (let r = 0; r < 14; r++) for (let c = 0; c < C; c++) assert.ok(Math.abs(mine[r * C + c] - res[(r * H + h) * C + c]) < 1e-10);
      }
    }
    const graph = modelGraph(model.config);
    assert.equal(graph.edges.length, [0, 1, 2].reduce((n, l) => n + H * (1 + l * (H + 1)) + (1 + l * (H + 1) + H), 0) + 1 + 3 * (H + 1));
  });

  test(`${layout}: path patching a head into every receiver is activation patching of that head; into logits alone, a hook on the last residual stream`, () => {
    const task = tinyTask(model);
    const act = activationPatching(model, task, 'head');
    const g = modelGraph(model.config);
    for (const [l, h] of [[0, 1], [1, 0], [2, 1]]) {
      const s = headNode(l, h);
      const r = pathPatching(model, task, [s], g.receivers.map((n) => n.name));
      assert.ok(Math.abs(r.effect - act.effects[l][h]) < 1e-9, `${s}: path ${r.effect} vs activation ${act.effects[l][h]}`);
    }
    // Sender a0.h1 directly into the logits: the clean-minus-corrupted output added to the final residual stream only.
    const direct = pathPatching(model, task, [headNode(0, 1)], ['logits']);
    const resClean = noGrad(() => model.runWithCache(task.clean, { names: [blockHookNames(0).result] }).cache.get(blockHookNames(0).result));
    const H = model.config.nHead, C = model.config.dModel;
    const logits = noGrad(() => {
      let resCorrupted: Tensor | null = null;
      return model.forward(task.corrupted, { hooks: [
        [blockHookNames(0).result, (a) => { resCorrupted = a; }],
        [blockHookNames(2).residPost, (a) => {
          const out = a.f.slice();
          for (let r = 0; r < 14; r++) for (let c = 0; c < C; c++) out[r * C + c] += resClean.f[(r * H + 1) * C + c] - resCorrupted!.f[(r * H + 1) * C + c];
          return new Tensor(out, a.shape);
        }],
      ] }).logits;
    });
    const want = (task.metric(logits).item() - direct.metricCorrupted) / (direct.metricClean - direct.metricCorrupted);
    assert.ok(Math.abs(direct.effect - want) < 1e-9, `direct path ${direct.effect} vs hooked ${want}`);
    assert.ok(Math.abs(want) > 1e-4, 'the check is not vacuous');
    const sweep = pathPatchingSweep(model, task, ['logits']);
    assert.equal(sweep.length, g.senders.length);
    assert.ok(Math.abs(sweep.find((s) => s.sender === headNode(0, 1))!.effect - direct.effect) < 1e-12);
    assert.throws(() => pathPatching(model, task, [headNode(2, 0)], [headNode(1, 0)]), /no edge/);
    assert.throws(() => pathPatching(model, task, ['a9.h0'], ['logits']), /unknown sender/);
  });

  test(`${layout}: EAP scores are the derivatives of real edge patches; the full circuit is the model, the empty one the corrupted run`, () => {
    const task = tinyTask(model);
    const eap = edgeAttribution(model, task);
    const span = eap.metricClean - eap.metricCorrupted;
    const eps = 1e-5;
    for (const e of [eap.edges[0], eap.edges[5], eap.edges[eap.edges.length - 1]]) {
      const up = patchedEdgesMetric(model, task, new Map([[edgeKey(e), eps]]));
      const fd = (up - eap.metricClean) / eps / span;
      assert.ok(Math.abs(fd - e.score) < 1e-4 * Math.max(1, Math.abs(e.score)), `${edgeKey(e)}: EAP ${e.score} vs finite difference ${fd}`);
    }
    assert.ok(Math.abs(eap.edges[0].score) > 1e-3);
    const total = eap.edges.length;
    const curves = circuitCurves(model, task, eap.edges, [0, total]);
    assert.ok(Math.abs(curves.points[0].faithfulness) < 1e-9 && Math.abs(curves.points[0].completeness) < 1e-9);
    assert.ok(Math.abs(curves.points[1].faithfulness - 1) < 1e-9 && Math.abs(curves.points[1].completeness - 1) < 1e-9);
    // EAP-IG with one step is EAP.
    const ig1 = edgeAttribution(model, task, { method: 'eap-ig', steps: 1 });
    assert.deepEqual(ig1.edges.map((e) => e.score), eap.edges.map((e) => e.score));
  });
}
