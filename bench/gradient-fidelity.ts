/**
 * bench:gradient-fidelity — the mechanistic check of in-batch selection (issue 18): does a
 * selector's kept batch give a gradient closer to the full batch's than a random one does?
 *
 * A learner is trained plainly (no selection, full batches of B) on the 2,000-image CIFAR-10
 * sample; at each checkpoint step its state is frozen and, for --batches random batches of B,
 * every selector keeps k = ⌊B·(1 − r)⌋ samples and we compare the kept samples' (weighted) mean-
 * loss gradient g_sel with the full batch's g_full (every parameter's gradient, flattened):
 *   rel_error = ‖g_sel − g_full‖/‖g_full‖,   cosine = cos(g_sel, g_full)   (src/train/fidelity.ts).
 * Each is also compared with `random`'s on the same batches: the mean paired difference and its
 * 95% CI (Student's t over checkpoints × batches). Negative rel_error_vs_random / positive
 * cosine_vs_random: closer to the full batch than random.
 *
 * Gradients are taken in eval mode (BatchNorm on its running statistics), so the batch loss is a
 * plain mean of per-sample losses and a subset's gradient is exactly a subset average of them.
 * Features for the feature selectors (saln and its variants, kcenter, craig) are the learner's own
 * penultimate features (--features learner, default) or the pixels: no pretrained cache is needed.
 *
 *   npm run bench:gradient-fidelity -- --json [--model tiny-cnn] [--checkpoints 50,200,400]
 *     [--batches 40] [--batch-size 128] [--filter-ratio 0.8] [--features learner|pixels]
 *     [--selectors random,random-balanced,...] [--data-dir data/cifar10-sample] [--threads 0] [--seed 0]
 * Last stdout line: one JSON object.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadData } from '../src/data/load.js';
import { deriveSeed, Rng } from '../src/data/rng.js';
import { normalize, toFloatImages } from '../src/data/transforms.js';
import { F } from '../src/nn/index.js';
import { SGD } from '../src/optim/sgd.js';
import { summarize } from '../src/reports/stats.js';
import { keptCount } from '../src/selection/index.js';
import { getNumThreads, manualSeed, noGrad, setNumThreads, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { compareGradients, meanLossGradient } from '../src/train/fidelity.js';
import { buildLearner, type Learner } from '../src/train/models.js';
import { createSelector, METHODS, type Method, type SelectContext, type Selector } from '../src/train/selectors/index.js';
import { log, r2, repoRoot } from './common.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: join(repoRoot, 'data', 'cifar10-sample') },
    model: { type: 'string', default: 'tiny-cnn' },
    checkpoints: { type: 'string', default: '50,200,400' },
    batches: { type: 'string', default: '40' },
    'batch-size': { type: 'string', default: '128' },
    'filter-ratio': { type: 'string', default: '0.8' },
    features: { type: 'string', default: 'learner' },
    selectors: { type: 'string', default: 'random,random-balanced,saln,saln-clamp,saln-normalized,saln-stratified,saln-smallest,kcenter,craig,loss-topk' },
    lr: { type: 'string', default: '0.05' },
    threads: { type: 'string', default: '0' },
    seed: { type: 'string', default: '0' },
  },
});

const seed = Number(args.seed);
const B = Number(args['batch-size']);
const ratio = Number(args['filter-ratio']);
const k = keptCount(B, ratio);
const checkpoints = String(args.checkpoints).split(',').map(Number).sort((a, b) => a - b);
const batches = Number(args.batches);
const names = String(args.selectors).split(',');
if (!names.includes('random')) throw new Error('--selectors must include random (the paired baseline)');
for (const m of names) if (!(METHODS as readonly string[]).includes(m)) throw new Error(`unknown selector ${m}; methods: ${METHODS.join(', ')}`);
if (args.features !== 'learner' && args.features !== 'pixels') throw new Error(`--features must be learner or pixels, got ${args.features}`);
if (Number(args.threads) > 0) setNumThreads(Number(args.threads));

/** The whole training set as normalized float images [N, 3, 32, 32] and int64 labels. */
async function loadTrain(): Promise<{ x: Tensor; y: Tensor; ids: string[]; labels: Int32Array }> {
  const data = await loadData({ kind: 'cifar10-folder', root: String(args['data-dir']), valFraction: 0 });
  try {
    const set = data.train;
    const u8 = await set.readBatch(Array.from({ length: set.length }, (_, i) => i));
    const x = tidy(() => normalize(toFloatImages(u8)));
    u8.dispose();
    return { x, y: tensor(Array.from(set.labels), { dtype: 'int64' }), ids: set.ids, labels: set.labels };
  } finally {
    await data.close();
  }
}

/** B distinct positions of N, from the generator. */
function drawBatch(rng: Rng, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < B; i++) {
    const j = i + rng.int(n - i);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p.slice(0, B);
}

type Train = Awaited<ReturnType<typeof loadTrain>>;
const pick = (t: Tensor, pos: number[]): Tensor => t.indexSelect(0, tensor(pos, { dtype: 'int64' }));

/** One plain SGD step on a random full batch (train mode). */
function trainStep(model: Learner, opt: SGD, d: Train, rng: Rng): void {
  tidy(() => {
    const pos = drawBatch(rng, d.ids.length);
    opt.zeroGrad();
    F.crossEntropy(model.forward(pick(d.x, pos)), pick(d.y, pos)).backward();
    opt.step();
  });
}

