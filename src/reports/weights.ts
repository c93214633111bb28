/**
 * The final layer's weights from a run's checkpoint.safetensors, reduced for display: a
 * heatmap grid (binned by averaging where there are too many classes or features to draw) and
 * a histogram of every value.
 */
import { InputError } from '../errors.js';
import { tidy } from '../tensor/index.js';
import { RunDir } from '../train/run-dir.js';

export interface FcWeights {
  path: string;
  /** The tensor shown: `model.fc.weight`, or else the last 2-D `model.*.weight`. */
  key: string;
  rows: number;
  cols: number;
  heat: { rows: number; cols: number; rowBin: number; colBin: number; values: Float64Array };
  histogram: { lo: number; hi: number; count: number }[];
}

/** Averages a [rows, cols] matrix over blocks so that it is at most maxRows × maxCols. */
export function binMatrix(v: ArrayLike<number>, rows: number, cols: number, maxRows: number, maxCols: number): FcWeights['heat'] {
  const rowBin = Math.ceil(rows / maxRows);
  const colBin = Math.ceil(cols / maxCols);
  const hr = Math.ceil(rows / rowBin);
  const hc = Math.ceil(cols / colBin);
  const sum = new Float64Array(hr * hc);
  const cnt = new Float64Array(hr * hc);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    const j = Math.floor(r / rowBin) * hc + Math.floor(c / colBin);
    sum[j]! += v[r * cols + c]!;
    cnt[j]! += 1;
  }
  return { rows: hr, cols: hc, rowBin, colBin, values: sum.map((s, j) => s / cnt[j]!) };
}

/** Equal-width bins from the minimum to the maximum (one bin of width 0 when all values are equal). */
export function histogram(v: ArrayLike<number>, bins = 40): { lo: number; hi: number; count: number }[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) { lo = Math.min(lo, v[i]!); hi = Math.max(hi, v[i]!); }
  if (v.length === 0) return [];
  if (hi === lo) return [{ lo, hi, count: v.length }];
  const w = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < v.length; i++) counts[Math.min(bins - 1, Math.floor((v[i]! - lo) / w))]! += 1;
  return counts.map((count, i) => ({ lo: lo + i * w, hi: lo + (i + 1) * w, count }));
}

/** The run's final-layer weights, or null when the run directory has no checkpoint. */
export function readFcWeights(runDir: string, o: { maxRows?: number; maxCols?: number } = {}): FcWeights | null {
  const w = RunDir.at(runDir).weights();
  if (!w) return null;
  const { path, tensors } = w;
  try {
    let key = 'fc.weight';
    if (!tensors.has(key) || tensors.get(key)!.ndim !== 2) {
      const cands = [...tensors].filter(([k, t]) => k.endsWith('.weight') && t.ndim === 2).map(([k]) => k);
      if (cands.length === 0) throw new InputError('run-dir', `${path}: no 2-D model.*.weight tensor (expected model.fc.weight [classes, features])`, { path });
      key = cands[cands.length - 1]!;
    }
    const t = tensors.get(key)!;
    const [rows, cols] = t.shape as [number, number];
    const values = tidy(() => t.to('float64').toTypedArray<'float64'>() as Float64Array);
    return { path, key: `model.${key}`, rows, cols, heat: binMatrix(values, rows, cols, o.maxRows ?? 64, o.maxCols ?? 128), histogram: histogram(values) };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
