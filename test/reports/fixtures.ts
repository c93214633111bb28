/** Test inputs for reports: real tiny training runs, hand-made RunRecords, and selection-example files. */
import { join } from 'node:path';
import { recordsFromDirs } from '../../src/experiments/run-record.js';
import type { RunRecord } from '../../src/experiments/run-record.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { tensor, type Tensor } from '../../src/tensor/index.js';
import { train, type TrainConfig } from '../../src/train/index.js';
import { synthetic } from '../train/synthetic.js';
import type { EpochMetrics, Summary } from '../../src/train/records.js';

/** Trains tiny-cnn runs (none at ratio 0, the others at 0.5; saln on pixels) into dir/<method>-s<seed>; returns the run dirs. */
export async function tinyRuns(dir: string, o: { methods?: TrainConfig['method'][]; seeds?: number[]; epochs?: number } = {}): Promise<string[]> {
  // 48 train / 16 val / 16 test images with a weak class signal (0.5).
  const s = synthetic(5, { n: 48, signal: 0.5 });
  const dirs: string[] = [];
  try {
    for (const method of o.methods ?? ['none', 'random', 'saln']) {
      for (const seed of o.seeds ?? [0, 1]) {
        const runDir = join(dir, `${method}-s${seed}`);
        const config: TrainConfig = {
          model: 'tiny-cnn', method, filterRatio: method === 'none' ? 0 : 0.5, epochs: o.epochs ?? 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0,
          seed, featureSource: 'pixels', solver: 'auto', saveSelections: false, extra: { cli: { dataset: 'synthetic' } },
        };
        const res = await train({ config, data: s.data, runDir });
        res.model.parameters().forEach((p) => p.dispose());
        dirs.push(runDir);
      }
    }
  } finally {
    s.free();
  }
  return dirs;
}

/** RunRecords from run directories, as `saln report` reads them (ids 1..n, label = method), dated 1970. */
export function recordsOf(dirs: string[]): RunRecord[] {
  return recordsFromDirs(dirs, new Date(0).toISOString());
}

const phases = (train: number) => ({ data: 0.1, scoring: 0, selection: 0, train, eval: 0.2, checkpoint: 0 });

/** A mid-epoch validation of a hand-made run (--eval-every): the run's cumulative samples and wall seconds at it. */
export interface FakePoint { val: number; samples: number; wall: number }

/** A hand-made complete run: its epochs' accuracies and wall times (and mid-epoch points), and its test accuracy and wall time. */
export function fakeRun(o: { id: number; label: string; method?: string; seed: number; ratio?: number; mode?: 'in-batch' | 'super-batch'; dataset?: string; test: number; wall: number; budgetSeconds?: number; epochs?: { val: number; wall: number; trained?: number; points?: FakePoint[] }[]; status?: 'complete' | 'incomplete' }): RunRecord {
  const epochs = o.epochs ?? [{ val: o.test, wall: o.wall }];
  // Rows as run directories written before per-epoch cumulative counts existed: the report sums them itself.
  const metrics = epochs.map((e, i) => ({
    epoch: i + 1, filter_ratio: o.ratio ?? 0, train_loss: 1 - e.val / 2, train_accuracy: e.val, val_loss: 1 - e.val / 2, val_accuracy: e.val,
    trained_samples: e.trained ?? 100, seen_samples: 100, steps: 10, seconds: phases(e.wall - 0.3), wall_seconds: e.wall,
    ...(e.points ? { val_points: e.points.map((p) => ({ gradient_samples: p.samples, wall_seconds: p.wall, val_loss: 1 - p.val / 2, val_accuracy: p.val })) } : {}),
  })) as unknown as EpochMetrics[];
  const summary: Summary = {
    method: o.method ?? o.label, model: 'tiny-cnn', filter_ratio: o.ratio ?? 0, epochs: epochs.length, test_accuracy: o.test, test_loss: 1 - o.test / 2,
    best_val_accuracy: Math.max(...epochs.map((e) => e.val)), final_val_accuracy: epochs[epochs.length - 1]!.val, wall_seconds: o.wall, phases: phases(o.wall - 0.3),
    counts: { gradient_samples: metrics.reduce((a, m) => a + m.trained_samples, 0), scored_samples: 0, reference_samples: 0, feature_samples: 0, seen_samples: 100 * epochs.length, optimizer_steps: 10 * epochs.length },
    resumed_from_epoch: 0, epochs_done: epochs.length, stopped_by: 'epochs', selection_mode: 'in-batch', batch_size: 10, lr_scaling: 'none', device: 'cpu', precision: 'fp32', memory_format: 'contiguous',
  };
  const complete = (o.status ?? 'complete') === 'complete';
  return {
    id: o.id, runDir: `/runs/${o.label}-s${o.seed}`, experiment: null, dataset: o.dataset ?? 'cifar10', label: o.label, method: o.method ?? o.label, seed: o.seed,
    status: complete ? 'complete' : 'incomplete',
    config: { model: 'tiny-cnn', method: (o.method ?? o.label) as TrainConfig['method'], filterRatio: o.ratio ?? 0, epochs: epochs.length, batchSize: 16, lr: 0.1, momentum: 0.9, weightDecay: 0, seed: o.seed, featureSource: 'pixels', solver: 'auto', saveSelections: false, ...(o.mode ? { selectionMode: o.mode } : {}), ...(o.budgetSeconds !== undefined ? { budget: { seconds: o.budgetSeconds } } : {}) },
    metrics, summary: complete ? summary : null, createdAt: '', updatedAt: '',
  };
}

/**
 * selection_examples.safetensors with two batches: 12 samples in 5-D (D < B, the covariance path)
 * and 6 samples in 20-D (D > B, the Gram path), each of rank 2; kept positions given.
 */
export function writeSelectionFixture(runDir: string): { points: number[][][]; kept: number[][] } {
  const basis = (d: number): number[][] => [Array.from({ length: d }, (_, j) => (j === 0 ? 1 : 0)), Array.from({ length: d }, (_, j) => (j === 1 ? 0.6 : j === 2 ? 0.8 : 0))];
  const batch = (b: number, d: number): number[][] => {
    const [u, v] = basis(d);
    return Array.from({ length: b }, (_, i) => u!.map((x, j) => 3 * Math.cos(i) * x + Math.sin(2 * i) * v![j]! + 0.5));
  };
  const points = [batch(12, 5), batch(6, 20)];
  const kept = [[0, 3, 4, 7, 11], [1, 2]];
  const tensors = new Map<string, Tensor>();
  points.forEach((p, i) => {
    tensors.set(`epoch0.batch${i}.features`, tensor(p));
    tensors.set(`epoch0.batch${i}.kept`, tensor(BigInt64Array.from(kept[i]!, (k) => BigInt(k))));
  });
  saveSafetensors(join(runDir, 'selection_examples.safetensors'), tensors, { method: 'saln', feature_source: 'pixels' });
  for (const t of tensors.values()) t.dispose();
  return { points, kept };
}
