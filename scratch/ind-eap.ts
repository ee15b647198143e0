import { tensor } from '../src/engine/index.js';
import { repeatedRandomTokens, headScores } from '../src/probes/heads.js';
import { logitDifference } from '../src/probes/patching.js';
import { edgeAttribution, circuitCurves } from '../src/probes/circuits.js';
import { edgeKey } from '../src/probes/graph.js';
import { inductionSizes, trainInductionModel } from '../test/probes/induction-model.js';
let r = trainInductionModel({ steps: 600, seed: 1 }); for (let s = 2; s <= 4 && r.finalLoss >= 1.5; s++) r = trainInductionModel({ steps: 600, seed: s }); const { model, finalLoss } = r;
console.log('loss', finalLoss);
const V = inductionSizes.vocabSize, n = 8;
const clean = repeatedRandomTokens(V, n, 8, 31);
const [B, T] = clean.shape;
const corrupt = clean.i.slice();
const correct: number[] = [], wrong: number[] = [];
for (let b = 0; b < B; b++) {
  const ans = clean.i[b * T + n];
  corrupt[b * T + n - 1] = (clean.i[b * T + n - 1] + 1 + (b % (V - 1))) % V;
  correct.push(ans); wrong.push((ans + 3) % V);
}
const task = { clean, corrupted: tensor(corrupt, [B, T], { dtype: 'int32' }), metric: logitDifference({ correct, wrong }) };
console.log(headScores(model, repeatedRandomTokens(V, n, 8, 7)).map(s => JSON.stringify(s)).join('\n'));
for (const method of ['eap', 'eap-ig'] as const) {
  const a = edgeAttribution(model, task, { method, steps: 8 });
  console.log(method, a.metricClean, a.metricCorrupted, a.edges.slice(0, 8).map(e => `${edgeKey(e)} ${e.score.toFixed(3)}`).join(' | '));
  const c = circuitCurves(model, task, a.edges, [0, 1, 2, 3, 4, 6, 8, 12, 26]);
  console.log(c.points.map(p => `${p.edges}:${p.faithfulness.toFixed(2)}/${p.completeness.toFixed(2)}`).join(' '));
}
