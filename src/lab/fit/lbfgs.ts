// L-BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed.: Algorithm 7.4, the two-loop
// recursion, with the strong-Wolfe line search of Algorithms 3.5 and 3.6). Unconstrained,
// dense, float64; meant for the handful of parameters of a scaling-law fit, not for training.
//
// Stopping: the gradient's largest component falls to gradTol, or one iteration lowers f by
// no more than funcTol * max(|f|, |f_prev|, 1) (scipy's `factr` test), or the line search can
// make no progress, or maxIterations. `converged` is true only for the first two; a caller
// that needs a real optimum must check it.

/** Writes the gradient at x into grad and returns f(x). */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** Correction pairs kept (default 10). */
  memory?: number;
  maxIterations?: number;
  /** Stop when max |g_i| <= gradTol (default 1e-9). */
  gradTol?: number;
  /** Stop when an iteration lowers f by <= funcTol * max(|f|, |f_prev|, 1) (default 1e-12). */
  funcTol?: number;
  /** Sufficient-decrease (Armijo) constant (default 1e-4). */
  c1?: number;
  /** Curvature constant of the strong Wolfe condition (default 0.9). */
  c2?: number;
  /** Function evaluations per line search (default 30). */
  maxLineSearch?: number;
}

export type StopReason = 'gradient' | 'function' | 'max-iterations' | 'line-search' | 'non-finite';

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  grad: Float64Array;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: StopReason;
}

interface Trial { alpha: number; f: number; d: number; x: Float64Array; g: Float64Array }

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const maxAbs = (a: Float64Array): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

export function minimize(f: Objective, x0: ArrayLike<number>, opts: LbfgsOptions = {}): LbfgsResult {
  const m = opts.memory ?? 10, maxIter = opts.maxIterations ?? 1000;
  const gradTol = opts.gradTol ?? 1e-9, funcTol = opts.funcTol ?? 1e-12;
  const c1 = opts.c1 ?? 1e-4, c2 = opts.c2 ?? 0.9, maxLs = opts.maxLineSearch ?? 30;
  const n = x0.length;
  let evaluations = 0;

  let x: Float64Array = Float64Array.from(x0);
  let g: Float64Array = new Float64Array(n);
  let fx = f(x, g);
  evaluations++;
  const done = (iterations: number, reason: StopReason): LbfgsResult =>
    ({ x, f: fx, grad: g, iterations, evaluations, converged: reason === 'gradient' || reason === 'function', reason });
  if (!Number.isFinite(fx) || !g.every(Number.isFinite)) return done(0, 'non-finite');

  const S: Float64Array[] = [], Y: Float64Array[] = [], rho: number[] = [];
  const p = new Float64Array(n), alphaBuf = new Float64Array(m);

  for (let k = 0; k < maxIter; k++) {
    if (maxAbs(g) <= gradTol) return done(k, 'gradient');

    // Two-loop recursion: p = -H g, with H0 = gamma I, gamma = s'y / y'y of the newest pair.
    for (let i = 0; i < n; i++) p[i] = -g[i];
    for (let j = S.length - 1; j >= 0; j--) {
      alphaBuf[j] = rho[j] * dot(S[j], p);
      for (let i = 0; i < n; i++) p[i] -= alphaBuf[j] * Y[j][i];
    }
    if (S.length > 0) {
      const last = S.length - 1, gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < n; i++) p[i] *= gamma;
    }
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j] * dot(Y[j], p);
      for (let i = 0; i < n; i++) p[i] += (alphaBuf[j] - beta) * S[j][i];
    }
    let d0 = dot(g, p);
    if (!(d0 < 0)) {
      // Not a descent direction (rounding in a badly scaled memory): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) p[i] = -g[i];
      d0 = dot(g, p);
    }
    // The first step has no curvature estimate: keep it short, as scipy and N&W do.
    const alpha1 = S.length === 0 ? Math.min(1, 1 / Math.sqrt(-d0)) : 1;

    const phi = (alpha: number): Trial => {
      const xt = new Float64Array(n), gt = new Float64Array(n);
      for (let i = 0; i < n; i++) xt[i] = x[i] + alpha * p[i];
      const ft = f(xt, gt);
      evaluations++;
      // A non-finite value counts as "too far": the search shrinks the step.
      return { alpha, f: Number.isFinite(ft) && gt.every(Number.isFinite) ? ft : Infinity, d: dot(gt, p), x: xt, g: gt };
    };
    const t = strongWolfe(phi, fx, d0, alpha1, c1, c2, maxLs);
    if (t === null) {
      if (S.length > 0) { S.length = Y.length = rho.length = 0; continue; } // retry once along -g
      return done(k, 'line-search');
    }

    const s = new Float64Array(n), y = new Float64Array(n);
    for (let i = 0; i < n; i++) { s[i] = t.x[i] - x[i]; y[i] = t.g[i] - g[i]; }
    const sy = dot(s, y);
    // Strong Wolfe guarantees s'y > 0 in exact arithmetic; skip pairs that rounding spoilt.
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (S.length === m) { S.shift(); Y.shift(); rho.shift(); }
      S.push(s); Y.push(y); rho.push(1 / sy);
    }
    const fPrev = fx;
    x = t.x; g = t.g; fx = t.f;
    if (fPrev - fx <= funcTol * Math.max(Math.abs(fPrev), Math.abs(fx), 1)) return done(k + 1, maxAbs(g) <= gradTol ? 'gradient' : 'function');
  }
  return done(maxIter, maxAbs(g) <= gradTol ? 'gradient' : 'max-iterations');
}

