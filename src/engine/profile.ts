// A profiling wrapper around a backend: counts calls and wall time per kernel, so a slow
// training step can be broken down (`withBackend(p.backend, ...)`, then `p.report()`).

import type { Backend } from './backend.js';

export interface KernelStat { kernel: string; calls: number; ms: number }

export function profileBackend(inner: Backend): { backend: Backend; stats(): KernelStat[]; reset(): void; report(): string } {
  const acc = new Map<string, KernelStat>();
  const wrapped: Record<string, unknown> = {};
  for (const key of Object.keys(inner) as (keyof Backend)[]) {
    const v = inner[key];
    if (typeof v !== 'function' || key === 'threads' || key === 'blas') { wrapped[key] = v; continue; }
    wrapped[key] = (...args: unknown[]) => {
      const label = key === 'binary' || key === 'unary' || key === 'unaryBackward' || key === 'reduce' ? `${key}:${String(args[0])}` : key;
      const t0 = performance.now();
      const r = (v as (...a: unknown[]) => unknown).apply(inner, args);
      const s = acc.get(label) ?? { kernel: label, calls: 0, ms: 0 };
      s.calls++; s.ms += performance.now() - t0;
      acc.set(label, s);
      return r;
    };
  }
  const stats = () => [...acc.values()].sort((a, b) => b.ms - a.ms);
  return {
    backend: wrapped as unknown as Backend,
    stats,
    reset: () => acc.clear(),
    report: () => {
      const all = stats();
      const total = all.reduce((p, s) => p + s.ms, 0);
      return all.map((s) => `${s.kernel.padEnd(28)} ${String(s.calls).padStart(7)} calls ${s.ms.toFixed(1).padStart(9)} ms ${(100 * s.ms / total).toFixed(1).padStart(5)}%`).join('\n') + `\n${'total'.padEnd(28)} ${total.toFixed(1).padStart(23)} ms`;
    },
  };
}
