/** configLabels: the labels `saln report` gives runs read from their directories. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configLabels } from '../../src/experiments/run-record.js';
import type { TrainConfig } from '../../src/train/records.js';

const run = (method: TrainConfig['method'], filterRatio: number, extra: Partial<TrainConfig> = {}): { method: string; config: TrainConfig } => ({
  method,
  config: { model: 'tiny-cnn', method, filterRatio, epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 0, featureSource: 'pixels', solver: 'auto', saveSelections: false, ...extra },
});

test('configLabels: the method alone while its runs share one configuration', () => {
  assert.deepEqual(configLabels([run('none', 0), run('random', 0.5), run('random', 0.5, { seed: 1 }), run('saln', 0.8)]), ['none', 'random', 'random', 'saln']);
});

test('configLabels: ratio, super-batch and the budget\'s kind where one method\'s runs differ in them', () => {
  const labels = configLabels([
    run('random', 0.5),
    run('random', 0.8, { selectionMode: 'super-batch', budget: { seconds: 497 } }),
    run('random', 0.8, { budget: { gradientSamples: 1000 } }),
    run('random', 0.8, { selectionMode: 'in-batch' }),
    run('saln', 0.8),
  ]);
  assert.deepEqual(labels, ['random-0.5', 'random-0.8-super-wall', 'random-0.8-samples', 'random-0.8', 'saln']);
});
