/**
 * The fit loop whose only variable is the selector (Lightning's shape, airbench's brevity):
 *
 *   fit()       runs the epochs, then the test; state lives in one CheckpointState;
 *   runEpoch()  for batch: scoreBatch → selector.select → trainStep (step.ts), then validation.
 *
 * A PhaseClock times every phase; mid-epoch validations (--eval-every) are outside the wall
 * clock. The loop does no file I/O: the run directory, progress bar and logs are callbacks.
 *
 * Selection modes (modes.ts): 'in-batch' (the paper) draws B and trains k = floor(B·(1 − f));
 * 'super-batch' draws D = ⌈B/(1 − f)⌉ and trains exactly B. In super-batch mode the train source
 * must deliver batches of D (with a filter-ratio schedule D changes per epoch and the loop asks
 * the source for that epoch's D via withBatchSize); an epoch is one pass of the scoring side.
 *
 * A selector that needs no pixels selects before its batch is augmented, and only the kept rows
 * are augmented (drawn.ts): the same run, less data time.
 *
 * Epoch-level samplers (InfoBatch's official mode) give the epoch's own index list
 * (Selector.epochOrder): the source batches it in full batches, so such an epoch has fewer steps.
 *
 * Learning rate (lr-plan.ts): a function of the optimizer-step counter (in the checkpoint), times
 * k/B under linear lr scaling.
 *
 * Budgets (budget.ts): the run stops after the step that reaches the budget; that epoch is
 * validated and recorded with partial: true, checkpointed with stoppedBy, then tested. A step
 * whose loss is NaN or infinite stops the run the same way, with stoppedBy 'non-finite loss'.
 *
 * Data-parallel (FitOptions.dist, distributed.ts): each rank's sources hold its share; between
 * backward and the optimizer step the gradients are averaged (GradBucketer), after every step the
 * ranks sum their counts and agree on stopping, and evaluations are reduced. With selection scope
 * 'global' the ranks gather their batches' selection inputs and all select over W·B.
 *
 * Determinism: the engine's generator is reseeded at each epoch's start from (seed, epoch); the
 * data order and augmentation depend only on (loader seed, epoch, batch); selectors that draw do
 * so from (seed, epoch, batch). So a run resumed from epoch e's checkpoint replays exactly what
 * the uninterrupted run does (on the same machine, threads and libtorch).
 */
import { availableParallelism, loadavg } from 'node:os';
import { deriveSeed } from '../data/rng.js';
import type { SGD } from '../optim/sgd.js';
import { manualSeed, tidy, type Tensor } from '../tensor/index.js';
import { budgetReached, type StoppedBy } from './budget.js';
import { notify, type FitCallback } from './callbacks.js';
import type { CheckpointState } from './checkpoint.js';
import { PhaseClock, type Stopwatch } from './clock.js';
import { crossesMultiple, type ValPoint } from './eval-every.js';
import { cpuSnapshot, otherCpu, type CpuSnapshot } from './machine-cpu.js';
import { computeOf, type Compute } from './compute.js';
import { evaluate } from './evaluate.js';
import type { SelectionExample } from './examples.js';
import { drawnBatchSize, keepFor, type LrScaling, type SelectionMode } from './modes.js';
import { lrScheduleFor, scheduledLr, type RunLrSchedule } from './lr-plan.js';
import type { Learner } from './models.js';
import type { ReferenceScores } from './reference-scores.js';
import { PHASES, zeroCounts, zeroPhases, type Counts, type EpochMetrics, type Summary, type TrainConfig } from './records.js';
import { ratioAt } from './schedule.js';
import type { Selector } from './selectors/index.js';
import type { BatchLike, BatchSource, DeferredBatchLike, TrainData } from './source.js';
import { deferredBatch, eagerBatch, keptBatch, selectsWithoutPixels, type OwnedBatch } from './drawn.js';
import { scoreBatch, selectKept, trainStep, type DrawnBatch, type ScoreInputs, type StepInputs, type StepResult } from './step.js';
import { agreeOnStep, broadcastBuffers, distributedStep, gatherSelectContext, makeBucketer, reduceEvaluation, type TrainDist } from './distributed.js';
import { allGatherObject, reduceSums, type GradBucketer } from '../dist/index.js';
import type { SelectContext } from './selectors/index.js';
import type { Evaluation } from './evaluate.js';

