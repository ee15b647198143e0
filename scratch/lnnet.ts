import { Rng, Tensor, backward, crossEntropy, groupNorm, linear, noGrad, tensor } from '../src/engine/index.js';
import { AdamW } from '../src/training/optimizers.js';
function fit(o: { n: number; inDim: number; width: number; depth: number; groups: number; norm: boolean; steps: number; lr: number; seed: number }) {
  const rng = new Rng(o.seed);
  const x = new Float32Array(o.n * o.inDim); rng.fillNormal(x, 1);
  const y = Int32Array.from({ length: o.n }, () => rng.int(2));
  const X = new Tensor(x, [o.n, o.inDim]), Y = tensor(y, [o.n], { dtype: 'int32' });
  const params = new Map<string, Tensor>();
  const wrng = new Rng(o.seed + 7919);
  const mk = (name: string, out: number, inp: number) => { const a = new Float32Array(out * inp); wrng.fillNormal(a, 1 / Math.sqrt(inp)); const t = new Tensor(a, [out, inp], true); params.set(name, t); return t; };
  const Ws = Array.from({ length: o.depth }, (_, i) => mk(`w${i}`, o.width, i === 0 ? o.inDim : o.width));
  const head = mk('head', 2, o.width);
  const fwd = () => { let h = X; for (const w of Ws) { h = linear(h, w); if (o.norm) h = groupNorm(h, o.groups, null, null); } return linear(h, head); };
  const opt = new AdamW(params, { weightDecay: 0 });
  for (let s = 0; s < o.steps; s++) { const loss = crossEntropy(fwd(), Y); for (const t of params.values()) t.grad = null; backward(loss); opt.step(o.lr); }
  const logits = noGrad(fwd).f; let ok = 0;
  for (let i = 0; i < o.n; i++) if ((logits[2 * i + 1] > logits[2 * i] ? 1 : 0) === y[i]) ok++;
  return ok / o.n;
}
const base = { n: 64, inDim: 4, width: 16, steps: 1000, lr: 2e-2 };
const t0 = Date.now();
for (const seed of [0, 1]) {
  console.log('seed', seed, 'linear', [1, 4].map((d) => fit({ ...base, depth: d, groups: 1, norm: false, seed }).toFixed(3)).join(' '));
  for (const g of [1, 2, 4]) console.log(' groups', g, [1, 2, 4].map((d) => fit({ ...base, depth: d, groups: g, norm: true, seed }).toFixed(3)).join(' '));
}
console.log((Date.now() - t0) / 1000, 's');
