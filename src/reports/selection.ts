/**
 * Reads a saln run's recorded batches, `selection_examples.safetensors` in its run directory:
 * tensors `epoch{E}.batch{I}.features` (float32 [B, D]) and `epoch{E}.batch{I}.kept` (int64 [k],
 * positions in the batch), metadata `method` and `feature_source`; and projects each batch's
 * features to 2-D (pca.ts) for the kept-vs-dropped chart.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors } from '../io/safetensors.js';
import { tidy } from '../tensor/index.js';
import { pca2 } from './pca.js';

export const SELECTION_EXAMPLES_FILE = 'selection_examples.safetensors';

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

const KEY = /^epoch(\d+)\.batch(\d+)\.(features|kept)$/;

/** The run directory's selection examples, or null when it has none. Errors name the file and tensor. */
export function readSelectionExamples(runDir: string, o: { maxBatches?: number } = {}): SelectionExamples | null {
  const path = join(runDir, SELECTION_EXAMPLES_FILE);
  if (!existsSync(path)) return null;
  const f = loadSafetensors(path);
  try {
    const found = new Map<string, { epoch: number; batch: number; features?: string; kept?: string }>();
    for (const key of f.tensors.keys()) {
      const m = KEY.exec(key);
      if (!m) continue;
      const id = `${m[1]}.${m[2]}`;
      const e = found.get(id) ?? { epoch: Number(m[1]), batch: Number(m[2]) };
      e[m[3] as 'features' | 'kept'] = key;
      found.set(id, e);
    }
    const all = [...found.values()].sort((a, b) => a.epoch - b.epoch || a.batch - b.batch);
    const batches: SelectionBatch[] = [];
    for (const e of all.slice(0, o.maxBatches ?? 4)) {
      const name = `epoch${e.epoch}.batch${e.batch}`;
      if (!e.features || !e.kept) throw new Error(`${path}: ${name} needs both .features and .kept (has only ${e.features ? '.features' : '.kept'})`);
      const x = f.tensors.get(e.features)!;
      const kept = f.tensors.get(e.kept)!;
      if (x.ndim !== 2) throw new Error(`${path}: ${e.features} should be [B, D], is [${x.shape.join(', ')}]`);
      const size = x.shape[0]!;
      const pos = tidy(() => kept.to('float64').toTypedArray<'float64'>() as Float64Array);
      for (const p of pos) if (!(Number.isInteger(p) && p >= 0 && p < size)) throw new Error(`${path}: ${e.kept} holds position ${p}, outside the batch of ${size}`);
      const { coords, explained } = pca2(x);
      batches.push({ epoch: e.epoch, batch: e.batch, size, kept: new Set(pos), coords, explained });
    }
    return { path, metadata: f.metadata, batches, total: all.length };
  } finally {
    for (const t of f.tensors.values()) t.dispose();
  }
}
