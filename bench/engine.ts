/**
 * bench:engine — training throughput on random data, 2 threads, sides alternating in rounds of
 * one run (robust to the shared machine's load):
 *
 * 1. ResNet-18 (CIFAR stem, 32x32, batch 128): the engine in its default precision and memory
 *    format (`auto`: bf16 autocast + channels-last where the CPU computes bf16 natively, see
 *    resolvePrecision) against PyTorch fp32 in its default layout (`ratio`); and the engine in
 *    bf16 + channels-last against PyTorch's bf16 autocast + channels-last (`ratio_bf16_cl`), the
 *    same work on both sides. Where `auto` resolves to bf16 + channels-last the engine's two
 *    sides are one configuration, timed once.
 * 2. MobileNetV1-0.75 at 64 px fine-tuning (ImageNet weights from ../shared/models, a new 10-way
 *    head, batch 64): the engine in fp32 NCHW against the engine in `auto` (`mobilenet_ratio`),
 *    and in fp32 + channels-last (`mobilenet_fp32_cl_ratio`: the layout's gain alone).
 *
 * The addon tunes glibc malloc at load (native/src/runtime.cc: no mmap for big blocks, no trimming),
 * which alone makes CNN steps several times faster here. For a fair ratio the PyTorch side runs with
 * the same settings (GLIBC_TUNABLES); `torch_default_malloc_img_s` is PyTorch fp32 with glibc's defaults.
 *
 *   npm run bench:engine -- --json [--rounds 3] [--steps 6] [--warmup 2] [--batch 128]
 *     [--precision auto|fp32|bf16] [--memory-format auto|contiguous|channels-last] [--no-mobilenet]
 *     [--device cpu|cuda|cuda:N] [--only-mobilenet]
 *
 * --device runs both sides there (PyTorch: torch.device; `auto` resolves for that device). Every
 * timed step ends with loss.item() on both sides, so on CUDA a step's time includes its kernels;
 * there the glibc-default-malloc PyTorch rounds are skipped (host malloc is not what a GPU step
 * waits on) and their keys are null. $SALN_PYTHON picks the PyTorch Python.
 */
import { join } from 'node:path';
import { loadKerasMobileNetV1, resnet18 } from '../src/models/index.js';
import { F, type Module } from '../src/nn/index.js';
import { SGD } from '../src/optim/index.js';
import {
  engineInfo, manualSeed, randint, randn, setNumThreads, tidy, withPrecision,
  type Tensor,
} from '../src/tensor/index.js';
import { benchArgs, log, r2, repoRoot, runTorchScript, upperMedian } from './common.js';
import { BF16_CL, benchDevice, engineDefault, FP32_CL, FP32_NCHW, MEMORY_FORMAT_FLAGS, PRECISION_FLAGS, sameMode, type Mode } from './modes.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  rounds: { type: 'string', default: '3' },
  steps: { type: 'string', default: '6' },
  warmup: { type: 'string', default: '2' },
  batch: { type: 'string', default: '128' },
  threads: { type: 'string', default: '2' },
  precision: { type: 'string', default: 'auto' },
  'memory-format': { type: 'string', default: 'auto' },
  'no-mobilenet': { type: 'boolean', default: false },
  'only-mobilenet': { type: 'boolean', default: false },
  'mobilenet-batch': { type: 'string', default: '64' },
  'torch-default-malloc': { type: 'boolean', default: true },
  device: { type: 'string', default: 'cpu' },
});
const args = cli.values;
const rounds = cli.int('rounds');
const steps = cli.int('steps');
const warmup = cli.int('warmup', 0);
const batch = cli.int('batch');
const threads = cli.threads('threads');
const mobilenetBatch = cli.int('mobilenet-batch');
const median = upperMedian;

setNumThreads(threads);
const device = benchDevice(args.device, cli.fail);
const auto = engineDefault(cli.choice('precision', PRECISION_FLAGS), cli.choice('memory-format', MEMORY_FORMAT_FLAGS), device);

/** A model, its optimizer and one fixed batch, laid out for mode. */
interface Trainee {
  model: Module;
  opt: SGD;
  x: Tensor;
  y: Tensor;
  mode: Mode;
}

function trainee(model: Module, n: number, size: number, mode: Mode): Trainee {
  model.to(device).train().toMemoryFormat(mode.memoryFormat);
  const x = randn([n, 3, size, size], { device }).contiguous(mode.memoryFormat);
  return { model, opt: new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 }), x, y: randint(0, 10, [n], { device }), mode };
}

/**
 * One training step in mode: the forward pass and the loss under autocast when bf16 (the loss in
 * float32 either way), backward and the optimizer step outside, as in PyTorch's AMP recipe.
 */
function trainStep(t: Trainee): void {
  tidy(() => {
    t.opt.zeroGrad();
    const loss = withPrecision(t.mode.precision, device, () => F.crossEntropy(t.model.forward(t.x), t.y));
    loss.backward();
    t.opt.step();
    loss.item(); // waits for the step's kernels on CUDA, as the PyTorch side does
  });
}

function engineRound(t: Trainee): number[] {
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    trainStep(t);
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  return times;
}

