/**
 * bench:features — ResNet-50 feature extraction throughput (eval mode, no gradients, "caffe"
 * preprocessing, pooled 2048-d features copied to host memory) at 224 px and at 64 px: saln's
 * engine and PyTorch (Debian python3-torch, /usr/bin/python3, torchvision's resnet50 with
 * fc = Identity) on the same architecture, batch and threads, in alternating rounds of the same
 * run. Weights are random: they do not change the cost.
 *
 * Two comparisons, as bench:engine: the engine in its default precision and memory format
 * (`auto`: bf16 autocast + channels-last where the CPU computes bf16 natively) against PyTorch
 * fp32 in its default layout (`ratio_224`, `ratio_64`); and at 224 px the engine in bf16 +
 * channels-last against PyTorch's bf16 autocast + channels-last (`ratio_bf16_cl_224`).
 *
 * The addon tunes glibc malloc at load; the PyTorch side runs with the same settings
 * (GLIBC_TUNABLES), as in bench:engine.
 *
 * Also reported, engine only: the Keras-layout ResNet-50 (the resnet50-keras extractor: convs with
 * bias, stride on the 1x1 convs) at 224 px, and the whole extractFeatures() pipeline (batches in,
 * cache file out) at 64 px.
 *
 *   npm run bench:features -- --json [--rounds 2] [--steps 4] [--batch224 16] [--batch64 64] [--threads 2]
 *     [--device cpu|cuda|cuda:N]
 * --device runs both sides there (PyTorch: torch.device; `auto` resolves for that device); the
 * input batch is made there once, and each timed batch ends with the pooled features copied to
 * host memory, which waits for the kernels. $SALN_PYTHON picks the PyTorch Python.
 * Last stdout line: one JSON object with img/s per side and the ratios (engine / torch).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractFeatures, type FeatureBatch } from '../src/features/index.js';
import { ResNet, resnet50 } from '../src/models/index.js';
import {
  engineInfo, manualSeed, rand, setNumThreads, type Tensor,
} from '../src/tensor/index.js';
import { benchArgs, log, r2, runTorchScript, upperMedian } from './common.js';
import { BF16_CL, benchDevice, engineDefault, MEMORY_FORMAT_FLAGS, PRECISION_FLAGS, sameMode, type Mode } from './modes.js';
import { extractStep } from './extract-step.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  rounds: { type: 'string', default: '2' },
  steps: { type: 'string', default: '4' },
  warmup: { type: 'string', default: '1' },
  batch224: { type: 'string', default: '16' },
  batch64: { type: 'string', default: '64' },
  threads: { type: 'string', default: '2' },
  'pipeline-images': { type: 'string', default: '256' },
  precision: { type: 'string', default: 'auto' },
  'memory-format': { type: 'string', default: 'auto' },
  device: { type: 'string', default: 'cpu' },
});
const args = cli.values;
const rounds = cli.int('rounds');
const steps = cli.int('steps');
const warmup = cli.int('warmup', 0);
const threads = cli.threads('threads');
const [b224, b64, pipeN] = [cli.int('batch224'), cli.int('batch64'), cli.int('pipeline-images')];
const median = upperMedian;

setNumThreads(threads);
const device = benchDevice(args.device, cli.fail);
const auto = engineDefault(cli.choice('precision', PRECISION_FLAGS), cli.choice('memory-format', MEMORY_FORMAT_FLAGS), device);
const sameAsBf16Cl = sameMode(auto, BF16_CL);

/** A ResNet-50 in eval mode, laid out for mode (random weights, seed 0). */
function model50(mode: Mode, layout: 'torchvision' | 'keras' = 'torchvision'): ResNet {
  manualSeed(0);
  const m = layout === 'keras' ? new ResNet({ depth: 50, layout: 'keras' }) : resnet50();
  return m.to(device).eval().toMemoryFormat(mode.memoryFormat);
}
const tv = model50(auto);
const tvBf16 = sameAsBf16Cl ? tv : model50(BF16_CL);

function engineRound(model: ResNet, x: Tensor, mode: Mode): number[] {
  const xs = x.contiguous(mode.memoryFormat);
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    extractStep(model, xs, mode.precision, device);
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  if (xs !== x) xs.dispose();
  return times;
}

