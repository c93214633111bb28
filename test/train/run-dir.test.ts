/** The run directory's owner: what it writes, what it reads back (older runs too), and its errors. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PhaseClock, RUN_DIR_VERSION, RUN_FILES, RunDir, RunDirError, train, type FitCallback, type TrainConfig } from '../../src/train/index.js';
import { synthetic } from './synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-rundir-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const base: TrainConfig = {
  model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0,
  seed: 5, featureSource: 'cache', solver: 'auto', saveSelections: true,
};

test('a trained run reads back through RunDir: config (versioned), metrics, summary, status', async () => {
  const s = synthetic(2, { n: 32 });
  const out = join(dir, 'run');
  try {
    const res = await train({ config: base, data: s.data, runDir: out });
    const raw = JSON.parse(readFileSync(join(out, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
    assert.equal(raw.format_version, RUN_DIR_VERSION);
    const run = RunDir.open(out);
    assert.deepEqual(run.config(), base, 'the version stays in the file, not in the config');
    assert.deepEqual(run.metrics(), res.metrics.map((m) => JSON.parse(JSON.stringify(m))));
    assert.equal(run.summary()!.test_accuracy, res.summary!.test_accuracy);
    assert.equal(run.status(), 'done');
    const sel = readFileSync(run.file('selections'), 'utf8').trim().split('\n');
    assert.equal(sel.length, 4, 'two batches per epoch, appended epoch by epoch');
    res.model.parameters().forEach((p) => p.dispose());
  } finally {
    s.free();
  }
});

test('a version-1 run (before format_version and per-epoch cumulative counts) still reads, cumulative derived', () => {
  const old = join(dir, 'v1');
  mkdirSync(old);
  writeFileSync(join(old, RUN_FILES.config), JSON.stringify({ ...base, extra: { cli: { dataset: 'cifar10' } } }));
  const row = (epoch: number) => ({ epoch, filter_ratio: 0, train_loss: 1, train_accuracy: 0.5, val_loss: null, val_accuracy: null, trained_samples: 10, seen_samples: 10, steps: 2, seconds: { data: 0, scoring: 0, selection: 0, train: 1, eval: 0, checkpoint: 0 }, wall_seconds: 1.5 });
  writeFileSync(join(old, RUN_FILES.metrics), `${JSON.stringify(row(1))}\n${JSON.stringify(row(2))}\n`);
  writeFileSync(join(old, RUN_FILES.summary), JSON.stringify({ method: 'none', model: 'tiny-cnn', filter_ratio: 0, epochs: 2, test_accuracy: 0.5, test_loss: 1, best_val_accuracy: null, final_val_accuracy: null, wall_seconds: 3, phases: row(1).seconds, counts: { gradient_samples: 20, scored_samples: 0, reference_samples: 0, feature_samples: 0, seen_samples: 20, optimizer_steps: 4 } }));
  const run = RunDir.open(old);
  assert.deepEqual(run.metrics().map((m) => [m.cumulative.wall_seconds, m.cumulative.gradient_samples, m.cumulative.optimizer_steps]), [[1.5, 10, 2], [3, 20, 4]]);
  const s = run.summary()!;
  assert.equal(s.stopped_by, 'epochs');
  assert.equal(s.epochs_done, 2);
  assert.equal(s.selection_mode, 'in-batch');
  assert.equal(run.datasetLabel(), 'cifar10');
});

test('bad files are RunDirErrors naming the file, line and field', () => {
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  assert.throws(() => RunDir.open(bad), (e: unknown) => e instanceof RunDirError && /not a run directory/.test(e.message));
  writeFileSync(join(bad, RUN_FILES.config), JSON.stringify({ ...base, epochs: 'two' }));
  assert.throws(() => RunDir.open(bad).config(), (e: unknown) => e instanceof RunDirError && e.field === 'epochs' && e.message.includes(join(bad, RUN_FILES.config)));
  writeFileSync(join(bad, RUN_FILES.config), JSON.stringify(base));
  writeFileSync(join(bad, RUN_FILES.metrics), '{"epoch": 1, "train_loss": "low"}\n');
  assert.throws(() => RunDir.open(bad).metrics(), (e: unknown) => e instanceof RunDirError && e.line === 1 && /line 1: not an epoch's metrics/.test(e.message));
});

test('callbacks see the loop in order, and the checkpoint is timed into the epoch row', async () => {
  const s = synthetic(3, { n: 32 });
  const seen: string[] = [];
  const spy: FitCallback = {
    onTrainStart: () => seen.push('start'),
    onEpochStart: (i) => seen.push(`epoch-start ${i.epoch}`),
    onBatchEnd: () => seen.push('batch'),
    onValidationStart: () => seen.push('val'),
    onEpochEnd: (m) => seen.push(`epoch-end ${m.epoch}`),
    onCheckpointSaved: (i) => seen.push(`saved ${i.epoch}`),
    onTrainEnd: () => seen.push('end'),
  };
  try {
    const res = await train({ config: { ...base, saveSelections: false }, data: s.data, runDir: join(dir, 'cb'), callbacks: [spy] });
    assert.deepEqual(seen, ['start', 'epoch-start 0', 'batch', 'batch', 'val', 'epoch-end 1', 'saved 1', 'epoch-start 1', 'batch', 'batch', 'val', 'epoch-end 2', 'saved 2', 'end']);
    assert.ok(res.metrics.every((m) => m.seconds.checkpoint > 0), 'each epoch records its checkpoint time');
    res.model.parameters().forEach((p) => p.dispose());
  } finally {
    s.free();
  }
});

test('PhaseClock: outside() time counts in its phase but not on the wall clock or a running stopwatch', async () => {
  const realNow = performance.now.bind(performance);
  let ms = 0;
  performance.now = () => ms;
  try {
    const clock = new PhaseClock(10);
    const watch = clock.startEpoch();
    clock.time('train', () => { ms += 2000; });
    await clock.outside('eval', async () => { ms += 5000; });
    await clock.timeAsync('data', async () => { ms += 1000; });
    assert.deepEqual([clock.epoch.train, clock.epoch.eval, clock.epoch.data], [2, 5, 1]);
    assert.equal(clock.wallSeconds(), 13, 'base 10 + 3 s, without the 5 s outside');
    assert.equal(watch.seconds(), 3);
  } finally {
    performance.now = realNow;
  }
});
