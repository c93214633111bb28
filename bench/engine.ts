/**
 * bench:engine — ResNet-18 (CIFAR stem, 32x32, batch 128, 2 threads) training throughput on random
 * data: saln's engine and PyTorch (Debian python3-torch, /usr/bin/python3) on the same model, batch
 * and threads, in alternating rounds of the same run. Last line: {"engine_img_s","torch_img_s","ratio"}.
 *
 * The addon tunes glibc malloc at load (native/src/runtime.cc: no mmap for big blocks, no trimming),
 * which alone makes CNN steps several times faster here. For a fair ratio the PyTorch side runs with
 * the same settings (GLIBC_TUNABLES); `torch_default_img_s` is PyTorch with glibc's defaults.
 *
 *   npm run bench:engine -- --json [--rounds 3] [--steps 6] [--warmup 2] [--batch 128] [--channels-last]
 *     [--device cpu|cuda|cuda:N] [--amp none|bf16]
 *
 * --device runs both sides there (PyTorch: torch.device). Every timed step ends with loss.item() on
 * both sides, so on CUDA a step's time includes its kernels. On CUDA the glibc-default-malloc
 * PyTorch rounds are skipped (host malloc is not what a GPU step waits on): those keys are null.
 * --amp bf16 is bf16 autocast on both sides; the engine has no autocast yet (it would export
 * `autocast` from src/tensor), so its side is skipped with a note and only PyTorch's is measured.
 */
import { parseArgs } from 'node:util';
import { resnet18 } from '../src/models/index.js';
import { F } from '../src/nn/index.js';
import { SGD } from '../src/optim/index.js';
import * as tensorApi from '../src/tensor/index.js';
import { cudaDeviceCount, engineInfo, manualSeed, randint, randn, setNumThreads, tidy, type Device } from '../src/tensor/index.js';
import { log, runTorchScript, upperMedian } from './common.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '128' },
    threads: { type: 'string', default: '2' },
    'channels-last': { type: 'boolean', default: false },
    'torch-default-malloc': { type: 'boolean', default: true },
    device: { type: 'string', default: 'cpu' },
    amp: { type: 'string', default: 'none' },
  },
});
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const batch = Number(args.batch);
const threads = Number(args.threads);
const channelsLast = args['channels-last'];
const median = upperMedian;
const device = args.device as Device;
if (!/^(cpu|cuda(:\d+)?)$/.test(device)) throw new Error(`--device: expected cpu, cuda or cuda:N, got ${device}`);
if (device !== 'cpu' && cudaDeviceCount() === 0) throw new Error(`--device ${device}: CUDA is not available to the engine (engineInfo: ${JSON.stringify(engineInfo())})`);
const amp = args.amp;
if (amp !== 'none' && amp !== 'bf16') throw new Error(`--amp: expected none or bf16, got ${amp}`);
// The engine's autocast, once it has one: autocast(dtype, fn) in src/tensor. Until then, skipped.
const engineAutocast = (tensorApi as Record<string, unknown>).autocast as ((dtype: string, fn: () => void) => void) | undefined;
const engineSkipped = amp === 'bf16' && typeof engineAutocast !== 'function' ? 'the engine has no autocast (src/tensor exports none): PyTorch side only' : null;
if (engineSkipped) log(`engine side skipped: ${engineSkipped}`);
const torchDefaultMalloc = args['torch-default-malloc'] && device === 'cpu';

setNumThreads(threads);
manualSeed(0);
const model = resnet18({ numClasses: 10, stem: 'cifar' }).train();
model.to(device);
let x = randn([batch, 3, 32, 32], { device });
if (channelsLast) {
  x = x.contiguous('channels_last');
  for (const p of model.parameters()) if (p.ndim === 4) p.setData_(p.contiguous('channels_last'));
}
const y = randint(0, 10, [batch], { device });
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });

function engineRound(): number[] {
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    tidy(() => {
      opt.zeroGrad();
      let loss!: tensorApi.Tensor;
      const forward = (): void => void (loss = F.crossEntropy(model.forward(x), y));
      if (amp === 'bf16') engineAutocast!('bfloat16', forward);
      else forward();
      loss.backward();
      opt.step();
      loss.item(); // waits for the step's kernels on CUDA, as the PyTorch side does
    });
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  return times;
}

function torchRound(sameMalloc: boolean): { times: number[]; version: string } | null {
  const argv = ['--batch', String(batch), '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps), '--device', device, '--amp', amp];
  if (channelsLast) argv.push('--channels-last');
  const r = runTorchScript<{ step_s: number[]; torch: string; model_source?: string }>('engine_torch.py', argv, sameMalloc);
  if (r?.model_source) torchModel = r.model_source;
  return r && { times: r.step_s, version: r.torch };
}

const engineTimes: number[] = [];
const torchTimes: number[] = [];
const torchDefaultTimes: number[] = [];
let torchVersion = 'unavailable';
let torchModel: string | null = null;
for (let r = 0; r < rounds; r++) {
  if (!engineSkipped) {
    const e = engineRound();
    engineTimes.push(...e);
    log(`round ${r + 1}/${rounds} engine: ${(batch / median(e)).toFixed(1)} img/s`);
  }
  const t = torchRound(true);
  if (t) {
    torchTimes.push(...t.times);
    torchVersion = t.version;
    log(`round ${r + 1}/${rounds} torch (same malloc settings): ${(batch / median(t.times)).toFixed(1)} img/s`);
  }
  if (torchDefaultMalloc) {
    const d = torchRound(false);
    if (d) {
      torchDefaultTimes.push(...d.times);
      log(`round ${r + 1}/${rounds} torch (glibc default malloc): ${(batch / median(d.times)).toFixed(1)} img/s`);
    }
  }
}
const engineImgS = engineTimes.length ? batch / median(engineTimes) : null;
const torchImgS = torchTimes.length ? batch / median(torchTimes) : null;
const torchDefaultImgS = torchDefaultTimes.length ? batch / median(torchDefaultTimes) : null;
const round2 = (v: number | null, d = 2): number | null => (v === null ? null : Number(v.toFixed(d)));
const result = {
  bench: 'engine',
  model: 'resnet18-cifar',
  batch,
  threads,
  channels_last: channelsLast,
  steps_per_side: engineTimes.length,
  libtorch: engineInfo().torch,
  torch: torchVersion,
  engine_img_s: round2(engineImgS),
  torch_img_s: round2(torchImgS),
  ratio: torchImgS === null || engineImgS === null ? null : round2(engineImgS / torchImgS, 3),
  torch_default_malloc_img_s: round2(torchDefaultImgS),
  ratio_vs_torch_default_malloc: torchDefaultImgS === null || engineImgS === null ? null : round2(engineImgS / torchDefaultImgS, 3),
  device,
  amp,
  torch_steps: torchTimes.length,
  torch_model: torchModel,
  ...(engineSkipped ? { engine_skipped: engineSkipped } : {}),
};
if (!args.json) log(`engine ${result.engine_img_s} img/s, torch ${result.torch_img_s} img/s, ratio ${result.ratio}`);
console.log(JSON.stringify(result));
