import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Transformer } from '../../src/models/index.js';
import { MemoryTokens } from '../../src/data/index.js';
import { trainFactModel } from './fact-model.js';
import { editorFor, GraceCodebook, editorNames, type EditorName } from '../../src/editing/editors.js';
import { keySecondMoment, solveSpd } from '../../src/editing/key-stats.js';
import { encodePrompt, targetLoss, type EditedModel } from '../../src/editing/model-ops.js';
import { editSession } from '../../src/editing/run.js';

const fm = trainFactModel();
const tok = fm.tokenizer, requests = fm.requests;
const stats = new MemoryTokens(fm.docs.map((d) => tok.encode(d)));
const fresh = () => new Transformer(fm.model.config, { params: new Map([...fm.model.params].map(([k, t]) => [k, t.clone()])) });
const snapshot = (m: Transformer) => new Map([...m.params].map(([k, t]) => [k, Float64Array.from(t.f)]));
const rewriteLoss = (e: EditedModel, i = 0) => targetLoss(e, [{ prompt: encodePrompt(tok, requests[i].prompt), target: tok.encode(requests[i].targetNew) }]).item();
const C = fm.model.config.dModel, F = fm.model.config.dMlp;

/** Numerical rank of a [rows, cols] matrix by Gram-Schmidt on its rows, relative tolerance. */
function rank(d: Float64Array, rows: number, cols: number, tol = 1e-4): number {
  const basis: Float64Array[] = [];
  let scale = 0;
  for (const x of d) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < rows; i++) {
    const v = d.slice(i * cols, (i + 1) * cols);
    for (const b of basis) { let p = 0; for (let j = 0; j < cols; j++) p += v[j] * b[j]; for (let j = 0; j < cols; j++) v[j] -= p * b[j]; }
    const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    if (n > tol * scale * Math.sqrt(cols)) basis.push(v.map((x) => x / n));
  }
  return basis.length;
}

function edit(method: EditorName, extra: Record<string, unknown> = {}) {
  const model = fresh(), before = snapshot(model);
  const s = editSession(model, tok, { method, layer: 1, statsSource: stats, statsWindows: 8, cacheDir: null, steps: 40, ...extra });
  const lossBefore = rewriteLoss(s.edited);
  s.apply(requests.slice(0, 1));
  const changed = [...model.params].filter(([k, t]) => t.f.some((x, i) => x !== before.get(k)![i])).map(([k]) => k);
  const diff = (name: string) => Float64Array.from(model.params.get(name)!.f, (x, i) => x - before.get(name)![i]);
  return { s, lossBefore, lossAfter: rewriteLoss(s.edited), changed, diff };
}

test('ROME changes only the traced layer\'s MLP output projection, by a rank-one update, and makes the rewrite likely', () => {
  const r = edit('rome');
  assert.deepEqual(r.changed, ['blocks.1.mlp.proj.weight']);
  assert.equal(rank(r.diff('blocks.1.mlp.proj.weight'), C, F), 1);
  assert.ok(r.lossAfter < r.lossBefore * 0.7, `rewrite loss ${r.lossBefore.toFixed(3)} -> ${r.lossAfter.toFixed(3)}`);
});

test('MEMIT spreads a batch over its layers and changes nothing else', () => {
  const model = fresh(), before = snapshot(model);
  const s = editSession(model, tok, { method: 'memit', layer: 1, layers: [0, 1], statsSource: stats, statsWindows: 8, cacheDir: null, steps: 40, momentWeight: 10 });
  const l0 = requests.map((_, i) => rewriteLoss(s.edited, i));
  s.apply(requests, requests.length);
  const changed = [...model.params].filter(([k, t]) => t.f.some((x, i) => x !== before.get(k)![i])).map(([k]) => k);
  assert.deepEqual(changed, ['blocks.0.mlp.proj.weight', 'blocks.1.mlp.proj.weight']);
  const l1 = requests.map((_, i) => rewriteLoss(s.edited, i));
  assert.throws(() => editSession(fresh(), tok, { method: 'memit', layer: 2, statsSource: stats, statsWindows: 2, cacheDir: null }).apply(requests.slice(0, 1)), /last layer/);
  assert.ok(l1.reduce((a, b) => a + b) < l0.reduce((a, b) => a + b) * 0.9, `losses ${l0.map((x) => x.toFixed(2))} -> ${l1.map((x) => x.toFixed(2))}`);
  const d = Float64Array.from(model.params.get('blocks.1.mlp.proj.weight')!.f, (x, i) => x - before.get('blocks.1.mlp.proj.weight')![i]);
  assert.ok(rank(d, C, F) <= requests.length, 'a batch of n edits moves a layer by rank at most n');
});

test('FT-L stays inside its norm constraint; LoRA merges an update of rank at most r', () => {
  const ft = edit('ft-l', { normConstraint: 0.005, lr: 1e-2 });
  assert.deepEqual(ft.changed, ['blocks.1.mlp.proj.weight']);
  assert.ok(Math.max(...ft.diff('blocks.1.mlp.proj.weight').map(Math.abs)) <= 0.005 + 1e-6);
  assert.ok(ft.lossAfter < ft.lossBefore);
  const lo = edit('lora', { rank: 2, lr: 2e-2 });
  assert.deepEqual(lo.changed, ['blocks.1.mlp.proj.weight']);
  assert.ok(rank(lo.diff('blocks.1.mlp.proj.weight'), C, F) <= 2);
  assert.ok(lo.lossAfter < lo.lossBefore, `lora ${lo.lossBefore} -> ${lo.lossAfter}`);
});

test('GRACE changes no weight, answers from its codebook inside the radius and defers outside it', () => {
  const g = edit('grace');
  assert.deepEqual(g.changed, []);
  assert.ok(g.lossAfter < g.lossBefore / 2, `grace ${g.lossBefore} -> ${g.lossAfter}`);
  // another request's prompt is far from the key: its loss is what the unedited model gives
  const plain: EditedModel = { model: g.s.edited.model, hooks: [] };
  assert.equal(rewriteLoss(g.s.edited, 1), rewriteLoss(plain, 1));
  assert.ok(editorNames.includes('grace'));
  assert.throws(() => editorFor('grace'), /codebook/);
  assert.equal(new GraceCodebook(1).entries.length, 0);
});

test('key statistics: a symmetric second moment, cached by model and layer; the SPD solver inverts', () => {
  const model = fresh();
  const a = keySecondMoment(model, 1, stats, { windows: 4, cacheDir: null });
  const F = a.dim;
  for (let i = 0; i < F; i += 17) for (let j = 0; j < F; j += 13) assert.ok(Math.abs(a.moment[i * F + j] - a.moment[j * F + i]) < 1e-9);
  assert.throws(() => keySecondMoment(model, 3, stats), /layer 3 outside/);
  assert.ok(fm.finalLoss < 1, `the fact model trained (loss ${fm.finalLoss})`);
  const A = Float64Array.from([4, 1, 0, 1, 3, 1, 0, 1, 2]), x = solveSpd(A, 3, Float64Array.from([1, 2, 3]), 1);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(A[i * 3] * x[0] + A[i * 3 + 1] * x[1] + A[i * 3 + 2] * x[2] - (i + 1)) < 1e-12);
  assert.throws(() => solveSpd(Float64Array.from([1, 2, 2, 1]), 2, Float64Array.from([1, 1]), 1), /not positive definite/);
});
