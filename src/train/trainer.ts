/**
 * The training loop whose only variable is the selector.
 *
 * Per batch: compute what the selector declares (timed as scoring), let it choose k positions
 * (timed as selection), then forward/backward/step on those k only (timed as train). Each epoch
 * ends with a validation pass (eval) and a checkpoint; the run ends with a test pass.
 *
 * Selection modes (modes.ts): 'in-batch' (the paper) draws B and trains k = floor(B·(1 − f));
 * 'super-batch' draws D = ⌈B/(1 − f)⌉ and trains exactly B. In super-batch mode the train source
 * must deliver batches of D (the caller builds it so; with a filter-ratio schedule D changes per
 * epoch and the trainer asks the source for batches of that epoch's D via withBatchSize), and an
 * epoch is one pass over the data by the scoring side: it trains about (1 − f) of the samples.
 * infobatch in super-batch mode prunes within the drawn batch and trains the first min(k, kept)
 * survivors in batch order (the loader's shuffled order, so a uniform subset of the survivors).
 *
 * Budgets (budget.ts): the run stops after the step that reaches the budget; that epoch is
 * validated and recorded with partial: true, checkpointed with stoppedBy, then tested.
 *
 * Every epoch row carries `cumulative`: the counts and wall seconds of the run so far, so reports
 * can plot accuracy against wall time or gradient samples.
 * With evalEvery, epochs also validate where the gradient samples reach a multiple of it
 * (eval-every.ts: val_points); that time is eval, kept out of the wall clock and the budgets.
 *
 * Determinism: the model is initialized after manualSeed(seed); the engine's generator is
 * reseeded at each epoch's start from (seed, epoch); the data order and augmentation depend only
 * on (loader seed, epoch, batch); selectors that draw do so from (seed, epoch, batch). So a run
 * resumed from epoch e's checkpoint replays exactly what the uninterrupted run does (on the same
 * machine, threads and libtorch).
 *
 * Scoring forwards (loss-topk's losses, saln's 'learner' features) run in eval mode without
 * gradients, so they do not change BatchNorm's running statistics: the learner sees only the
 * selected samples' forward/backward.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSeed } from '../data/rng.js';
import { writeFileAtomic } from '../io/atomic.js';
import { F } from '../nn/index.js';
import { SGD } from '../optim/sgd.js';
import { keptCount } from '../selection/index.js';
import { cudaDeviceCount, manualSeed, noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import { budgetReached, type Budget, type StoppedBy } from './budget.js';
import { crossesMultiple, type ValPoint } from './eval-every.js';
import { EXAMPLES_FILE, writeSelectionExamples, type SelectionExample } from './examples.js';
import { drawnBatchSize, keepFor, type LrScaling, type SelectionMode, type TrainDevice } from './modes.js';
import { loadCheckpoint, saveCheckpoint, CHECKPOINT_FILE, type CheckpointState } from './checkpoint.js';
import { buildLearner, type Learner } from './models.js';
import { startEpochBar } from './progress.js';
import { ratioAt, type FilterSchedule } from './schedule.js';
import { createSelector, type Method, type SelectContext, type Selector } from './selectors/index.js';
import type { FeatureSource } from './selectors/saln.js';
import type { BatchSource, TrainData } from './source.js';

/** The serializable run configuration (what config.json holds). */
export interface TrainConfig {
  model: string;
  method: Method;
  filterRatio: number;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  /** saln: 'cache' (pretrained features by id), 'pixels' or 'learner'. */
  featureSource: FeatureSource;
  solver: 'auto' | 'eigh' | 'lanczos';
  /** How the filter ratio moves over epochs, from filterRatio to schedule.end (default constant). */
  schedule?: FilterSchedule;
  /** jest: the number of chunks k is drawn in (default 16). */
  jestChunks?: number;
  /** jest / rho-loss: where the reference model came from (recorded, for people). */
  reference?: string;
  /** Write selections.jsonl (the ids each batch kept). */
  saveSelections: boolean;
  /** 'in-batch' (default: train k of B) or 'super-batch' (draw ⌈B/(1 − f)⌉, train B). See modes.ts. */
  selectionMode?: SelectionMode;
  /** 'none' (default, the paper's constant learning rate) or 'linear' (lr·k/B for a batch of k < B). */
  lrScaling?: LrScaling;
  /** Stop at a budget instead of at `epochs` (then the maximum). See budget.ts. */
  budget?: Budget;
  /** Where the learner trains (default 'cpu'). */
  device?: TrainDevice;
  /**
   * Also validate each time the run's gradient samples reach a multiple of this (eval-every.ts);
   * needs a validation split. A multiple reached at an epoch's last step is that epoch's own validation.
   */
  evalEvery?: number;
  /** Anything else the caller wants recorded (dataset, paths, limits). */
  extra?: Record<string, unknown>;
}

