// Dense linear algebra on plain arrays, in float64, for measuring representations: eigenvalues of
// a symmetric matrix (cyclic Jacobi), singular values, effective and stable rank, covariance and
// the distance of a covariance from isotropy.
//
//   effective rank   exp(entropy of the singular values normalised to sum 1) (Roy & Vetterli 2007):
//                    d for a matrix with d equal singular values, 1 for rank one
//   stable rank      sum s_i^2 / max s_i^2 (||A||_F^2 / ||A||_2^2)
//   isotropy distance  of the covariance S of centred rows: || S d / tr(S) - I ||_F / sqrt(d); 0 for
//                    white (isotropic) representations, sqrt(d - 1) when all variance lies on one axis
//
// Singular values come from the eigenvalues of the smaller Gram matrix (A^T A or A A^T): small
// matrices only (d up to a few hundred), and singular values below about sqrt(machine epsilon)
// times the largest are not resolved.

/** Eigenvalues of a symmetric n x n matrix (row-major; not modified), descending. */
export function symmetricEigenvalues(matrix: ArrayLike<number>, n: number): number[] {
  if (matrix.length !== n * n) throw new Error(`symmetricEigenvalues: ${matrix.length} values for a ${n} x ${n} matrix`);
  const a = Float64Array.from(matrix);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i] ** 2;
      for (let j = i + 1; j < n; j++) off += a[i * n + j] ** 2;
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) {
      const apq = a[p * n + q];
      if (Math.abs(apq) < 1e-300) continue;
      const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1), s = t * c;
      for (let k = 0; k < n; k++) { // columns p, q
        const akp = a[k * n + p], akq = a[k * n + q];
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
      }
      for (let k = 0; k < n; k++) { // rows p, q
        const apk = a[p * n + k], aqk = a[q * n + k];
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
      }
    }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]).sort((x, y) => y - x);
}

/** Singular values of a rows x cols matrix (row-major), descending; min(rows, cols) of them. */
export function singularValues(data: ArrayLike<number>, rows: number, cols: number): number[] {
  if (data.length !== rows * cols) throw new Error(`singularValues: ${data.length} values for ${rows} x ${cols}`);
  const n = Math.min(rows, cols), gram = new Float64Array(n * n);
  const at = (r: number, c: number) => data[r * cols + c];
  if (cols <= rows) { // A^T A
    for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) {
      const v = at(r, i);
      if (v !== 0) for (let j = i; j < cols; j++) gram[i * n + j] += v * at(r, j);
    }
  } else { // A A^T
    for (let i = 0; i < rows; i++) for (let j = i; j < rows; j++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += at(i, c) * at(j, c);
      gram[i * n + j] = s;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) gram[i * n + j] = gram[j * n + i];
  return symmetricEigenvalues(gram, n).map((e) => Math.sqrt(Math.max(0, e)));
}

export function effectiveRank(singular: readonly number[]): number {
  const total = singular.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return 0;
  let h = 0;
  for (const s of singular) if (s > 0) { const p = s / total; h -= p * Math.log(p); }
  return Math.exp(h);
}

export function stableRank(singular: readonly number[]): number {
  const top = Math.max(...singular);
  return top > 0 ? singular.reduce((a, s) => a + s * s, 0) / (top * top) : 0;
}

/** Covariance (d x d, float64) of the rows of a rows x d matrix after centring. */
export function covariance(data: ArrayLike<number>, rows: number, d: number): Float64Array {
  if (rows < 2) throw new Error(`covariance: needs at least 2 rows, got ${rows}`);
  const mean = new Float64Array(d);
  for (let r = 0; r < rows; r++) for (let c = 0; c < d; c++) mean[c] += data[r * d + c] / rows;
  const cov = new Float64Array(d * d);
  const x = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < d; c++) x[c] = data[r * d + c] - mean[c];
    for (let i = 0; i < d; i++) if (x[i] !== 0) for (let j = i; j < d; j++) cov[i * d + j] += x[i] * x[j];
  }
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) { cov[i * d + j] /= rows - 1; cov[j * d + i] = cov[i * d + j]; }
  return cov;
}

/** || S d / tr(S) - I ||_F / sqrt(d) for the covariance S of the rows. */
export function isotropyDistance(data: ArrayLike<number>, rows: number, d: number): number {
  const cov = covariance(data, rows, d);
  let tr = 0;
  for (let i = 0; i < d; i++) tr += cov[i * d + i];
  if (!(tr > 0)) return Math.sqrt(d - 1);
  let f = 0;
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) f += ((cov[i * d + j] * d) / tr - (i === j ? 1 : 0)) ** 2;
  return Math.sqrt(f / d);
}

