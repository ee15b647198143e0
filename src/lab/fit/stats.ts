// Small statistics for the fits: percentiles, Student's t quantiles, straight-line least
// squares with confidence intervals, tiny dense linear algebra (a solve and the eigenvalues of
// a symmetric matrix). Plain numbers, no dependencies; sized for tens of points, not millions.

/** Percentile q in [0, 1] of the values with linear interpolation between order statistics (R's type 7). NaNs are dropped. */
export function percentile(values: readonly number[], q: number): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const h = (v.length - 1) * q, lo = Math.floor(h), hi = Math.ceil(h);
  return v[lo] + (h - lo) * (v[hi] - v[lo]);
}

/** The central `level` interval of a sample (percentile bootstrap). */
export function percentileInterval(values: readonly number[], level = 0.95): [number, number] {
  return [percentile(values, (1 - level) / 2), percentile(values, (1 + level) / 2)];
}

/** ln Gamma (Lanczos, g = 7, n = 9; ~1e-15 relative). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61503916999185,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised incomplete beta I_x(a, b) (continued fraction, modified Lentz; Numerical Recipes 6.4). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d; if (Math.abs(d) < tiny) d = tiny; d = 1 / d;
    c = 1 + num / c; if (Math.abs(c) < tiny) c = tiny;
    h *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d; if (Math.abs(d) < tiny) d = tiny; d = 1 / d;
    c = 1 + num / c; if (Math.abs(c) < tiny) c = tiny;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return (front * h) / a;
}

/** P(T <= t) for Student's t with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t (bisection on the CDF; p in (0, 1)). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0, hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

export interface LineFit {
  slope: number;
  intercept: number;
  /** Standard errors (NaN with fewer than 3 points). */
  slopeSe: number;
  interceptSe: number;
  /** 95% t-intervals (NaN ends with fewer than 3 points). */
  slopeCi: [number, number];
  n: number;
  /** Coefficient of determination. */
  r2: number;
  /** Residual standard deviation. */
  sigma: number;
  xMean: number;
  sxx: number;
  /** t quantile used for the intervals. */
  tq: number;
}

/** Ordinary least squares y = intercept + slope x, with t-based 95% intervals. Needs 2+ points with distinct x. */
export function fitLine(x: readonly number[], y: readonly number[], level = 0.95): LineFit {
  const n = x.length;
  if (n !== y.length) throw new Error(`fitLine: ${n} x values but ${y.length} y values`);
  if (n < 2) throw new Error('fitLine: needs at least 2 points');
  const xm = x.reduce((a, b) => a + b, 0) / n, ym = y.reduce((a, b) => a + b, 0) / n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) { sxx += (x[i] - xm) ** 2; sxy += (x[i] - xm) * (y[i] - ym); syy += (y[i] - ym) ** 2; }
  if (!(sxx > 0)) throw new Error('fitLine: all x values are equal');
  const slope = sxy / sxx, intercept = ym - slope * xm;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (y[i] - intercept - slope * x[i]) ** 2;
  const df = n - 2, sigma = df > 0 ? Math.sqrt(sse / df) : NaN;
  const slopeSe = sigma / Math.sqrt(sxx), interceptSe = sigma * Math.sqrt(1 / n + (xm * xm) / sxx);
  const tq = df > 0 ? studentTQuantile((1 + level) / 2, df) : NaN;
  return {
    slope, intercept, slopeSe, interceptSe, slopeCi: [slope - tq * slopeSe, slope + tq * slopeSe], n,
    r2: syy > 0 ? 1 - sse / syy : 1, sigma, xMean: xm, sxx, tq,
  };
}

/** The line's value at x0 with a t-interval for the mean response. */
export function predictLine(f: LineFit, x0: number): { value: number; ci: [number, number] } {
  const value = f.intercept + f.slope * x0;
  const se = f.sigma * Math.sqrt(1 / f.n + (x0 - f.xMean) ** 2 / f.sxx);
  return { value, ci: [value - f.tq * se, value + f.tq * se] };
}

/** Solves A x = b (Gaussian elimination, partial pivoting); null when A is singular to working precision. */
export function solve(A: readonly (readonly number[])[], b: readonly number[]): number[] | null {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  const scale = Math.max(...A.flat().map(Math.abs));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (!(Math.abs(M[p][c]) > 1e-13 * scale)) return null;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const k = M[r][c] / M[c][c];
      for (let j = c; j <= n; j++) M[r][j] -= k * M[c][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let j = r + 1; j < n; j++) s -= M[r][j] * x[j];
    x[r] = s / M[r][r];
  }
  return x;
}

/** Eigenvalues of a small symmetric matrix (cyclic Jacobi rotations), ascending. */
export function symmetricEigenvalues(S: readonly (readonly number[])[]): number[] {
  const n = S.length;
  const a = S.map((r) => [...r]);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off < 1e-30 * Math.max(1e-300, a.reduce((s, r, i) => s + r[i] ** 2, 0))) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (a[p][q] === 0) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk;
        }
      }
    }
  }
  return a.map((r, i) => r[i]).sort((x, y) => x - y);
}

/**
 * Holm's step-down procedure: which of k hypotheses to reject at family-wise level alpha. The
 * p-values sorted ascending, the j-th (from 0) is rejected while p <= alpha / (k - j); the first
 * that is not stops the procedure. Returns a flag per hypothesis, in the input order.
 */
export function holm(pValues: readonly number[], alpha: number): boolean[] {
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const reject = pValues.map(() => false);
  for (let j = 0; j < order.length; j++) {
    if (!(order[j].p <= alpha / (order.length - j))) break;
    reject[order[j].i] = true;
  }
  return reject;
}
