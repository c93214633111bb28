/**
 * One batch's three steps, each a function the loop times as its own phase:
 *   scoreBatch  computes only what the selector declares (features, learner or reference losses);
 *   selectKept  lets the selector choose, and checks what it chose;
 *   trainStep   forward/backward/step on the kept samples only.
 * Scoring forwards run without gradients, in the run's score mode (TrainConfig.scoreMode):
 *   'train'  as RHO-LOSS's official code scores (MultiModels.training_step, selection_train_mode
 *            True; selection_methods.py scores under torch.no_grad()): BatchNorm normalizes with the
 *            scored batch's own statistics and updates its running statistics (and
 *            num_batches_tracked) from that forward, although no gradient flows;
 *   'eval'   BatchNorm uses and keeps its running statistics: only the trained samples' forward
 *            moves them.
 * Reference losses are either looked up (precomputed once per sample, before training) or
 * computed per batch by the reference model in eval mode ('online').
 */
import { F } from '../nn/index.js';
import type { SGD } from '../optim/sgd.js';
import { noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import type { SelectionMode } from './modes.js';
import type { Learner } from './models.js';
import { CPU_FP32, inPrecision, toInput, type Compute } from './compute.js';
import { lastLayerGradients } from './embedding.js';
import type { Counts, ScoreMode } from './records.js';
import type { SelectContext, Selector, SelectorNeeds } from './selectors/index.js';

/** One drawn batch on the training device. */
export interface DrawnBatch {
  x: Tensor;
  y: Tensor;
  ids: string[];
  /** 0-based, within the epoch. */
  index: number;
}

export interface ScoreInputs {
  selector: Selector;
  model: Learner;
  reference?: Learner;
  /** Irreducible (reference) losses by sample id, computed before training: no reference forward per batch. */
  referenceScores?: ReadonlyMap<string, number>;
  featureLookup?: (ids: readonly string[]) => Tensor;
  /** How the learner is scored (default 'eval'). */
  scoreMode?: ScoreMode;
  /** Device, precision and layout of the scoring forwards (default CPU, fp32). */
  compute?: Compute;
  seed: number;
  epoch: number;
}

/**
 * The selector's context for a batch keeping k (nothing is computed when k keeps every sample).
 * Tensors it adds are pushed to `owned` (the caller disposes them); what was computed is counted.
 */
export function scoreBatch(b: DrawnBatch, k: number, s: ScoreInputs, counts: Counts, owned: Tensor[], total = b.ids.length): SelectContext {
  const n = b.ids.length;
  const ctx: SelectContext = { batchSize: n, k, ids: b.ids, labels: Int32Array.from(b.y.toArray()), seed: s.seed, epoch: s.epoch, batchIndex: b.index };
  // `total`: the samples the selection is over (this batch, or every rank's for a global selection).
  if (k >= total) return ctx;
  const needs = s.selector.needs;
  if (needs.features || needs.pixels) {
    ctx.features = needs.features ? s.featureLookup!(b.ids) : b.x.flatten(1);
    owned.push(ctx.features);
    counts.feature_samples += n;
  }
  if (needs.learnerFeatures || needs.gradientEmbedding || needs.learnerLoss) {
    scoreWithLearner(b, s.model, needs, ctx, owned, s.scoreMode ?? 'eval', s.compute ?? CPU_FP32);
    if (needs.learnerFeatures || needs.gradientEmbedding) counts.feature_samples += n;
    counts.scored_samples += n;
  }
  if (needs.referenceLoss && s.referenceScores) {
    ctx.referenceLoss = lookupScores(s.referenceScores, b.ids);
  } else if (needs.referenceLoss) {
    ctx.referenceLoss = referenceLosses(b, s.reference!, s.compute ?? CPU_FP32);
    counts.reference_samples += n;
  }
  return ctx;
}

/** The learner's features and/or per-sample losses without gradients, in the score mode (see the file comment). */
function scoreWithLearner(b: DrawnBatch, model: Learner, needs: Readonly<SelectorNeeds>, ctx: SelectContext, owned: Tensor[], mode: ScoreMode, c: Compute): void {
  if (mode === 'eval') model.eval();
  try {
    noGrad(() => {
      if (needs.gradientEmbedding) {
        // One forward gives the features, the logits and so the losses too.
        const h = inPrecision(c, () => model.forwardFeatures(b.x));
        const logits = inPrecision(c, () => model.classify(h));
        const emb = lastLayerGradients(h, logits, b.y);
        ctx.features = emb;
        owned.push(emb);
        if (needs.learnerLoss) ctx.learnerLoss = tidy(() => F.crossEntropy(logits, b.y, { reduction: 'none' }).toTypedArray<'float32'>() as Float32Array);
        [h, logits].forEach((t) => t.dispose());
      } else if (needs.learnerFeatures) {
        // Selectors get float32 features whatever the forward's precision (SALN then works in float64).
        ctx.features = tidy(() => inPrecision(c, () => model.forwardFeatures(b.x)).float());
        owned.push(ctx.features);
      }
      if (needs.learnerLoss && !ctx.learnerLoss) ctx.learnerLoss = perSampleLoss(model, b.x, b.y, c);
    });
  } finally {
    model.train();
  }
}

function lookupScores(scores: ReadonlyMap<string, number>, ids: readonly string[]): Float32Array {
  return Float32Array.from(ids, (id) => {
    const v = scores.get(id);
    if (v === undefined) throw new Error(`no precomputed reference loss for sample ${id}`);
    return v;
  });
}

function referenceLosses(b: DrawnBatch, reference: Learner, c: Compute): Float32Array {
  reference.eval();
  return noGrad(() => perSampleLoss(reference, b.x, b.y, c));
}

/** Per-sample cross-entropy, computed in float32 from the forward's logits (F.crossEntropy upcasts bf16). */
function perSampleLoss(model: Learner, x: Tensor, y: Tensor, c: Compute): Float32Array {
  return tidy(() => F.crossEntropy(inPrecision(c, () => model.forward(x)), y, { reduction: 'none' }).toTypedArray<'float32'>() as Float32Array);
}

/**
 * The selector's kept positions. A batch that keeps every sample skips select() unless the
 * selector decides k itself (variableK); in super-batch mode such a selector's survivors are cut
 * to k, the first in batch order (the loader's shuffled order: a uniform subset of them).
 */
export function selectKept(selector: Selector, ctx: SelectContext, mode: SelectionMode): number[] {
  const { batchSize: n, k } = ctx;
  let kept = k < n || selector.variableK ? selector.select(ctx) : Array.from({ length: n }, (_, i) => i);
  if (selector.variableK && mode === 'super-batch' && kept.length > k) kept = kept.slice(0, k);
  const ok = selector.variableK ? kept.length >= 1 && kept.length <= n : kept.length === k;
  if (!ok) throw new Error(`${selector.name} kept ${kept.length} samples, expected ${selector.variableK ? `1 to ${n}` : k}`);
  return kept;
}

export interface StepResult {
  /** The plain mean cross-entropy of the kept samples, whatever the weights. */
  loss: number;
  correct: number;
  /** Per-sample losses, when the selector weighs or observes them. */
  perSample: Float32Array | null;
}

export interface StepInputs {
  model: Learner;
  optimizer: SGD;
  /** Clears the gradients before backward (default optimizer.zeroGrad(); data-parallel runs point them into the sync buckets). */
  zeroGrad?: () => void;
  /** Per-sample loss weights of the kept samples (absent: all 1). */
  weights?: Float32Array;
  /** Whether per-sample losses are needed (weights or a selector that observes them). */
  perSample: boolean;
  /** A factor on the loss (a global data-parallel selection; default 1). */
  lossScale?: number;
  /** Device, precision and layout of the forward (default CPU, fp32); backward and the step follow it. */
  compute?: Compute;
}

/** Forward/backward/step on the kept positions of the batch. */
export function trainStep(b: DrawnBatch, kept: readonly number[], s: StepInputs): StepResult {
  const r = backwardStep(b, kept, s);
  s.optimizer.step();
  return r;
}

/** Forward and backward on the kept positions, without the optimizer step (data-parallel runs average the gradients in between). */
export function backwardStep(b: DrawnBatch, kept: readonly number[], s: StepInputs): StepResult {
  return tidy(() => {
    let xs = b.x;
    let ys = b.y;
    const c = s.compute ?? CPU_FP32;
    if (kept.length < b.ids.length) {
      const idx = tensor(kept as number[], { dtype: 'int64', device: b.x.device });
      xs = toInput(b.x.indexSelect(0, idx), c); // index_select returns NCHW: lay the kept batch out again
      ys = b.y.indexSelect(0, idx);
    }
    if (s.zeroGrad) s.zeroGrad();
    else s.optimizer.zeroGrad();
    // Only the forward runs under autocast: the loss is float32 (torch.autocast's recipe), and
    // backward replays the forward's casts by itself.
    const logits = inPrecision(c, () => s.model.forward(xs));
    let perSample: Float32Array | null = null;
    let loss: Tensor;
    if (s.perSample) {
      const each = F.crossEntropy(logits, ys, { reduction: 'none' });
      perSample = noGrad(() => each.toTypedArray<'float32'>() as Float32Array);
      loss = s.weights ? each.mul(tensor(s.weights, { device: each.device })).mean() : each.mean();
    } else {
      loss = F.crossEntropy(logits, ys);
    }
    (s.lossScale !== undefined && s.lossScale !== 1 ? loss.mul(s.lossScale) : loss).backward();
    const plain = perSample ? perSample.reduce((a, v) => a + v, 0) / perSample.length : loss.item();
    return { loss: plain, correct: noGrad(() => logits.argmax(1).eq(ys).sum().item()), perSample };
  });
}
