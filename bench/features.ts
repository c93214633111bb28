/**
 * bench:features — ResNet-50 feature extraction throughput (eval mode, no gradients, "caffe"
 * preprocessing, pooled 2048-d features copied to host memory) at 224 px and at 64 px: saln's
 * engine and PyTorch (Debian python3-torch, /usr/bin/python3, torchvision's resnet50 with
 * fc = Identity) on the same architecture, batch and threads, in alternating rounds of the same
 * run. Weights are random: they do not change the cost.
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
 * --device runs both sides there (PyTorch: torch.device); the input batch is made there once, and
 * each timed batch ends with the pooled features copied to host memory, which waits for the kernels.
 * Last stdout line: one JSON object with img/s per side and the ratios (engine / torch).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { extractFeatures, type FeatureBatch } from '../src/features/index.js';
import { ResNet, resnet50 } from '../src/models/index.js';
import { cudaDeviceCount, engineInfo, manualSeed, rand, setNumThreads, type Device, type Tensor } from '../src/tensor/index.js';
import { log, runTorchScript, upperMedian } from './common.js';
import { extractStep } from './extract-step.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    batch224: { type: 'string', default: '16' },
    batch64: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    'pipeline-images': { type: 'string', default: '256' },
    device: { type: 'string', default: 'cpu' },
  },
});
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const threads = Number(args.threads);
const median = upperMedian;
const r2 = (v: number | null, d = 2): number | null => (v === null ? null : Number(v.toFixed(d)));

const device = args.device as Device;
if (!/^(cpu|cuda(:\d+)?)$/.test(device)) throw new Error(`--device: expected cpu, cuda or cuda:N, got ${device}`);
if (device !== 'cpu' && cudaDeviceCount() === 0) throw new Error(`--device ${device}: CUDA is not available to the engine (engineInfo: ${JSON.stringify(engineInfo())})`);

setNumThreads(threads);
manualSeed(0);
const tv = resnet50().eval().to(device);
const keras = new ResNet({ depth: 50, layout: 'keras' }).eval().to(device);

function engineRound(model: ResNet, x: Tensor): number[] {
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    extractStep(model, x);
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  return times;
}

let torchVersion = 'unavailable';
let torchModel: string | null = null;
function torchRound(size: number, batch: number): number[] | null {
  const argv = ['--size', String(size), '--batch', String(batch), '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps), '--device', device];
  const r = runTorchScript<{ step_s: number[]; torch: string; model_source?: string }>('features_torch.py', argv, true);
  if (r) torchVersion = r.torch;
  if (r?.model_source) torchModel = r.model_source;
  return r?.step_s ?? null;
}

interface Side {
  engine: number[];
  torch: number[];
}
const results: Record<number, Side & { batch: number }> = {};
for (const [size, batch] of [[224, Number(args.batch224)], [64, Number(args.batch64)]] as const) {
  const x = rand([batch, 3, size, size], { device }).mul(255);
  const side: Side & { batch: number } = { engine: [], torch: [], batch };
  for (let r = 0; r < rounds; r++) {
    const e = engineRound(tv, x);
    side.engine.push(...e);
    log(`${size} px round ${r + 1}/${rounds} engine: ${(batch / median(e)).toFixed(2)} img/s`);
    const t = torchRound(size, batch);
    if (t) {
      side.torch.push(...t);
      log(`${size} px round ${r + 1}/${rounds} torch:  ${(batch / median(t)).toFixed(2)} img/s`);
    }
  }
  x.dispose();
  results[size] = side;
}

// Engine only: the Keras layout at 224 px.
const xk = rand([Number(args.batch224), 3, 224, 224], { device }).mul(255);
const kerasTimes = engineRound(keras, xk);
xk.dispose();
const kerasImgS = Number(args.batch224) / median(kerasTimes);
log(`224 px keras-layout engine: ${kerasImgS.toFixed(2)} img/s`);

// Engine only: the extractFeatures() pipeline at 64 px (ids, preprocessing, chunk + final cache writes).
const pipeN = Number(args['pipeline-images']);
const b64 = Number(args.batch64);
const pool = rand([b64, 3, 64, 64]).mul(255);
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
  cacheDir: tmp, preprocess: 'caffe', total: pipeN, progress: false, chunkRows: 128,
});
const pipelineImgS = pipeN / ((performance.now() - tp) / 1000);
rmSync(tmp, { recursive: true, force: true });
log(`64 px extractFeatures pipeline (engine): ${pipelineImgS.toFixed(2)} img/s`);

const imgS = (batch: number, t: number[]): number | null => (t.length ? batch / median(t) : null);
const e224 = imgS(results[224]!.batch, results[224]!.engine)!;
const t224 = imgS(results[224]!.batch, results[224]!.torch);
const e64 = imgS(results[64]!.batch, results[64]!.engine)!;
const t64 = imgS(results[64]!.batch, results[64]!.torch);
const result = {
  bench: 'features',
  model: 'resnet50 (torchvision layout, random weights), eval, no grad, caffe preprocessing, pooled features to host',
  threads,
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
  engine_keras_layout_224_img_s: r2(kerasImgS),
  engine_pipeline_64_img_s: r2(pipelineImgS),
  device,
  torch_model: torchModel,
};
if (!args.json) log(`224 px: engine ${result.engine_224_img_s} vs torch ${result.torch_224_img_s} img/s (ratio ${result.ratio_224}); 64 px: engine ${result.engine_64_img_s} vs torch ${result.torch_64_img_s} (ratio ${result.ratio_64})`);
console.log(JSON.stringify(result));
