import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minimize, strongWolfe } from '../../../src/lab/fit/lbfgs.js';
import { solve } from '../../../src/lab/fit/stats.js';

/** Extended Rosenbrock: sum over pairs of 100 (x2 - x1^2)^2 + (1 - x1)^2; minimum 0 at all ones. */
function rosenbrock(x: Float64Array, g: Float64Array): number {
  let f = 0;
  g.fill(0);
  for (let i = 0; i < x.length; i += 2) {
    const a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * a * x[i] - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
}

test('L-BFGS finds the Rosenbrock minimum from the classic start and from far away', () => {
  for (const x0 of [[-1.2, 1], [-1.2, 1, -1.2, 1, 3, -4, 0.5, 10]]) {
    const r = minimize(rosenbrock, x0);
    assert.ok(r.converged, `stopped by ${r.reason}`);
    for (const v of r.x) assert.ok(Math.abs(v - 1) < 1e-6, `x = ${Array.from(r.x)}`);
    assert.ok(r.f < 1e-12, `f = ${r.f}`);
    assert.ok(r.iterations < 200, `${r.iterations} iterations`);
  }
});

test('L-BFGS solves an ill-conditioned quadratic (condition number 1e4) to the exact minimiser', () => {
  // f = 1/2 x'Qx - c'x with Q = R diag(lambda) R' (R a fixed rotation-ish mix), minimiser Q^-1 c.
  const n = 6, lambda = [1e-2, 0.1, 1, 3, 10, 100];
  const M = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => Math.sin(1 + i * 7 + j * 3)));
  // Q = M' diag M + small ridge: symmetric positive definite.
  const Q = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => M.reduce((s, row, k) => s + row[i] * lambda[k] * row[j], 0) + (i === j ? 1e-3 : 0)));
  const c = Array.from({ length: n }, (_, i) => i - 2.5);
  const f = (x: Float64Array, g: Float64Array): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      let qi = 0;
      for (let j = 0; j < n; j++) qi += Q[i][j] * x[j];
      g[i] = qi - c[i];
      v += 0.5 * x[i] * qi - c[i] * x[i];
    }
    return v;
  };
  const exact = solve(Q, c)!;
  const r = minimize(f, new Array(n).fill(0), { gradTol: 1e-10 });
  assert.equal(r.reason, 'gradient');
  r.x.forEach((v, i) => assert.ok(Math.abs(v - exact[i]) < 1e-6 * Math.max(1, Math.abs(exact[i])), `x[${i}] ${v} vs ${exact[i]}`));
});

test('the line search returns a step meeting both strong Wolfe conditions', () => {
  // phi(a) = f(x0 + a p) for Rosenbrock at (-1.2, 1) along -g.
  const x0 = Float64Array.of(-1.2, 1), g0 = new Float64Array(2);
  const f0 = rosenbrock(x0, g0);
  const p = Float64Array.from(g0, (v) => -v);
  const d0 = g0[0] * p[0] + g0[1] * p[1];
  const phi = (alpha: number) => {
    const x = Float64Array.from(x0, (v, i) => v + alpha * p[i]), g = new Float64Array(2);
    const f = rosenbrock(x, g);
    return { alpha, f, d: g[0] * p[0] + g[1] * p[1], x, g };
  };
  const c1 = 1e-4, c2 = 0.9;
  for (const a1 of [1, 1e-4, 10]) {
    const t = strongWolfe(phi, f0, d0, a1, c1, c2, 40)!;
    assert.ok(t && t.alpha > 0);
    assert.ok(t.f <= f0 + c1 * t.alpha * d0, 'sufficient decrease');
    assert.ok(Math.abs(t.d) <= -c2 * d0, 'curvature');
  }
});

test('L-BFGS reports a non-finite start and stops on a function that cannot decrease', () => {
  assert.equal(minimize((x, g) => { g[0] = NaN; return NaN; }, [0]).reason, 'non-finite');
  const flat = minimize((x, g) => { g[0] = 0; return 1; }, [3]);
  assert.equal(flat.reason, 'gradient');
  assert.deepEqual(Array.from(flat.x), [3]);
});
