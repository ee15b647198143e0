// One layer of each recurrent mixer against PyTorch written from the papers' formulas in their
// simplest (unchunked) form: fixtures/mixers/*.json, made by scripts/fixtures/make_mixer_fixtures.py.
// float64 on the reference backend, so the comparison is to rounding.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, withBackend } from '../../../src/engine/index.js';
import { referenceBackend } from '../../../src/engine/reference.js';
import { mixerDef } from '../../../src/models/mixers/index.js';
import { tinyConfig, relErr } from '../helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'mixers');
interface Arr { shape: number[]; data: number[] }
interface Fixture { sizes: { dModel: number; nHead: number; normEps: number }; options: object; weights: Record<string, Arr>; x: Arr; out: Arr }

const t64 = (a: Arr) => new Tensor(Float64Array.from(a.data), a.shape);

for (const name of ['retnet', 'gla', 'mamba2', 'linear']) {
  test(`${name}: one layer matches the PyTorch reference (float64)`, () => {
    const fx = JSON.parse(readFileSync(join(root, `${name}.json`), 'utf8')) as Fixture;
    const sizes = tinyConfig('llama', { dModel: fx.sizes.dModel, nHead: fx.sizes.nHead, normEps: fx.sizes.normEps, nLayer: 1 });
    const d = mixerDef(name);
    const prefix = `blocks.0.${d.module}`;
    const params = new Map(Object.entries(fx.weights).map(([k, v]) => [`${prefix}.${k}`, t64(v)]));
    const options = d.options.parse(fx.options);
    // The fixture holds exactly the parameters the mixer declares.
    assert.deepEqual(d.params(sizes, options, prefix).map((s) => s.name).sort(), [...params.keys()].sort());
    const mixer = d.build({
      sizes, options, layer: 0, prefix, dtype: 'float64', rotary: null,
      param: (n) => params.get(n)!, optParam: (n) => params.get(n) ?? null,
    });
    const out = withBackend(referenceBackend, () => mixer.forward(t64(fx.x), { at: (_, x) => x, hooks: null, pos0: 0, docIds: null }));
    assert.deepEqual(out.shape, fx.out.shape);
    const err = relErr(out.f, fx.out.data);
    assert.ok(err < 1e-9, `${name}: relative error ${err}`);
  });
}
