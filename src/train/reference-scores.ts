/**
 * Precomputed irreducible losses (RHO-LOSS's official pipeline, and JEST's amortized reference
 * scoring): the reference model scores every training sample once, before training, in eval mode
 * without gradients, on un-augmented images (OATML/RHO-Loss src/train_irreducible.py →
 * utils.compute_losses_with_sanity_checks, run on the train set with trainset_data_aug False);
 * the selector then looks the losses up by sample id (selection_methods._compute_irreducible_loss
 * indexes the precomputed tensor by global_index). The pass is the reference's cost: its samples
 * count as reference samples and its seconds as scoring time (fit.ts adds both once, to a fresh run).
 */
import { F } from '../nn/index.js';
import { noGrad, tidy } from '../tensor/index.js';
import { CPU_FP32, inPrecision, toInput, type Compute } from './compute.js';
import type { Learner } from './models.js';
import type { BatchSource } from './source.js';

export interface ReferenceScores {
  /** Per-sample cross-entropy of the reference, by sample id. */
  losses: ReadonlyMap<string, number>;
  /** Samples scored (one forward each). */
  samples: number;
  seconds: number;
}

/** Scores every sample of `source` (one epoch of it: un-augmented, any order) with the reference. */
export async function precomputeReferenceScores(reference: Learner, source: BatchSource, compute: Compute = CPU_FP32): Promise<ReferenceScores> {
  const t = performance.now();
  const losses = new Map<string, number>();
  reference.eval();
  for await (const b of source.epoch(0)) {
    const x = toInput(b.x, compute);
    const y = toInput(b.y, compute);
    try {
      const l = tidy(() => noGrad(() => F.crossEntropy(inPrecision(compute, () => reference.forward(x)), y, { reduction: 'none' }).toTypedArray<'float32'>() as Float32Array));
      b.ids.forEach((id, i) => losses.set(id, l[i]!));
    } finally {
      x.dispose();
      y.dispose();
    }
  }
  return { losses, samples: losses.size, seconds: (performance.now() - t) / 1000 };
}
