/**
 * The two Fiedler solvers.
 *
 * - fiedlerEigh: the reference path. The full symmetric eigendecomposition of the dense L
 *   through the engine's eigh (LAPACK), then the eigenvector of the 2nd-smallest eigenvalue.
 * - fiedlerLanczos: Lanczos with full reorthogonalization, started orthogonal to L's known null
 *   vector, which stays in the basis as row 0, so every reorthogonalization deflates it. It needs
 *   only products L·v (one pass over S, or two over the features), and it stops as soon as the
 *   selection it implies is certified: the error bound on the Fiedler vector is smaller than
 *   half the gap between the last kept and the first dropped score, so eigh would keep the same
 *   set. Why not LOBPCG or block methods: products with a block of vectors cost as much as that
 *   many single products on a reference BLAS, and single-vector Lanczos needs the fewest.
 *
 * Both return an eigenvector u of the operator; the operator's toFiedler maps it to f.
 * Run inside a tidy() scope.
 */
import { eigh, keep, tensor, tidy, zeros, type Tensor } from '../tensor/index.js';
import type { LaplacianOperator } from './laplacian.js';
import { eigenvectors, smallestEigenvalues } from './tridiagonal.js';

export interface FiedlerResult {
  /** The Fiedler value: L's 2nd-smallest eigenvalue. */
  value: number;
  /** Its unit eigenvector u of L, float64 [n] (the Fiedler vector is op.toFiedler(u)). */
  vector: Tensor;
  solver: 'eigh' | 'lanczos';
  /** Lanczos steps taken (0 for eigh). */
  iterations: number;
  /** For Lanczos: a bound on ||u − u*||₂ against the exact eigenvector u*, or NaN where unknown. */
  errorBound: number;
  /** For Lanczos: whether the stopping test (certificate or floating-point floor) was met. */
  converged: boolean;
}

/** The reference path: full eigh of the dense Laplacian. */
export function fiedlerEigh(op: LaplacianOperator): FiedlerResult {
  const [w, v] = eigh(op.dense());
  const values = w.toTypedArray<'float64'>();
  return {
    value: values[1]!,
    vector: v.select(1, 1).contiguous(),
    solver: 'eigh',
    iterations: 0,
    errorBound: Number.NaN,
    converged: true,
  };
}

export interface LanczosOptions {
  /** Most Lanczos steps before giving up (default 400; never more than n − 1). */
  maxIterations?: number;
  /**
   * The largest acceptable ||u − u*||₂ for a candidate u (the caller derives it from the
   * selection's cut-off margin). Without it, Lanczos runs to the floating-point floor.
   */
  tolerance?: (u: Tensor) => number;
}

