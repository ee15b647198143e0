import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Transformer } from '../../src/models/index.js';
import { causalTrace, lastSubjectTokenEffects } from '../../src/probes/causal-trace.js';

const model = new Transformer({ vocabSize: 50, nCtx: 16, dModel: 16, nLayer: 3, nHead: 2, mlp: 'gelu', norm: 'layernorm', positions: 'learned', tiedEmbeddings: true, bias: true, initStd: 0.3 }, { seed: 5 });
const ids = [3, 7, 11, 13, 17, 19, 23];

test('causal tracing: restoring the last layer\'s stream at the last position recovers the clean run; positions before the subject have no effect', () => {
  const tr = causalTrace(model, ids, [2, 4], 9, { samples: 4, seed: 1 });
  assert.ok(Math.abs(tr.clean - tr.corrupted) > 1e-4, 'the noise changes the answer probability');
  const resid = tr.effects.resid!;
  assert.equal(resid.length, 3);
  assert.equal(resid[0].length, ids.length);
  // the final stream at the last position fixes the logits there
  assert.ok(Math.abs(resid[2][6] - (tr.clean - tr.corrupted)) < 1e-5, `${resid[2][6]} vs ${tr.clean - tr.corrupted}`);
  // causal attention: states before the corrupted tokens are clean already
  for (const site of ['resid', 'mlp', 'attn'] as const) for (let l = 0; l < 3; l++) for (const t of [0, 1]) assert.ok(Math.abs(tr.effects[site]![l][t]) < 1e-6);
  // reproducible for a seed; another seed draws other noise
  assert.deepEqual(causalTrace(model, ids, [2, 4], 9, { samples: 4, seed: 1 }), tr);
  assert.notEqual(causalTrace(model, ids, [2, 4], 9, { samples: 4, seed: 2 }).corrupted, tr.corrupted);
  const perLayer = lastSubjectTokenEffects([tr], 'mlp');
  assert.deepEqual(perLayer, tr.effects.mlp!.map((row) => row[3]));
  assert.throws(() => causalTrace(model, ids, [5, 9], 9), /not inside/);
  assert.throws(() => causalTrace(model, ids, [1, 2], 99), /outside the vocabulary/);
});
