/**
 * bench:conv — forward + backward of each ResNet-18 (CIFAR stem) convolution shape under bf16
 * autocast, channels-last, batch 128, three ways taken in turn: libtorch's kernels; the backward by
 * matmul over the unfolded input (the addon's conv2dIm2col, whatever the map size); and every pass
 * by matmul. It is how the CPU bf16 rule's limits (CPU_BF16_MATMUL_CONV) were chosen.
 *
 *   npm run bench:conv -- --json [--batch 128] [--reps 5] [--threads 2]
 *
 * Prints a line per shape, then (with --json) one JSON line: {"bench":"conv", "layers": [...]},
 * each layer with libtorch_ms, backward_matmul_ms, all_matmul_ms and the way the rule takes.
 */
import { F } from '../src/nn/index.js';
import { autocast, CPU_BF16_MATMUL_CONV, manualSeed, randn, setNumThreads, tidy, withPrecision, type MatmulConvLimits, type Tensor } from '../src/tensor/index.js';
import { convIm2colPlan } from '../src/tensor/scope.js';
import { benchArgs, log, r2, upperMedian } from './common.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  batch: { type: 'string', default: '128' },
  reps: { type: 'string', default: '5' },
  threads: { type: 'string', default: '2' },
});
const args = cli.values;
const [batch, reps] = [cli.int('batch'), cli.int('reps')];
const threads = cli.threads('threads');
setNumThreads(threads);
manualSeed(0);

/** [in channels, out channels, input side, kernel, stride]: ResNet-18's convolutions on 32×32 CIFAR. */
const SHAPES: [number, number, number, number, number][] = [
  [64, 64, 32, 3, 1], [64, 128, 32, 3, 2], [64, 128, 32, 1, 2], [128, 128, 16, 3, 1], [128, 256, 16, 3, 2],
  [128, 256, 16, 1, 2], [256, 256, 8, 3, 1], [256, 512, 8, 3, 2], [256, 512, 8, 1, 2], [512, 512, 4, 3, 1],
];
const EVERY_MAP = Number.MAX_SAFE_INTEGER;
const WAYS: Record<'libtorch' | 'backward_matmul' | 'all_matmul', MatmulConvLimits> = {
  libtorch: { backward: 0, forward: 0 },
  backward_matmul: { backward: EVERY_MAP, forward: 0 },
  all_matmul: { backward: EVERY_MAP, forward: EVERY_MAP },
};

/** The way bf16 training takes this convolution: the trainer's own plan, under withPrecision on CPU. */
function ruleOf(x: Tensor, w: Tensor, stride: number, padding: number): keyof typeof WAYS {
  const plan = withPrecision('bf16', 'cpu', () => convIm2colPlan(x, w, { groups: 1, stride: [stride, stride], padding: [padding, padding], dilation: [1, 1] }));
  return plan === null ? 'libtorch' : plan.forwardByMatmul ? 'all_matmul' : 'backward_matmul';
}

/** Milliseconds of one forward + backward under matmulConv limits. */
function timeStep(x: Tensor, w: Tensor, g: Tensor, stride: number, padding: number, limits: MatmulConvLimits): number {
  const t0 = performance.now();
  tidy(() => {
    const y = autocast({ dtype: 'bfloat16', matmulConv: limits }, () => F.conv2d(x, w, null, { stride, padding }));
    y.backward(g);
  });
  return performance.now() - t0;
}

const layers = SHAPES.map(([c, o, side, k, stride]) => {
  const padding = (k - 1) / 2;
  const out = Math.floor((side + 2 * padding - k) / stride) + 1;
  const x = randn([batch, c, side, side]).contiguous('channels-last').requiresGrad_();
  const w = randn([o, c, k, k]).contiguous('channels-last').requiresGrad_();
  const g = randn([batch, o, out, out]).contiguous('channels-last').to('bfloat16');
  const times = { libtorch: [] as number[], backward_matmul: [] as number[], all_matmul: [] as number[] };
  for (let i = -1; i < reps; i++) { // i = -1 warms every way up
    for (const way of Object.keys(WAYS) as (keyof typeof WAYS)[]) {
      const ms = timeStep(x, w, g, stride, padding, WAYS[way]);
      if (i >= 0) times[way].push(ms);
    }
  }
  const rule = ruleOf(x, w, stride, padding);
  for (const t of [x, w, g]) t.dispose();
  const ms = (way: keyof typeof WAYS) => r2(upperMedian(times[way]), 1);
  const row = { conv: `${c}->${o} ${side}x${side} k${k} s${stride}`, output: `${out}x${out}`, libtorch_ms: ms('libtorch'),
    backward_matmul_ms: ms('backward_matmul'), all_matmul_ms: ms('all_matmul'), rule };
  log(`${row.conv} -> ${row.output}: libtorch ${row.libtorch_ms} ms, backward by matmul ${row.backward_matmul_ms} ms, all by matmul ${row.all_matmul_ms} ms; bf16 takes ${rule}`);
  return row;
});
if (args.json) console.log(JSON.stringify({ bench: 'conv', batch, reps, threads, limits: CPU_BF16_MATMUL_CONV, layers }));
