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
 * Features for the feature selectors (saln and its variants, kcenter, craig, rho-diverse) are the
 * learner's own penultimate features (--features learner, default), its last-layer gradient
 * embedding (gradient), the pixels, or a feature cache file (cache, --features-file: e.g. the
 * ResNet-50 features a saln run extracted; the pool is then the images that file has). A selector
 * written method@source takes its features from that source instead (craig@gradient).
 *
 * The learner may be a pretrained one (mobilenet-v1-0.75-imagenet: P-CIFAR-FT's), fed at
 * --image-size (bilinear from the 32 px cache, ImageNet-normalized, no augmentation). rho-diverse
 * needs reference losses: the bench has no reference model, so it uses 0 (its reducible loss is
 * then the learner's loss: loss-topk within clusters).
 *
 *   npm run bench:gradient-fidelity -- --json [--model tiny-cnn] [--checkpoints 50,200,400]
 *     [--batches 40] [--batch-size 128] [--filter-ratio 0.8] [--features learner|gradient|pixels|cache]
 *     [--features-file F] [--image-size 32] [--selectors random,random-balanced,craig@gradient,...]
 *     [--data-dir data/cifar10-sample] [--threads 0] [--seed 0]
 *
 * P-CIFAR-FT's setting (results/gradient-fidelity-p-cifar-ft.json):
 *   npm run bench:gradient-fidelity -- --json --model mobilenet-v1-0.75-imagenet --image-size 64 --lr 0.03 \
 *     --data-dir ../shared/datasets/cifar10-jpg --features cache --features-file ~/.cache/saln/features/<resnet50-keras entry>
 * Last stdout line: one JSON object.
 */
import { join } from 'node:path';
import { loadData } from '../src/data/load.js';
import { deriveSeed, Rng } from '../src/data/rng.js';
import { normalize, resize, toFloatImages } from '../src/data/transforms.js';
import { FeatureCache } from '../src/features/index.js';
import { lastLayerGradients } from '../src/train/embedding.js';
import { buildPretrainedLearner, PRETRAINED_LEARNERS } from '../src/train/pretrained.js';
import { F } from '../src/nn/index.js';
import { SGD } from '../src/optim/sgd.js';
import { summarize } from '../src/reports/stats.js';
import { keptCount } from '../src/selection/index.js';
import { getNumThreads, manualSeed, noGrad, selectRows, setNumThreads, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { compareGradients, meanLossGradient } from '../src/train/fidelity.js';
import { buildLearner, type Learner } from '../src/train/models.js';
import { createSelector, METHODS, type Method, type SelectContext, type Selector } from '../src/train/selectors/index.js';
import { benchArgs, log, r2, repoRoot } from './common.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  'data-dir': { type: 'string', default: join(repoRoot, 'data', 'cifar10-sample') },
  model: { type: 'string', default: 'tiny-cnn' },
  checkpoints: { type: 'string', default: '50,200,400' },
  batches: { type: 'string', default: '40' },
  'batch-size': { type: 'string', default: '128' },
  'filter-ratio': { type: 'string', default: '0.8' },
  features: { type: 'string', default: 'learner' },
  'features-file': { type: 'string' },
  'image-size': { type: 'string', default: '32' },
  selectors: { type: 'string', default: 'random,random-balanced,saln,saln-clamp,saln-normalized,saln-stratified,saln-smallest,kcenter,craig,rho-diverse,loss-topk' },
  lr: { type: 'string', default: '0.05' },
  threads: { type: 'string', default: '0' },
  seed: { type: 'string', default: '0' },
});
const args = cli.values;

const seed = cli.int('seed', 0);
const B = cli.int('batch-size', 2);
const ratio = cli.fraction('filter-ratio');
const k = keptCount(B, ratio);
const checkpoints = cli.ints('checkpoints', 0).sort((a, b) => a - b);
const batches = cli.int('batches');
const SOURCES = ['learner', 'gradient', 'pixels', 'cache'] as const;
type Source = (typeof SOURCES)[number];
const featureSource = args.features as Source;
if (!SOURCES.includes(featureSource)) cli.fail(`--features must be one of ${SOURCES.join(', ')}, got ${args.features}`);
/** --selectors entries: a method, or method@source for a feature source other than --features (craig@gradient). */
const specs = args.selectors.split(',').map((label) => {
  const [method, source = featureSource] = label.split('@') as [string, Source | undefined];
  if (!(METHODS as readonly string[]).includes(method)) cli.fail(`unknown selector ${method}; methods: ${METHODS.join(', ')}`);
  if (!SOURCES.includes(source)) cli.fail(`${label}: the feature source must be one of ${SOURCES.join(', ')}`);
  return { label, method: method as Method, source };
});
const names = specs.map((s) => s.label);
if (!names.includes('random')) cli.fail('--selectors must include random (the paired baseline)');
if (specs.some((s) => s.source === 'cache') && args['features-file'] === undefined) cli.fail('the cache feature source needs --features-file (a feature cache .safetensors)');
const imageSize = cli.int('image-size', 8);
const threads = cli.threads('threads', { zeroKeeps: true });
const lr = cli.positive('lr');
if (threads > 0) setNumThreads(threads);

interface Train {
  /** The pool's cache images, uint8 [N, H, W, 3]. */
  u8: Tensor;
  y: Tensor;
  ids: string[];
  labels: Int32Array;
  /** --features cache: the file, its rows looked up by id. */
  cache: FeatureCache | null;
}

/** The training set (the images a --features-file has, with cache), as cache images and labels. */
async function loadTrain(): Promise<Train> {
  const data = await loadData({ kind: 'cifar10-folder', root: args['data-dir'], valFraction: 0 });
  try {
    const set = data.train;
    const cache = specs.some((s) => s.source === 'cache') ? FeatureCache.open(args['features-file']!) : null;
    const pool = Array.from({ length: set.length }, (_, i) => i).filter((i) => cache === null || cache.has(set.ids[i]!));
    if (pool.length < B) throw new Error(`${pool.length} training images${cache ? ' in the feature file' : ''}: fewer than a batch of ${B}`);
    const u8 = await set.readBatch(Int32Array.from(pool));
    const labels = Int32Array.from(pool, (i) => set.labels[i]!);
    return { u8, y: tensor(Array.from(labels), { dtype: 'int64' }), ids: pool.map((i) => set.ids[i]!), labels, cache };
  } finally {
    await data.close();
  }
}

/** Model inputs of these pool positions: float, at --image-size, ImageNet-normalized. */
function inputs(d: Train, pos: number[]): Tensor {
  return tidy(() => {
    const x = toFloatImages(selectRows(d.u8, pos));
    return normalize(x.shape[2] === imageSize ? x : resize(x, imageSize));
  });
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


/** One plain SGD step on a random full batch (train mode). */
function trainStep(model: Learner, opt: SGD, d: Train, rng: Rng): void {
  tidy(() => {
    const pos = drawBatch(rng, d.ids.length);
    opt.zeroGrad();
    F.crossEntropy(model.forward(inputs(d, pos)), selectRows(d.y, pos)).backward();
    opt.step();
  });
}

/** The batch's rows for the feature selectors, from a feature source. */
function featuresOf(source: Source, model: Learner, d: Train, x: Tensor, y: Tensor, ids: string[]): Tensor {
  switch (source) {
    case 'learner': return model.forwardFeatures(x);
    case 'gradient': return tidy(() => {
      const h = model.forwardFeatures(x);
      return lastLayerGradients(h, model.classify(h), y);
    });
    case 'pixels': return x.flatten(1);
    case 'cache': return d.cache!.lookup(ids);
  }
}

interface Labelled { label: string; source: Source; selector: Selector }

interface Measured { relError: number[]; cosine: number[]; selectSeconds: number }

/** Every selector on `batches` batches at the current (frozen) model state, in eval mode. */
function measure(model: Learner, d: Train, selectors: Labelled[], step: number, ci: number, out: Map<string, Measured>): void {
  model.eval();
  try {
    for (let b = 0; b < batches; b++) {
      const pos = drawBatch(new Rng(deriveSeed(seed, 'fidelity-batch', step, b)), d.ids.length);
      tidy(() => {
        const x = inputs(d, pos);
        const y = selectRows(d.y, pos);
        const ids = pos.map((p) => d.ids[p]!);
        const features = new Map(SOURCES.filter((src) => specs.some((s) => s.source === src)).map((src) => [src, noGrad(() => featuresOf(src, model, d, x, y, ids))]));
        const ctx: SelectContext = {
          batchSize: B, k, ids, labels: Int32Array.from(pos, (p) => d.labels[p]!), seed, epoch: 0, batchIndex: ci * batches + b,
          learnerLoss: noGrad(() => F.crossEntropy(model.forward(x), y, { reduction: 'none' }).toTypedArray<'float32'>() as Float32Array),
          referenceLoss: new Float32Array(B),
        };
        const full = meanLossGradient(model, x, y);
        for (const { label, source, selector: s } of selectors) {
          const t = performance.now();
          const kept = s.select({ ...ctx, features: features.get(source) });
          const m = out.get(label)!;
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
  const model = PRETRAINED_LEARNERS[args.model] ? await buildPretrainedLearner(args.model, 10) : buildLearner(args.model, 10);
  const opt = new SGD(model.parameters(), { lr, momentum: 0.9, weightDecay: 5e-4 });
  const selectors: Labelled[] = specs.map((s) => ({ label: s.label, source: s.source, selector: createSelector(s.method, { featureSource: s.source, filterRatio: ratio }) }));
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
  [d.u8, d.y].forEach((t) => t.dispose());
  d.cache?.dispose();
  const line = {
    bench: 'gradient-fidelity', model: args.model, features: args.features, features_file: args['features-file'] ?? null, image_size: imageSize, batch_size: B, k, filter_ratio: ratio,
    checkpoints, batches_per_checkpoint: batches, train_images: d.ids.length, lr, seed, threads: getNumThreads(),
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
