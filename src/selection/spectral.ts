/**
 * selectSpectral: SALN's in-batch selection (the paper's Algorithm 1).
 *
 * For a batch of n feature vectors X (rows flattened):
 *   1. S = cosine similarity of the rows (a zero row is similar to nothing, itself included);
 *   2. L = D − S with D = diag(row sums of S);
 *   3. f = the eigenvector of L's 2nd-smallest eigenvalue (the Fiedler vector);
 *   4. keep the k = floor(n·(1 − filterRatio)) samples with the largest |f|.
 * Everything is computed in float64, as the NumPy/SciPy reference is.
 *
 * Beyond the paper (each off by default): the symmetric or random-walk normalized Laplacian,
 * negative similarities clamped to 0, and a kNN-sparsified graph. See SpectralOptions.
 *
 * Where the answer is not unique, neither is any solver's: when the 2nd-smallest eigenvalue is
 * repeated (a graph in several pieces, e.g. from zero rows or a small knn), each solver returns
 * some vector of that eigenspace. Exact score ties are kept lower index first; the reference's
 * stable ascending argsort would keep the higher index there (only bitwise-equal scores differ).
 */
import { EngineError, Tensor, invalid, noGrad, tensor, tidy } from '../tensor/index.js';
import { gram, normalizeRowsInWorkspace } from './cosine.js';
import { fiedlerEigh, fiedlerLanczos, type FiedlerResult } from './fiedler.js';
import { denseLaplacian, graphWeights, gramLaplacian, type LaplacianKind, type LaplacianOperator } from './laplacian.js';
import { checkSelectionMemory, denseGraphBytes, eighBytes, selectionMemoryLimit } from './memory.js';

export type SolverKind = 'auto' | 'eigh' | 'lanczos';

export interface SpectralOptions {
  /** The fraction of the batch dropped, in [0, 1): 0.8 keeps 20%. k = floor(n·(1 − filterRatio)). */
  filterRatio: number;
  /**
   * 'eigh': full eigendecomposition (LAPACK), the reference path. 'lanczos': the Fiedler-only
   * solver; it stops once the selection is certified and falls back to eigh if it cannot get
   * there (see `fallback`). 'auto' (default): eigh below AUTO_LANCZOS_MIN_N samples, else lanczos.
   */
  solver?: SolverKind;
  /** Beyond the paper. 'unnormalized' (default, the paper): D − S. 'symmetric': I − D^-1/2 S D^-1/2. 'random-walk': I − D^-1 S. */
  laplacian?: LaplacianKind;
  /** Beyond the paper: negative cosine similarities become 0 (default false). */
  clampNegative?: boolean;
  /** Beyond the paper: keep each sample's knn most similar others, symmetrized (default: the full graph). */
  knn?: number;
  /** Lanczos: most steps before falling back (default 400). */
  maxIterations?: number;
  /** Lanczos: when it stops uncertified, rerun with eigh (default true). */
  fallback?: boolean;
  /**
   * Lanczos: apply L through the features (L·v = D·v − Xn(Xnᵀv)) instead of forming S. Default:
   * on for the plain cosine graph (no knn, no clampNegative), which those two options need.
   */
  matrixFree?: boolean;
  /**
   * The most bytes the dense paths (eigh, and the graph of knn / clampNegative) may need, checked
   * before they allocate (default: selectionMemoryLimit(), from $SALN_SELECT_MAX_BYTES or RAM).
   */
  maxMemoryBytes?: number;
}

/** Features as a flat row-major array: n samples of d values each. */
export interface FeatureMatrix {
  data: Float32Array | Float64Array;
  n: number;
  d: number;
}

