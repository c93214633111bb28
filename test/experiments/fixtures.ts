/** Real run directories for the registry and `saln runs` tests: tiny `train()` runs on random tensors. */
import { train, type TrainConfig } from '../../src/train/index.js';
import { synthetic } from '../train/synthetic.js';

export const tinyConfig = (o: Partial<TrainConfig> & { dataset: string }): TrainConfig => {
  const { dataset, ...rest } = o;
  return {
    model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 2, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 0,
    seed: 1, featureSource: 'cache', solver: 'auto', saveSelections: false, ...rest, extra: { cli: { dataset, limitTrain: 24 } },
  };
};

/** Trains (or, with resume, finishes) one run into runDir. */
export async function trainRun(runDir: string, config: TrainConfig, o: { stopAfterEpochs?: number; resume?: boolean } = {}): Promise<void> {
  // 24 train / 8 val / 8 test images, batches of 8.
  const s = synthetic(config.seed, { n: 24, nEval: 8, batchSize: 8, evalBatchSize: 8 });
  try {
    const res = await train({ config, data: s.data, runDir, ...o });
    res.model.parameters().forEach((p) => p.dispose());
  } finally {
    s.free();
  }
}
