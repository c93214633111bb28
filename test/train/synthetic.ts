/** A small learnable synthetic problem for trainer tests: 8x8 images of 3 classes, class c brightens channel c. */
import { randn, tensor, tidy, manualSeed, type Tensor } from '../../src/tensor/index.js';
import { tensorSource, type TrainData } from '../../src/train/index.js';

export interface Synthetic {
  data: TrainData;
  free(): void;
}

export interface SyntheticOptions {
  /** Training samples (default 96). */
  n?: number;
  /** Validation and test samples each (default 16). */
  nEval?: number;
  /** Training batches (the drawn size; default 16). */
  batchSize?: number;
  /** Validation and test batches (default 16). */
  evalBatchSize?: number;
  /** How much class c brightens channel c (default 2). */
  signal?: number;
  /** false: no validation split. */
  val?: boolean;
}

export function synthetic(seed: number, o: SyntheticOptions = {}): Synthetic {
  manualSeed(seed);
  const signal = o.signal ?? 2;
  const nEval = o.nEval ?? 16;
  const evalBatch = o.evalBatchSize ?? 16;
  const make = (n: number, off: number): { x: Tensor; labels: number[]; ids: string[] } => {
    const labels = Array.from({ length: n }, (_, i) => (i + off) % 3);
    const x = tidy(() => {
      const noise = randn([n, 3, 8, 8]);
      const onehot = tensor(labels.flatMap((l) => [0, 1, 2].map((c) => (c === l ? signal : 0))), { shape: [n, 3, 1, 1] });
      return noise.add(onehot);
    });
    return { x, labels, ids: labels.map((_, i) => `id${off + i}`) };
  };
  const tr = make(o.n ?? 96, 0);
  const va = make(nEval, 10000);
  const te = make(nEval, 20000);
  // Cached "features": the class one-hot plus a little structure, by id.
  const feats = new Map<string, number[]>();
  for (const s of [tr, va, te]) s.ids.forEach((id, i) => feats.set(id, [0, 1, 2].map((c) => (c === s.labels[i] ? 1 : 0) + 0.1 * Math.sin(i + c))));
  const data: TrainData = {
    train: tensorSource(tr.x, tr.labels, tr.ids, { batchSize: o.batchSize ?? 16, seed: 3 }),
    trainScoring: tensorSource(tr.x, tr.labels, tr.ids, { batchSize: 32, shuffle: false }),
    val: o.val === false ? null : tensorSource(va.x, va.labels, va.ids, { batchSize: evalBatch, shuffle: false }),
    test: tensorSource(te.x, te.labels, te.ids, { batchSize: evalBatch, shuffle: false }),
    numClasses: 3,
    featureLookup: (ids) => tensor(ids.map((id) => feats.get(id)!)),
  };
  return { data, free: () => [tr.x, va.x, te.x].forEach((t) => t.dispose()) };
}