export interface SpectralSelection {
  /** The k kept sample indices, by descending score (ties: lower index first). */
  indices: number[];
  /** |f| for every sample, the score the selection ranks by. */
  scores: Float64Array;
  /** The Fiedler vector f itself (signed; its overall sign is the solver's choice). */
  fiedler: Float64Array;
  /** L's 2nd-smallest eigenvalue. */
  fiedlerValue: number;
  /** How many samples are kept. */
  k: number;
  n: number;
  /** The solver that produced the result (after any fallback). */
  solver: 'eigh' | 'lanczos';
  /** Lanczos steps taken (0 for eigh). */
  iterations: number;
  /** Gap between the last kept and the first dropped score (Infinity when k = n). */
  margin: number;
  /**
   * True when the features cannot rank the samples: every non-zero row points the same way (all
   * rows zero, or all identical up to scale). Then L's 2nd-smallest eigenvalue is repeated, every
   * vector of its eigenspace is a Fiedler vector, and which samples are kept is arbitrary.
   */
  degenerate: boolean;
}

/** From this batch size on, 'auto' uses the Fiedler-only solver (measured by bench/select.ts). */
export const AUTO_LANCZOS_MIN_N = 64;

const OPTION_KEYS = ['filterRatio', 'solver', 'laplacian', 'clampNegative', 'knn', 'maxIterations', 'fallback', 'matrixFree', 'maxMemoryBytes'];
const SOLVERS: SolverKind[] = ['auto', 'eigh', 'lanczos'];
const LAPLACIANS: LaplacianKind[] = ['unnormalized', 'symmetric', 'random-walk'];

