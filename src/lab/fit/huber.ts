// The Huber loss: quadratic for small residuals, linear beyond delta, so a few bad points
// (a diverged run, a mislogged step) pull on a fit no harder than delta each. Chinchilla's
// third approach uses delta = 1e-3 on log-loss residuals; with percent-level noise almost
// every residual is past delta, which makes the fit close to least absolute deviations.

export const chinchillaHuberDelta = 1e-3;

/** huber(r) = r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2). Continuous with its first derivative. */
export function huber(r: number, delta: number): number {
  const a = Math.abs(r);
  return a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta);
}

/** d huber / d r = r clipped to [-delta, delta]. */
export function huberGrad(r: number, delta: number): number {
  return r > delta ? delta : r < -delta ? -delta : r;
}
