/**
 * `saln train`: one training run with in-batch selection, into a run directory. Its options are
 * the run-option table's (src/train/options.ts), plus the command's own: --resume, --json,
 * --no-progress and --cache-dir.
 *   saln train --dataset cifar10 --data-dir ../shared/datasets/cifar10-jpg --model resnet18-cifar \
 *     --method saln --filter-ratio 0.8 --epochs 1 --limit-train 2000 --out runs/saln
 *   saln train --resume runs/saln
 */
import { Command, Option } from 'commander';
import { UsageError, type CliIO } from '../io.js';
import { parseFor, threads } from '../args.js';
import { flagOf, optionByKey, TRAIN_OPTIONS, type OptionDef } from '../../train/options.js';

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
  infobatch   epoch-level (--infobatch-mode official, the official code's sampler): each epoch,
              of the samples whose last loss is below the mean exactly int((1 − r)·n) stay, with
              loss weight 1/(1 − r), r = --filter-ratio; the others leave the epoch, whose batches
              stay full (fewer steps); no pruning in the last 12.5% of the epochs. --infobatch-mode
              in-batch prunes inside each batch instead (batches shrink, as many steps)
jest and rho-loss score the learner in train mode (--score-mode train, as RHO-LOSS's code:
BatchNorm's running statistics move, no gradients) and look up reference losses computed once
per training sample before training (--reference-scores precomputed); super-batch mode is their
papers' (and the recommended) setting.
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
               infobatch (in-batch mode only) prunes within the super-batch and trains at most B
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
positions of the first batch of the first and last epochs). --resume RUN_DIR continues from the
last checkpoint with the run's own options; the result equals an uninterrupted run with the
same seed.

A folder that already holds a run is refused (exit 2) unless --overwrite replaces it or --resume
continues it; while a process trains a run directory, its run.lock (PID and host) keeps every other
\`saln train\` and \`saln experiment\` out (a lock whose process is gone is taken over).
A step whose train loss is NaN or infinite stops the run at once: summary.json says stopped_by
"non-finite loss" and diverged_at, and the command exits 1 naming the epoch and step.

Exit codes: 0 done; 2 bad configuration or input (the message names the flag or file); 1 anything else.

Examples:
  $ saln train --dataset cifar10 --data-dir ../shared/datasets/cifar10-jpg --model resnet18-cifar --method saln --epochs 1 --limit-train 2000 --out runs/saln
  $ saln train --dataset cifar10 --data-dir data/cifar10-sample --method jest --reference-holdout 300 --epochs 3 --out runs/jest
  $ saln train --resume runs/saln
`;

/** The commander option of a table row (the row's default is commander's, so --help shows it). */
function commanderOption(o: OptionDef): Option {
  const flag = flagOf(o);
  const opt = new Option(o.type === 'boolean' ? flag : `${flag} <${o.arg ?? 'value'}>`, o.help);
  if (o.choices) opt.choices(o.choices as string[]);
  // --threads gets the machine's bound (4 per core, at most MAX_THREADS) at parse time, as select and features do.
  else if (o.key === 'threads') opt.argParser(threads);
  else if (o.type === 'int' || o.type === 'number') opt.argParser(parseFor(o.type, o.min ?? null));
  if (o.default !== undefined && !(o.type === 'boolean' && o.default === true)) opt.default(o.default);
  return opt;
}

/** The options the command itself owns (not run options). */
interface CommandFlags {
  resume?: string;
  overwrite?: boolean;
  json?: boolean;
  progress: boolean;
  cacheDir?: string;
}

export function trainCommand(io: CliIO): Command {
  const cmd = new Command('train')
    .summary('train a model with in-batch sample selection')
    .description('Train a model where each batch trains only the samples a selector keeps; writes a resumable run directory.');
  const options = TRAIN_OPTIONS.map((o) => [o.key, commanderOption(o)] as const);
  for (const [, opt] of options) cmd.addOption(opt);
  return cmd
    .option('--resume <dir>', 'continue an interrupted run from its last checkpoint (other flags are ignored)')
    .option('--overwrite', 'replace the run already in --out (without it, a folder holding a run is an error)')
    .option('--cache-dir <dir>', 'cache folder (default $SALN_CACHE or ~/.cache/saln)')
    .option('--nproc <n>', 'train as n data-parallel processes on this machine (saln launch --nproc-per-node n -- train ...): batch B per process, gradients averaged')
    .option('--json', 'line-per-event JSON logs on stdout (no progress bar)')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', HELP)
    .action(async (flags: Record<string, unknown> & CommandFlags) => {
      const raw = Object.fromEntries(options.map(([key, opt]) => [key, flags[opt.attributeName()]]).filter(([, v]) => v !== undefined));
      await runTrain(raw, flags, io);
    });
}

/** A flag's name in messages: `--filter-ratio` for filterRatio. */
function flagName(key: string): string {
  const o = optionByKey(key);
  return o ? flagOf(o) : key;
}

/** The raw options of a new run: the flags, with the defaults that depend on other flags. */
function newRunOptions(raw: Record<string, unknown>): Record<string, unknown> {
  if (raw.dataset === undefined) throw new UsageError('--dataset: required (cifar10, oxford-pets or imagefolder)');
  if (raw.dataDir === undefined) throw new UsageError('--data-dir: required');
  const method = String(raw.method);
  return {
    ...raw,
    filterRatio: raw.filterRatio ?? (method === 'none' ? 0 : 0.8),
    out: raw.out ?? `runs/${method}-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  };
}

async function runTrain(flags: Record<string, unknown>, own: CommandFlags, io: CliIO): Promise<void> {
  const { InputError } = await import('../../errors.js');
  const { DivergedError, parseRunSpec, runTraining, RunDir } = await import('../../train/index.js');
  const { consoleCallbacks, killHookCallback, killRankHookCallback, summaryLine, progressCallback } = await import('../train-output.js');
  let raw: Record<string, unknown>;
  let cacheDir = own.cacheDir;
  if (own.resume !== undefined) {
    const run = RunDir.open(own.resume);
    const saved = run.spec();
    if (!saved) throw new UsageError(`--resume: ${run.file('config')} was not written by saln train`);
    raw = { ...saved, out: own.resume };
    cacheDir ??= (run.config().extra?.cache_dir as string | null | undefined) ?? undefined;
  } else raw = newRunOptions(flags);
  const spec = parseRunSpec(raw, { cacheDir, format: flagName });
  const progress = own.progress && !own.json;
  const log = (t: string): void => io.err(`${t}\n`);
  try {
    const s = await runTraining(spec, {
      resume: own.resume !== undefined, overwrite: own.overwrite ?? false, cacheDir, progress, log, warn: (t) => io.err(`saln: warning: ${t}\n`),
      callbacks: [...consoleCallbacks({ json: own.json ?? false, progress, epochs: spec.epochs, out: io.out, log }), killHookCallback()],
      referenceCallbacks: [progressCallback(progress)],
      everyRankCallbacks: [killRankHookCallback()],
    });
    // Of a data-parallel job's ranks, rank 0 speaks for the run.
    if (s && !own.json && (process.env.RANK ?? '0') === '0') io.out(summaryLine(spec.out!, s));
  } catch (e) {
    if (e instanceof DivergedError) e.message += ` (try --lr ${Number((spec.lr / 10).toPrecision(3))})`;
    // Errors below the CLI name an option by its key; here it is the flag.
    if (e instanceof InputError && e.field && optionByKey(e.field) && e.message.startsWith(`${e.field}: `)) e.message = `${flagName(e.field)}: ${e.message.slice(e.field.length + 2)}`;
    throw e;
  }
}
