/**
 * Every `saln train` option, once: its key (the RunSpec field and the experiment-file key), type,
 * bounds, default, choices and help. The CLI derives its commander options from this table and
 * spec.ts derives the zod schema, so a new option is a row here plus the code that uses it.
 *
 * Plain data with no engine import: the CLI reads it for --help while the native addon stays
 * unloaded. Flags are the keys in kebab case (filterRatio → --filter-ratio) unless `flag` says
 * otherwise; a boolean that defaults to true is switched off by --no-<flag>.
 */

export type OptionType = 'string' | 'int' | 'number' | 'boolean';

export interface OptionDef {
  key: string;
  type: OptionType;
  help: string;
  /** The default when neither the command line nor an experiment file sets it (absent: unset). */
  default?: string | number | boolean;
  /** Allowed values (strings). */
  choices?: readonly string[];
  /** Inclusive lower bound; `gt` makes it exclusive. */
  min?: number;
  gt?: boolean;
  /** Exclusive upper bound. */
  lt?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** The message for a value out of bounds (default: zod's). */
  range?: string;
  /** The flag name without dashes when it is not kebab(key). */
  flag?: string;
  /** The value placeholder in --help (default: from the key). */
  arg?: string;
  /** Required unless resuming. */
  required?: boolean;
}

/** The most engine threads a run may ask for (more only oversubscribes and can stall libgomp). */
export const MAX_THREADS = 256;

const RATIO = 'must be in [0, 1)';

export const TRAIN_OPTIONS = [
  { key: 'dataset', type: 'string', choices: ['cifar10', 'oxford-pets', 'imagefolder'], required: true, help: 'which loader reads the data' },
  { key: 'dataDir', type: 'string', required: true, arg: 'path', help: 'where the data is (CIFAR-10 binary or JPEG folders, Oxford-IIIT Pet, or an image folder)' },
  { key: 'model', type: 'string', default: 'resnet18-cifar', arg: 'name', help: 'the learner: resnet18-cifar, resnet34-cifar, resnet18, resnet50, mobilenet-v1, tiny-cnn (from scratch), or fine-tuned from ImageNet weights: mobilenet-v1-0.75-imagenet, resnet50-keras-imagenet, resnet18-tv-imagenet' },
  { key: 'method', type: 'string', default: 'none', arg: 'name', help: 'the selector: none, random, saln, loss-topk, rho-loss, jest, infobatch; controls and coresets: random-balanced (class-balanced random), kcenter (k-center greedy), craig (weighted facility location); saln variants: saln-clamp (negative similarities clamped to 0), saln-normalized (normalized Laplacian, on the clamped graph), saln-stratified (spread along the Fiedler order), saln-smallest (smallest |f|); rho-diverse (the most learnable sample of each facility-location cluster; needs a reference)' },
  { key: 'filterRatio', type: 'number', min: 0, lt: 1, range: RATIO, arg: 'r', help: 'the fraction of each batch dropped, in [0, 1) (default: 0 for none, 0.8 for the others)' },
  { key: 'filterSchedule', type: 'string', choices: ['constant', 'linear', 'cosine', 'step'], default: 'constant', arg: 'kind', help: 'how the filter ratio moves over epochs: constant, linear, cosine, or step (at half the epochs), from --filter-ratio to --filter-ratio-end' },
  { key: 'filterRatioEnd', type: 'number', min: 0, lt: 1, range: RATIO, arg: 'r', help: 'the filter ratio of the last epoch, for a non-constant schedule' },
  { key: 'reference', type: 'string', arg: 'run-dir', help: 'jest, rho-loss, rho-diverse: the reference (irreducible-loss) model: a finished `saln train` run, trained on a holdout split' },
  { key: 'referenceHoldout', type: 'int', min: 1, arg: 'n', help: 'hold out n class-balanced training samples: jest, rho-loss and rho-diverse train their reference on them first; other methods skip them too, to train on the same samples' },
  { key: 'referenceEpochs', type: 'int', min: 1, arg: 'n', help: 'with --reference-holdout: the reference\'s epochs (default: --epochs)' },
  { key: 'referenceDir', type: 'string', arg: 'dir', help: 'with --reference-holdout: where the reference run goes (default RUN_DIR/reference); a finished one with the same holdout is reused' },
  { key: 'referenceLr', type: 'number', min: 0, gt: true, arg: 'x', help: 'with --reference-holdout: the reference\'s SGD learning rate (default: --lr)' },
  { key: 'referenceMomentum', type: 'number', min: 0, arg: 'm', help: 'with --reference-holdout: the reference\'s SGD momentum (default: --momentum)' },
  { key: 'referenceWeightDecay', type: 'number', min: 0, arg: 'w', help: 'with --reference-holdout: the reference\'s SGD weight decay (default: --weight-decay)' },
  { key: 'referenceValFraction', type: 'number', min: 0, lt: 1, range: RATIO, default: 0.1, arg: 'f', help: 'with --reference-holdout: a class-balanced fraction f of the holdout validates the reference, which keeps its epoch of lowest validation loss (0: no split, the last epoch)' },
  { key: 'referenceScores', type: 'string', choices: ['precomputed', 'online'], default: 'precomputed', arg: 'mode', help: 'jest, rho-loss, rho-diverse: precomputed (the reference scores every training sample once, un-augmented, before training; RHO-LOSS\'s official pipeline) or online (the reference scores each batch as drawn)' },
  { key: 'scoreMode', type: 'string', choices: ['train', 'eval'], default: 'train', arg: 'mode', help: 'how the learner is scored (loss-topk, rho-loss, jest, and saln, kcenter, craig on learner features): train (RHO-LOSS\'s official selection_train_mode: BatchNorm uses the batch\'s statistics and updates its running statistics, no gradients) or eval' },
  { key: 'infobatchMode', type: 'string', choices: ['official', 'in-batch'], default: 'official', arg: 'mode', help: 'infobatch: official (pruned samples leave the epoch; full batches, fewer steps) or in-batch (pruned samples leave their batch; as many steps)' },
  { key: 'jestChunks', type: 'int', min: 1, default: 16, arg: 'n', help: 'jest: the number of chunks the kept samples are drawn in' },
  { key: 'epochs', type: 'int', min: 1, default: 25, arg: 'n', help: 'epochs' },
  { key: 'batchSize', type: 'int', min: 1, default: 128, arg: 'b', help: 'batch size B (before selection)' },
  { key: 'evalBatchSize', type: 'int', min: 1, arg: 'n', help: 'batch size of validation and test passes (default: the larger of --batch-size and 256)' },
  { key: 'lr', type: 'number', min: 0, gt: true, default: 0.001, arg: 'x', help: 'SGD learning rate (the paper: 0.001)' },
  { key: 'momentum', type: 'number', min: 0, default: 0.9, arg: 'm', help: 'SGD momentum' },
  { key: 'weightDecay', type: 'number', min: 0, default: 0, arg: 'w', help: 'SGD weight decay' },
  { key: 'seed', type: 'int', min: 0, default: 0, arg: 's', help: 'seed of the init, data order, augmentation, splits and selectors' },
  { key: 'limitTrain', type: 'int', min: 1, arg: 'n', help: 'a class-balanced subset of n training samples' },
  { key: 'limitVal', type: 'int', min: 1, arg: 'n', help: 'a class-balanced subset of n validation samples' },
  { key: 'limitTest', type: 'int', min: 1, arg: 'n', help: 'a class-balanced subset of n test samples' },
  { key: 'out', type: 'string', arg: 'dir', help: 'the run directory (default runs/<method>-<time>)' },
  { key: 'featureSource', type: 'string', choices: ['cache', 'pixels', 'learner', 'gradient'], default: 'cache', arg: 's', help: 'saln (and its variants), kcenter, craig, rho-diverse: cache (pretrained features by id), pixels, learner (its penultimate features) or gradient (its last-layer gradient embedding)' },
  { key: 'craigWeights', type: 'boolean', default: true, help: 'craig: train the kept samples at weight 1, instead of weighting each by how many batch samples it stands for (CRAIG\'s published form)' },
  { key: 'featureModel', type: 'string', default: 'resnet50-keras', arg: 'name', help: 'saln, kcenter, craig with cache: the pretrained model (see `saln models list`)' },
  { key: 'featureSize', type: 'int', min: 1, arg: 'px', help: 'saln, kcenter, craig with cache: the feature model\'s input size (default: the model\'s, 224)' },
  { key: 'featuresFile', type: 'string', flag: 'features', arg: 'file', help: 'saln, kcenter, craig with cache: use this feature cache file (from `saln features extract`)' },
  { key: 'imageSize', type: 'int', min: 1, arg: 'px', help: 'cache and model input size (default: the model\'s native input size: 32 for the -cifar models and tiny-cnn, 224 for the ImageNet ones)' },
  { key: 'solver', type: 'string', choices: ['auto', 'eigh', 'lanczos'], default: 'auto', arg: 's', help: 'saln and its variants: eigen solver' },
  { key: 'augment', type: 'boolean', default: true, help: 'no train-time augmentation (flip, rotation, color jitter)' },
  { key: 'threads', type: 'int', min: 1, max: MAX_THREADS, range: `must be an integer from 1 to ${MAX_THREADS}`, arg: 'n', help: 'intra-op engine threads (default: OMP_NUM_THREADS, else every core)' },
  { key: 'selectionMode', type: 'string', choices: ['in-batch', 'super-batch'], default: 'in-batch', arg: 'mode', help: 'in-batch (train k of each batch of B) or super-batch (draw ⌈B/(1 − f)⌉, train B)' },
  { key: 'lrSchedule', type: 'string', choices: ['constant', 'cosine', 'step', 'onecycle'], default: 'constant', arg: 'kind', help: 'learning rate per optimizer step: constant (the paper\'s), cosine (to 0 over the run\'s steps), step (× --lr-gamma after each of --lr-milestones epochs) or onecycle (PyTorch\'s OneCycleLR defaults, max lr --lr)' },
  { key: 'warmupEpochs', type: 'number', min: 0, default: 0, arg: 'n', help: 'linear learning-rate warmup over the first n epochs\' steps (not with onecycle, which warms up itself)' },
  { key: 'lrMilestones', type: 'string', arg: 'e1,e2', help: 'step schedule: the epochs after which the learning rate is multiplied by --lr-gamma (default: half the epochs)' },
  { key: 'lrGamma', type: 'number', min: 0, gt: true, default: 0.1, arg: 'g', help: 'step schedule: the factor at each milestone' },
  { key: 'lrScaling', type: 'string', choices: ['none', 'linear'], default: 'none', arg: 's', help: 'none (constant lr, the paper\'s setting) or linear (lr·k/B for a trained batch of k < B)' },
  { key: 'budgetSeconds', type: 'number', min: 0, gt: true, range: 'must be > 0', arg: 's', help: 'stop after the step that reaches S wall seconds of the whole run: a reference\'s training and a feature extraction count (not deterministic)' },
  { key: 'budgetGradientSamples', type: 'int', min: 1, range: 'must be >= 1', arg: 'n', help: 'stop after the step that reaches N samples through backward (deterministic)' },
  { key: 'evalEvery', type: 'int', min: 1, range: 'must be >= 1', arg: 'n', help: 'also validate each time the gradient samples reach a multiple of N (finer equal-budget points)' },
  { key: 'device', type: 'string', choices: ['cpu', 'cuda'], default: 'cpu', arg: 'd', help: 'where the learner trains: cpu or cuda' },
  { key: 'precision', type: 'string', choices: ['auto', 'fp32', 'bf16'], default: 'auto', arg: 'p', help: 'forward passes in fp32, or bf16 (bfloat16 autocast; weights, optimizer and loss stay fp32); auto: bf16 where the device computes it natively (CPUs with AMX-BF16 or AVX512-BF16, GPUs of compute capability 8.0+), else fp32' },
  { key: 'memoryFormat', type: 'string', choices: ['auto', 'contiguous', 'channels-last'], default: 'auto', arg: 'f', help: 'layout of conv weights and image batches: contiguous (NCHW) or channels-last (NHWC, what oneDNN\'s bf16 kernels want); auto: channels-last where the device computes bf16 natively (as --precision auto), else contiguous' },
  { key: 'selectionScope', type: 'string', choices: ['rank', 'global'], default: 'rank', arg: 'scope', help: 'with several processes (saln launch, --nproc): select within each rank\'s batch of B (rank) or over all ranks\' W·B samples, as one process would (global)' },
  { key: 'saveSelections', type: 'boolean', default: false, help: 'write selections.jsonl: the sample ids each batch kept' },
] as const satisfies readonly OptionDef[];

type Option = (typeof TRAIN_OPTIONS)[number];
type ValueOf<O extends OptionDef> = O extends { choices: readonly (infer C)[] } ? C : O extends { type: 'int' | 'number' } ? number : O extends { type: 'boolean' } ? boolean : string;
type HasValue<O> = O extends { default: unknown } | { required: true } ? true : false;

/**
 * A validated `saln train` run, by option key: options with a default (or required) are always
 * present, the others optional. Derived from the table, so it cannot fall out of step with it.
 */
export type RunSpec = { [O in Option as HasValue<O> extends true ? O['key'] : never]: ValueOf<O> } & { [O in Option as HasValue<O> extends true ? never : O['key']]?: ValueOf<O> };
export type OptionKey = Option['key'];

/**
 * What a saved run spec without a key meant: the behaviour before that option existed. A run
 * directory's spec is read with these under it (RunDir.spec), so resuming an older run keeps
 * training it as it started.
 */
export const LEGACY_SPEC_DEFAULTS: Readonly<Record<string, string | number | boolean>> = { referenceScores: 'online', scoreMode: 'eval', infobatchMode: 'in-batch', referenceValFraction: 0, precision: 'fp32', memoryFormat: 'contiguous', craigWeights: true };

/** The epochs of a --lr-milestones list ('30,60'), or null when it is not a list of integers. */
export function parseMilestones(text: string): number[] | null {
  const parts = text.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d+$/.test(p))) return null;
  return parts.map(Number);
}

