/**
 * The similarity graph and its Laplacian, as an operator the solvers share.
 *
 * Every Laplacian here is L = diag(a) − W' for a symmetric W', so one operator shape serves all:
 * - 'unnormalized' (the paper): L = D − S, a = deg, W' = S, null vector 1/√n.
 * - 'symmetric':   L = I − D^-1/2 S D^-1/2, a = 1, W' = D^-1/2 S D^-1/2, null vector ∝ √deg.
 * - 'random-walk': L = I − D^-1 S is not symmetric, but it has the eigenvalues of the symmetric
 *   one and eigenvectors f = D^-1/2 u, so it is solved through the symmetric one.
 *
 * W' is kept either dense ([n, n]) or, when the graph is the plain cosine graph, as a Gram
 * factor Y with W' = Y Yᵀ: then L·v costs two [n, d] products and S is never formed.
 *
 * Functions here create tensors freely: run them inside a tidy() scope.
 */
import { EngineError, tensor, eye, ones, zeros, type Tensor } from '../tensor/index.js';

export type LaplacianKind = 'unnormalized' | 'symmetric' | 'random-walk';

export interface GraphOptions {
  /** Replace negative similarities by 0 (beyond the paper). */
  clampNegative?: boolean;
  /** Keep only each sample's knn most similar others, symmetrized (beyond the paper). */
  knn?: number;
}

/** A symmetric Laplacian L = diag(a) − W', applied to vectors; see the file comment. */
export interface LaplacianOperator {
  readonly n: number;
  readonly kind: LaplacianKind;
  /** L·v for a float64 vector v of length n. */
  apply(v: Tensor): Tensor;
  /** L as a dense [n, n] float64 matrix (for eigh). */
  dense(): Tensor;
  /** An exact unit eigenvector of L with eigenvalue 0 (the constant vector, or ∝ √deg), float64 [n]. */
  readonly nullVector: Tensor;
  /** Maps an eigenvector u of L to the Fiedler vector of the chosen Laplacian (random-walk: D^-1/2 u, unit norm). */
  toFiedler(u: Tensor): Tensor;
  /** c with ||toFiedler(u) − toFiedler(u*)||₂ ≤ c·||u − u*||₂ near u (1 unless random-walk). */
  errorFactor(u: Tensor): number;
}

/**
 * Applies the options beyond the paper to a dense similarity matrix S (float64, diagonal kept).
 * kNN: i and j stay linked when j is among i's knn most similar others or i among j's; the
 * diagonal is kept, so knn ≥ n − 1 leaves S unchanged.
 */
export function graphWeights(s: Tensor, o: GraphOptions): Tensor {
  let w = s;
  if (o.clampNegative) w = w.maximum(0);
  const n = w.shape[0]!;
  if (o.knn !== undefined && o.knn < n - 1) {
    const self = eye(n, { dtype: 'bool' });
    // Self-similarity is excluded from the ranking by pushing it below every real similarity.
    const ranked = w.maskedFill(self, -Infinity);
    const [, idx] = ranked.topk(o.knn, { dim: 1 });
    const chosen = zeros([n, n], { dtype: 'float64' }).scatter(1, idx, ones([n, o.knn], { dtype: 'float64' }));
    const linked = chosen.maximum(chosen.T).gt(0).logicalOr(self);
    w = w.maskedFill(linked.logicalNot(), 0);
  }
  return w;
}

/** 1/√deg, with a clear error where a degree is not positive (the normalized Laplacians need deg > 0). */
function invSqrtDegrees(deg: Tensor, kind: LaplacianKind): Tensor {
  const d = deg.toTypedArray<'float64'>();
  const bad = d.findIndex((v) => !(v > 0));
  if (bad >= 0) {
    throw new EngineError(
      `the '${kind}' Laplacian needs every degree > 0, but sample ${bad} has degree ${d[bad]}` +
        ' (a zero feature row, or negative similarities: use clampNegative, or the unnormalized Laplacian)',
    );
  }
  return deg.rsqrt();
}

function unitConstant(n: number): Tensor {
  return tensor(new Float64Array(n).fill(1 / Math.sqrt(n)));
}

function unit(v: Tensor): Tensor {
  return v.div(v.norm());
}

/**
 * toFiedler and errorFactor for the normalized Laplacians. For random-walk, f = g/||g|| with
 * g = D^-1/2 u, and ||f − f*|| ≤ 2·||g − g*||/||g|| ≤ 2·max(D^-1/2)/||g||·||u − u*||.
 */
function normalizedMaps(kind: LaplacianKind, dis: Tensor): Pick<LaplacianOperator, 'toFiedler' | 'errorFactor'> {
  if (kind !== 'random-walk') return { toFiedler: (u) => u, errorFactor: () => 1 };
  const maxDis = dis.amax().item();
  return {
    toFiedler: (u) => unit(u.mul(dis)),
    errorFactor: (u) => (2 * maxDis) / u.mul(dis).norm().item(),
  };
}

/** The operator from a dense weight matrix W (float64 [n, n], symmetric). */
export function denseLaplacian(w: Tensor, kind: LaplacianKind): LaplacianOperator {
  const n = w.shape[0]!;
  const deg = w.sum(1);
  if (kind === 'unnormalized') {
    const l = deg.diagEmbed().sub(w);
    return {
      n, kind, nullVector: unitConstant(n),
      apply: (v) => l.matmul(v),
      dense: () => l,
      toFiedler: (u) => u,
      errorFactor: () => 1,
    };
  }
  const dis = invSqrtDegrees(deg, kind);
  const l = eye(n, { dtype: 'float64' }).sub(w.mul(dis.unsqueeze(1)).mul(dis.unsqueeze(0)));
  return {
    n, kind, nullVector: unit(deg.sqrt()),
    apply: (v) => l.matmul(v),
    dense: () => l,
    ...normalizedMaps(kind, dis),
  };
}

/**
 * The matrix-free operator for the plain cosine graph: W = Xn Xnᵀ is never formed, and
 * L·v = a⊙v − Y(Yᵀv) costs 4·n·d flops instead of the n²·d of forming S.
 */
export function gramLaplacian(xn: Tensor, kind: LaplacianKind): LaplacianOperator {
  const n = xn.shape[0]!;
  const deg = xn.matmul(xn.T.matmul(tensor(new Float64Array(n).fill(1))));
  if (kind === 'unnormalized') {
    return {
      n, kind, nullVector: unitConstant(n),
      apply: (v) => deg.mul(v).sub(xn.matmul(xn.T.matmul(v))),
      dense: () => deg.diagEmbed().sub(xn.matmul(xn.T)),
      toFiedler: (u) => u,
      errorFactor: () => 1,
    };
  }
  const dis = invSqrtDegrees(deg, kind);
  const y = xn.mul(dis.unsqueeze(1));
  return {
    n, kind, nullVector: unit(deg.sqrt()),
    apply: (v) => v.sub(y.matmul(y.T.matmul(v))),
    dense: () => eye(n, { dtype: 'float64' }).sub(y.matmul(y.T)),
    ...normalizedMaps(kind, dis),
  };
}
