/**
 * Data-parallel training, DDP's recipe on src/dist: every rank holds the whole model (BatchNorm's
 * statistics stay per rank, as in DDP without SyncBatchNorm), takes its DistributedSampler share
 * of each epoch (batch B per rank), averages gradients after backward, and the ranks agree after
 * every step on the counts and on whether to stop, so they always take the same steps. Validation
 * and test are sharded (each sample once) and their sums reduced. Only rank 0 writes the run
 * directory.
 */
import type { LoaderSampler } from '../data/loader.js';
import { allGatherCat, broadcastModule, distributedIndices, distributedNumSamples, GradBucketer, reduceSums, shardIndices, type ProcessGroup } from '../dist/index.js';
import type { SGD } from '../optim/sgd.js';
import { tensor, zeros, type Tensor } from '../tensor/index.js';
import type { StoppedBy } from './budget.js';
import type { Evaluation } from './evaluate.js';
import type { Learner } from './models.js';
import type { Counts } from './records.js';
import type { SelectContext } from './selectors/index.js';
import { backwardStep, type DrawnBatch, type StepInputs, type StepResult } from './step.js';

/** 'rank': each rank selects within its own batch of B; 'global': over all W·B samples of the step. */
export type SelectionScope = 'rank' | 'global';

export interface TrainDist {
  group: ProcessGroup;
  scope: SelectionScope;
}

/** The process that writes the run directory and prints (rank 0, or the only one). */
export function isRoot(d: TrainDist | undefined): boolean {
  return d === undefined || d.group.rank === 0;
}

/** The training loader's sampler: this rank's DistributedSampler share of each epoch's order. */
export function trainSampler(n: number, rank: number, worldSize: number): LoaderSampler {
  return { length: distributedNumSamples(n, worldSize), key: `rank ${rank}`, indices: (order) => distributedIndices(order, rank, worldSize) };
}

/** An evaluation loader's sampler: this rank's shard, every sample once over the ranks, no padding. */
export function evalSampler(n: number, rank: number, worldSize: number): LoaderSampler {
  const mine = shardIndices(n, rank, worldSize);
  return { length: mine.length, key: `rank ${rank}`, indices: (order) => mine.map((i) => order[i]!) };
}

/**
 * Gives every rank rank 0's parameters, buffers and SGD momentum (DDP's start-up sync; after a
 * resume all ranks loaded the same checkpoint, and this makes sure).
 */
export async function syncFromRoot(group: ProcessGroup, model: Learner, optimizer: SGD): Promise<void> {
  await broadcastModule(model, group, 0);
  const present = optimizer.momentumBuffers.map((b) => (b ? 1 : 0));
  const agreed = await reduceSums(group, present);
  optimizer.momentumBuffers.forEach((b, i) => {
    // A buffer some rank lacks is made here (zeros), then overwritten by rank 0's.
    if (agreed[i]! > 0 && !b) optimizer.momentumBuffers[i] = zeros([...optimizer.params[i]!.shape], { dtype: optimizer.params[i]!.dtype, device: optimizer.params[i]!.device });
  });
  const buffers = optimizer.momentumBuffers.filter((b): b is NonNullable<typeof b> => b !== null);
  if (buffers.length) await group.broadcastCoalesced(buffers, 0);
}

/** What one step changed on this rank, before the ranks agree on it. */
export interface StepReport {
  before: Counts;
  /** This rank's clock reached the wall-time budget. */
  wallBudget: boolean;
  /** This rank's train loss was NaN or infinite. */
  nonFinite: boolean;
}

// seen_samples is added per epoch, optimizer_steps is one per step on every rank: neither is summed here.
const SUMMED: readonly (keyof Counts)[] = ['gradient_samples', 'scored_samples', 'reference_samples', 'feature_samples'];

/**
 * Makes `counts` the whole job's (each rank's increments since `before`, summed) and returns
 * what stops the run, the same on every rank: a non-finite loss anywhere, the gradient-sample
 * budget on the global count, or any rank's clock at the wall-time budget. One small all-reduce.
 */