let torchVersion = 'unavailable';
function torchRound(mode: Mode, sameMalloc: boolean): number[] | null {
  const argv = ['--batch', String(batch), '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps), '--device', device];
  if (mode.memoryFormat === 'channels-last') argv.push('--channels-last');
  if (mode.precision === 'bf16') argv.push('--bf16');
  const r = runTorchScript<{ step_s: number[]; torch: string }>('engine_torch.py', argv, sameMalloc);
  if (r) torchVersion = r.torch;
  return r?.step_s ?? null;
}

const resnet = (mode: Mode): Trainee => {
  manualSeed(0);
  return trainee(resnet18({ numClasses: 10, stem: 'cifar' }), batch, 32, mode);
};
const engineAuto = resnet(auto);
const engineBf16 = sameMode(auto, BF16_CL) ? engineAuto : resnet(BF16_CL);

const times = { engine: [] as number[], torch: [] as number[], engineBf16: [] as number[], torchBf16: [] as number[], torchDefault: [] as number[] };
const push = (into: number[], xs: number[] | null, what: string, n = batch): void => {
  if (!xs) return;
  into.push(...xs);
  log(`  ${what}: ${(n / median(xs)).toFixed(1)} img/s`);
};
for (let r = 0; r < (args['only-mobilenet'] ? 0 : rounds); r++) {
  log(`round ${r + 1}/${rounds}`);
  push(times.engine, engineRound(engineAuto), `engine ${auto.precision} ${auto.memoryFormat}`);
  push(times.torch, torchRound(FP32_NCHW, true), 'torch fp32 contiguous');
  if (engineBf16 !== engineAuto) push(times.engineBf16, engineRound(engineBf16), 'engine bf16 channels-last');
  push(times.torchBf16, torchRound(BF16_CL, true), 'torch bf16 autocast channels-last');
  if (args['torch-default-malloc'] && device === 'cpu') push(times.torchDefault, torchRound(FP32_NCHW, false), 'torch fp32, glibc default malloc');
}
if (engineBf16 === engineAuto) times.engineBf16 = times.engine;

/** MobileNetV1-0.75 fine-tuning at 64 px: the engine in fp32 NCHW against the engine in auto. */
function mobilenetRows(): { fp32: number; auto: number; fp32Cl: number; batch: number } | null {
  if (args['no-mobilenet']) return null;
  const n = mobilenetBatch;
  const load = (mode: Mode): Trainee => {
    manualSeed(0);
    const m = loadKerasMobileNetV1(join(repoRoot, '..', 'shared', 'models', 'mobilenet_v1_0.75_224')).replaceHead(10);
    return trainee(m, n, 64, mode);
  };
  const plain = load(FP32_NCHW);
  const fast = load(auto);
  const laidOut = load(FP32_CL);
  const t = { fp32: [] as number[], auto: [] as number[], fp32Cl: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    log(`mobilenet round ${r + 1}/${rounds}`);
    push(t.fp32, engineRound(plain), 'engine fp32 contiguous', n);
    push(t.auto, engineRound(fast), `engine ${auto.precision} ${auto.memoryFormat}`, n);
    push(t.fp32Cl, engineRound(laidOut), 'engine fp32 channels-last', n);
  }
  return { fp32: n / median(t.fp32), auto: n / median(t.auto), fp32Cl: n / median(t.fp32Cl), batch: n };
}
const mobile = mobilenetRows();

const imgS = (xs: number[]): number | null => (xs.length ? batch / median(xs) : null);
const engineImgS = imgS(times.engine) ?? NaN;
const torchImgS = imgS(times.torch);
const engineBf16ImgS = imgS(times.engineBf16) ?? NaN;
const torchBf16ImgS = imgS(times.torchBf16);
const torchDefaultImgS = imgS(times.torchDefault);
const ratio = (a: number, b: number | null): number | null => (b === null ? null : r2(a / b, 3));
const result = {
  bench: 'engine',
  model: 'resnet18-cifar',
  batch,
  threads,
  device,
  channels_last: auto.memoryFormat === 'channels-last',
  precision: auto.precision,
  memory_format: auto.memoryFormat,
  steps_per_side: times.engine.length,
  libtorch: engineInfo().torch,
  torch: torchVersion,
  engine_img_s: r2(engineImgS),
  torch_img_s: r2(torchImgS),
  ratio: ratio(engineImgS, torchImgS),
  engine_bf16_cl_img_s: r2(engineBf16ImgS),
  torch_bf16_cl_img_s: r2(torchBf16ImgS),
  ratio_bf16_cl: ratio(engineBf16ImgS, torchBf16ImgS),
  torch_default_malloc_img_s: r2(torchDefaultImgS),
  ratio_vs_torch_default_malloc: ratio(engineImgS, torchDefaultImgS),
  mobilenet_batch: mobile?.batch ?? null,
  mobilenet_fp32_nchw_img_s: r2(mobile?.fp32 ?? null),
  mobilenet_auto_img_s: r2(mobile?.auto ?? null),
  mobilenet_ratio: mobile ? r2(mobile.auto / mobile.fp32, 3) : null,
  mobilenet_fp32_cl_img_s: r2(mobile?.fp32Cl ?? null),
  mobilenet_fp32_cl_ratio: mobile ? r2(mobile.fp32Cl / mobile.fp32, 3) : null,
};
if (!args.json) {
  log(`resnet18: engine ${auto.precision}/${auto.memoryFormat} ${result.engine_img_s} vs torch fp32 ${result.torch_img_s} img/s (ratio ${result.ratio}); ` +
    `bf16+cl: engine ${result.engine_bf16_cl_img_s} vs torch ${result.torch_bf16_cl_img_s} (ratio ${result.ratio_bf16_cl})`);
  if (mobile) log(`mobilenet-v1-0.75 @64: fp32 nchw ${result.mobilenet_fp32_nchw_img_s}, auto ${result.mobilenet_auto_img_s} img/s (ratio ${result.mobilenet_ratio})`);
}
console.log(JSON.stringify(result));