interface Measured { relError: number[]; cosine: number[]; selectSeconds: number }

/** Every selector on `batches` batches at the current (frozen) model state, in eval mode. */
function measure(model: Learner, d: Train, selectors: Selector[], step: number, ci: number, out: Map<string, Measured>): void {
  model.eval();
  try {
    for (let b = 0; b < batches; b++) {
      const pos = drawBatch(new Rng(deriveSeed(seed, 'fidelity-batch', step, b)), d.ids.length);
      tidy(() => {
        const x = pick(d.x, pos);
        const y = pick(d.y, pos);
        const ids = pos.map((p) => d.ids[p]!);
        const ctx: SelectContext = {
          batchSize: B, k, ids, labels: Int32Array.from(pos, (p) => d.labels[p]!), seed, epoch: 0, batchIndex: ci * batches + b,
          features: noGrad(() => (args.features === 'learner' ? model.forwardFeatures(x) : x.flatten(1))),
          learnerLoss: noGrad(() => F.crossEntropy(model.forward(x), y, { reduction: 'none' }).toTypedArray<'float32'>() as Float32Array),
        };
        const full = meanLossGradient(model, x, y);
        for (const s of selectors) {
          const t = performance.now();
          const kept = s.select(ctx);
          const m = out.get(s.name)!;
          m.selectSeconds += (performance.now() - t) / 1000;
          const weights = s.weights?.(kept.map((p) => ids[p]!));
          const c = tidy(() => compareGradients(meanLossGradient(model, x, y, kept, weights), full));
          m.relError.push(c.relError);
          m.cosine.push(c.cosine);
        }
      });
    }
  } finally {
    model.train();
  }
}

const stat = (xs: number[]): { mean: number | null; ci95: number | null } => {
  const s = summarize(xs);
  return { mean: r2(s.mean, 4), ci95: r2(s.half, 4) };
};

async function main(): Promise<void> {
  const t0 = performance.now();
  const d = await loadTrain();
  manualSeed(seed);
  const model = buildLearner(String(args.model), 10);
  const opt = new SGD(model.parameters(), { lr: Number(args.lr), momentum: 0.9, weightDecay: 5e-4 });
  const source = args.features === 'learner' ? 'learner' : 'pixels';
  const selectors = names.map((m) => createSelector(m as Method, { featureSource: source, filterRatio: ratio }));
  const out = new Map<string, Measured>(names.map((m) => [m, { relError: [], cosine: [], selectSeconds: 0 }]));
  const rng = new Rng(deriveSeed(seed, 'fidelity-train'));
  let trainSeconds = 0;
  let measureSeconds = 0;
  let step = 0;
  for (const [ci, at] of checkpoints.entries()) {
    const t = performance.now();
    for (; step < at; step++) trainStep(model, opt, d, rng);
    trainSeconds += (performance.now() - t) / 1000;
    const tm = performance.now();
    measure(model, d, selectors, at, ci, out);
    measureSeconds += (performance.now() - tm) / 1000;
    const rnd = out.get('random')!;
    log(`gradient-fidelity: step ${at}: random rel_error ${summarize(rnd.relError.slice(-batches)).mean.toFixed(3)} (${measureSeconds.toFixed(0)} s measuring)`);
  }
  const random = out.get('random')!;
  const result: Record<string, unknown> = {};
  for (const [name, m] of out) {
    result[name] = {
      rel_error: r2(summarize(m.relError).mean, 4),
      cosine: r2(summarize(m.cosine).mean, 4),
      rel_error_vs_random: stat(m.relError.map((v, i) => v - random.relError[i]!)),
      cosine_vs_random: stat(m.cosine.map((v, i) => v - random.cosine[i]!)),
      select_ms_per_batch: r2((1000 * m.selectSeconds) / m.relError.length, 2),
    };
  }
  [d.x, d.y].forEach((t) => t.dispose());
  const line = {
    bench: 'gradient-fidelity', model: args.model, features: args.features, batch_size: B, k, filter_ratio: ratio,
    checkpoints, batches_per_checkpoint: batches, train_images: d.ids.length, lr: Number(args.lr), seed, threads: getNumThreads(),
    train_seconds: r2(trainSeconds, 1), measure_seconds: r2(measureSeconds, 1), wall_seconds: r2((performance.now() - t0) / 1000, 1),
    selectors: result,
  };
  if (!args.json) {
    log(`selector            rel_error  Δ vs random (95% CI)   cosine  Δ vs random (95% CI)`);
    for (const [name, v] of Object.entries(result) as [string, { rel_error: number; cosine: number; rel_error_vs_random: { mean: number; ci95: number }; cosine_vs_random: { mean: number; ci95: number } }][]) {
      log(`${name.padEnd(18)} ${v.rel_error.toFixed(4).padStart(9)}  ${v.rel_error_vs_random.mean.toFixed(4).padStart(8)} ± ${String(v.rel_error_vs_random.ci95 ?? '-').padEnd(8)}  ${v.cosine.toFixed(4).padStart(6)}  ${v.cosine_vs_random.mean.toFixed(4).padStart(8)} ± ${v.cosine_vs_random.ci95 ?? '-'}`);
    }
  }
  console.log(JSON.stringify(line));
}

await main();