function camel(key: string): string {
  return key.replace(/[_-]([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Checks the options, with friendly messages (a misspelt key names the right one). */
export function checkOptions(o: SpectralOptions): Required<Omit<SpectralOptions, 'knn' | 'matrixFree' | 'maxMemoryBytes'>> & Pick<SpectralOptions, 'knn' | 'matrixFree' | 'maxMemoryBytes'> {
  if (o === null || typeof o !== 'object') throw invalid('an options object with filterRatio', 'options', o);
  for (const key of Object.keys(o)) {
    if (OPTION_KEYS.includes(key)) continue;
    const hint = OPTION_KEYS.find((k) => k.toLowerCase() === camel(key).toLowerCase());
    throw new EngineError(`Unknown option ${JSON.stringify(key)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; options are ${OPTION_KEYS.join(', ')}`);
  }
  const r = o.filterRatio;
  if (typeof r !== 'number' || !(r >= 0 && r < 1)) throw invalid('a number in [0, 1) (the fraction dropped)', 'filterRatio', r);
  const solver = o.solver ?? 'auto';
  if (!SOLVERS.includes(solver)) throw invalid(`one of ${SOLVERS.join(', ')}`, 'solver', solver);
  const laplacian = o.laplacian ?? 'unnormalized';
  if (!LAPLACIANS.includes(laplacian)) throw invalid(`one of ${LAPLACIANS.join(', ')}`, 'laplacian', laplacian);
  if (o.knn !== undefined && !(Number.isInteger(o.knn) && o.knn >= 1)) throw invalid('an integer >= 1', 'knn', o.knn);
  const maxIterations = o.maxIterations ?? 400;
  if (!(Number.isInteger(maxIterations) && maxIterations >= 1)) throw invalid('an integer >= 1', 'maxIterations', maxIterations);
  if (o.maxMemoryBytes !== undefined && !(Number.isSafeInteger(o.maxMemoryBytes) && o.maxMemoryBytes >= 1)) throw invalid('an integer >= 1', 'maxMemoryBytes', o.maxMemoryBytes);
  for (const key of ['clampNegative', 'fallback', 'matrixFree'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw invalid('a boolean', key, o[key]);
  }
  return {
    filterRatio: r, solver, laplacian, maxIterations, knn: o.knn, matrixFree: o.matrixFree, maxMemoryBytes: o.maxMemoryBytes,
    clampNegative: o.clampNegative ?? false, fallback: o.fallback ?? true,
  };
}

/**
 * k = floor(n·(1 − filterRatio)), in IEEE doubles exactly as the reference's int(n * (1 - r)):
 * 32·(1 − 0.8) = 6.3999… gives 6. Throws when k would be 0, naming the batch size and ratio.
 */
export function keptCount(n: number, filterRatio: number): number {
  const k = Math.trunc(n * (1 - filterRatio));
  if (k < 1) {
    let need = Math.max(n + 1, Math.ceil(1 / (1 - filterRatio)) - 1);
    while (Math.trunc(need * (1 - filterRatio)) < 1) need++;
    throw new EngineError(
      `a batch of ${n} samples with filter ratio ${filterRatio} keeps floor(${n} × (1 − ${filterRatio})) = 0 samples; ` +
        `use a batch of at least ${need} samples or a smaller filter ratio`,
    );
  }
  return k;
}

/** The features as a [n, d] tensor on the CPU, checked (n ≥ 2, d ≥ 1). Inside tidy(). */
function featureMatrix(features: Tensor | FeatureMatrix): Tensor {
  let x: Tensor;
  if (features instanceof Tensor) {
    if (features.isDisposed) throw new EngineError('features: the tensor has been disposed');
    if (features.ndim < 2) throw invalid('a tensor of rank >= 2 ([n, d], or [n, ...] flattened per row)', 'features', `shape [${features.shape.join(', ')}]`);
    x = features.ndim === 2 ? features : features.flatten(1);
    if (x.device !== 'cpu') x = x.to({ device: 'cpu' });
  } else if (features !== null && typeof features === 'object' && 'data' in features) {
    const { data, n, d } = features;
    if (!(data instanceof Float32Array || data instanceof Float64Array)) throw invalid('a Float32Array or Float64Array', 'features.data', data);
    if (!(Number.isInteger(n) && n >= 0)) throw invalid('a non-negative integer', 'features.n', n);
    if (!(Number.isInteger(d) && d >= 1)) throw invalid('a positive integer', 'features.d', d);
    if (data.length !== n * d) {
      throw new EngineError(`features: n × d = ${n} × ${d} = ${n * d} values expected, but data has ${data.length}`);
    }
    x = tensor(data, { shape: [n, d] });
  } else {
    throw invalid('a Tensor or { data: Float32Array, n, d }', 'features', features);
  }
  const [n, d] = x.shape as [number, number];
  if (n < 2) throw new EngineError(`selection needs a batch of at least 2 samples, but features has ${n}`);
  if (d < 1) throw new EngineError(`features has ${n} rows of 0 values: nothing to compare`);
  return x;
}

/**
 * Throws if a row holds NaN or Inf, naming the first one. Cheap on the good path: a NaN or Inf
 * makes the row's float64 norm non-finite, so only then are the values themselves searched.
 */
function checkFinite(x: Tensor, norms: Float64Array): void {
  const first = norms.findIndex((v) => !Number.isFinite(v));
  if (first < 0) return;
  const rows = x.isfinite().all(1).toTypedArray<'bool'>();
  const bad = rows.findIndex((v) => v === 0);
  if (bad < 0) throw new EngineError(`features: row ${first} is too large (its norm overflows float64)`);
  const row = x.select(0, bad).to('float64').toTypedArray<'float64'>();
  const col = row.findIndex((v) => !Number.isFinite(v));
  throw new EngineError(`features contain NaN or Inf: the first bad row is ${bad} (value ${row[col]} at column ${col})`);
}

/** Below this, two unit rows count as the same direction (float64 rounding of equal rows is far smaller). */
const SAME_DIRECTION_TOL = 1e-12;

/**
 * Whether every non-zero row of the normalized features is the same unit vector (see
 * SpectralSelection.degenerate). O(n·d), far below the solver's cost.
 */
function sameDirection(xn: Tensor, norms: Float64Array): boolean {
  const first = norms.findIndex((v) => v > 0);
  if (first < 0) return true;
  const off = xn.sub(xn.select(0, first).unsqueeze(0)).abs().amax(1).toTypedArray<'float64'>();
  return norms.every((v, i) => v === 0 || off[i]! <= SAME_DIRECTION_TOL);
}

/** Indices by descending score, ties by ascending index (a stable order). */
export function rankByScore(scores: Float64Array): number[] {
  return Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

function margin(scores: Float64Array, order: number[], k: number): number {
  return k < order.length ? scores[order[k - 1]!]! - scores[order[k]!]! : Infinity;
}

function absScores(op: LaplacianOperator, u: Tensor): Float64Array {
  return op.toFiedler(u).abs().toTypedArray<'float64'>();
}

/**
 * Keeps the k = floor(n·(1 − filterRatio)) samples with the largest |Fiedler component|.
 *
 * @param features [n, d] (or [n, ...], flattened per row) Tensor of any real dtype, or
 *   `{ data, n, d }` with a row-major Float32Array/Float64Array.
 * @example
 *   const { indices } = selectSpectral(embeddings, { filterRatio: 0.8 }); // keeps 20%
 */
export function selectSpectral(features: Tensor | FeatureMatrix, options: SpectralOptions): SpectralSelection {
  const o = checkOptions(options);
  // No autograd: features often come straight from a model in training.
  return noGrad(() => tidy(() => {
    const x = featureMatrix(features);
    const n = x.shape[0]!;
    const k = keptCount(n, o.filterRatio);
    const plainGraph = !o.clampNegative && (o.knn === undefined || o.knn >= n - 1);
    if (o.matrixFree && !plainGraph) throw new EngineError('matrixFree needs the plain cosine graph: it cannot be combined with knn or clampNegative');
    const solver = o.solver === 'auto' ? (n >= AUTO_LANCZOS_MIN_N ? 'lanczos' : 'eigh') : o.solver;
    const matrixFree = solver === 'lanczos' && plainGraph && (o.matrixFree ?? true);
    const limit = o.maxMemoryBytes ?? selectionMemoryLimit();
    const graphBytes = matrixFree ? 0 : denseGraphBytes(n, o.knn !== undefined && o.knn < n - 1);
    if (solver === 'eigh') checkSelectionMemory('eigh', n, graphBytes + eighBytes(n, false), limit);
    else checkSelectionMemory('the dense similarity graph (--knn or --clamp-negative)', n, graphBytes, limit);
    // S is formed only without matrixFree, and the reference BLAS forms it faster from Xnᵀ.
    const { xn, norms } = normalizeRowsInWorkspace(x, !matrixFree);
    checkFinite(x, norms);
    const op = matrixFree ? gramLaplacian(xn, o.laplacian) : denseLaplacian(graphWeights(gram(xn), o), o.laplacian);

    let res: FiedlerResult;
    if (solver === 'eigh') res = fiedlerEigh(op);
    else {
      res = fiedlerLanczos(op, {
        maxIterations: o.maxIterations,
        // Certified when every |f_i| is off by less than half the cut-off margin.
        tolerance: (u) => {
          const s = absScores(op, u);
          return margin(s, rankByScore(s), k) / 2 / op.errorFactor(u);
        },
      });
      // A zero operator (all-zero rows) can leave Lanczos' Ritz vectors NaN: eigh is exact there.
      const finite = Number.isFinite(res.value);
      if ((!res.converged || !finite) && o.fallback) {
        checkSelectionMemory('lanczos did not converge, and its eigh fallback', n, graphBytes + eighBytes(n, matrixFree), limit);
        res = fiedlerEigh(op);
      }
    }
    const f = op.toFiedler(res.vector);
    const scores = f.abs().toTypedArray<'float64'>();
    const order = rankByScore(scores);
    return {
      indices: order.slice(0, k), scores, fiedler: f.toTypedArray<'float64'>(), fiedlerValue: res.value, k, n,
      solver: res.solver, iterations: res.iterations, margin: margin(scores, order, k),
      degenerate: sameDirection(xn, norms),
    };
  }));
}