let torchVersion = 'unavailable';
function torchRound(size: number, batch: number, bf16Cl = false): number[] | null {
  const argv = ['--size', String(size), '--batch', String(batch), '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps), '--device', device];
  if (bf16Cl) argv.push('--bf16', '--channels-last');
  const r = runTorchScript<{ step_s: number[]; torch: string }>('features_torch.py', argv, true);
  if (r) torchVersion = r.torch;
  return r?.step_s ?? null;
}

interface Side {
  engine: number[];
  torch: number[];
  engineBf16: number[];
  torchBf16: number[];
}
const results: Record<number, Side & { batch: number }> = {};
const add = (into: number[], xs: number[] | null, what: string, batch: number): void => {
  if (!xs) return;
  into.push(...xs);
  log(`  ${what}: ${(batch / median(xs)).toFixed(2)} img/s`);
};
for (const [size, batch] of [[224, b224], [64, b64]] as const) {
  const x = rand([batch, 3, size, size], { device }).mul(255);
  const side: Side & { batch: number } = { engine: [], torch: [], engineBf16: [], torchBf16: [], batch };
  for (let r = 0; r < rounds; r++) {
    log(`${size} px round ${r + 1}/${rounds}`);
    add(side.engine, engineRound(tv, x, auto), `engine ${auto.precision} ${auto.memoryFormat}`, batch);
    add(side.torch, torchRound(size, batch), 'torch fp32 contiguous', batch);
    if (size !== 224) continue;
    if (!sameAsBf16Cl) add(side.engineBf16, engineRound(tvBf16, x, BF16_CL), 'engine bf16 channels-last', batch);
    add(side.torchBf16, torchRound(size, batch, true), 'torch bf16 autocast channels-last', batch);
  }
  if (sameAsBf16Cl) side.engineBf16 = side.engine;
  x.dispose();
  results[size] = side;
}

// Engine only: the Keras layout at 224 px.
const keras = model50(auto, 'keras');
const xk = rand([b224, 3, 224, 224], { device }).mul(255);
const kerasTimes = engineRound(keras, xk, auto);
xk.dispose();
const kerasImgS = b224 / median(kerasTimes);
log(`224 px keras-layout engine: ${kerasImgS.toFixed(2)} img/s`);

// Engine only: the extractFeatures() pipeline at 64 px (ids, preprocessing, chunk + final cache writes).
const pool = rand([b64, 3, 64, 64], { device }).mul(255);
function* source(): Generator<FeatureBatch> {
  for (let s = 0; s < pipeN; s += b64) {
    const n = Math.min(b64, pipeN - s);
    yield { ids: Array.from({ length: n }, (_, i) => `s${s + i}`), x: pool.narrow(0, 0, n).clone() };
  }
}
const tmp = mkdtempSync(join(tmpdir(), 'saln-bench-features-'));
const tp = performance.now();
await extractFeatures({
  model: tv, source: source(), key: { dataset: 'bench', split: 'x', model: 'resnet50', preprocess: 'caffe', size: 64 },
  cacheDir: tmp, preprocess: 'caffe', total: pipeN, progress: false, chunkRows: 128, precision: auto.precision,
});
const pipelineImgS = pipeN / ((performance.now() - tp) / 1000);
rmSync(tmp, { recursive: true, force: true });
log(`64 px extractFeatures pipeline (engine): ${pipelineImgS.toFixed(2)} img/s`);

const imgS = (batch: number, t: number[]): number | null => (t.length ? batch / median(t) : null);
const e224 = imgS(results[224]!.batch, results[224]!.engine)!;
const t224 = imgS(results[224]!.batch, results[224]!.torch);
const e64 = imgS(results[64]!.batch, results[64]!.engine)!;
const t64 = imgS(results[64]!.batch, results[64]!.torch);
const e224Bf16 = imgS(results[224]!.batch, results[224]!.engineBf16)!;
const t224Bf16 = imgS(results[224]!.batch, results[224]!.torchBf16);
const result = {
  bench: 'features',
  model: 'resnet50 (torchvision layout, random weights), eval, no grad, caffe preprocessing, pooled features to host',
  threads,
  device,
  batch_224: results[224]!.batch,
  batch_64: results[64]!.batch,
  steps_per_side: results[224]!.engine.length,
  libtorch: engineInfo().torch,
  torch: torchVersion,
  engine_224_img_s: r2(e224),
  torch_224_img_s: r2(t224),
  ratio_224: t224 === null ? null : r2(e224 / t224, 3),
  engine_64_img_s: r2(e64),
  torch_64_img_s: r2(t64),
  ratio_64: t64 === null ? null : r2(e64 / t64, 3),
  precision: auto.precision,
  memory_format: auto.memoryFormat,
  engine_bf16_cl_224_img_s: r2(e224Bf16),
  torch_bf16_cl_224_img_s: r2(t224Bf16),
  ratio_bf16_cl_224: t224Bf16 === null ? null : r2(e224Bf16 / t224Bf16, 3),
  engine_keras_layout_224_img_s: r2(kerasImgS),
  engine_pipeline_64_img_s: r2(pipelineImgS),
};
if (!args.json) {
  log(`224 px: engine ${auto.precision}/${auto.memoryFormat} ${result.engine_224_img_s} vs torch fp32 ${result.torch_224_img_s} img/s (ratio ${result.ratio_224}); ` +
    `bf16+cl: engine ${result.engine_bf16_cl_224_img_s} vs torch ${result.torch_bf16_cl_224_img_s} (ratio ${result.ratio_bf16_cl_224}); ` +
    `64 px: engine ${result.engine_64_img_s} vs torch fp32 ${result.torch_64_img_s} (ratio ${result.ratio_64})`);
}
console.log(JSON.stringify(result));
