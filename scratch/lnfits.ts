import { runFits, judgeLnNonlinearity } from '../src/studies/ln-nonlinearity.js';
const fits = runFits({ points: 64, inDim: 4, width: 16, depths: [1, 2, 4], groups: [1, 2, 4], steps: 1000, lr: 2e-2, seeds: [0, 1, 2] });
const a = judgeLnNonlinearity(fits);
console.log(a.verdict, '|', a.reason); for (const e of a.evidence) console.log(e);
for (const t of a.tables) { console.log(t.header.join(' | ')); for (const r of t.rows) console.log(r.join(' | ')); }