/**
 * A step satisfying the strong Wolfe conditions
 *   f(a) <= f(0) + c1 a f'(0)   and   |f'(a)| <= c2 |f'(0)|
 * (Algorithm 3.5: widen until the interval brackets one, then zoom). When the zoom runs out
 * of evaluations it returns the best point with sufficient decrease, if any; null when none.
 */
export function strongWolfe(phi: (alpha: number) => Trial, f0: number, d0: number, alpha1: number, c1: number, c2: number, maxEvals: number): Trial | null {
  let prev: Trial = { alpha: 0, f: f0, d: d0, x: new Float64Array(0), g: new Float64Array(0) };
  let alpha = alpha1, evals = 0;
  const armijo = (t: Trial): boolean => t.f <= f0 + c1 * t.alpha * d0;
  while (evals < maxEvals) {
    const t = phi(alpha);
    evals++;
    if (!armijo(t) || (evals > 1 && t.f >= prev.f)) return zoom(prev, t);
    if (Math.abs(t.d) <= -c2 * d0) return t;
    if (t.d >= 0) return zoom(t, prev);
    prev = t;
    alpha *= 2;
  }
  return prev.alpha > 0 ? prev : null;

  // lo: the best point so far with sufficient decrease (alpha 0 at first); hi: the other end.
  function zoom(lo: Trial, hi: Trial): Trial | null {
    while (evals < maxEvals) {
      const a = interpolate(lo, hi);
      const t = phi(a);
      evals++;
      if (!armijo(t) || t.f >= lo.f) hi = t;
      else {
        if (Math.abs(t.d) <= -c2 * d0) return t;
        if (t.d * (hi.alpha - lo.alpha) >= 0) hi = lo;
        lo = t;
      }
      if (Math.abs(hi.alpha - lo.alpha) <= 1e-16 * Math.max(1, lo.alpha)) break;
    }
    return lo.alpha > 0 ? lo : null;
  }
}

/** Minimiser of the cubic through two points with slopes, kept inside the middle 80% of the interval (else bisection). */
function interpolate(a: Trial, b: Trial): number {
  const lo = Math.min(a.alpha, b.alpha), hi = Math.max(a.alpha, b.alpha), w = hi - lo;
  if (Number.isFinite(a.f) && Number.isFinite(b.f)) {
    const d1 = a.d + b.d - 3 * (a.f - b.f) / (a.alpha - b.alpha);
    const disc = d1 * d1 - a.d * b.d;
    if (disc >= 0) {
      const d2 = Math.sign(b.alpha - a.alpha) * Math.sqrt(disc);
      const c = b.alpha - (b.alpha - a.alpha) * (b.d + d2 - d1) / (b.d - a.d + 2 * d2);
      if (Number.isFinite(c) && c >= lo + 0.1 * w && c <= hi - 0.1 * w) return c;
    }
  }
  return lo + 0.5 * w;
}