/** The trainer's defaults for library callers who build a TrainConfig by hand (the paper's: SGD, momentum 0.9, lr 0.001, 25 epochs). */
export const DEFAULTS = { epochs: 25, lr: 0.001, momentum: 0.9, weightDecay: 0, seed: 0, filterRatio: 0, featureSource: 'cache', solver: 'auto', saveSelections: false } as const;

/** The input size a learner is built for: 32 px for the CIFAR-stem models and tiny-cnn, 224 px for the ImageNet ones. */
export function nativeInputSize(model: string): number {
  return model.endsWith('-cifar') || model === 'tiny-cnn' ? 32 : 224;
}

/** camelCase → kebab-case. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The command-line flag of an option (`--filter-ratio`; `--no-augment` for a boolean that defaults to true). */
export function flagOf(o: OptionDef): string {
  const name = o.flag ?? kebab(o.key);
  return o.type === 'boolean' && o.default === true ? `--no-${name}` : `--${name}`;
}

/** The table's defaults, by key (options without one are absent). */
export function optionDefaults(): Record<string, string | number | boolean> {
  return Object.fromEntries((TRAIN_OPTIONS as readonly OptionDef[]).filter((o) => o.default !== undefined).map((o) => [o.key, o.default!]));
}

export function optionByKey(key: string): OptionDef | undefined {
  return (TRAIN_OPTIONS as readonly OptionDef[]).find((o) => o.key === key);
}