export { DEFAULTS } from './defaults.js';

export const PHASES = ['data', 'scoring', 'selection', 'train', 'eval', 'checkpoint'] as const;
export type Phase = (typeof PHASES)[number];
export type PhaseSeconds = Record<Phase, number>;

export interface Counts {
  /** Samples that went forward/backward with gradients. */
  gradient_samples: number;
  /** Samples that went through a scoring forward (loss-topk, saln 'learner'). */
  scored_samples: number;
  /** Samples that went through the reference model (jest, rho-loss). */
  reference_samples: number;
  /** Samples whose features were looked up or computed for selection. */
  feature_samples: number;
  /** Samples the loader delivered. */
  seen_samples: number;
  optimizer_steps: number;
}

/** The run's totals at the end of an epoch (after its validation). */
export interface Cumulative {
  wall_seconds: number;
  gradient_samples: number;
  scored_samples: number;
  feature_samples: number;
  reference_samples: number;
  seen_samples: number;
  optimizer_steps: number;
}

export interface EpochMetrics {
  epoch: number;
  /** The filter ratio of this epoch (after the schedule). */
  filter_ratio: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  trained_samples: number;
  seen_samples: number;
  steps: number;
  seconds: PhaseSeconds;
  wall_seconds: number;
  /** What the selector reported at the epoch's start (infobatch: pruned and rescaled counts). */
  selector?: Record<string, number>;
  /** Samples each batch drew (B in-batch, ⌈B/(1 − f)⌉ super-batch). */
  drawn_batch_size: number;
  cumulative: Cumulative;
  /** Present (true) when a budget stopped the run inside this epoch. */
  partial?: true;
  /** With evalEvery: the validations inside this epoch, in step order (the epoch-end one is val_*). */
  val_points?: ValPoint[];
}

export interface Summary {
  method: string;
  model: string;
  filter_ratio: number;
  epochs: number;
  test_accuracy: number;
  test_loss: number;
  best_val_accuracy: number | null;
  final_val_accuracy: number | null;
  wall_seconds: number;
  phases: PhaseSeconds;
  counts: Counts;
  /** The epoch a resume started from (0: never resumed). */
  resumed_from_epoch: number;
  /** Epochs trained (the last one partial when a budget stopped the run). */
  epochs_done: number;
  stopped_by: StoppedBy;
  selection_mode: SelectionMode;
  /** B, the trained batch size. */
  batch_size: number;
  lr_scaling: LrScaling;
  device: TrainDevice;
}

export type TrainEvent =
  | { event: 'start'; config: TrainConfig; resumed_from_epoch: number; train_samples: number; batches_per_epoch: number }
  | ({ event: 'epoch' } & EpochMetrics)
  | { event: 'checkpoint'; epoch: number; path: string }
  | ({ event: 'end' } & Summary);

