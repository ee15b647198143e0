// Attention kernels alone, one thread, CPU time per call: unlike `bench ops` (wall clock,
// all threads) this stays meaningful on a machine shared with other work. The ceiling is
// the same as in `bench ops` (one T x T x D sgemm per head, causal half, for QK^T and PV;
// fwd+bwd counts 3.5x the forward), but also timed as CPU time of raw single-thread sgemm.
//
//   npx tsx scripts/bench-attention-cpu.ts [avx512|avx2|sse2 ...]   (default: the ISA in use)
import { loadNativeBackend, setNativeThreads, setNativeIsa, rawSgemm } from '../src/engine/native.js';
import { referenceBackend } from '../src/engine/reference.js';
import type { AttentionShape } from '../src/engine/backend.js';

const nb = loadNativeBackend(referenceBackend);
if (!nb) throw new Error('native addon not built: npm run build:native');
setNativeThreads(1);
const cpuMs = (fn: () => void, reps: number) => {
  fn();
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e3 / reps;
};
const u = (n: number) => new Float32Array(n).map(() => Math.random() * 2 - 1);
for (const isa of process.argv.length > 2 ? process.argv.slice(2) : [nb.isa()]) {
  setNativeIsa(isa as Parameters<typeof setNativeIsa>[0]);
  for (const [B, H, T, D] of [[32, 4, 64, 16], [16, 4, 128, 32], [8, 8, 256, 32]]) {
    const n = B * T * H * D;
    const q = u(n), k = u(n), v = u(n), dout = u(n), out = new Float32Array(n), lse = new Float32Array(B * H * T);
    const dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
    const s: AttentionShape = { B, H, Tq: T, Tk: T, D, scale: 1 / Math.sqrt(D), mask: { kind: 'causal' } };
    const reps = Math.max(5, Math.round(4e8 / (B * H * T * T * D)));
    const fwd = cpuMs(() => nb.attention(q, k, v, out, lse, s), reps);
    const bwd = cpuMs(() => nb.attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, s), reps);
    const sgemmMs = cpuMs(() => rawSgemm(T, T, D, 1000), 5) / 1000;
    const ceilFwd = sgemmMs * 2 * B * H / 2;
    console.log(JSON.stringify({
      case: `B${B} H${H} T${T} D${D} causal`, isa: nb.isa(), fwd_ms: +fwd.toFixed(3), bwd_ms: +bwd.toFixed(3),
      ratio_fwd: +(ceilFwd / fwd).toFixed(3), ratio_fwd_bwd: +((3.5 * ceilFwd) / (fwd + bwd)).toFixed(3),
    }));
  }
}
