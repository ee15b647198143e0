// Which backend runs the kernels, and the global autograd switches (no-grad mode,
// anomaly detection). The native backend is chosen when its addon is built; the
// environment variable WINDTUNNEL_BACKEND=reference|native forces one. Running on the
// reference backend by accident is 100x slower, so that is announced on every run.

import type { Backend } from './backend.js';
import { referenceBackend } from './reference.js';
import { loadNativeBackend, nativeLoadError } from './native.js';

export type BackendName = 'reference' | 'native';

let active: Backend | null = null;
let warned = false;

function pick(): Backend {
  const forced = process.env.WINDTUNNEL_BACKEND;
  if (forced && forced !== 'reference' && forced !== 'native') {
    throw new Error(`WINDTUNNEL_BACKEND must be "reference" or "native", got "${forced}"`);
  }
  if (forced === 'reference') return referenceBackend;
  const native = loadNativeBackend(referenceBackend);
  if (native) return native;
  if (forced === 'native') throw new Error(`WINDTUNNEL_BACKEND=native but the native addon did not load: ${nativeLoadError()}`);
  if (!warned && !process.env.WINDTUNNEL_QUIET_FALLBACK) {
    warned = true;
    process.stderr.write(
      '\n*** windtunnel: the native backend is NOT built; running on the TypeScript reference backend (~100x slower).\n' +
      `*** reason: ${nativeLoadError()}\n*** build it with: npm run build:native\n\n`,
    );
  }
  return referenceBackend;
}

export function backend(): Backend {
  return (active ??= pick());
}

export function setBackend(name: BackendName): Backend {
  const chosen = name === 'reference' ? referenceBackend : loadNativeBackend(referenceBackend);
  if (!chosen) throw new Error(`native backend unavailable: ${nativeLoadError()}`);
  active = chosen;
  return chosen;
}

/** Runs fn with the given backend active, restoring the previous one afterwards. */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = active;
  active = b;
  try { return fn(); } finally { active = prev; }
}

// ---- autograd switches ----------------------------------------------------------

let gradEnabled = true;

export function isGradEnabled(): boolean { return gradEnabled; }

/** Runs fn without recording a graph (evaluation, sampling, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try { return fn(); } finally { gradEnabled = prev; }
}

let anomalyMode = false;

/** When on, every op checks its output for NaN/Inf and throws naming the op (slow; for debugging). */
export function setDetectAnomaly(on: boolean): void { anomalyMode = on; }
export function detectAnomaly(): boolean { return anomalyMode; }
