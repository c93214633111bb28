/**
 * A saln run's recorded batches (RunDir.examples(): features and kept positions), each projected
 * to 2-D (pca.ts) for the kept-vs-dropped chart.
 */
import { tidy } from '../tensor/index.js';
import { RunDir } from '../train/run-dir.js';
import { pca2 } from './pca.js';

export interface SelectionBatch {
  epoch: number;
  batch: number;
  size: number;
  /** Positions in the batch that were kept. */
  kept: Set<number>;
  /** Row-major [size, 2] PCA scores. */
  coords: Float64Array;
  explained: [number, number];
}

export interface SelectionExamples {
  path: string;
  metadata: Record<string, string>;
  /** Sorted by epoch, then batch; at most maxBatches of them. */
  batches: SelectionBatch[];
  /** How many batches the file holds. */
  total: number;
}

/** The run directory's selection examples, projected, or null when it has none. Errors name the file and tensor. */
export function readSelectionExamples(runDir: string, o: { maxBatches?: number } = {}): SelectionExamples | null {
  const ex = RunDir.at(runDir).examples(o);
  if (!ex) return null;
  try {
    const batches = ex.batches.map((b): SelectionBatch => {
      const { coords, explained } = tidy(() => pca2(b.features));
      return { epoch: b.epoch, batch: b.batch, size: b.features.shape[0]!, kept: new Set(b.kept), coords, explained };
    });
    return { path: ex.path, metadata: ex.metadata, batches, total: ex.total };
  } finally {
    for (const b of ex.batches) b.features.dispose();
  }
}