export async function agreeOnStep(group: ProcessGroup, counts: Counts, r: StepReport, gradientBudget: number | undefined): Promise<StoppedBy | null> {
  const local = [...SUMMED.map((k) => counts[k] - r.before[k]), r.wallBudget ? 1 : 0, r.nonFinite ? 1 : 0];
  const sums = await reduceSums(group, local);
  SUMMED.forEach((k, i) => (counts[k] = r.before[k] + sums[i]!));
  if (sums[SUMMED.length + 1]! > 0) return 'non-finite loss';
  if (gradientBudget !== undefined && counts.gradient_samples >= gradientBudget) return 'budget-gradient-samples';
  if (sums[SUMMED.length]! > 0) return 'budget-seconds';
  return null;
}

/** A sharded evaluation's loss and accuracy over all ranks' shards. */
export async function reduceEvaluation(group: ProcessGroup, e: Evaluation): Promise<Evaluation> {
  const [lossSum, correct, n] = await reduceSums(group, [e.samples ? e.loss * e.samples : 0, e.accuracy * e.samples || 0, e.samples]);
  return { loss: n ? lossSum! / n : NaN, accuracy: n ? correct! / n : NaN, samples: n! };
}

/** The gradient averaging of a run: buckets over the model's parameters. */
export function makeBucketer(group: ProcessGroup, model: Learner): GradBucketer {
  return new GradBucketer(group, model.parameters());
}

/** Rank 0's buffers (BatchNorm running statistics) on every rank: DDP's broadcast_buffers. */
export async function broadcastBuffers(group: ProcessGroup, model: Learner): Promise<void> {
  const buffers = model.buffers();
  if (buffers.length) await group.broadcastCoalesced(buffers, 0);
}

/**
 * Forward/backward on the kept samples, the gradients averaged over the ranks (they are views into
 * the sync buckets), then the optimizer step.
 */
export async function distributedStep(bucketer: GradBucketer, optimizer: SGD, b: DrawnBatch, kept: readonly number[], s: StepInputs): Promise<StepResult> {
  let r: StepResult;
  if (kept.length) r = backwardStep(b, kept, { ...s, zeroGrad: () => bucketer.zeroGrad() });
  else {
    // A global selection kept none of this rank's samples: it contributes zero gradients.
    bucketer.zeroGrad();
    r = { loss: 0, correct: 0, perSample: s.perSample ? new Float32Array(0) : null };
  }
  await bucketer.sync();
  optimizer.step();
  return r;
}

/**
 * --selection-scope global: the job's selection context from every rank's, ids in rank order with
 * the labels, features and losses gathered. The gathered tensors go into `owned` (the caller frees them).
 */
export async function gatherSelectContext(group: ProcessGroup, local: SelectContext, ids: string[], k: number, owned: Tensor[]): Promise<SelectContext> {
  const labels = tensor(local.labels, { dtype: 'int32' });
  const allLabels = await allGatherCat(group, labels);
  labels.dispose();
  const ctx: SelectContext = { ...local, batchSize: ids.length, k, ids, labels: allLabels.toTypedArray<'int32'>() as Int32Array };
  allLabels.dispose();
  if (local.features) {
    ctx.features = await allGatherCat(group, local.features.to({ device: 'cpu' }));
    owned.push(ctx.features);
  }
  ctx.learnerLoss = await gatherLosses(group, local.learnerLoss);
  ctx.referenceLoss = await gatherLosses(group, local.referenceLoss);
  return ctx;
}

async function gatherLosses(group: ProcessGroup, l: Float32Array | undefined): Promise<Float32Array | undefined> {
  if (!l) return undefined;
  const t = tensor(l, { dtype: 'float32' });
  const all = await allGatherCat(group, t);
  t.dispose();
  const out = all.toTypedArray<'float32'>() as Float32Array;
  all.dispose();
  return out;
}
