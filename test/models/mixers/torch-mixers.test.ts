// One Mamba layer, one RWKV-6 time mix and one channel mix against PyTorch's formulas
// (fixtures/mixers/mamba-rwkv.json, written by scripts/fixtures/make_mamba_rwkv_fixtures.py): the same
// parameters by name, the same input, the output compared in float64 on the reference backend
// (tight) and in float32 on the active backend (native when built).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as E from '../../../src/engine/index.js';
import { referenceBackend } from '../../../src/engine/reference.js';
import { mixerDef, type MixerModelSizes } from '../../../src/models/mixers/index.js';

interface Arr { shape: number[]; data: number[] }
interface Case { name: string; options: Record<string, unknown>; params: Record<string, Arr>; input: Arr; output: Arr }
const fixture = JSON.parse(readFileSync(new URL('../../../fixtures/mixers/mamba-rwkv.json', import.meta.url), 'utf8')) as
  { torch: string; dModel: number; nHead: number; cases: Case[] };

function runLayer(c: Case, dtype: 'float32' | 'float64'): E.Tensor {
  const def = mixerDef(c.name);
  const C = fixture.dModel, H = fixture.nHead;
  const sizes: MixerModelSizes = { dModel: C, nHead: H, dHead: C / H, nLayer: 1, nCtx: 64, bias: false, positions: 'learned', normEps: 1e-5, initStd: 0.02, scaledResidualInit: false };
  const options = def.options.parse(c.options);
  const prefix = `blocks.0.${def.module}`;
  const mk = (a: Arr) => E.tensor(dtype === 'float64' ? Float64Array.from(a.data) : Float32Array.from(a.data), a.shape);
  // Our parameter list must be exactly the fixture's, with the same shapes.
  const specs = def.params(sizes, options, prefix);
  assert.deepEqual(specs.map((s) => s.name.slice(prefix.length + 1)).sort(), Object.keys(c.params).sort(), `${c.name}: parameter names`);
  for (const s of specs) assert.deepEqual(s.shape, c.params[s.name.slice(prefix.length + 1)].shape, `${s.name}: shape`);
  const params = new Map(Object.entries(c.params).map(([n, a]) => [`${prefix}.${n}`, mk(a)]));
  const layer = def.build({
    sizes, options, layer: 0, prefix, dtype, rotary: null,
    param: (n) => { const p = params.get(n); if (!p) throw new Error(`no parameter ${n}`); return p; },
    optParam: (n) => params.get(n) ?? null,
  });
  return E.noGrad(() => layer.forward(mk(c.input), { at: (_n, t) => t, hooks: null, pos0: 0, docIds: null }));
}

for (const c of fixture.cases) {
  test(`${c.name} layer equals PyTorch's formula (float64 reference, float32 active backend)`, () => {
    const want = c.output.data;
    const f64 = E.withBackend(referenceBackend, () => runLayer(c, 'float64'));
    assert.deepEqual([...f64.shape], c.output.shape);
    const scale = Math.max(...want.map(Math.abs));
    const err = (got: ArrayLike<number>) => want.reduce((m, w, i) => Math.max(m, Math.abs(got[i] - w)), 0) / scale;
    assert.ok(err(f64.f) < 1e-12, `${c.name} float64: relative error ${err(f64.f)}`);
    const f32 = runLayer(c, 'float32');
    assert.ok(err(f32.f) < 2e-5, `${c.name} float32 (${E.backend().name}): relative error ${err(f32.f)}`);
  });
}
