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
 */
import { parseArgs } from 'node:util';
import { resnet18 } from '../src/models/index.js';
import { F } from '../src/nn/index.js';
import { SGD } from '../src/optim/index.js';
import { engineInfo, manualSeed, randint, randn, setNumThreads, tidy } from '../src/tensor/index.js';
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
  },
});
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const batch = Number(args.batch);
const threads = Number(args.threads);
const channelsLast = args['channels-last'];
const median = upperMedian;

setNumThreads(threads);
manualSeed(0);
const model = resnet18({ numClasses: 10, stem: 'cifar' }).train();
let x = randn([batch, 3, 32, 32]);
if (channelsLast) {
  x = x.contiguous('channels_last');
  for (const p of model.parameters()) if (p.ndim === 4) p.setData_(p.contiguous('channels_last'));
}
const y = randint(0, 10, [batch]);
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });

function engineRound(): number[] {
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    tidy(() => {
      opt.zeroGrad();
      F.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  return times;
}

function torchRound(sameMalloc: boolean): { times: number[]; version: string } | null {
  const argv = ['--batch', String(batch), '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps)];
  if (channelsLast) argv.push('--channels-last');
  const r = runTorchScript<{ step_s: number[]; torch: string }>('engine_torch.py', argv, sameMalloc);
  return r && { times: r.step_s, version: r.torch };
}

const engineTimes: number[] = [];
const torchTimes: number[] = [];
const torchDefaultTimes: number[] = [];
let torchVersion = 'unavailable';
for (let r = 0; r < rounds; r++) {
  const e = engineRound();
  engineTimes.push(...e);
  log(`round ${r + 1}/${rounds} engine: ${(batch / median(e)).toFixed(1)} img/s`);
  const t = torchRound(true);
  if (t) {
    torchTimes.push(...t.times);
    torchVersion = t.version;
    log(`round ${r + 1}/${rounds} torch (same malloc settings): ${(batch / median(t.times)).toFixed(1)} img/s`);
  }
  if (args['torch-default-malloc']) {
    const d = torchRound(false);
    if (d) {
      torchDefaultTimes.push(...d.times);
      log(`round ${r + 1}/${rounds} torch (glibc default malloc): ${(batch / median(d.times)).toFixed(1)} img/s`);
    }
  }
}
const engineImgS = batch / median(engineTimes);
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
  engine_img_s: Number(engineImgS.toFixed(2)),
  torch_img_s: torchImgS === null ? null : Number(torchImgS.toFixed(2)),
  ratio: torchImgS === null ? null : Number((engineImgS / torchImgS).toFixed(3)),
  torch_default_malloc_img_s: round2(torchDefaultImgS),
  ratio_vs_torch_default_malloc: torchDefaultImgS === null ? null : round2(engineImgS / torchDefaultImgS, 3),
};
if (!args.json) log(`engine ${result.engine_img_s} img/s, torch ${result.torch_img_s} img/s, ratio ${result.ratio}`);
console.log(JSON.stringify(result));