export interface TrainOptions {
  config: TrainConfig;
  data: TrainData;
  /** The run directory (config.json, metrics.jsonl, summary.json, checkpoint). Omitted: nothing is written. */
  runDir?: string;
  /** Continue from runDir's checkpoint when there is one. */
  resume?: boolean;
  /** Line-per-event log (the CLI's --json). */
  onEvent?: (e: TrainEvent) => void;
  /** Show a progress bar per epoch on stderr (only drawn on a TTY). */
  progress?: boolean;
  /** Stop after this many epochs are done (tests: an interruption in-process). */
  stopAfterEpochs?: number;
  /** jest / rho-loss: the reference (irreducible-loss) model; it is only evaluated, in eval mode. */
  reference?: Learner;
  /** Use this learner instead of building config.model (it must be freshly initialized). */
  learner?: Learner;
}

export interface TrainResult {
  summary: Summary | null;
  metrics: EpochMetrics[];
  model: Learner;
}

const zeroPhases = (): PhaseSeconds => ({ data: 0, scoring: 0, selection: 0, train: 0, eval: 0, checkpoint: 0 });
const zeroCounts = (): Counts => ({ gradient_samples: 0, scored_samples: 0, reference_samples: 0, feature_samples: 0, seen_samples: 0, optimizer_steps: 0 });