/** A fixed pseudo-random vector (mulberry32), so results never depend on the global generator. */
function pseudoRandom(n: number, seed: number): Float64Array {
  let a = (0x5a1c0de + seed * 0x9e3779b9) | 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

/**
 * Which Ritz value is the Fiedler value. L's spectrum is {0 (the deflated null vector)} ∪ {μ₁ ≤
 * μ₂ ≤ …} (the deflated operator's), and the Fiedler value is its 2nd-smallest element: μ₁ when
 * L is positive semidefinite (always, with nonnegative similarities); with negative
 * similarities μ₂ when μ₂ < 0, or the null vector itself (index -1) when μ₁ < 0 ≤ μ₂.
 */
function fiedlerIndex(mu: number[]): number {
  if (mu[0]! >= 0) return 0;
  if (mu.length > 1 && mu[1]! < 0) return 1;
  return -1;
}

/** Relative accuracy asked of the Fiedler value (on top of the certified selection). */
const VALUE_RTOL = 1e-10;

/**
 * The Lanczos vectors, as rows of one float64 matrix (row 0: the deflated null vector). It starts
 * small and doubles: most runs stop within 32 steps, and a fresh buffer for all maxSteps rows
 * (3 MB at n = 1024) costs more in page faults here than the steps themselves. Kept out of
 * tidy() scopes (it grows inside them): dispose() it.
 */
class Basis {
  #rows: Tensor;
  constructor(readonly n: number, readonly maxRows: number) {
    this.#rows = keep(zeros([Math.min(maxRows, 34), n], { dtype: 'float64' }));
  }
  row(i: number): Tensor {
    return this.#rows.select(0, i);
  }
  /** Rows [start, start + count), a view. */
  rows(start: number, count: number): Tensor {
    return this.#rows.narrow(0, start, count);
  }
  /** Stores w/‖w‖ as row i; returns ‖w‖. */
  set(i: number, w: Tensor): number {
    const cap = this.#rows.shape[0]!;
    if (i >= cap) {
      const grown = keep(zeros([Math.min(this.maxRows, 2 * cap), this.n], { dtype: 'float64' }));
      grown.narrow(0, 0, cap).copy_(this.#rows);
      this.#rows.dispose();
      this.#rows = grown;
    }
    const norm = w.norm().item();
    this.row(i).copy_(w.div(norm));
    return norm;
  }
  /** w minus its projection on rows [0, count), in place. */
  orthogonalize(w: Tensor, count: number): Tensor {
    // Twice is enough (Kahan–Parlett): a second pass only where the first removed a lot.
    const b = this.rows(0, count);
    const before = w.norm().item();
    w.sub_(b.T.matmul(b.matmul(w)));
    if (w.norm().item() < 0.7 * before) w.sub_(b.T.matmul(b.matmul(w)));
    return w;
  }
  dispose(): void {
    this.#rows.dispose();
  }
}

/** Lanczos with full reorthogonalization and the null vector deflated. */
export function fiedlerLanczos(op: LaplacianOperator, o: LanczosOptions = {}): FiedlerResult {
  const maxSteps = Math.max(1, Math.min(op.n - 1, o.maxIterations ?? 400));
  const basis = new Basis(op.n, maxSteps + 2);
  try {
    return lanczos(op, basis, maxSteps, o);
  } finally {
    basis.dispose();
  }
}

function lanczos(op: LaplacianOperator, basis: Basis, maxSteps: number, o: LanczosOptions): FiedlerResult {
  const n = op.n;
  basis.row(0).copy_(op.nullVector);
  tidy(() => basis.set(1, basis.orthogonalize(tensor(pseudoRandom(n, 0)), 1)));

  const alpha: number[] = [];
  const beta: number[] = [];
  let restarts = 0;
  let normEst = 0;
  let tolerance = Number.NaN; // known once a first candidate has been scored
  let last: FiedlerResult | null = null;

  /** One Lanczos step: α_m, β_m, and row m + 1 of the basis. Its temporaries die with it. */
  const step = (m: number, exhausted: boolean): [number, number] => tidy(() => {
    const q = basis.row(m);
    const w = op.apply(q);
    const a = q.matmul(w).item();
    w.sub_(q, a);
    if (m > 1) w.sub_(basis.row(m - 1), beta[m - 2]!);
    basis.orthogonalize(w, m + 1);
    let b = w.norm().item();
    normEst = Math.max(normEst, Math.abs(a) + b + (m > 1 ? beta[m - 2]! : 0));
    if (!exhausted) {
      if (b <= 1e-12 * normEst) {
        // An invariant subspace: go on from a fresh direction orthogonal to it (T splits there).
        b = 0;
        basis.set(m + 1, basis.orthogonalize(basis.orthogonalize(tensor(pseudoRandom(n, ++restarts)), m + 1), m + 1));
      } else {
        basis.set(m + 1, w);
      }
    }
    return [a, b];
  });

  for (let m = 1; m <= maxSteps; m++) {
    const exhausted = m === maxSteps;
    const [a, b] = step(m, exhausted);
    alpha.push(a);
    beta.push(b);

    // A look at T alone, every step (it costs O(m) in JavaScript, next to an O(n·d) product):
    // Ritz values, and the Lanczos residual estimates |β_m·s_m|.
    const t = { alpha, beta: beta.slice(0, m - 1) };
    const mu = smallestEigenvalues(t, Math.min(m, 3));
    const idx = fiedlerIndex(mu);
    const complete = m >= n - 1; // the Krylov space is all of the deflated space: T is exact
    const floor = 64 * Number.EPSILON * normEst * Math.sqrt(n);
    if (idx < 0) {
      if (!exhausted && !complete && !nullVectorSettled(t, mu, b, Math.max(floor, 1e-8 * normEst))) continue;
      return { value: 0, vector: op.nullVector, solver: 'lanczos', iterations: m, errorBound: 0, converged: !exhausted || complete };
    }
    const near = [idx - 1, idx, idx + 1].filter((i) => i >= 0 && i < mu.length);
    const vecs = eigenvectors(t, near.map((i) => mu[i]!));
    const rho = near.map((_, j) => Math.abs(b * vecs[j]![m - 1]!));
    const self = near.indexOf(idx);
    const gap = certifiedGap(mu, idx, near, rho);
    const estimate = rho[self]!;
    if (!exhausted && !complete && estimate > floor && !worthScoring(estimate, gap, mu[idx]!, tolerance)) continue;

    // The candidate, with its true residual (not the estimate) in the bound.
    last?.vector.dispose();
    const c = scoreCandidate(op, basis, m, vecs[self]!, o);
    const errorBound = complete ? 0 : gap > 0 ? (Math.SQRT2 * c.residual) / gap : Infinity;
    tolerance = c.tolerance;
    // The set is certified by errorBound; the reported value also gets ~10 correct digits
    // (its error is at most residual²/gap), so it reads like the reference's.
    const valueOk = gap > 0 && (c.residual * c.residual) / gap <= VALUE_RTOL * Math.abs(c.value);
    const converged = complete || (errorBound < tolerance && valueOk) || c.residual <= floor;
    last = { value: c.value, vector: c.vector, solver: 'lanczos', iterations: m, errorBound, converged };
    if (converged) return last;
  }
  return last!;
}

/**
 * μ₁ < 0 ≤ μ₂: the null vector is the Fiedler vector, but only once μ₂ has converged (its residual
 * under `limit` and μ₂ − residual still ≥ 0), since Ritz values come down from above and an
 * unconverged μ₂ ≥ 0 may still turn negative.
 */
function nullVectorSettled(t: { alpha: number[]; beta: number[] }, mu: number[], b: number, limit: number): boolean {
  const m = t.alpha.length;
  const rho2 = mu.length > 1 ? Math.abs(b * eigenvectors(t, [mu[1]!])[0]![m - 1]!) : Infinity;
  return rho2 <= limit && mu[1]! - rho2 >= 0;
}

/**
 * The gap from Ritz value mu[idx] to the nearest other one in `near`, shrunk by that neighbour's
 * own uncertainty rho. A neighbour not yet converged to a quarter of its distance gives no usable
 * gap (NaN), and so does having no neighbour yet.
 */
function certifiedGap(mu: readonly number[], idx: number, near: readonly number[], rho: readonly number[]): number {
  let gap = near.length > 1 ? Infinity : Number.NaN;
  near.forEach((i, j) => {
    if (i === idx) return;
    const dist = Math.abs(mu[i]! - mu[idx]!);
    gap = Math.min(gap, rho[j]! <= 0.25 * dist ? dist - rho[j]! : Number.NaN);
  });
  return gap;
}

/**
 * Whether the residual estimate is good enough to form and score a candidate: before the first
 * candidate (tolerance NaN) a rough shape (bound ≤ 1e-2); after it, the accuracy the selection and
 * the value need.
 */
function worthScoring(estimate: number, gap: number, value: number, tolerance: number): boolean {
  if (!(gap > 0)) return false;
  const bound = (Math.SQRT2 * estimate) / gap;
  if (Number.isNaN(tolerance)) return !(bound > 1e-2);
  return !(bound >= 0.5 * tolerance || (estimate * estimate) / gap > VALUE_RTOL * Math.abs(value));
}

/** The candidate Ritz vector from T's eigenvector y: unit, with its Rayleigh quotient, true residual and the caller's tolerance for it. */
function scoreCandidate(op: LaplacianOperator, basis: Basis, m: number, y: Float64Array, o: LanczosOptions): { vector: Tensor; value: number; residual: number; tolerance: number } {
  const [vector, value, residual, tolerance] = tidy(() => {
    const x = basis.rows(1, m).T.matmul(tensor(y));
    const v = x.div(x.norm());
    const lv = op.apply(v);
    const rq = v.matmul(lv).item(); // the Rayleigh quotient: accurate to O(residual²)
    return [v, rq, lv.sub(v.mul(rq)).norm().item(), o.tolerance ? o.tolerance(v) : 0] as const;
  });
  return { vector, value, residual, tolerance };
}
