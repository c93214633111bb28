/**
 * `selection_examples.safetensors`: what a feature-based selector saw and kept, for the report's
 * PCA figure. Two batches per run (the first batch of the first epoch and of the last epoch):
 *   tensors  `epoch{E}.batch{I}.features` float32 [B_drawn, D]  the features the selector saw
 *            `epoch{E}.batch{I}.kept`     int64 [k]              the kept in-batch positions
 *   metadata `method`, `feature_source`, and `ids` (JSON: key prefix → the batch's sample ids).
 * E and I are 0-based, as in selections.jsonl. Each write merges with the file already there, so
 * a resumed run keeps the first epoch's example written before the interruption.
 */
import { existsSync } from 'node:fs';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { tensor, type Tensor } from '../tensor/index.js';

export const EXAMPLES_FILE = 'selection_examples.safetensors';

export interface SelectionExample {
  epoch: number;
  batch: number;
  /** [B_drawn, D] on the CPU, float32; owned by the example (dispose after writing). */
  features: Tensor;
  kept: readonly number[];
  ids: readonly string[];
}

export const exampleKey = (epoch: number, batch: number): string => `epoch${epoch}.batch${batch}`;

/** Adds (or replaces) examples in the file at path, atomically. */
export function writeSelectionExamples(path: string, examples: readonly SelectionExample[], meta: { method: string; feature_source: string }): void {
  const tensors = new Map<string, Tensor>();
  let ids: Record<string, readonly string[]> = {};
  const old = existsSync(path) ? loadSafetensors(path) : null;
  const created: Tensor[] = [];
  try {
    const replaced = new Set(examples.map((e) => exampleKey(e.epoch, e.batch)));
    if (old) {
      ids = JSON.parse(old.metadata.ids ?? '{}') as Record<string, string[]>;
      for (const [k, t] of old.tensors) if (!replaced.has(k.split('.').slice(0, 2).join('.'))) tensors.set(k, t);
    }
    for (const e of examples) {
      const key = exampleKey(e.epoch, e.batch);
      const kept = tensor(e.kept as number[], { dtype: 'int64' });
      created.push(kept);
      tensors.set(`${key}.features`, e.features);
      tensors.set(`${key}.kept`, kept);
      ids[key] = e.ids;
    }
    // Sorted keys: the file's layout does not depend on the order examples were written in.
    const sorted = new Map([...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    saveSafetensors(path, sorted, { method: meta.method, feature_source: meta.feature_source, ids: JSON.stringify(ids) });
  } finally {
    for (const t of created) t.dispose();
    if (old) for (const t of old.tensors.values()) t.dispose();
  }
}
