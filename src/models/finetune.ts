/**
 * Fine-tuning helpers shared by the model families: freezing stages up to a named one, and
 * replacing a Linear head in place (same module, same keys, new shape).
 */
import { EngineError } from '../binding/errors.js';
import { BatchNorm2d, Linear, Module } from '../nn/index.js';
import { noGrad } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkInt } from '../tensor/validate.js';

/** A model whose modules are grouped into named stages, in forward order. */
export interface Staged {
  stages(): Array<[string, Module[]]>;
}

export interface FreezeOptions {
  /**
   * Keep the frozen stages' BatchNorm layers in eval mode (running statistics, no updates) even
   * when the model is put in train mode. Default true: a frozen backbone should not drift.
   */
  batchNormEval?: boolean;
}

interface FrozenState {
  modules: Module[];
  batchNormEval: boolean;
}
const frozen = new WeakMap<Module, FrozenState>();

/**
 * Freezes every stage of `model` up to and including `stage` and unfreezes the rest; `null`
 * unfreezes all. Returns the state-dict names of the frozen parameters.
 */
export function freezeStages(model: Module & Staged, stage: string | null, o: FreezeOptions = {}): string[] {
  const stages = model.stages();
  const names = stages.map(([n]) => n);
  let upto = -1;
  if (stage !== null) {
    upto = names.indexOf(stage);
    if (upto < 0) throw new EngineError(`freezeUpTo: unknown stage ${JSON.stringify(stage)}; the stages are ${names.join(', ')}`);
  }
  const frozenModules: Module[] = [];
  stages.forEach(([, mods], i) => {
    for (const m of mods) {
      m.requiresGrad_(i > upto);
      if (i <= upto) frozenModules.push(m);
    }
  });
  frozen.set(model, { modules: frozenModules, batchNormEval: o.batchNormEval ?? true });
  keepFrozenBatchNormEval(model);
  const frozenParams = new Set(frozenModules.flatMap((m) => m.parameters()));
  return [...model.namedParameters()].filter(([, p]) => frozenParams.has(p)).map(([n]) => n);
}

/** Puts the BatchNorms of the frozen stages back into eval mode (called from the models' train()). */
export function keepFrozenBatchNormEval(model: Module): void {
  const st = frozen.get(model);
  if (!st || !st.batchNormEval) return;
  for (const m of st.modules) {
    for (const [, sub] of m.namedModules()) if (sub instanceof BatchNorm2d) sub.train(false);
  }
}

/**
 * Gives a Linear head numClasses outputs: new weight/bias with PyTorch's default init, on the old
 * head's device and dtype, trainable. The module and its keys stay, so an optimizer made after
 * this call sees the new tensors (make the optimizer after replacing the head).
 */
export function replaceLinearHead(head: Linear, numClasses: number): void {
  checkInt(numClasses, 'numClasses', 1);
  const fresh = new Linear(head.inFeatures, numClasses, { bias: head.bias !== null });
  const device = head.weight.device;
  const dtype = head.weight.dtype === 'float64' ? 'float64' : 'float32';
  noGrad(() => {
    for (const [dst, src] of [[head.weight, fresh.weight], [head.bias, fresh.bias]] as const) {
      if (!dst || !src) continue;
      const detached = src.detach();
      const moved = detached.to({ device, dtype });
      dst.setData_(moved);
      dst.clearGrad();
      dst.requiresGrad_(true);
      for (const t of [moved, detached, src]) t.dispose();
    }
  });
  (head as { outFeatures: number }).outFeatures = numClasses;
}

/**
 * Base of the model families: stages in forward order plus a Linear `fc` head give every model
 * the same freezeUpTo(), replaceHead() and a train() that keeps frozen BatchNorms in eval mode.
 */
export abstract class FinetunableModel<S extends string = string> extends Module implements Staged {
  abstract fc: Linear;
  abstract stages(): Array<[S, Module[]]>;

  /**
   * Stops training every stage up to and including `stage` (requires_grad off; by default their
   * BatchNorms also stay in eval mode, using the pretrained running statistics, even under train()).
   * Returns the names of the frozen parameters. `freezeUpTo(null)` unfreezes everything.
   */
  freezeUpTo(stage: S | null, o: FreezeOptions = {}): string[] {
    return freezeStages(this, stage, o);
  }

  /** The head alone: logits from penultimate features (forward is classify ∘ forwardFeatures, but for any dropout). */
  classify(features: Tensor): Tensor {
    return this.fc.forward(features);
  }

  /** Gives fc numClasses outputs with PyTorch's default init; keys stay `fc.weight`/`fc.bias`. */
  replaceHead(numClasses: number): this {
    replaceLinearHead(this.fc, numClasses);
    return this;
  }

  override train(mode = true): this {
    super.train(mode);
    keepFrozenBatchNormEval(this);
    return this;
  }
}
