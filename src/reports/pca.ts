/**
 * A 2-D principal component projection with the engine's eigh (LAPACK): centre the rows, then
 * eigendecompose whichever is smaller, the D×D covariance (D ≤ B) or the B×B Gram matrix
 * (D > B: a batch of 128 samples with 2048 features needs a 128×128 problem, not 2048×2048).
 */
import { eigh, tidy, type Tensor } from '../tensor/index.js';

export interface Projection {
  /** Row-major [B, 2]: each sample's first and second principal component scores. */
  coords: Float64Array;
  /** The fraction of the total variance the two components explain (0 where there is none). */
  explained: [number, number];
}

/** Projects x [B, D] onto its first two principal components; signs fixed so each component's largest |score| is positive. */
export function pca2(x: Tensor): Projection {
  if (x.ndim !== 2) throw new RangeError(`pca2: expected features [B, D], got shape [${x.shape.join(', ')}]`);
  const [b, d] = x.shape as [number, number];
  const coords = new Float64Array(2 * b);
  if (b === 0 || d === 0) return { coords, explained: [0, 0] };
  const { scores, values } = tidy(() => {
    const xd = x.to('float64');
    const xc = xd.sub(xd.mean(0, true));
    const m = Math.min(b, d);
    const k = Math.min(2, m);
    if (d <= b) {
      const [w, v] = eigh(xc.transpose(0, 1).matmul(xc));
      // eigh sorts ascending: the top components are the last columns.
      const top = v.narrow(1, d - k, k).flip(1);
      return { scores: xc.matmul(top).toTypedArray<'float64'>() as Float64Array, values: w.toTypedArray<'float64'>() as Float64Array };
    }
    const [w, u] = eigh(xc.matmul(xc.transpose(0, 1)));
    const top = u.narrow(1, b - k, k).flip(1);
    const sv = w.narrow(0, b - k, k).flip(0).clamp(0, null).sqrt();
    return { scores: top.mul(sv.unsqueeze(0)).toTypedArray<'float64'>() as Float64Array, values: w.toTypedArray<'float64'>() as Float64Array };
  });
  const k = scores.length / b;
  for (let c = 0; c < k; c++) {
    let big = 0;
    for (let i = 0; i < b; i++) if (Math.abs(scores[i * k + c]!) > Math.abs(big)) big = scores[i * k + c]!;
    const s = big < 0 ? -1 : 1;
    for (let i = 0; i < b; i++) coords[2 * i + c] = s * scores[i * k + c]!;
  }
  const total = values.reduce((a, v) => a + Math.max(0, v), 0);
  const sorted = Array.from(values).sort((p, q) => q - p);
  const frac = (i: number): number => (total > 0 && i < k ? Math.max(0, sorted[i]!) / total : 0);
  return { coords, explained: [frac(0), frac(1)] };
}
