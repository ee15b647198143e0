// Per-core cost of the native kernels: CPU time per element with one thread, on data
// that fits in the last-level cache. Unlike wall-clock benchmarks this stays meaningful
// on a machine shared with other work. A memory-bound kernel moving B bytes per element
// can reach a bandwidth of (B / cost) per core, so this says whether a kernel is limited
// by memory or by its arithmetic.
//
//   npx tsx scripts/bench-native-cpu.ts
import { loadNativeBackend, setNativeThreads } from '../src/engine/native.js';
import { referenceBackend } from '../src/engine/reference.js';
const nb = loadNativeBackend(referenceBackend);
if (!nb) throw new Error('native addon not built: npm run build:native');
const N = nb;
setNativeThreads(1);
const u = (n: number) => new Float32Array(n).map(() => Math.random() * 2 - 1);
function cpu(name: string, elts: number, fn: () => void) {
  fn(); const reps = Math.max(3, Math.round(2e8 / elts));
  const c0 = process.cpuUsage(); for (let i = 0; i < reps; i++) fn(); const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1e3) / reps / elts;
  console.log(`${name.padEnd(40)} ${ns.toFixed(3)} ns/elt`);
}
const R = 2048, C = 768, n = R * C;
const x = u(n), y = new Float32Array(n), dy = u(n), dx = new Float32Array(n), w = u(C), b = u(C), m = new Float32Array(R), r = new Float32Array(R), dw = new Float32Array(C), db = new Float32Array(C);
cpu('softmax', n, () => N.softmax(x, y, R, C));
cpu('softmaxBackward', n, () => N.softmaxBackward(y, dy, dx, R, C));
cpu('logSoftmax', n, () => N.logSoftmax(x, y, R, C));
cpu('logSoftmaxBackward', n, () => N.logSoftmaxBackward(y, dy, dx, R, C));
cpu('layerNorm', n, () => N.layerNorm(x, w, b, y, m, r, R, C, 1e-5));
cpu('layerNormBackward', n, () => N.layerNormBackward(x, w, m, r, dy, dx, dw, db, R, C));
cpu('rmsNorm', n, () => N.rmsNorm(x, w, y, r, R, C, 1e-5));
cpu('rmsNormBackward', n, () => N.rmsNormBackward(x, w, r, dy, dx, dw, R, C));
const V = 8192, NR = 256, lg = u(NR * V), t = new Int32Array(NR).map((_, i) => i * 31 % V), loss = new Float32Array(NR), lse = new Float32Array(NR), dl = new Float32Array(NR).fill(1), g = new Float32Array(NR * V);
cpu('crossEntropy', NR * V, () => N.crossEntropy(lg, t, null, -100, loss, lse, NR, V));
cpu('crossEntropyBackward', NR * V, () => N.crossEntropyBackward(lg, t, null, -100, lse, dl, g, NR, V));
for (const op of ['exp', 'gelu_tanh', 'gelu_erf', 'silu', 'tanh', 'relu'] as const) cpu(`unary ${op}`, n, () => N.unary(op, x, y));
for (const op of ['gelu_tanh', 'gelu_erf', 'silu', 'tanh'] as const) cpu(`unaryBackward ${op}`, n, () => N.unaryBackward(op, x, y, dy, dx));
cpu('binary add', n, () => N.binary('add', x, [C, 1], dy, [C, 1], y, [R, C]));
cpu('binary mul bias', n, () => N.binary('mul', x, [C, 1], w, [0, 1], y, [R, C]));
cpu('binary add col-bcast', n, () => N.binary('add', x, [C, 1], m, [1, 0], y, [R, C]));
cpu('where', n, () => N.where(x, [C, 1], dy, [C, 1], w, [0, 1], y, [R, C]));
cpu('reduce sum rows', n, () => N.reduce('sum', x, m, R, C, 1));
cpu('reduce sum cols', n, () => N.reduce('sum', x, w, 1, R, C));
cpu('reduce max rows', n, () => N.reduce('max', x, m, R, C, 1));
cpu('argmax rows', n, () => N.argmax(x, new Int32Array(R), R, C, 1));
cpu('copyStrided transpose', n, () => N.copyStrided(x, 0, [1, C], y, 0, [R, 1], [C, R]));
cpu('copyStrided heads', n, () => N.copyStrided(x, 0, [256 * 768, 32, 768, 1], y, 0, [256 * 768, 256 * 32, 32, 1], [8, 24, 256, 32]));
cpu('axpy', n, () => N.axpy(0.5, x, y));
cpu('sumSquares', n, () => N.sumSquares(x));
const va = dy.map(Math.abs);
cpu('adamw', n, () => N.adamw(y, x, dx, va, 1e-3, 0.9, 0.95, 1e-8, 0.1, 0.5, 0.5, 1));
const ids = new Int32Array(R).map((_, i) => i * 7 % 1000), table = u(1000 * C);
cpu('embedding', n, () => N.embedding(ids, table, y, R, C));
cpu('embeddingBackward', n, () => N.embeddingBackward(ids, dy, table, R, C));
const cs = u(4096 * 16), sn = u(4096 * 16);
cpu('rope', n, () => N.rope(x, cs, sn, y, 8, 256, 24, 32, 0, false));
cpu('rope in place', n, () => N.rope(y, cs, sn, y, 8, 256, 24, 32, 0, false));
