/** Training in bf16 and channels-last (issue 14): what the trainer computes in, and what a run records. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, type CliRun } from '../cli-run.js';
import { writeCifarBinary } from '../data/fixtures.js';
import { synthetic } from './synthetic.js';
import { autocastState, randn, resolvePrecision, tensor, type Tensor } from '../../src/tensor/index.js';
import { computeOf, CPU_FP32, prepareModel, resolveCompute, toInput, type Compute } from '../../src/train/compute.js';
import { evaluate } from '../../src/train/evaluate.js';
import { TinyCNN } from '../../src/train/models.js';
import { parseRunSpec, RunDir, train, type TrainConfig } from '../../src/train/index.js';
import { DataLoader } from '../../src/data/loader.js';
import { loadData } from '../../src/data/load.js';
import { EvalTransform } from '../../src/data/transforms.js';

let dir = '';
let data = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-precision-'));
  data = join(dir, 'c10');
  writeCifarBinary(data, 12);
  process.env.SALN_CACHE = join(dir, 'cache');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const BF16_CL: Compute = { device: 'cpu', precision: 'bf16', memoryFormat: 'channels-last' };

/** TinyCNN that notes, per forward, whether autocast was on and its input's layout. */
class Probe extends TinyCNN {
  seen: { autocast: boolean; channelsLast: boolean; training: boolean }[] = [];
  override forward(x: Tensor): Tensor {
    this.seen.push({ autocast: autocastState('cpu').enabled, channelsLast: x.isContiguous('channels-last') && !x.isContiguous(), training: this.training });
    return super.forward(x);
  }
}

function config(over: Partial<TrainConfig>): TrainConfig {
  return { model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 1, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 0, featureSource: 'cache', solver: 'auto', saveSelections: false, ...over };
}

test('bf16 + channels-last: every forward (train, scoring, validation, test) runs under autocast on channels-last input; the weights stay float32', async () => {
  const s = synthetic(1);
  try {
    const model = new Probe(3, 3);
    // loss-topk scores the learner, so scoring forwards are probed too.
    const r = await train({ config: config({ method: 'loss-topk', filterRatio: 0.5, precision: 'bf16', memoryFormat: 'channels-last' }), data: s.data, learner: model });
    assert.ok(model.seen.length >= 6 + 6 + 2, `forwards seen: ${model.seen.length}`);
    assert.ok(model.seen.every((f) => f.autocast), 'a forward ran outside autocast');
    assert.ok(model.seen.every((f) => f.channelsLast), 'a forward got NCHW input (the kept subset of a batch included)');
    assert.ok(model.seen.some((f) => !f.training), 'validation/test forwards were probed');
    assert.equal(autocastState('cpu').enabled, false, 'autocast left on after training');
    for (const p of r.model.parameters()) assert.equal(p.dtype, 'float32');
    const conv = model.conv1.weight;
    assert.ok(conv.isContiguous('channels-last') && !conv.isContiguous(), 'conv weights laid out channels-last once');
    assert.equal(r.summary!.precision, 'bf16');
    assert.equal(r.summary!.memory_format, 'channels-last');
    assert.ok(Number.isFinite(r.summary!.test_loss));
  } finally {
    s.free();
  }
});

test('fp32 (a config without precision fields): no forward under autocast, NCHW input', async () => {
  const s = synthetic(2);
  try {
    const model = new Probe(3, 3);
    const r = await train({ config: config({}), data: s.data, learner: model });
    assert.ok(model.seen.length > 0);
    assert.ok(model.seen.every((f) => !f.autocast && !f.channelsLast));
    assert.equal(r.summary!.precision, 'fp32');
    assert.equal(r.summary!.memory_format, 'contiguous');
  } finally {
    s.free();
  }
});

test('bf16 training learns the synthetic problem as fp32 does, and is deterministic', async () => {
  const accs: Record<string, number[]> = {};
  for (const precision of ['fp32', 'bf16', 'bf16'] as const) {
    const s = synthetic(3);
    try {
      const r = await train({ config: config({ epochs: 3, precision, memoryFormat: precision === 'bf16' ? 'channels-last' : 'contiguous' }), data: s.data });
      (accs[precision] ??= []).push(r.summary!.test_accuracy, r.summary!.test_loss);
    } finally {
      s.free();
    }
  }
  assert.ok(accs.fp32![0]! >= 0.9, `fp32 accuracy ${accs.fp32![0]}`);
  assert.ok(accs.bf16![0]! >= 0.9, `bf16 accuracy ${accs.bf16![0]}`);
  // Same seed, same run: the two bf16 runs agree to the last digit.
  assert.deepEqual(accs.bf16!.slice(0, 2), accs.bf16!.slice(2));
});

test('evaluate() in bf16 agrees with fp32 to bf16 precision', async () => {
  const s = synthetic(4);
  try {
    const model = new TinyCNN(3, 3);
    const fp32 = await evaluate(model, s.data.test);
    prepareModel(model, BF16_CL);
    const bf16 = await evaluate(model, s.data.test, BF16_CL);
    assert.equal(bf16.samples, fp32.samples);
    assert.ok(Math.abs(bf16.loss - fp32.loss) < 0.02 * Math.max(1, fp32.loss), `${bf16.loss} vs ${fp32.loss}`);
  } finally {
    s.free();
  }
});

test('toInput lays a batch out channels-last once, and leaves labels and laid-out batches alone', () => {
  const x = randn([2, 3, 4, 4]);
  const laid = toInput(x, BF16_CL);
  assert.ok(laid.isContiguous('channels-last') && !laid.isContiguous());
  assert.equal(toInput(laid, BF16_CL), laid, 'an already laid-out batch is not copied');
  const y = tensor([1, 2], { dtype: 'int64' });
  assert.equal(toInput(y, BF16_CL), y);
  const plain = randn([2, 3, 4, 4]);
  assert.equal(toInput(plain, CPU_FP32), plain, 'fp32 contiguous on the CPU: nothing to do');
  [laid, y, plain].forEach((t) => t.dispose());
});

