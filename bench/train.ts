/**
 * bench:train — one epoch on the same class-balanced 2,000 CIFAR-10 training images with `none`,
 * `random`, `saln` (in-batch, filter ratio 0.8) and `saln-super` (saln in super-batch mode: draw
 * ⌈B/(1 − f)⌉, train B), in one run, through the same code path as `saln train`.
 * Reports per-method wall time and its breakdown (data, scoring, selection, train, eval,
 * checkpoint), seconds per gradient sample (epoch seconds / samples through backward) and per
 * optimizer step (scoring + selection + train), and the goal's figures:
 *   epoch_ratio      = saln's epoch seconds / none's (goal ≤ 0.3), epoch = data + scoring + selection + train;
 *   select_share     = (scoring + selection) / saln's epoch seconds (goal < 0.1);
 *   super_step_ratio = saln-super's step seconds / none's, both training B per step (goal ≤ 1.25).
 * The saln features (resnet50-keras at --feature-size) are extracted into the feature cache before
 * timing, once; that one-time cost is reported separately as features_seconds.
 *
 *   npm run bench:train -- --json [--data-dir ../shared/datasets/cifar10-jpg] [--limit-train 2000]
 *     [--batch-size 128] [--filter-ratio 0.8] [--model resnet18-cifar] [--feature-size 224] [--threads 2]
 * Last stdout line: one JSON object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineInfo, getNumThreads, setNumThreads } from '../src/tensor/index.js';
import type { Summary } from '../src/train/records.js';
import { runTraining, type RunTrainingOptions } from '../src/train/run.js';
import { parseRunSpec } from '../src/train/spec.js';
import { benchArgs } from './common.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  'data-dir': { type: 'string', default: '../shared/datasets/cifar10-jpg' },
  'limit-train': { type: 'string', default: '2000' },
  'limit-val': { type: 'string', default: '500' },
  'limit-test': { type: 'string', default: '500' },
  'batch-size': { type: 'string', default: '128' },
  'filter-ratio': { type: 'string', default: '0.8' },
  model: { type: 'string', default: 'resnet18-cifar' },
  'feature-size': { type: 'string', default: '224' },
  methods: { type: 'string', default: 'none,random,saln,saln-super' },
  threads: { type: 'string', default: '2' },
  seed: { type: 'string', default: '0' },
});
const args = cli.values;

const threads = cli.threads('threads', { zeroKeeps: true });
// Every flag is read here, before any work (a bad one stops the bench at once).
const [filterRatio, batchSize, seed, featureSize] = [cli.fraction('filter-ratio'), cli.int('batch-size'), cli.int('seed', 0), cli.int('feature-size', 8)];
const [limitTrain, limitVal, limitTest] = [cli.int('limit-train'), cli.int('limit-val'), cli.int('limit-test')];
if (threads > 0) setNumThreads(threads);
const dir = mkdtempSync(join(tmpdir(), 'saln-bench-train-'));
const say = (t: string): void => void process.stderr.write(`${t}\n`);
const io = (): RunTrainingOptions => ({ resume: false, progress: false, warn: (t) => say(`warning: ${t}`), log: say });

/** A bench method: a selector, and `-super` for super-batch mode (saln-super). */
const config = (name: string) => {
  const method = name.replace(/-super$/, '');
  return parseRunSpec({
    dataset: 'cifar10', dataDir: args['data-dir'], model: args.model, method, filterRatio: method === 'none' ? 0 : filterRatio,
    selectionMode: name.endsWith('-super') ? 'super-batch' : 'in-batch',
    epochs: 1, batchSize, lr: 0.001, momentum: 0.9, weightDecay: 0, seed,
    limitTrain, limitVal, limitTest,
    out: join(dir, name), featureSource: 'cache', featureModel: 'resnet50-keras', featureSize,
    solver: 'auto', augment: true, saveSelections: false,
  });
};

const epochSeconds = (s: Summary): number => s.phases.data + s.phases.scoring + s.phases.selection + s.phases.train;
/** One optimizer step's cost: scoring + selection + train (data loading excluded: it is measured apart). */
const stepSeconds = (s: Summary): number => (s.phases.scoring + s.phases.selection + s.phases.train) / s.counts.optimizer_steps;
try {
  const methods = args.methods.split(',');
  let featuresSeconds = 0;
  if (methods.some((m) => m.startsWith('saln'))) {
    // Extract (or find) the features first, so the timed saln run only looks them up.
    const t = performance.now();
    await runTraining({ ...config('saln'), out: join(dir, 'warm'), limitVal: 10, limitTest: 10, epochs: 1, batchSize: 2000 }, io()).catch(() => null);
    featuresSeconds = (performance.now() - t) / 1000;
  }
  const results: Record<string, {
    wall_seconds: number; epoch_seconds: number; phases: Summary['phases']; gradient_samples: number; optimizer_steps: number; scored_samples: number;
    feature_samples: number; seconds_per_gradient_sample: number; step_seconds: number; test_accuracy: number;
  }> = {};
  for (const m of methods) {
    say(`bench:train: ${m} ...`);
    const s = (await runTraining(config(m), io()))!;
    results[m] = {
      wall_seconds: s.wall_seconds, epoch_seconds: epochSeconds(s), phases: s.phases, gradient_samples: s.counts.gradient_samples, optimizer_steps: s.counts.optimizer_steps,
      scored_samples: s.counts.scored_samples, feature_samples: s.counts.feature_samples, seconds_per_gradient_sample: epochSeconds(s) / s.counts.gradient_samples,
      step_seconds: stepSeconds(s), test_accuracy: s.test_accuracy,
    };
    say(`  ${m}: epoch ${epochSeconds(s).toFixed(2)} s (${Object.entries(s.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')})`);
  }
  const saln = results.saln;
  const none = results.none;
  const superSaln = results['saln-super'];
  const out = {
    bench: 'train', engine: engineInfo(), threads: getNumThreads(), model: args.model, limit_train: limitTrain,
    batch_size: batchSize, filter_ratio: filterRatio, feature_size: featureSize,
    features_seconds: featuresSeconds, methods: results,
    epoch_ratio: saln && none ? saln.epoch_seconds / none.epoch_seconds : null,
    select_share: saln ? (saln.phases.scoring + saln.phases.selection) / saln.epoch_seconds : null,
    // Both train B per step (none: filter ratio 0), so this is the price of scoring ⌈B/(1 − f)⌉ and selecting.
    super_step_ratio: superSaln && none ? superSaln.step_seconds / none.step_seconds : null,
    goal: { epoch_ratio_max: 0.3, select_share_max: 0.1, super_step_ratio_max: 1.25 },
  };
  process.stdout.write(args.json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
