/** withConfigLabels: the labels `saln report` gives runs that only their method names. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withConfigLabels, type RunRecord } from '../../src/experiments/run-record.js';
import type { TrainConfig } from '../../src/train/records.js';

const run = (method: TrainConfig['method'], filterRatio: number, extra: Partial<TrainConfig> = {}, label: string = method): RunRecord => ({
  id: 1, runDir: `/runs/${label}`, experiment: null, dataset: 'cifar10', label, method, seed: 0, status: 'complete', metrics: [], summary: null, createdAt: '', updatedAt: '',
  config: { model: 'tiny-cnn', method, filterRatio, epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 0, featureSource: 'pixels', solver: 'auto', saveSelections: false, ...extra },
});
const labels = (runs: RunRecord[]): string[] => withConfigLabels(runs).map((r) => r.label);

test('withConfigLabels: the method alone while its runs share one configuration', () => {
  assert.deepEqual(labels([run('none', 0), run('random', 0.5), run('random', 0.5, { seed: 1 }), run('saln', 0.8)]), ['none', 'random', 'random', 'saln']);
});

test('withConfigLabels: ratio, super-batch and the budget\'s kind where one method\'s runs differ in them', () => {
  assert.deepEqual(labels([
    run('random', 0.5),
    run('random', 0.8, { selectionMode: 'super-batch', budget: { seconds: 497 } }),
    run('random', 0.8, { budget: { gradientSamples: 1000 } }),
    run('random', 0.8, { selectionMode: 'in-batch' }),
    run('saln', 0.8),
  ]), ['random-0.5', 'random-0.8-super-wall', 'random-0.8-samples', 'random-0.8', 'saln']);
});

test('withConfigLabels: an experiment\'s own labels stay, and do not count as the method\'s configurations', () => {
  assert.deepEqual(labels([run('random', 0.5), run('random', 0.8, { budget: { seconds: 497 } }, 'random-0.8-wall')]), ['random', 'random-0.8-wall']);
});