function writeJson(path: string, v: unknown): void {
  writeFileAtomic(path, [new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`)]);
}
function writeLines(path: string, rows: unknown[]): void {
  writeFileAtomic(path, [new TextEncoder().encode(rows.map((r) => `${JSON.stringify(r)}\n`).join(''))]);
}

/** t on device (t itself when already there; otherwise t is disposed). */
function onDevice(t: Tensor, device: TrainDevice): Tensor {
  if (device === 'cpu' && t.device === 'cpu') return t;
  const moved = t.to({ device });
  if (moved !== t) t.dispose();
  return moved;
}

/** Loss (mean) and accuracy of the model on a source, in eval mode without gradients. */
export async function evaluate(model: Learner, src: BatchSource, device: TrainDevice = 'cpu'): Promise<{ loss: number; accuracy: number; samples: number }> {
  const was = model.training;
  model.eval();
  let loss = 0;
  let correct = 0;
  let n = 0;
  try {
    for await (const batch of src.epoch(0)) {
      const b = { ...batch, x: onDevice(batch.x, device), y: onDevice(batch.y, device) };
      try {
        const [l, c] = tidy(() => noGrad(() => {
          const logits = model.forward(b.x);
          return [F.crossEntropy(logits, b.y, { reduction: 'sum' }).item(), logits.argmax(1).eq(b.y).sum().item()];
        }));
        loss += l!;
        correct += c!;
        n += b.ids.length;
      } finally {
        b.x.dispose();
        b.y.dispose();
      }
    }
  } finally {
    model.train(was);
  }
  return { loss: n ? loss / n : NaN, accuracy: n ? correct / n : NaN, samples: n };
}

export { keepFor };

/** Throws unless CUDA is usable when asked for. */
export function checkDevice(device: TrainDevice): void {
  if (device === 'cuda' && cudaDeviceCount() === 0) throw new Error('--device cuda: CUDA is not available (libtorch sees no GPU, or this build has no CUDA support); use --device cpu');
}

/**
 * The train source for an epoch whose batches draw `drawn` samples: the given one when its batch
 * size is that (or unknown: each batch is checked), else the same data rebuilt at that size.
 */
function sourceFor(src: BatchSource, mode: SelectionMode, drawn: number): BatchSource {
  if (src.batchSize === undefined || src.batchSize === drawn) return src;
  if (src.withBatchSize) return src.withBatchSize(drawn);
  throw new Error(`${mode} mode draws ${drawn} samples per batch, but the train source delivers batches of ${src.batchSize} and cannot be rebuilt (no withBatchSize)`);
}

/** Trains (or resumes) one run. See the file comment. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const cfg = o.config;
  const { data } = o;
  const mode: SelectionMode = cfg.selectionMode ?? 'in-batch';
  const lrScaling: LrScaling = cfg.lrScaling ?? 'none';
  const device: TrainDevice = cfg.device ?? 'cpu';
  checkDevice(device);
  // In-batch: a clear error when k would be 0 at either end of the schedule (super-batch always trains B).
  if (mode === 'in-batch') {
    keptCount(cfg.batchSize, cfg.filterRatio);
    if (cfg.schedule && cfg.schedule.kind !== 'constant') keptCount(cfg.batchSize, cfg.schedule.end);
  }
  if (cfg.method === 'none' && mode === 'super-batch' && (cfg.filterRatio !== 0 || (cfg.schedule && cfg.schedule.kind !== 'constant'))) {
    throw new Error('method none trains every sample: super-batch mode needs filter ratio 0 (then it is plain training)');
  }
  const selector: Selector = createSelector(cfg.method, { featureSource: cfg.featureSource, solver: cfg.solver, jestChunks: cfg.jestChunks, filterRatio: cfg.filterRatio });
  if (selector.needs.features && !data.featureLookup) throw new Error(`method ${cfg.method} with feature source 'cache' needs cached features (data.featureLookup)`);
  if (selector.needs.referenceLoss && !o.reference) throw new Error(`method ${cfg.method} needs a reference model (TrainOptions.reference)`);
  const seesFeatures = Boolean(selector.needs.features || selector.needs.pixels || selector.needs.learnerFeatures);
  const evalEvery = cfg.evalEvery ?? null;
  if (evalEvery !== null && !(Number.isInteger(evalEvery) && evalEvery >= 1)) throw new Error(`evalEvery: expected an integer >= 1, got ${evalEvery}`);
  if (evalEvery !== null && !data.val) throw new Error('evalEvery: validating every N gradient samples needs a validation split (TrainData.val is null)');

  manualSeed(cfg.seed);
  const model = o.learner ?? buildLearner(cfg.model, data.numClasses);
  if (device !== 'cpu') {
    model.to(device);
    o.reference?.to(device);
  }
  model.train();
  const opt = new SGD(model.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });

  let state: CheckpointState = { version: 1, epochsDone: 0, metrics: [], phases: zeroPhases(), counts: zeroCounts(), wallSeconds: 0, bestVal: null, selector: null, rng: { seed: cfg.seed, nextEpoch: 0 } };
  let resumedFrom = 0;
  if (o.runDir) {
    mkdirSync(o.runDir, { recursive: true });
    const ck = join(o.runDir, CHECKPOINT_FILE);
    if (o.resume && existsSync(ck)) {
      state = loadCheckpoint(ck, model, opt);
      if (selector.loadState && state.selector !== null) selector.loadState(state.selector);
      resumedFrom = state.epochsDone;
      // Selections of epochs after the checkpoint belong to the interrupted attempt.
      const sel = join(o.runDir, 'selections.jsonl');
      if (existsSync(sel)) {
        const keep = readFileSync(sel, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { epoch: number }).filter((r) => r.epoch < state.epochsDone);
        writeLines(sel, keep);
      }
    } else {
      writeJson(join(o.runDir, 'config.json'), cfg);
      if (cfg.saveSelections) writeLines(join(o.runDir, 'selections.jsonl'), []);
    }
    writeLines(join(o.runDir, 'metrics.jsonl'), state.metrics);
  }
  const emit = (e: TrainEvent): void => o.onEvent?.(e);
  emit({ event: 'start', config: cfg, resumed_from_epoch: resumedFrom, train_samples: data.train.samples, batches_per_epoch: data.train.batches });

  const phases = state.phases;
  const counts = state.counts;
  // A run a budget stopped is finished: a resume goes straight to the test.
  const stopAt = state.stoppedBy ? state.epochsDone : Math.min(cfg.epochs, o.stopAfterEpochs ?? cfg.epochs);
  let sessionStart = performance.now();
  const wallNow = (): number => state.wallSeconds + (performance.now() - sessionStart) / 1000;

  for (let epoch = state.epochsDone; epoch < stopAt; epoch++) {
    const ep = zeroPhases();
    const ratio = ratioAt(cfg.filterRatio, cfg.schedule, epoch, cfg.epochs);
    const drawn = drawnBatchSize(mode, cfg.batchSize, ratio);
    const source = sourceFor(data.train, mode, drawn);
    // Moved forward by mid-epoch validations, like sessionStart: their time is not the epoch's.
    let epStart = performance.now();
    manualSeed(deriveSeed(cfg.seed, 'engine', epoch));
    model.train();
    let lossSum = 0;
    let correct = 0;
    let trained = 0;
    let seen = 0;
    let steps = 0;
    let stoppedBy: StoppedBy | null = null;
    let partial = false;
    let example: SelectionExample | null = null;
    const points: ValPoint[] = [];
    const selections: { epoch: number; batch: number; kept: string[] }[] = [];
    const begun = selector.beginEpoch?.(epoch, cfg.epochs, cfg.seed);
    const bar = startEpochBar(o.progress === true, `epoch ${epoch + 1}/${cfg.epochs}`, source.samples);
    const it = source.epoch(epoch)[Symbol.asyncIterator]();
    try {
      for (let bi = 0; ; bi++) {
        let t = performance.now();
        const next = await it.next();
        ep.data += (performance.now() - t) / 1000;
        if (next.done) break;
        if (stoppedBy) {
          // The budget was reached at the previous step: this epoch did not finish.
          partial = true;
          next.value.x.dispose();
          next.value.y.dispose();
          break;
        }
        const { ids } = next.value;
        const samplesBefore = counts.gradient_samples;
        if (ids.length > drawn) throw new Error(`${mode} mode draws ${drawn} samples per batch, but the train source delivered ${ids.length}`);
        const x = onDevice(next.value.x, device);
        const y = onDevice(next.value.y, device);
        const owned: Tensor[] = [];
        try {
          const b = ids.length;
          const k = keepFor(b, ratio, cfg.batchSize, mode);
          seen += b;
          // Scoring: only what the selector declares.
          t = performance.now();
          const ctx: SelectContext = { batchSize: b, k, ids, labels: Int32Array.from(y.toArray()), seed: cfg.seed, epoch, batchIndex: bi };
          const needs = selector.needs;
          if (k < b) {
            if (needs.features) {
              ctx.features = data.featureLookup!(ids);
              owned.push(ctx.features);
              counts.feature_samples += b;
            } else if (needs.pixels) {
              ctx.features = x.flatten(1);
              owned.push(ctx.features);
              counts.feature_samples += b;
            }
            if (needs.learnerFeatures || needs.learnerLoss) {
              model.eval();
              try {
                noGrad(() => {
                  if (needs.learnerFeatures) {
                    ctx.features = model.forwardFeatures(x);
                    owned.push(ctx.features);
                    counts.feature_samples += b;
                  }
                  if (needs.learnerLoss) {
                    tidy(() => {
                      ctx.learnerLoss = F.crossEntropy(model.forward(x), y, { reduction: 'none' }).toTypedArray<'float32'>() as Float32Array;
                    });
                  }
                });
              } finally {
                model.train();
              }
              counts.scored_samples += b;
            }
          }
          if (k < b && needs.referenceLoss) {
            const ref = o.reference!;
            ref.eval();
            ctx.referenceLoss = tidy(() => noGrad(() => F.crossEntropy(ref.forward(x), y, { reduction: 'none' }).toTypedArray<'float32'>() as Float32Array));
            counts.reference_samples += b;
          }
          ep.scoring += (performance.now() - t) / 1000;
          // Selection.
          t = performance.now();
          let kept = k < b || selector.variableK ? selector.select(ctx) : Array.from({ length: b }, (_, i) => i);
          // Super-batch mode trains at most k of an epoch-level selector's survivors (see the file comment).
          if (selector.variableK && mode === 'super-batch' && kept.length > k) kept = kept.slice(0, k);
          ep.selection += (performance.now() - t) / 1000;
          if (selector.variableK ? !(kept.length >= 1 && kept.length <= b) : kept.length !== k) throw new Error(`${selector.name} kept ${kept.length} samples, expected ${k}`);
          const kk = kept.length;
          if (bi === 0 && seesFeatures && ctx.features && o.runDir) {
            const f = ctx.features;
            example = { epoch, batch: bi, features: tidy(() => f.to({ device: 'cpu', dtype: 'float32' }).clone()), kept: kept.slice(), ids: ids.slice() };
          }
          // Train on the kept samples only.
          t = performance.now();
          const keptIds = kept.map((i) => ids[i]!);
          const w = selector.weights?.(keptIds);
          // lr·k/B under linear scaling; 'none' keeps lr for every batch (the paper's setting).
          opt.lr = lrScaling === 'linear' ? (cfg.lr * Math.min(kk, cfg.batchSize)) / cfg.batchSize : cfg.lr;
          const [l, c, per] = tidy(() => {
            let xs = x;
            let ys = y;
            if (kk < b) {
              const idx = tensor(kept, { dtype: 'int64', device: x.device });
              xs = x.indexSelect(0, idx);
              ys = y.indexSelect(0, idx);
            }
            opt.zeroGrad();
            const logits = model.forward(xs);
            let perSample: Float32Array | null = null;
            let loss: Tensor;
            if (w || selector.observe) {
              const each = F.crossEntropy(logits, ys, { reduction: 'none' });
              perSample = noGrad(() => each.toTypedArray<'float32'>() as Float32Array);
              loss = w ? each.mul(tensor(w, { device: each.device })).mean() : each.mean();
            } else {
              loss = F.crossEntropy(logits, ys);
            }
            loss.backward();
            opt.step();
            // The recorded train loss is the plain mean cross-entropy, whatever the weights.
            const plain = perSample ? perSample.reduce((a, v) => a + v, 0) / perSample.length : loss.item();
            return [plain, noGrad(() => logits.argmax(1).eq(ys).sum().item()), perSample] as const;
          });
          selector.observe?.(keptIds, per!);
          if (cfg.saveSelections) selections.push({ epoch, batch: bi, kept: keptIds });
          ep.train += (performance.now() - t) / 1000;
          lossSum += l * kk;
          correct += c;
          trained += kk;
          steps++;
          counts.gradient_samples += kk;
          counts.optimizer_steps++;
          bar.update(seen, trained ? lossSum / trained : 0);
          stoppedBy = budgetReached(cfg.budget, wallNow(), counts.gradient_samples);
        } finally {
          for (const f of owned) f.dispose();
          x.dispose();
          y.dispose();
        }
        // A multiple reached at the epoch's last step (or the budget's) is left to the epoch-end validation.
        if (evalEvery !== null && !stoppedBy && bi + 1 < source.batches && crossesMultiple(samplesBefore, counts.gradient_samples, evalEvery)) {
          const wall = wallNow();
          t = performance.now();
          // Eval mode draws nothing from the engine's generator (no dropout, no BN update), so training is unchanged.
          const v = await evaluate(model, data.val!, device);
          const ms = performance.now() - t;
          ep.eval += ms / 1000;
          // Out of the run's and the epoch's wall clock: validating more often never makes a method look slower.
          sessionStart += ms;
          epStart += ms;
          points.push({ gradient_samples: counts.gradient_samples, wall_seconds: wall, val_loss: v.loss, val_accuracy: v.accuracy });
        }
      }
    } finally {
      bar.stop();
      await it.return?.();
    }
    counts.seen_samples += seen;
    let t = performance.now();
    const val = data.val ? await evaluate(model, data.val, device) : null;
    ep.eval += (performance.now() - t) / 1000;
    const m: EpochMetrics = {
      epoch: epoch + 1,
      filter_ratio: ratio,
      train_loss: trained ? lossSum / trained : NaN,
      train_accuracy: trained ? correct / trained : NaN,
      val_loss: val?.loss ?? null,
      val_accuracy: val?.accuracy ?? null,
      trained_samples: trained,
      seen_samples: seen,
      steps,
      seconds: ep,
      wall_seconds: (performance.now() - epStart) / 1000,
      drawn_batch_size: drawn,
      cumulative: {
        wall_seconds: wallNow(), gradient_samples: counts.gradient_samples, scored_samples: counts.scored_samples, feature_samples: counts.feature_samples,
        reference_samples: counts.reference_samples, seen_samples: counts.seen_samples, optimizer_steps: counts.optimizer_steps,
      },
    };
    if (partial) m.partial = true;
    if (evalEvery !== null) m.val_points = points;
    state.metrics.push(m);
    if (val && (state.bestVal === null || val.accuracy > state.bestVal)) state.bestVal = val.accuracy;
    for (const p of PHASES) phases[p] += ep[p];
    state.epochsDone = epoch + 1;
    state.rng = { seed: cfg.seed, nextEpoch: epoch + 1 };
    state.selector = selector.state?.() ?? null;
    if (stoppedBy) state.stoppedBy = stoppedBy;
    if (begun) m.selector = begun;
    emit({ event: 'epoch', ...m });
    if (o.runDir) {
      t = performance.now();
      if (cfg.saveSelections && selections.length) {
        const sel = join(o.runDir, 'selections.jsonl');
        const prev = existsSync(sel) ? readFileSync(sel, 'utf8') : '';
        writeFileAtomic(sel, [new TextEncoder().encode(prev + selections.map((s) => `${JSON.stringify(s)}\n`).join(''))]);
      }
      // The first epoch's and the last epoch's first batch, written before the checkpoint so a resume keeps them.
      const ex: SelectionExample | null = example;
      if (ex && (epoch === 0 || epoch + 1 === cfg.epochs || stoppedBy)) {
        try {
          writeSelectionExamples(join(o.runDir, EXAMPLES_FILE), [ex], { method: cfg.method, feature_source: cfg.featureSource });
        } finally {
          ex.features.dispose();
        }
      } else ex?.features.dispose();
      const now = performance.now();
      state.wallSeconds += (now - sessionStart) / 1000;
      sessionStart = now;
      const path = join(o.runDir, CHECKPOINT_FILE);
      saveCheckpoint(path, model, opt, state);
      writeLines(join(o.runDir, 'metrics.jsonl'), state.metrics);
      const dt = (performance.now() - t) / 1000;
      phases.checkpoint += dt;
      m.seconds.checkpoint = dt;
      emit({ event: 'checkpoint', epoch: epoch + 1, path });
    } else (example as SelectionExample | null)?.features.dispose();
    if (stoppedBy) break;
  }

  if (state.epochsDone < cfg.epochs && !state.stoppedBy) return { summary: null, metrics: state.metrics, model };

  let t = performance.now();
  const test = await evaluate(model, data.test, device);
  phases.eval += (performance.now() - t) / 1000;
  state.wallSeconds += (performance.now() - sessionStart) / 1000;
  const last = state.metrics[state.metrics.length - 1];
  const summary: Summary = {
    method: cfg.method,
    model: cfg.model,
    filter_ratio: cfg.filterRatio,
    epochs: cfg.epochs,
    test_accuracy: test.accuracy,
    test_loss: test.loss,
    best_val_accuracy: state.bestVal,
    final_val_accuracy: last?.val_accuracy ?? null,
    wall_seconds: state.wallSeconds,
    phases,
    counts,
    resumed_from_epoch: resumedFrom,
    epochs_done: state.epochsDone,
    stopped_by: state.stoppedBy ?? 'epochs',
    selection_mode: mode,
    batch_size: cfg.batchSize,
    lr_scaling: lrScaling,
    device,
  };
  if (o.runDir) writeJson(join(o.runDir, 'summary.json'), summary);
  emit({ event: 'end', ...summary });
  return { summary, metrics: state.metrics, model };
}

/** Reads a run directory's config.json. */
export function readRunConfig(runDir: string): TrainConfig {
  const p = join(runDir, 'config.json');
  if (!existsSync(p)) throw new Error(`${runDir} is not a run directory (no config.json)`);
  return JSON.parse(readFileSync(p, 'utf8')) as TrainConfig;
}
