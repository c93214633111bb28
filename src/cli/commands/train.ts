/**
 * `saln train`: one training run with in-batch selection, into a run directory.
 *   saln train --dataset cifar10 --data-dir ../shared/datasets/cifar10-jpg --model resnet18-cifar \
 *     --method saln --filter-ratio 0.8 --epochs 1 --limit-train 2000 --out runs/saln
 *   saln train --resume runs/saln
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError, type CliIO } from '../io.js';
import { TRAIN_DEFAULTS } from '../../train/defaults.js';

function positiveInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !(v >= 1)) throw new InvalidArgumentError('Expected an integer >= 1.');
  return v;
}
function nonNegInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError('Expected an integer >= 0.');
  return v;
}
function number(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError('Expected a number.');
  return v;
}

interface TrainFlags {
  dataset?: string;
  dataDir?: string;
  model: string;
  method: string;
  filterRatio?: number;
  filterSchedule: string;
  filterRatioEnd?: number;
  reference?: string;
  referenceHoldout?: number;
  referenceEpochs?: number;
  referenceDir?: string;
  jestChunks: number;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  limitTrain?: number;
  limitVal?: number;
  limitTest?: number;
  out?: string;
  resume?: string;
  json?: boolean;
  progress: boolean;
  featureSource: string;
  featureModel: string;
  featureSize?: number;
  features?: string;
  imageSize?: number;
  solver: string;
  augment: boolean;
  threads?: number;
  saveSelections?: boolean;
  cacheDir?: string;
  selectionMode: string;
  lrScaling: string;
  device: string;
  budgetSeconds?: number;
  budgetGradientSamples?: number;
  evalEvery?: number;
}

const HELP = `
Per batch of B, the selector keeps k = floor(B·(1 − filter ratio)) samples and only those go
forward and backward with gradients. Methods:
  none        standard training (filter ratio 0)
  random      uniform at the same keep ratio: the control
  saln        spectral in-batch selection (Fiedler vector of the batch's cosine graph) on
              --feature-source: cache (pretrained features by sample id, the paper's setting,
              extracted on the fly into the feature cache if missing), pixels, or learner
  loss-topk   the k highest learner losses (an extra forward without gradients)
  rho-loss    the k highest learner loss − reference loss (--reference: the irreducible-loss
              model, a finished run trained on a holdout split)
  jest        learnability = learner loss − reference loss, k drawn in --jest-chunks chunks by
              softmax sampling without replacement; with per-sample cross-entropy the joint term
              vanishes and this is independent learnability sampling (implemented chunk-wise all
              the same)
  infobatch   epoch-level: each epoch, samples whose last loss is below the mean are pruned
              with probability r = --filter-ratio, the survivors' loss scaled by 1/(1 − r); no
              pruning after 87.5% of the epochs. Pruned samples leave their batches (batches
              shrink; the step count is unchanged)
The reference model of jest and rho-loss comes one of two ways, and the run says which:
  --reference-holdout N   train it here, first: standard training of the same model on N
                          class-balanced training samples held out from the learner (its time is
                          recorded as reference_wall_seconds in config.json, apart from the run's)
  --reference RUN_DIR     a finished \`saln train\` run; the run reports how many of its training
                          samples are also in the learner's (train_ids.json in each run directory)

Selection modes (--selection-mode):
  in-batch     the paper's: draw B, train k = floor(B·(1 − f)) (25 of 128 at f = 0.8)
  super-batch  JEST's and RHO-LOSS's: draw ⌈B/(1 − f)⌉, score them all, train exactly B; an epoch
               is one pass of the scoring side over the data (about (1 − f) of it is trained);
               a partial last super-batch trains the same proportion (at least 1); with a
               filter-ratio schedule the drawn size follows each epoch's ratio; none needs f = 0;
               infobatch prunes within the super-batch and trains at most B of the survivors
--lr-scaling: none keeps the learning rate for every batch (the paper's setting: a constant
learning rate whatever k); linear uses lr·k/B for a trained batch of k < B.
--budget-seconds S / --budget-gradient-samples N stop the run after the step that reaches the
budget (--epochs is then the maximum); that epoch is validated and recorded with partial: true,
then the test runs and summary.json says stopped_by. A gradient-sample budget is deterministic;
a wall-time budget is not (it depends on the machine and its load). Resuming a stopped run only
tests.
--eval-every N also validates mid-epoch, each time the gradient samples reach a multiple of N
(a multiple reached at an epoch's last step is that epoch's own validation). The points go in
the epoch's metrics line (val_points: gradient_samples, wall_seconds, val_loss, val_accuracy)
and the report's equal-budget table and time to target use them. Their time counts as eval but
not in the run's wall seconds or a budget, and training is the same with or without them.

The run directory (--out) gets config.json, metrics.jsonl (one line per epoch), summary.json
(test_accuracy, best_val_accuracy, wall_seconds, per-phase seconds: data, scoring, selection,
train, eval, checkpoint; counts of gradient/scored/feature/reference samples and optimizer steps;
stopped_by), each metrics line has the run's cumulative counts and wall seconds,
checkpoint.safetensors (after every epoch, atomically) and, with --save-selections,
selections.jsonl; saln also writes selection_examples.safetensors (the features and kept
positions of the first batch of the first and last epochs). --resume RUN_DIR continues from the last checkpoint with the run's own
config.json; the result equals an uninterrupted run with the same seed.

Exit codes: 0 done; 2 bad configuration (the message names the flag); 1 anything else.

Examples:
  $ saln train --dataset cifar10 --data-dir ../shared/datasets/cifar10-jpg --model resnet18-cifar --method saln --epochs 1 --limit-train 2000 --out runs/saln
  $ saln train --dataset cifar10 --data-dir data/cifar10-sample --method jest --reference-holdout 400 --epochs 3 --out runs/jest
  $ saln train --resume runs/saln
`;

export function trainCommand(io: CliIO): Command {
  return new Command('train')
    .summary('train a model with in-batch sample selection')
    .description('Train a model where each batch trains only the samples a selector keeps; writes a resumable run directory.')
    .addOption(new Option('--dataset <name>', 'which loader reads the data').choices(['cifar10', 'oxford-pets', 'imagefolder']))
    .option('--data-dir <path>', 'where the data is (CIFAR-10 binary or JPEG folders, Oxford-IIIT Pet, or an image folder)')
    .option('--model <name>', 'the learner: resnet18-cifar, resnet34-cifar, resnet18, resnet50, mobilenet-v1, tiny-cnn (from scratch), or fine-tuned from ImageNet weights: mobilenet-v1-0.75-imagenet, resnet50-keras-imagenet, resnet18-tv-imagenet', 'resnet18-cifar')
    .option('--method <name>', 'the selector: none, random, saln, loss-topk, rho-loss, jest, infobatch', 'none')
    .option('--filter-ratio <r>', 'the fraction of each batch dropped, in [0, 1) (default: 0 for none, 0.8 for the others)', number)
    .addOption(new Option('--filter-schedule <kind>', 'how the filter ratio moves over epochs: constant, linear, cosine, or step (at half the epochs), from --filter-ratio to --filter-ratio-end').choices(['constant', 'linear', 'cosine', 'step']).default('constant'))
    .option('--filter-ratio-end <r>', 'the filter ratio of the last epoch, for a non-constant schedule', number)
    .option('--reference <run-dir>', 'jest, rho-loss: the reference (irreducible-loss) model: a finished `saln train` run, trained on a holdout split')
    .option('--reference-holdout <n>', 'hold out n class-balanced training samples: jest and rho-loss train their reference on them first; other methods skip them too, to train on the same samples', positiveInt)
    .option('--reference-epochs <n>', 'with --reference-holdout: the reference\'s epochs (default: --epochs)', positiveInt)
    .option('--reference-dir <dir>', 'with --reference-holdout: where the reference run goes (default RUN_DIR/reference); a finished one with the same holdout is reused')
    .option('--jest-chunks <n>', 'jest: the number of chunks the kept samples are drawn in', positiveInt, 16)
    .option('--epochs <n>', 'epochs', positiveInt, TRAIN_DEFAULTS.epochs)
    .option('--batch-size <b>', 'batch size B (before selection)', positiveInt, TRAIN_DEFAULTS.batchSize)
    .option('--lr <x>', 'SGD learning rate (the paper: 0.001)', number, TRAIN_DEFAULTS.lr)
    .option('--momentum <m>', 'SGD momentum', number, TRAIN_DEFAULTS.momentum)
    .option('--weight-decay <w>', 'SGD weight decay', number, TRAIN_DEFAULTS.weightDecay)
    .option('--seed <s>', 'seed of the init, data order, augmentation, splits and selectors', nonNegInt, 0)
    .option('--limit-train <n>', 'a class-balanced subset of n training samples', positiveInt)
    .option('--limit-val <n>', 'a class-balanced subset of n validation samples', positiveInt)
    .option('--limit-test <n>', 'a class-balanced subset of n test samples', positiveInt)
    .option('--out <dir>', 'the run directory (default runs/<method>-<time>)')
    .option('--resume <dir>', 'continue an interrupted run from its last checkpoint (other flags are ignored)')
    .addOption(new Option('--feature-source <s>', 'saln: cache (pretrained features by id), pixels, or learner').choices(['cache', 'pixels', 'learner']).default(TRAIN_DEFAULTS.featureSource))
    .option('--feature-model <name>', 'saln with cache: the pretrained model (see `saln models list`)', TRAIN_DEFAULTS.featureModel)
    .option('--feature-size <px>', 'saln with cache: the feature model\'s input size (default: the model\'s, 224)', positiveInt)
    .option('--features <file>', 'saln with cache: use this feature cache file (from `saln features extract`)')
    .option('--image-size <px>', 'cache and model input size (default 32 for CIFAR-10, 224 otherwise)', positiveInt)
    .addOption(new Option('--solver <s>', 'saln: eigen solver').choices(['auto', 'eigh', 'lanczos']).default(TRAIN_DEFAULTS.solver))
    .option('--no-augment', 'no train-time augmentation (flip, rotation, color jitter)')
    .option('--threads <n>', 'intra-op engine threads (default: every core)', positiveInt)
    .addOption(new Option('--selection-mode <mode>', 'in-batch (train k of each batch of B) or super-batch (draw ⌈B/(1 − f)⌉, train B)').choices(['in-batch', 'super-batch']).default('in-batch'))
    .addOption(new Option('--lr-scaling <s>', 'none (constant lr, the paper\'s setting) or linear (lr·k/B for a trained batch of k < B)').choices(['none', 'linear']).default('none'))
    .option('--budget-seconds <s>', 'stop after the step that reaches S wall seconds (not deterministic)', number)
    .option('--budget-gradient-samples <n>', 'stop after the step that reaches N samples through backward (deterministic)', positiveInt)
    .option('--eval-every <n>', 'also validate each time the gradient samples reach a multiple of N (finer equal-budget points)', positiveInt)
    .addOption(new Option('--device <d>', 'where the learner trains: cpu or cuda').choices(['cpu', 'cuda']).default('cpu'))
    .option('--save-selections', 'write selections.jsonl: the sample ids each batch kept')
    .option('--cache-dir <dir>', 'cache folder (default $SALN_CACHE or ~/.cache/saln)')
    .option('--json', 'line-per-event JSON logs on stdout (no progress bar)')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', HELP)
    .action(async (flags: TrainFlags, cmd: Command) => {
      void cmd;
      await runTrain(flags, io);
    });
}

async function runTrain(flags: TrainFlags, io: CliIO): Promise<void> {
  const { existsSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parseCliConfig, ConfigError } = await import('../../train/config.js');
  let raw: Record<string, unknown>;
  let resume = false;
  if (flags.resume) {
    const p = join(flags.resume, 'config.json');
    if (!existsSync(p)) throw new UsageError(`--resume: ${flags.resume} is not a run directory (no config.json)`);
    const saved = JSON.parse(readFileSync(p, 'utf8')) as { extra?: { cli?: Record<string, unknown>; cache_dir?: string | null } };
    if (!saved.extra?.cli) throw new UsageError(`--resume: ${p} was not written by saln train`);
    raw = { ...saved.extra.cli, out: flags.resume };
    flags.cacheDir ??= saved.extra.cache_dir ?? undefined;
    resume = true;
  } else {
    if (flags.dataset === undefined) throw new UsageError('--dataset: required (cifar10, oxford-pets or imagefolder)');
    if (flags.dataDir === undefined) throw new UsageError('--data-dir: required');
    raw = {
      dataset: flags.dataset, dataDir: flags.dataDir, model: flags.model, method: flags.method, filterRatio: flags.filterRatio ?? (flags.method === 'none' ? 0 : 0.8), filterSchedule: flags.filterSchedule, filterRatioEnd: flags.filterRatioEnd, reference: flags.reference, referenceHoldout: flags.referenceHoldout, referenceEpochs: flags.referenceEpochs, referenceDir: flags.referenceDir, jestChunks: flags.jestChunks,
      epochs: flags.epochs, batchSize: flags.batchSize, lr: flags.lr, momentum: flags.momentum, weightDecay: flags.weightDecay, seed: flags.seed,
      limitTrain: flags.limitTrain, limitVal: flags.limitVal, limitTest: flags.limitTest,
      out: flags.out ?? join('runs', `${flags.method}-${new Date().toISOString().replace(/[:.]/g, '-')}`),
      featureSource: flags.featureSource, featureModel: flags.featureModel, featureSize: flags.featureSize, imageSize: flags.imageSize,
      solver: flags.solver, augment: flags.augment, threads: flags.threads, saveSelections: flags.saveSelections ?? false,
      selectionMode: flags.selectionMode, lrScaling: flags.lrScaling, device: flags.device, budgetSeconds: flags.budgetSeconds, budgetGradientSamples: flags.budgetGradientSamples,
      evalEvery: flags.evalEvery,
      ...(flags.features !== undefined ? { featuresFile: flags.features } : {}),
    };
  }
  let cfg;
  try {
    cfg = parseCliConfig(raw, { cacheDir: flags.cacheDir });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const { runCliTraining } = await import('../../train/run.js');
  await runCliTraining(cfg, {
    resume, cacheDir: flags.cacheDir, json: flags.json ?? false, progress: flags.progress && !flags.json,
    out: (t) => io.out(t), warn: (t) => io.err(`saln: warning: ${t}\n`), log: (t) => io.err(`${t}\n`),
    usage: (m) => new UsageError(m),
  });
}