export interface FitOptions {
  config: TrainConfig;
  data: TrainData;
  model: Learner;
  optimizer: SGD;
  selector: Selector;
  /** jest / rho-loss: the reference (irreducible-loss) model; it is only evaluated, in eval mode. */
  reference?: Learner;
  /** jest / rho-loss: reference losses precomputed by id; a fresh run counts their cost once. */
  referenceScores?: ReferenceScores;
  /** A restored checkpoint (a resume), or absent for a fresh run. */
  state?: CheckpointState;
  callbacks?: readonly FitCallback[];
  /** Stop after this many epochs are done (tests: an interruption in-process). */
  stopAfterEpochs?: number;
  /** Data-parallel: this rank's process group (the sources already hold its share); see distributed.ts. */
  dist?: TrainDist;
}

export interface FitResult {
  /** null when the run stopped before its last epoch (stopAfterEpochs). */
  summary: Summary | null;
  state: CheckpointState;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The state of a run that has not trained yet. */
export function freshState(seed: number): CheckpointState {
  return { version: 1, epochsDone: 0, metrics: [], phases: zeroPhases(), counts: zeroCounts(), wallSeconds: 0, bestVal: null, selector: null, rng: { seed, nextEpoch: 0 } };
}

/** What the loop needs that does not change between epochs: the options, resolved. */
interface Run extends Pick<FitOptions, 'data' | 'model' | 'optimizer' | 'selector' | 'reference' | 'referenceScores' | 'dist'> {
  cfg: TrainConfig;
  lrSchedule: RunLrSchedule | null;
  mode: SelectionMode;
  lrScaling: LrScaling;
  /** Device, precision and layout of every forward pass (compute.ts). */
  compute: Compute;
  /** The 1-minute load average when training started (recorded in the summary). */
  loadStart: number;
  /** The CPU time at the current epoch's start (other_cpu). */
  cpuAt: CpuSnapshot;
  state: CheckpointState;
  clock: PhaseClock;
  callbacks: readonly FitCallback[];
  wantsExamples: boolean;
  /** Data-parallel: averages the gradients between backward and the optimizer step. */
  bucketer?: GradBucketer;
}

/** Trains from `state` (or fresh) to the last epoch or a budget, then tests. See the file comment. */
export async function fit(o: FitOptions): Promise<FitResult> {
  const cfg = o.config;
  const state = o.state ?? freshState(cfg.seed);
  if (o.state && o.selector.loadState && state.selector !== null) o.selector.loadState(state.selector);
  if (!o.state && o.referenceScores) {
    // The reference's one pass over the training set is this run's cost, counted once.
    state.counts.reference_samples += o.referenceScores.samples;
    state.phases.scoring += o.referenceScores.seconds;
    state.wallSeconds += o.referenceScores.seconds;
    state.referenceScoringSeconds = o.referenceScores.seconds;
  }
  const callbacks = o.callbacks ?? [];
  const run: Run = {
    cfg, data: o.data, model: o.model, optimizer: o.optimizer, selector: o.selector, reference: o.reference, referenceScores: o.referenceScores,
    lrSchedule: lrScheduleFor(cfg, o.data.train, { variableK: o.selector.variableK }),
    mode: cfg.selectionMode ?? 'in-batch', lrScaling: cfg.lrScaling ?? 'none', compute: computeOf(cfg), loadStart: loadavg()[0]!, cpuAt: cpuSnapshot(),
    state, clock: new PhaseClock(state.wallSeconds), callbacks, wantsExamples: callbacks.some((c) => c.onSelectionExample),
    dist: o.dist, bucketer: o.dist && o.dist.group.worldSize > 1 ? makeBucketer(o.dist.group, o.model) : undefined,
  };
  const resumedFrom = state.epochsDone;
  notify(callbacks, 'onTrainStart', { config: cfg, resumedFromEpoch: resumedFrom, trainSamples: o.data.train.samples, batchesPerEpoch: o.data.train.batches });
  // A run a budget stopped is finished: a resume goes straight to the test.
  const stopAt = state.stoppedBy ? state.epochsDone : Math.min(cfg.epochs, o.stopAfterEpochs ?? cfg.epochs);
  for (let epoch = state.epochsDone; epoch < stopAt; epoch++) {
    const m = await runEpoch(run, epoch);
    endEpoch(run, epoch, m);
    if (state.stoppedBy) break;
  }
  if (state.epochsDone < cfg.epochs && !state.stoppedBy) return { summary: null, state };
  const summary = await test(run, resumedFrom);
  run.bucketer?.dispose();
  notify(callbacks, 'onTrainEnd', summary);
  return { summary, state };
}

/** Per-epoch running totals. */
interface EpochTally {
  lossSum: number;
  correct: number;
  trained: number;
  seen: number;
  steps: number;
  stoppedBy: StoppedBy | null;
  partial: boolean;
  points: ValPoint[];
  lr?: number;
}

async function runEpoch(run: Run, epoch: number): Promise<EpochMetrics> {
  const { cfg, clock, state } = run;
  const watch = clock.startEpoch();
  const ratio = ratioAt(cfg.filterRatio, cfg.schedule, epoch, cfg.epochs);
  const drawn = drawnBatchSize(run.mode, cfg.batchSize, ratio);
  const source = sourceFor(run.data.train, run.mode, drawn);
  manualSeed(deriveSeed(cfg.seed, 'engine', epoch));
  run.model.train();
  const tally: EpochTally = { lossSum: 0, correct: 0, trained: 0, seen: 0, steps: 0, stoppedBy: null, partial: false, points: [] };
  const shaped = epochOrder(run, source, epoch);
  const begun = shaped ? shaped.report : run.selector.beginEpoch?.(epoch, cfg.epochs, cfg.seed);
  const samples = shaped ? shaped.positions.length : source.samples;
  const batches = shaped ? Math.ceil(samples / (source.batchSize ?? drawn)) : source.batches;
  notify(run.callbacks, 'onEpochStart', { epoch, epochs: cfg.epochs, samples });
  // A selection that needs no pixels is made before the batch is augmented (drawn.ts).
  const defer = ratio > 0 && source.deferredEpoch !== undefined && selectsWithoutPixels(run.selector.needs, run.referenceScores !== undefined);
  const it: AsyncIterator<BatchLike | DeferredBatchLike> = (defer ? source.deferredEpoch!(epoch, shaped ?? undefined) : source.epoch(epoch, shaped ?? undefined))[Symbol.asyncIterator]();
  try {
    for (let bi = 0; ; bi++) {
      const next = await clock.timeAsync('data', () => it.next());
      if (next.done) break;
      const b = 'x' in next.value ? eagerBatch(next.value, bi, run.compute) : deferredBatch(next.value, bi, run.compute);
      if (tally.stoppedBy) {
        // The budget was reached at the previous step: this epoch did not finish.
        tally.partial = true;
        b.release();
        break;
      }
      await runBatch(run, epoch, b, { ratio, drawn, batches }, tally);
    }
  } finally {
    await it.return?.();
  }
  notify(run.callbacks, 'onValidationStart', { epoch });
  if (run.dist) await reduceTally(run.dist, tally);
  state.counts.seen_samples += tally.seen;
  const val = run.data.val ? await clock.timeAsync('eval', () => evaluateAll(run, run.data.val!)) : null;
  return epochMetrics(run, epoch, { ratio, drawn, watch, tally, val, begun });
}

interface BatchPlan {
  ratio: number;
  drawn: number;
  batches: number;
}

/** One batch: score, select, train; then the budget and any --eval-every validation. */
async function runBatch(run: Run, epoch: number, b: OwnedBatch, plan: BatchPlan, tally: EpochTally): Promise<void> {
  const { cfg, clock, state } = run;
  const counts = state.counts;
  const bi = b.index;
  const samplesBefore = counts.gradient_samples;
  const countsBefore = { ...counts };
  let trainOn: ReturnType<typeof keptBatch> | null = null;
  // DDP's broadcast_buffers: every rank's forward uses rank 0's running statistics (the batch
  // statistics of a training forward stay each rank's own).
  if (run.bucketer) await broadcastBuffers(run.dist!.group, run.model);
  const owned: Tensor[] = [];
  try {
    if (b.ids.length > plan.drawn) throw new Error(`${run.mode} mode draws ${plan.drawn} samples per batch, but the train source delivered ${b.ids.length}`);
    tally.seen += b.ids.length;
    const scoring: ScoreInputs = {
      selector: run.selector, model: run.model, reference: run.reference, referenceScores: run.referenceScores?.losses, featureLookup: run.data.featureLookup,
      scoreMode: cfg.scoreMode, compute: run.compute, seed: cfg.seed, epoch,
    };
    const sel = run.dist?.scope === 'global' && run.dist.group.worldSize > 1
      ? await selectGlobal(run, b, plan, scoring, owned)
      : selectLocal(run, b, plan, scoring, owned);
    const kept = sel.mine;
    if (bi === 0 && run.wantsExamples && sel.ctx.features && seesFeatures(run.selector)) offerExample(run, epoch, sel.ctx.ids, b.index, sel.ctx.features, sel.kept);
    trainOn = clock.time('data', () => keptBatch(b, kept));
    const step = trainOn;
    await clock.timeAsync('train', () => trainKept(run, epoch, b, sel, step, tally));
    tally.trained += kept.length;
    tally.steps++;
    counts.gradient_samples += kept.length;
    counts.optimizer_steps++;
    notify(run.callbacks, 'onBatchEnd', { seen: tally.seen, trained: tally.trained, lossSum: tally.lossSum });
    tally.stoppedBy = run.dist
      ? await agreeOn(run, epoch, tally, countsBefore)
      : diverged(run, epoch, tally) ?? budgetReached(cfg.budget, clock.wallSeconds(), counts.gradient_samples);
  } finally {
    for (const f of owned) f.dispose();
    if (trainOn?.owned) trainOn.batch.release();
    b.release();
  }
  await validateAtMultiple(run, bi, plan, samplesBefore, tally);
}

/** The kept samples' optimizer step, at the schedule's lr for this step. */
async function trainKept(run: Run, epoch: number, b: OwnedBatch, sel: Selection, step: ReturnType<typeof keptBatch>, tally: EpochTally): Promise<void> {
  const { cfg, clock } = run;
  const kept = sel.mine;
  const keptIds = kept.map((i) => b.ids[i]!);
  const weights = run.selector.weights?.(keptIds);
  // The schedule's lr at this step, ·k/B under linear scaling ('none' keeps it for every batch,
  // the paper's setting). A global selection's k is the job's, per rank.
  const at = scheduledLr(cfg, run.lrSchedule, run.state.counts.optimizer_steps, epoch, clock.wallSeconds());
  run.optimizer.lr = run.lrScaling === 'linear' ? (at.lr * Math.min(sel.keptPerRank, cfg.batchSize)) / cfg.batchSize : at.lr;
  if (at.momentum !== undefined) run.optimizer.momentum = at.momentum;
  tally.lr = run.optimizer.lr;
  const r = await optimizeKept(run, step.batch, step.kept, { model: run.model, optimizer: run.optimizer, compute: run.compute, weights, perSample: Boolean(weights || run.selector.observe), lossScale: sel.lossScale });
  run.selector.observe?.(keptIds, r.perSample!);
  notify(run.callbacks, 'onBatchKept', { epoch, batch: b.index, kept: sel.kept.map((i) => sel.ctx.ids[i]!) });
  tally.lossSum += r.loss * kept.length;
  tally.correct += r.correct;
}

/**
 * --eval-every: a validation point when this batch's gradient samples crossed a multiple of N. A
 * multiple reached at the epoch's last step (or the budget's) is left to the epoch-end validation.
 */
async function validateAtMultiple(run: Run, bi: number, plan: BatchPlan, samplesBefore: number, tally: EpochTally): Promise<void> {
  const every = run.cfg.evalEvery;
  const samples = run.state.counts.gradient_samples;
  if (every === undefined || tally.stoppedBy || bi + 1 >= plan.batches || !crossesMultiple(samplesBefore, samples, every)) return;
  const wall = run.clock.wallSeconds();
  // Eval mode draws nothing from the engine's generator (no dropout, no BN update), so training is unchanged.
  const v = await run.clock.outside('eval', () => evaluateAll(run, run.data.val!));
  tally.points.push({ gradient_samples: samples, wall_seconds: wall, val_loss: v.loss, val_accuracy: v.accuracy });
}

/** A batch's selection: the context it was made on, what it kept, and what this rank trains. */
interface Selection {
  ctx: SelectContext;
  /** Kept positions in ctx (this rank's batch, or the job's W·B for a global selection). */
  kept: number[];
  /** Kept positions in this rank's batch. */
  mine: number[];
  /** The kept count per rank, for linear lr scaling. */
  keptPerRank: number;
  /** The factor on this rank's mean loss that makes the ranks' average the global kept mean. */
  lossScale: number;
}

function selectLocal(run: Run, b: DrawnBatch, plan: BatchPlan, scoring: ScoreInputs, owned: Tensor[]): Selection {
  const k = keepFor(b.ids.length, plan.ratio, run.cfg.batchSize, run.mode);
  const ctx = run.clock.time('scoring', () => scoreBatch(b, k, scoring, run.state.counts, owned));
  const kept = run.clock.time('selection', () => selectKept(run.selector, ctx, run.mode));
  return { ctx, kept, mine: kept, keptPerRank: kept.length, lossScale: 1 };
}

/**
 * --selection-scope global: every rank scores its own batch, the ranks all-gather ids, labels,
 * features and losses, and each runs the same selection over the job's W·B samples (what one
 * process would do on that batch); each rank then trains the kept samples that are its own, its
 * loss scaled so that averaging the gradients gives the mean over all kept samples.
 */
async function selectGlobal(run: Run, b: DrawnBatch, plan: BatchPlan, scoring: ScoreInputs, owned: Tensor[]): Promise<Selection> {
  const { group } = run.dist!;
  const W = group.worldSize;
  const parts = await run.clock.timeAsync('scoring', () => allGatherObject(group, b.ids));
  const total = parts.reduce((a, p) => a + p.length, 0);
  const offset = parts.slice(0, group.rank).reduce((a, p) => a + p.length, 0);
  const k = keepFor(total, plan.ratio, run.cfg.batchSize * W, run.mode);
  const local = run.clock.time('scoring', () => scoreBatch(b, k, scoring, run.state.counts, owned, total));
  const ctx = await run.clock.timeAsync('scoring', () => gatherSelectContext(group, local, parts.flat(), k, owned));
  const kept = run.clock.time('selection', () => selectKept(run.selector, ctx, run.mode));
  const mine = kept.filter((i) => i >= offset && i < offset + b.ids.length).map((i) => i - offset);
  return { ctx, kept, mine, keptPerRank: kept.length / W, lossScale: kept.length ? (mine.length * W) / kept.length : 0 };
}

/** Forward/backward and the optimizer step on the kept samples (data-parallel: with the gradients averaged). */
function optimizeKept(run: Run, b: DrawnBatch, kept: readonly number[], s: StepInputs): Promise<StepResult> {
  return run.bucketer ? distributedStep(run.bucketer, run.optimizer, b, kept, s) : Promise.resolve(trainStep(b, kept, s));
}

/** Data-parallel: the step's counts summed over the ranks, and the stop every rank agrees on. */
async function agreeOn(run: Run, epoch: number, tally: EpochTally, before: Counts): Promise<StoppedBy | null> {
  const { cfg, state, clock } = run;
  const stop = await agreeOnStep(run.dist!.group, state.counts, {
    before, wallBudget: budgetReached({ seconds: cfg.budget?.seconds }, clock.wallSeconds(), 0) !== null, nonFinite: !Number.isFinite(tally.lossSum),
  }, cfg.budget?.gradientSamples);
  if (stop === 'non-finite loss') state.divergedAt = { epoch: epoch + 1, step: tally.steps };
  return stop;
}

/** The epoch's train loss, accuracy and sample counts over all ranks (seen samples go into the run's counts per step). */
async function reduceTally(d: TrainDist, t: EpochTally): Promise<void> {
  const [lossSum, correct, trained, seen] = await reduceSums(d.group, [t.lossSum, t.correct, t.trained, t.seen]);
  Object.assign(t, { lossSum, correct, trained, seen });
}

/** Loss and accuracy on a source: this rank's shard, reduced over the ranks when data-parallel. */
async function evaluateAll(run: Run, src: BatchSource): Promise<Evaluation> {
  if (run.bucketer) await broadcastBuffers(run.dist!.group, run.model); // every shard evaluated with rank 0's running statistics
  const e = await evaluate(run.model, src, run.compute);
  return run.dist ? reduceEvaluation(run.dist.group, e) : e;
}

/** A NaN or infinite train loss stops the run at once; where it happened goes in the state. */
function diverged(run: Run, epoch: number, tally: EpochTally): StoppedBy | null {
  if (Number.isFinite(tally.lossSum)) return null;
  run.state.divergedAt = { epoch: epoch + 1, step: tally.steps };
  return 'non-finite loss';
}

/** The epoch's own index list from an epoch-level sampler (Selector.epochOrder), or null. */
function epochOrder(run: Run, source: BatchSource, epoch: number): { positions: number[]; report: Record<string, number> } | null {
  if (!run.selector.epochOrder) return null;
  if (!source.ids) throw new Error(`${run.selector.name} chooses each epoch's samples itself, but the train source does not list its ids (BatchSource.ids)`);
  return run.selector.epochOrder(epoch, run.cfg.epochs, run.cfg.seed, source.ids);
}

function seesFeatures(selector: Selector): boolean {
  const n = selector.needs;
  return Boolean(n.features || n.pixels || n.learnerFeatures || n.gradientEmbedding);
}

/** The first batch's features and kept positions, for callbacks that record them (they own the copy). */
function offerExample(run: Run, epoch: number, ids: readonly string[], batch: number, features: Tensor, kept: readonly number[]): void {
  const example: SelectionExample = { epoch, batch, features: tidy(() => features.to({ device: 'cpu', dtype: 'float32' }).clone()), kept: kept.slice(), ids: ids.slice() };
  notify(run.callbacks, 'onSelectionExample', example);
}

interface EpochEnd {
  ratio: number;
  drawn: number;
  watch: Stopwatch;
  tally: EpochTally;
  val: { loss: number; accuracy: number } | null;
  begun: Record<string, number> | void;
}

/** The epoch's metrics row, and the run's state advanced past it. */
function epochMetrics(run: Run, epoch: number, e: EpochEnd): EpochMetrics {
  const { state, clock } = run;
  const c = state.counts;
  const t = e.tally;
  const m: EpochMetrics = {
    epoch: epoch + 1,
    filter_ratio: e.ratio,
    train_loss: t.trained ? t.lossSum / t.trained : NaN,
    train_accuracy: t.trained ? t.correct / t.trained : NaN,
    val_loss: e.val?.loss ?? null,
    val_accuracy: e.val?.accuracy ?? null,
    trained_samples: t.trained,
    seen_samples: t.seen,
    steps: t.steps,
    seconds: clock.epoch,
    wall_seconds: e.watch.seconds(),
    drawn_batch_size: e.drawn,
    cumulative: {
      wall_seconds: clock.wallSeconds(), gradient_samples: c.gradient_samples, scored_samples: c.scored_samples, feature_samples: c.feature_samples,
      reference_samples: c.reference_samples, seen_samples: c.seen_samples, optimizer_steps: c.optimizer_steps,
    },
  };
  if (t.partial) m.partial = true;
  if (t.lr !== undefined) m.lr = t.lr;
  m.load_average = round2(loadavg()[0]!);
  const cpu = cpuSnapshot();
  const other = otherCpu(run.cpuAt, cpu);
  if (other !== null) m.other_cpu = round2(other);
  run.cpuAt = cpu;
  if (run.cfg.evalEvery !== undefined) m.val_points = t.points;
  state.metrics.push(m);
  if (e.val && (state.bestVal === null || e.val.accuracy > state.bestVal)) state.bestVal = e.val.accuracy;
  for (const p of PHASES) state.phases[p] += m.seconds[p];
  state.epochsDone = epoch + 1;
  state.rng = { seed: run.cfg.seed, nextEpoch: epoch + 1 };
  state.selector = run.selector.state?.() ?? null;
  if (t.stoppedBy) state.stoppedBy = t.stoppedBy;
  if (e.begun) m.selector = e.begun;
  return m;
}

/** The load at the start and end, and their mean with every epoch's (resumed epochs included). */
function loadSummary(start: number, metrics: readonly EpochMetrics[]): NonNullable<Summary['load_average']> {
  const end = loadavg()[0]!;
  const samples = [start, ...metrics.flatMap((m) => (m.load_average === undefined ? [] : [m.load_average])), end];
  const out: NonNullable<Summary['load_average']> = { start: round2(start), end: round2(end), cores: availableParallelism(), mean: round2(samples.reduce((a, v) => a + v, 0) / samples.length) };
  // Other work's CPU, weighted by each epoch's wall seconds (resumed epochs included).
  const timed = metrics.filter((m) => m.other_cpu !== undefined);
  const wall = timed.reduce((a, m) => a + m.wall_seconds, 0);
  if (timed.length && wall > 0) out.other_cpu = round2(timed.reduce((a, m) => a + m.other_cpu! * m.wall_seconds, 0) / wall);
  return out;
}

/** Reports the epoch, then checkpoints it (timed as 'checkpoint', in the epoch's row and the run's phases). */
function endEpoch(run: Run, epoch: number, m: EpochMetrics): void {
  const { callbacks, state, clock } = run;
  notify(callbacks, 'onEpochEnd', m);
  if (!callbacks.some((c) => c.onCheckpoint)) return;
  const t = performance.now();
  const paths: string[] = [];
  // The checkpoint holds the wall clock up to now; the time of writing it counts from here on.
  state.wallSeconds = clock.wallSeconds();
  for (const c of callbacks) {
    const p = c.onCheckpoint?.({ epoch, state, model: run.model, optimizer: run.optimizer });
    if (typeof p === 'string') paths.push(p);
  }
  const dt = (performance.now() - t) / 1000;
  state.phases.checkpoint += dt;
  m.seconds.checkpoint = dt;
  for (const path of paths) notify(callbacks, 'onCheckpointSaved', { epoch: epoch + 1, path });
}

async function test(run: Run, resumedFrom: number): Promise<Summary> {
  const { cfg, state, clock } = run;
  const t = performance.now();
  const result = await evaluateAll(run, run.data.test);
  state.phases.eval += (performance.now() - t) / 1000;
  state.wallSeconds = clock.wallSeconds();
  const last = state.metrics[state.metrics.length - 1];
  return {
    method: cfg.method, model: cfg.model, filter_ratio: cfg.filterRatio, epochs: cfg.epochs,
    test_accuracy: result.accuracy, test_loss: result.loss, best_val_accuracy: state.bestVal, final_val_accuracy: last?.val_accuracy ?? null,
    wall_seconds: state.wallSeconds, phases: state.phases, counts: state.counts, resumed_from_epoch: resumedFrom, epochs_done: state.epochsDone,
    stopped_by: state.stoppedBy ?? 'epochs', selection_mode: run.mode, batch_size: cfg.batchSize, lr_scaling: run.lrScaling,
    device: run.compute.device, precision: run.compute.precision, memory_format: run.compute.memoryFormat,
    load_average: loadSummary(run.loadStart, state.metrics),
    ...(state.divergedAt ? { diverged_at: state.divergedAt } : {}),
    ...(state.referenceScoringSeconds !== undefined ? { reference_scoring_seconds: state.referenceScoringSeconds } : {}),
    ...(run.dist ? { world_size: run.dist.group.worldSize, selection_scope: run.dist.scope } : {}),
  };
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
