// The vector-math kernels on every instruction set this CPU has, one thread, data in
// cache (2048 x 512 floats, 4 MB): GB/s of bytes read + written, the fastest of repeated
// runs (robust to a loaded machine). Shows what the AVX2 and SSE2 paths cost against AVX-512.
//
//   npx tsx scripts/bench-isa.ts [--threads N] [--json]

import { loadNativeBackend, nativeInfo, nativeLoadError, NATIVE_ISAS, setNativeIsa, setNativeThreads } from '../src/engine/native.js';
import { referenceBackend } from '../src/engine/reference.js';

const args = process.argv.slice(2);
const ti = args.indexOf('--threads');
const json = args.includes('--json');
const nb = loadNativeBackend(referenceBackend);
if (!nb) {
  console.error(`native addon not available: ${nativeLoadError()}`);
  process.exit(1);
}
const N = nb;
setNativeThreads(ti >= 0 ? Number(args[ti + 1]) : 1);

function uniform(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = (s / 4294967296) * 6 - 3; }
  return a;
}
/** Fastest run of fn in ms (after two warm-ups), over >= 15 runs and ~0.3 s. */
function fastest(fn: () => void): number {
  fn(); fn();
  let best = Infinity, n = 0;
  const t0 = performance.now();
  while (n < 15 || (performance.now() - t0 < 300 && n < 500)) {
    const a = performance.now();
    fn();
    best = Math.min(best, performance.now() - a);
    n++;
  }
  return best;
}

const R = 2048, C = 512, M = R * C, V = 4096;
const x = uniform(M, 1), y = new Float32Array(M), dy = uniform(M, 7), dx = new Float32Array(M), bias = uniform(C, 3), pre = new Float32Array(M);
const mean = new Float32Array(R), rstd = new Float32Array(R);
const logits = uniform(R * V, 5), tg = Int32Array.from({ length: R }, (_, i) => (i * 7919) % V);
const loss = new Float32Array(R), lse = new Float32Array(R), dl = new Float32Array(R).fill(1), dlg = new Float32Array(R * V);
const cases: [string, number, () => void][] = [
  ['exp', 8 * M, () => N.unary('exp', x, y)],
  ['silu', 8 * M, () => N.unary('silu', x, y)],
  ['gelu_tanh', 8 * M, () => N.unary('gelu_tanh', x, y)],
  ['gelu_erf', 8 * M, () => N.unary('gelu_erf', x, y)],
  ['gelu_erf_bwd', 12 * M, () => N.unaryBackward('gelu_erf', x, y, dy, dx)],
  ['bias_gelu_erf', 12 * M, () => N.biasUnary('gelu_erf', x, bias, pre, y, R, C)],
  ['softmax', 8 * M, () => N.softmax(x, y, R, C)],
  ['log_softmax_bwd', 12 * M, () => N.logSoftmaxBackward(x, dy, dx, R, C)],
  ['layer_norm', 8 * M, () => N.layerNorm(x, null, null, y, mean, rstd, R, C, 1e-5)],
  ['cross_entropy_fwd', 4 * R * V, () => N.crossEntropy(logits, tg, null, -1, loss, lse, R, V)],
  ['cross_entropy_bwd', 8 * R * V, () => N.crossEntropyBackward(logits, tg, null, -1, lse, dl, dlg, R, V)],
];
const best = nativeInfo().isaBest;
const isas = NATIVE_ISAS.slice(NATIVE_ISAS.indexOf(best));
for (const isa of isas) {
  setNativeIsa(isa);
  const line: Record<string, number | string> = { isa, threads: N.threads() };
  for (const [name, bytes, fn] of cases) line[name] = Math.round((bytes / fastest(fn) / 1e6) * 10) / 10;
  if (json) console.log(JSON.stringify(line));
  else console.log(Object.entries(line).map(([k, v]) => `${k}=${v}`).join('  '));
}
setNativeIsa(best);
