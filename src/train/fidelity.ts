/**
 * Gradient fidelity, the mechanistic check of an in-batch selector: on a fixed model state, how
 * close is the kept samples' (weighted) mean-loss gradient g_sel to the full batch's g_full?
 *   relative error ‖g_sel − g_full‖ / ‖g_full‖,   cosine ⟨g_sel, g_full⟩ / (‖g_sel‖·‖g_full‖),
 * over every parameter's gradient flattened into one vector. The loss is the trainer's: the mean
 * of w_i·ℓ_i over the kept samples (w = 1 without weights), see step.ts's backwardStep.
 */
import { F } from '../nn/index.js';
import { cat, tensor, tidy, zeros, type Tensor } from '../tensor/index.js';
import type { Learner } from './models.js';

export interface GradientComparison {
  relError: number;
  cosine: number;
}

/**
 * Every parameter's gradient of the (weighted) mean cross-entropy of the kept samples (all of
 * them when `kept` is absent), as one float64 vector [P]. The model runs in whatever mode it is
 * in (eval keeps BatchNorm's running statistics, so the loss is a plain sum over samples); the
 * parameters' .grad are cleared before and after.
 */
export function meanLossGradient(model: Learner, x: Tensor, y: Tensor, kept?: readonly number[], weights?: Float32Array): Tensor {
  const params = model.parameters();
  if (weights && weights.length !== (kept?.length ?? x.shape[0])) throw new RangeError(`meanLossGradient: ${weights.length} weights for ${kept?.length ?? x.shape[0]} samples`);
  return tidy(() => {
    model.zeroGrad();
    let xs = x;
    let ys = y;
    if (kept) {
      const idx = tensor(kept as number[], { dtype: 'int64', device: x.device });
      xs = x.indexSelect(0, idx);
      ys = y.indexSelect(0, idx);
    }
    const each = F.crossEntropy(model.forward(xs), ys, { reduction: 'none' });
    (weights ? each.mul(tensor(weights, { device: each.device })) : each).mean().backward();
    const flat = cat(params.map((p) => p.grad?.flatten().to('float64') ?? zeros([p.numel], { dtype: 'float64', device: p.device })));
    model.zeroGrad();
    return flat;
  });
}

/** Relative error and cosine of g_sel against g_full (both [P]). */
export function compareGradients(sel: Tensor, full: Tensor): GradientComparison {
  return tidy(() => {
    const fullNorm = full.norm().item();
    const selNorm = sel.norm().item();
    return {
      relError: sel.sub(full).norm().item() / fullNorm,
      cosine: sel.mul(full).sum().item() / (selNorm * fullNorm),
    };
  });
}
