/**
 * The selection examples file: what a feature-based selector saw and kept, for the report's PCA
 * figure. Two batches per run (the first batch of the first epoch and of the last epoch):
 *   tensors  `epoch{E}.batch{I}.features` float32 [B_drawn, D]  the features the selector saw
 *            `epoch{E}.batch{I}.kept`     int64 [k]              the kept in-batch positions
 *   metadata `method`, `feature_source`, and `ids` (JSON: key prefix → the batch's sample ids).
 * E and I are 0-based, as in selections.jsonl. Each write merges with the file already there, so
 * a resumed run keeps the first epoch's example written before the interruption. This module is
 * the format's one definition: the run directory (run-dir.ts) reads and writes through it.
 */
import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { tensor, tidy, type Tensor } from '../tensor/index.js';

export interface SelectionExample {
  epoch: number;
  batch: number;
  /** [B_drawn, D] on the CPU, float32; owned by the example (dispose after writing). */
  features: Tensor;
  kept: readonly number[];
  ids: readonly string[];
}

export const exampleKey = (epoch: number, batch: number): string => `epoch${epoch}.batch${batch}`;
const KEY = /^epoch(\d+)\.batch(\d+)\.(features|kept)$/;

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

/** One recorded batch as read back: its features (caller disposes) and kept positions. */
export interface RecordedBatch {
  epoch: number;
  batch: number;
  /** [B, D]; owned by the caller. */
  features: Tensor;
  kept: number[];
}

export interface RecordedExamples {
  path: string;
  metadata: Record<string, string>;
  /** Sorted by epoch, then batch; at most maxBatches of them. */
  batches: RecordedBatch[];
  /** How many batches the file holds. */
  total: number;
}

/** The examples in the file at path (the first maxBatches, default 4). Errors name the file and tensor. */
export function readSelectionExamples(path: string, o: { maxBatches?: number } = {}): RecordedExamples {
  const f = loadSafetensors(path);
  const used = new Set<Tensor>();
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
    const batches: RecordedBatch[] = [];
    for (const e of all.slice(0, o.maxBatches ?? 4)) {
      const name = exampleKey(e.epoch, e.batch);
      if (!e.features || !e.kept) throw new InputError('run-dir', `${path}: ${name} needs both .features and .kept (has only ${e.features ? '.features' : '.kept'})`, { path, field: name });
      const x = f.tensors.get(e.features)!;
      const kept = f.tensors.get(e.kept)!;
      if (x.ndim !== 2) throw new InputError('run-dir', `${path}: ${e.features} should be [B, D], is [${x.shape.join(', ')}]`, { path, field: e.features });
      const size = x.shape[0]!;
      const pos = Array.from(tidy(() => kept.to('float64').toTypedArray<'float64'>() as Float64Array));
      for (const p of pos) if (!(Number.isInteger(p) && p >= 0 && p < size)) throw new InputError('run-dir', `${path}: ${e.kept} holds position ${p}, outside the batch of ${size}`, { path, field: e.kept });
      used.add(x);
      batches.push({ epoch: e.epoch, batch: e.batch, features: x, kept: pos });
    }
    return { path, metadata: f.metadata, batches, total: all.length };
  } catch (e) {
    used.clear();
    throw e;
  } finally {
    for (const t of f.tensors.values()) if (!used.has(t)) t.dispose();
  }
}