test('the data loader hands over channels-last batches when asked, NCHW by default', async () => {
  const loaded = await loadData({ kind: 'cifar10-bin', root: data, size: 32, seed: 0, cacheDir: join(dir, 'cache', 'prepared'), warn: () => {} });
  try {
    for (const memoryFormat of ['contiguous', 'channels-last'] as const) {
      const loader = new DataLoader(loaded.test, { batchSize: 4, shuffle: false, transform: new EvalTransform({ inputSize: 32 }), memoryFormat });
      for await (const b of loader.epoch(0)) {
        assert.equal(b.x.isContiguous(), memoryFormat === 'contiguous');
        assert.equal(b.x.isContiguous('channels-last'), memoryFormat === 'channels-last');
        b.x.dispose();
        b.y.dispose();
        break;
      }
    }
  } finally {
    await loaded.close();
  }
});

test('resolveCompute: auto follows the hardware; a resumed run keeps the settings it started with', () => {
  const auto = resolveCompute({ device: 'cpu', precision: 'auto', memoryFormat: 'auto' });
  const expected = resolvePrecision('auto', 'auto', 'cpu');
  assert.equal(auto.precision, expected.precision);
  assert.equal(auto.memoryFormat, expected.memoryFormat);
  assert.deepEqual(computeOf(resolveCompute({ device: 'cpu', precision: 'fp32', memoryFormat: 'contiguous' })), { device: 'cpu', precision: 'fp32', memoryFormat: 'contiguous' });
  // Started in bf16 + channels-last: resumed as such whatever auto would say now.
  const saved = config({ precision: 'bf16', memoryFormat: 'channels-last' });
  assert.deepEqual(computeOf(resolveCompute({ device: 'cpu', precision: 'auto', memoryFormat: 'auto' }, saved)), BF16_CL);
  // A run from before these settings computed in fp32, contiguous.
  assert.deepEqual(computeOf(resolveCompute({ device: 'cpu', precision: 'auto', memoryFormat: 'auto' }, config({}))), { device: 'cpu', precision: 'fp32', memoryFormat: 'contiguous' });
});

test('the run spec: --precision and --memory-format default to auto, and a saved spec without them means fp32', () => {
  const base = { dataset: 'cifar10', dataDir: data, out: join(dir, 'x'), filterRatio: 0 };
  const spec = parseRunSpec(base);
  assert.equal(spec.precision, 'auto');
  assert.equal(spec.memoryFormat, 'auto');
  assert.throws(() => parseRunSpec({ ...base, precision: 'fp16' }), /precision/);
  // A run directory written before the options existed: its spec resumes in fp32, contiguous.
  const old = join(dir, 'old-run');
  mkdirSync(old);
  writeFileSync(join(old, 'config.json'), JSON.stringify({ ...config({}), format_version: 2, extra: { cli: base } }));
  const saved = parseRunSpec(RunDir.open(old).spec()!);
  assert.deepEqual([saved.precision, saved.memoryFormat], ['fp32', 'contiguous']);
});

const run = (args: string[]): Promise<CliRun> => runCli(['train', ...args]);
const common = (): string[] => ['--dataset', 'cifar10', '--data-dir', data, '--model', 'tiny-cnn', '--batch-size', '8', '--lr', '0.05', '--epochs', '1', '--no-progress'];

test('saln train records the resolved precision and layout in config.json and summary.json, and says why', async () => {
  const expected = resolvePrecision('auto', 'auto', 'cpu');
  for (const [flags, p, m] of [
    [['--precision', 'bf16', '--memory-format', 'channels-last'], 'bf16', 'channels-last'],
    [['--precision', 'fp32', '--memory-format', 'contiguous'], 'fp32', 'contiguous'],
    [[], expected.precision, expected.memoryFormat],
  ] as const) {
    const out = join(dir, `run-${p}-${m}-${flags.length}`);
    const r = await run([...common(), ...flags, '--out', out]);
    assert.equal(r.code, 0, r.err);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const sum = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.deepEqual([cfg.precision, cfg.memoryFormat, sum.precision, sum.memory_format], [p, m, p, m]);
    // The machine's load is recorded beside the wall time (a contended run's time is not comparable).
    assert.ok(sum.load_average.cores >= 1 && sum.load_average.start >= 0 && sum.load_average.end >= 0, JSON.stringify(sum.load_average));
    // Its mean is over the start, the end and each epoch's sample (in the epoch's metrics row).
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const samples = [sum.load_average.start, ...rows.map((m: { load_average: number }) => m.load_average), sum.load_average.end];
    assert.ok(Math.abs(sum.load_average.mean - samples.reduce((a: number, v: number) => a + v, 0) / samples.length) < 0.01, JSON.stringify(samples));
    // Other work's CPU, per epoch and over the run, wherever /proc/stat shows this machine's own CPUs.
    const ownCpus = existsSync('/proc/stat') && readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length === availableParallelism();
    if (ownCpus) assert.ok(rows.every((m: { other_cpu?: number }) => m.other_cpu! >= 0) && sum.load_average.other_cpu >= 0, JSON.stringify(sum.load_average));
    else assert.equal(sum.load_average.other_cpu, undefined);
    assert.match(cfg.extra.compute_reason, flags.length ? /\(requested\)/ : /\(auto\)/);
    assert.match(r.err + r.out, new RegExp(`computing in ${p}`));
  }
  const bad = await run([...common(), '--precision', 'fp16', '--out', join(dir, 'bad')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--precision/);
});
