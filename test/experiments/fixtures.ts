/** Real run directories for the registry and `saln runs` tests: tiny `train()` runs on random tensors. */
import { randn, tensor, tidy, manualSeed, type Tensor } from '../../src/tensor/index.js';
import { tensorSource, train, type TrainConfig, type TrainData } from '../../src/train/index.js';

/** 24 train / 8 val / 8 test images 3x8x8 of 3 classes (class c brightens channel c). */
function synthetic(seed: number): { data: TrainData; free(): void } {
  manualSeed(seed);
  const make = (n: number, off: number): { x: Tensor; labels: number[]; ids: string[] } => {
    const labels = Array.from({ length: n }, (_, i) => (i + off) % 3);
    const x = tidy(() => randn([n, 3, 8, 8]).add(tensor(labels.flatMap((l) => [0, 1, 2].map((c) => (c === l ? 2 : 0))), { shape: [n, 3, 1, 1] })));
    return { x, labels, ids: labels.map((_, i) => `id${off + i}`) };
  };
  const tr = make(24, 0);
  const va = make(8, 1000);
  const te = make(8, 2000);
  return {
    data: {
      train: tensorSource(tr.x, tr.labels, tr.ids, { batchSize: 8, seed: 3 }),
      val: tensorSource(va.x, va.labels, va.ids, { batchSize: 8, shuffle: false }),
      test: tensorSource(te.x, te.labels, te.ids, { batchSize: 8, shuffle: false }),
      numClasses: 3,
    },
    free: () => [tr.x, va.x, te.x].forEach((t) => t.dispose()),
  };
}

export const tinyConfig = (o: Partial<TrainConfig> & { dataset: string }): TrainConfig => {
  const { dataset, ...rest } = o;
  return {
    model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 2, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 0,
    seed: 1, featureSource: 'cache', solver: 'auto', saveSelections: false, ...rest, extra: { cli: { dataset, limitTrain: 24 } },
  };
};

/** Trains (or, with resume, finishes) one run into runDir. */
export async function trainRun(runDir: string, config: TrainConfig, o: { stopAfterEpochs?: number; resume?: boolean } = {}): Promise<void> {
  const s = synthetic(config.seed);
  try {
    const res = await train({ config, data: s.data, runDir, ...o });
    res.model.parameters().forEach((p) => p.dispose());
  } finally {
    s.free();
  }
}
