/**
 * Cosine similarity between the rows of a feature matrix, in float64 as the reference
 * (scikit-learn's cosine_similarity on x.astype(float64)). A zero row stays zero, so it has
 * similarity 0 to everything, itself included.
 */
import { empty, keep, tidy, type Tensor } from '../tensor/index.js';

/**
 * Divides the rows of a float64 matrix by their L2 norms, in place; a zero row stays zero
 * (divided by 1, as scikit-learn does). Division, not a reciprocal, so rounding matches the
 * reference. Returns the norms (before division) as a [n, 1] tensor.
 */
function divideByNorms(x64: Tensor): Tensor {
  return tidy(() => {
    const norms = x64.norm(2, 1, true);
    x64.div_(norms.maskedFill(norms.eq(0), 1));
    return norms;
  });
}

/** Rows scaled to unit L2 norm, float64 [n, d], in a new tensor. */
export function normalizeRows(x: Tensor): Tensor {
  const x64 = x.to({ dtype: 'float64', copy: true });
  divideByNorms(x64).dispose();
  return x64;
}

// A kept float64 buffer for selectSpectral's normalized features. Converting a batch into a
// fresh buffer costs far more here than the conversion itself (new pages fault in, for every
// call); a buffer reused across calls stays resident. 16 MB for 1024 × 2048 features.
let workspace: Tensor | null = null;

/** Frees the buffer selectSpectral keeps between calls (it is made again when needed). */
export function releaseWorkspace(): void {
  workspace?.dispose();
  workspace = null;
}

/**
 * Like normalizeRows, but into the kept workspace: the result is a view that the next call
 * overwrites, for selectSpectral's use only. `columnMajor` stores it as Xnᵀ (a [d, n] buffer,
 * returned as its transposed view): the reference BLAS computes Xn·Xnᵀ about twice as fast so.
 * Also returns the row norms, as plain numbers.
 */
export function normalizeRowsInWorkspace(x: Tensor, columnMajor: boolean): { xn: Tensor; norms: Float64Array } {
  const [n, d] = x.shape as [number, number];
  if (workspace === null || workspace.isDisposed || workspace.numel < n * d) {
    workspace?.dispose();
    workspace = keep(empty([n * d], { dtype: 'float64' }));
  }
  const buf = workspace.narrow(0, 0, n * d);
  const xn = columnMajor ? buf.view(d, n).copy_(x.T).T : buf.view(n, d).copy_(x);
  const norms = divideByNorms(xn);
  return { xn, norms: norms.toTypedArray<'float64'>() };
}

/** S = Xn Xnᵀ for rows already normalized: [n, n] float64, symmetric. */
export function gram(xn: Tensor): Tensor {
  return xn.matmul(xn.T);
}

/** Cosine similarity of the rows of x [n, d]: float64 [n, n]. */
export function cosineSimilarity(x: Tensor): Tensor {
  const xn = normalizeRows(x);
  const s = gram(xn);
  xn.dispose();
  return s;
}
