/**
 * The few lowest eigenpairs of a small symmetric tridiagonal matrix (the Lanczos projection),
 * in plain JavaScript: Sturm-count bisection for the eigenvalues, inverse iteration for the
 * vectors. Why not the engine's eigh: this runs every few Lanczos steps on a matrix of a few
 * hundred rows, where a LAPACK call per check would cost more than the whole iteration.
 */

/** T = tridiag(beta, alpha, beta): alpha.length = m diagonal entries, beta.length = m - 1 off-diagonal ones. */
export interface Tridiagonal {
  alpha: ArrayLike<number>;
  beta: ArrayLike<number>;
}

/** How many eigenvalues of T are < x (Sturm sequence via the LDL^T pivots). */
function countBelow(t: Tridiagonal, x: number, tiny: number): number {
  let count = 0;
  let d = 1;
  for (let i = 0; i < t.alpha.length; i++) {
    const b = i === 0 ? 0 : t.beta[i - 1]!;
    d = t.alpha[i]! - x - (i === 0 ? 0 : (b * b) / d);
    // A zero pivot is nudged to -tiny, as LAPACK's dstebz does: the count stays correct.
    if (Math.abs(d) < tiny) d = -tiny;
    if (d < 0) count++;
  }
  return count;
}

/** Gershgorin interval holding every eigenvalue of T. */
function gershgorin(t: Tridiagonal): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const m = t.alpha.length;
  for (let i = 0; i < m; i++) {
    const r = (i > 0 ? Math.abs(t.beta[i - 1]!) : 0) + (i < m - 1 ? Math.abs(t.beta[i]!) : 0);
    lo = Math.min(lo, t.alpha[i]! - r);
    hi = Math.max(hi, t.alpha[i]! + r);
  }
  return [lo, hi];
}

/** The `count` smallest eigenvalues of T, ascending, each to about one ulp of ||T||. */
export function smallestEigenvalues(t: Tridiagonal, count: number): number[] {
  const m = t.alpha.length;
  const c = Math.min(count, m);
  const [glo, ghi] = gershgorin(t);
  const scale = Math.max(Math.abs(glo), Math.abs(ghi), Number.MIN_VALUE);
  const tiny = scale * 1e-300 || Number.MIN_VALUE;
  const tol = 2 * Number.EPSILON * scale;
  const out: number[] = [];
  for (let k = 0; k < c; k++) {
    // The (k+1)-th smallest eigenvalue is the x where countBelow crosses k.
    let lo = k === 0 ? glo - tol : out[k - 1]! - tol;
    let hi = ghi + tol;
    while (hi - lo > tol) {
      const mid = 0.5 * (lo + hi);
      if (mid === lo || mid === hi) break;
      if (countBelow(t, mid, tiny) > k) hi = mid;
      else lo = mid;
    }
    out.push(0.5 * (lo + hi));
  }
  return out;
}

/**
 * Solves (T - shift·I) x = b in place of b, by Gaussian elimination with partial pivoting
 * (LAPACK's dgttrf/dgttrs). A zero pivot is replaced by a tiny one: inverse iteration wants
 * the huge, eigenvector-shaped solution that follows.
 */
function shiftedSolve(t: Tridiagonal, shift: number, b: Float64Array, tiny: number): void {
  const m = b.length;
  const d = new Float64Array(m); // diagonal of U
  const du = new Float64Array(m); // first superdiagonal of U
  const du2 = new Float64Array(m); // second superdiagonal of U (fill-in from pivoting)
  const l = new Float64Array(m); // multipliers
  const swapped = new Uint8Array(m);
  for (let i = 0; i < m; i++) d[i] = t.alpha[i]! - shift;
  for (let i = 0; i < m - 1; i++) du[i] = t.beta[i]!;
  const dl = Float64Array.from({ length: Math.max(m - 1, 0) }, (_, i) => t.beta[i]!);
  for (let i = 0; i < m - 1; i++) {
    if (Math.abs(d[i]!) >= Math.abs(dl[i]!)) {
      if (d[i] === 0) d[i] = tiny;
      const f = dl[i]! / d[i]!;
      l[i] = f;
      d[i + 1] = d[i + 1]! - f * du[i]!;
    } else {
      // Swap rows i and i+1.
      const f = d[i]! / dl[i]!;
      l[i] = f;
      swapped[i] = 1;
      d[i] = dl[i]!;
      const tmp = d[i + 1]!;
      d[i + 1] = du[i]! - f * tmp;
      du[i] = tmp;
      if (i < m - 2) {
        du2[i] = du[i + 1]!;
        du[i + 1] = -f * du2[i]!;
      }
    }
  }
  if (d[m - 1] === 0) d[m - 1] = tiny;
  // Forward: apply the row swaps and multipliers to b.
  for (let i = 0; i < m - 1; i++) {
    if (swapped[i]) {
      const tmp = b[i]!;
      b[i] = b[i + 1]!;
      b[i + 1] = tmp - l[i]! * b[i]!;
    } else {
      b[i + 1] = b[i + 1]! - l[i]! * b[i]!;
    }
  }
  // Back substitution with U (three diagonals).
  for (let i = m - 1; i >= 0; i--) {
    let s = b[i]!;
    if (i + 1 < m) s -= du[i]! * b[i + 1]!;
    if (i + 2 < m) s -= du2[i]! * b[i + 2]!;
    b[i] = s / d[i]!;
  }
}

function normalize(x: Float64Array): void {
  let s = 0;
  for (const v of x) s += v * v;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < x.length; i++) x[i]! *= inv;
}

/**
 * Unit eigenvectors of T for the given (accurate) eigenvalues, by inverse iteration. Vectors of
 * close eigenvalues are orthogonalized against each other, as LAPACK's dstein does for clusters.
 */
export function eigenvectors(t: Tridiagonal, values: number[]): Float64Array[] {
  const m = t.alpha.length;
  const [glo, ghi] = gershgorin(t);
  const scale = Math.max(Math.abs(glo), Math.abs(ghi), Number.MIN_VALUE);
  const tiny = Number.EPSILON * scale;
  const vecs: Float64Array[] = [];
  for (let k = 0; k < values.length; k++) {
    // A fixed, non-special start (no component is zero for a generic T).
    const x = Float64Array.from({ length: m }, (_, i) => 1 + ((i * 0.6180339887498949) % 1));
    normalize(x);
    for (let it = 0; it < 3; it++) {
      shiftedSolve(t, values[k]!, x, tiny);
      for (let j = 0; j < k; j++) {
        if (Math.abs(values[j]! - values[k]!) > 1e-3 * scale) continue;
        const v = vecs[j]!;
        let dot = 0;
        for (let i = 0; i < m; i++) dot += v[i]! * x[i]!;
        for (let i = 0; i < m; i++) x[i]! -= dot * v[i]!;
      }
      normalize(x);
    }
    vecs.push(x);
  }
  return vecs;
}
