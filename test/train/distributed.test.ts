/**
 * Data-parallel `saln train` (--nproc 2, through saln launch): one run directory written by rank 0,
 * the job's counts, sharded evaluation equal to one process's, resume only with the same world
 * size, and a global selection equal to one process's on the global batch.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeCifarBinary } from '../data/fixtures.js';
import { runNode } from '../dist/helpers.js';
import { assertClose, repoRoot } from '../helpers.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { buildRunData } from '../../src/train/run-data.js';
import { computeOf, prepareModel } from '../../src/train/compute.js';
import { evaluate } from '../../src/train/evaluate.js';
import { buildLearner, parseRunSpec, RunDir } from '../../src/train/index.js';
import { SGD } from '../../src/optim/index.js';

let dir = '';
let data = '';
const bin = join(repoRoot, 'bin', 'saln.js');
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-ddp-'));
  data = join(dir, 'c10');
  writeCifarBinary(data, 12); // 60 train (50 after the validation split), 12 test images of 32 px
});
after(() => rmSync(dir, { recursive: true, force: true }));

const common = (): string[] => ['--dataset', 'cifar10', '--data-dir', data, '--model', 'tiny-cnn', '--lr', '0.05', '--no-progress'];
const saln = (args: string[]) => runNode<unknown>([bin, ...args], { SALN_CACHE: join(dir, 'cache') }, 180_000);
const json = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;

test('saln train --nproc 2: one run directory, the job\'s counts, sharded test equal to evaluating the checkpoint on the whole test set', async () => {
  const out = join(dir, 'rank-scope');
  const p = await saln(['train', ...common(), '--batch-size', '4', '--epochs', '2', '--nproc', '2', '--out', out]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout.trim().split('\n').length, 1, 'rank 0 alone prints the summary line');
  const s = json(join(out, 'summary.json'));
  assert.equal(s.world_size, 2);
  assert.equal(s.selection_scope, 'rank');
  // 50 training samples, 25 per rank in batches of 4 (7 steps), 2 epochs: the job trained them all.
  assert.deepEqual({ g: s.counts.gradient_samples, seen: s.counts.seen_samples, steps: s.counts.optimizer_steps }, { g: 100, seen: 100, steps: 14 });
  assert.equal(json(join(out, 'config.json')).extra.world_size, 2);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { trained_samples: number });
  assert.deepEqual(metrics.map((m) => m.trained_samples), [50, 50]);

  // The ranks evaluated a shard each; the reduced result is one process's on the whole set.
  const run = RunDir.open(out);
  const rd = await buildRunData(parseRunSpec({ ...run.spec(), out }), { preparedDir: join(dir, 'cache', 'prepared'), warn: () => {} });
  try {
    const model = buildLearner('tiny-cnn', rd.loaders.numClasses);
    // As the run computed (--precision auto: bf16 + channels-last on a CPU with native bf16).
    const compute = computeOf(run.config());
    prepareModel(model, compute);
    loadCheckpoint(run.file('checkpoint'), model, new SGD(model.parameters(), { lr: 0.1 }));
    const full = await evaluate(model, rd.loaders.test, compute);
    assert.equal(full.samples, 12);
    assertClose([s.test_accuracy, s.test_loss], [full.accuracy, full.loss], { rtol: 1e-5, what: 'test accuracy and loss' });
  } finally {
    await rd.loaded.close();
  }

  // Resume needs the same world size.
  const one = await saln(['train', '--resume', out]);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /was trained by 2 process\(es\); resume it with the same number \(saln train --resume .* --nproc 2\), not 1/);
  const two = await saln(['train', '--resume', out, '--nproc', '2']);
  assert.equal(two.code, 0, two.stderr);
});

test('--selection-scope global selects over both ranks\' batches exactly as one process does on the global batch', async () => {
  const sel = ['--method', 'saln', '--feature-source', 'pixels', '--filter-ratio', '0.5', '--no-augment', '--save-selections', '--epochs', '1'];
  const one = join(dir, 'one');
  const global = join(dir, 'global');
  const local = join(dir, 'local');
  const [a, b, c] = await Promise.all([
    saln(['train', ...common(), ...sel, '--batch-size', '8', '--out', one]),
    saln(['train', ...common(), ...sel, '--batch-size', '4', '--nproc', '2', '--selection-scope', 'global', '--out', global]),
    saln(['train', ...common(), ...sel, '--batch-size', '4', '--nproc', '2', '--out', local]),
  ]);
  for (const p of [a, b, c]) assert.equal(p.code, 0, p.stderr);
  const kept = (d: string): string[][] => readFileSync(join(d, 'selections.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { kept: string[] }).kept.slice().sort());
  assert.equal(kept(one).length, 7);
  assert.deepEqual(kept(global), kept(one));
  // The control: each rank selecting within its own 4 keeps 2 of them, not the global batch's choice.
  assert.notDeepEqual(kept(local), kept(one));
  assert.equal(json(join(global, 'summary.json')).counts.gradient_samples, json(join(one, 'summary.json')).counts.gradient_samples);
});

test('--nproc: bad values and what several processes cannot do are exit 2, naming the flag', async () => {
  const bad = await saln(['train', ...common(), '--nproc', 'two']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--nproc: expected an integer >= 1 but received "two"/);
  const info = await saln(['train', ...common(), '--nproc', '2', '--method', 'infobatch', '--out', join(dir, 'never')]);
  assert.equal(info.code, 2);
  assert.match(info.stderr, /--method: infobatch keeps per-sample state that several processes do not share yet/);
  assert.match(info.stderr, /launch: rank [01] \(node 0, local rank [01]\) exited with code 2/);
});

test("saln's feature extraction is sharded over the ranks: each extracts half, the gathered cache equals one process's", async () => {
  const { FeatureCache } = await import('../../src/features/index.js');
  const { readdirSync } = await import('node:fs');
  const sel = ['--method', 'saln', '--feature-model', 'mobilenet-v1-0.75', '--feature-size', '32', '--filter-ratio', '0.5', '--epochs', '1'];
  const cacheOf = (name: string): string => join(dir, `features-${name}`);
  const run = (name: string, extra: string[]) => runNode<unknown>([bin, 'train', ...common(), ...sel, ...extra, '--out', join(dir, `feat-${name}`)], { SALN_CACHE: cacheOf(name) }, 300_000);
  const [one, two] = await Promise.all([run('one', ['--batch-size', '8']), run('two', ['--batch-size', '4', '--nproc', '2'])]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.match(two.stderr, /extracting mobilenet-v1-0\.75 features of 25 training samples/);
  const open = (name: string) => {
    const files = readdirSync(join(cacheOf(name), 'features')).filter((f) => f.endsWith('.safetensors'));
    assert.equal(files.length, 1, `${name}: the shard files are gone, one cache file remains`);
    return FeatureCache.open(join(cacheOf(name), 'features', files[0]!));
  };
  const a = open('one');
  const b = open('two');
  try {
    assert.deepEqual([...b.ids].sort(), [...a.ids].sort());
    assertClose(b.lookup(a.ids).toTypedArray<'float32'>(), a.features.toTypedArray<'float32'>(), { rtol: 1e-5, atol: 1e-6, what: 'features by id' });
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('a rank killed mid-epoch stops the job (non-zero, the rank named) within the timeout; the run then resumes from its last checkpoint and ends as an uninterrupted one', async () => {
  // 50 training samples, 25 per rank in batches of 4: 7 steps per epoch. Rank 1 dies after its
  // 10th step, in epoch 2; epoch 1's checkpoint is the last one.
  const args = (out: string): string[] => ['train', ...common(), '--batch-size', '4', '--epochs', '3', '--no-augment', '--nproc', '2', '--out', out];
  const whole = join(dir, 'kill-whole');
  assert.equal((await saln(args(whole))).code, 0);
  const out = join(dir, 'kill-rank');
  const t0 = Date.now();
  const killed = await runNode<unknown>([bin, ...args(out)], { SALN_CACHE: join(dir, 'cache'), SALN_TEST_SIGKILL_RANK: '1', SALN_TEST_SIGKILL_AT_STEP: '10' }, 180_000);
  assert.equal(killed.killed, false, 'the launcher ended by itself');
  assert.notEqual(killed.code, 0);
  assert.match(killed.stderr, /rank 1 .*was killed by SIGKILL/);
  assert.ok(Date.now() - t0 < 60_000, `took ${Date.now() - t0} ms`);
  assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 1, 'epoch 1 was recorded, epoch 2 was not');
  const resumed = await saln(['train', '--resume', out, '--nproc', '2']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const s = json(join(out, 'summary.json'));
  assert.equal(s.resumed_from_epoch, 1);
  const strip = (p: string) => readFileSync(join(p, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const m = JSON.parse(l) as Record<string, any>;
    return { ...m, seconds: 0, wall_seconds: 0, load_average: 0, other_cpu: 0, cumulative: { ...m.cumulative, wall_seconds: 0 }, val_points: undefined };
  });
  assert.deepEqual(strip(out), strip(whole));
  assert.equal(s.test_accuracy, json(join(whole, 'summary.json')).test_accuracy);
});
