/**
 * How the learner computes: its device, its precision and the memory layout of its conv weights
 * and inputs (issue 14). One Compute is resolved per run (runTraining resolves 'auto' with
 * resolvePrecision) and recorded in config.json; the loop only applies it:
 *
 *   forward passes (training, scoring, evaluation) run inside inPrecision(): under bfloat16
 *   autocast for 'bf16'. Weights, gradients and SGD's momentum stay float32, and the loss is
 *   computed in float32 (F.crossEntropy upcasts bf16 logits), as torch.autocast training does;
 *   channels-last lays out the model's 4-D weights once (prepareModel) and the loaders hand over
 *   channels-last batches; toInput() only moves them to the device (and lays out any other input).
 *
 * A TrainConfig without precision fields is float32 and contiguous: what every run before them did.
 */
import { resolvePrecision, withPrecision, type MemoryFormat, type Precision, type Tensor } from '../tensor/index.js';
import type { TrainDevice } from './modes.js';
import type { Learner } from './models.js';
import type { TrainConfig } from './records.js';

export interface Compute {
  device: TrainDevice;
  precision: Precision;
  memoryFormat: MemoryFormat;
}

export const FP32: Omit<Compute, 'device'> = { precision: 'fp32', memoryFormat: 'contiguous' };
/** What runs computed in before precision settings existed, and the library's default. */
export const CPU_FP32: Compute = { device: 'cpu', ...FP32 };

/** The configuration's compute settings (absent fields: cpu, fp32, contiguous). */
export function computeOf(cfg: Pick<TrainConfig, 'device' | 'precision' | 'memoryFormat'>): Compute {
  return { device: cfg.device ?? 'cpu', precision: cfg.precision ?? FP32.precision, memoryFormat: cfg.memoryFormat ?? FP32.memoryFormat };
}

/** A run's compute, and why (for the log and config.json). */
export interface ResolvedCompute extends Compute {
  reason: string;
}

/**
 * The spec's settings, 'auto' resolved for the device's hardware (resolvePrecision). A resumed run
 * keeps what it was started with (`saved`, its config.json): auto could resolve differently on
 * another machine, and the rest of the run would then compute differently from its start.
 */
export function resolveCompute(spec: { device: TrainDevice; precision: Precision | 'auto'; memoryFormat: MemoryFormat | 'auto' }, saved?: TrainConfig): ResolvedCompute {
  if (saved) {
    const c = computeOf({ ...saved, device: spec.device });
    return { ...c, reason: `${c.precision}, ${c.memoryFormat}: as the run was started` };
  }
  const r = resolvePrecision(spec.precision, spec.memoryFormat, spec.device);
  return { device: spec.device, precision: r.precision, memoryFormat: r.memoryFormat, reason: r.reason };
}

/** Moves the model to the device and lays out its conv weights; call once, before the optimizer sees them. */
export function prepareModel(model: Learner, c: Compute): void {
  if (c.device !== 'cpu') model.to(c.device);
  if (c.memoryFormat !== 'contiguous') model.toMemoryFormat(c.memoryFormat);
}

/** t on the device in the layout (t itself when it already is; otherwise t is disposed). */
export function toInput(t: Tensor, c: Compute): Tensor {
  let out = t;
  if (c.device !== 'cpu' || out.device !== 'cpu') out = replace(out, out.to({ device: c.device }));
  if (c.memoryFormat !== 'contiguous' && out.ndim === 4 && !out.isContiguous(c.memoryFormat)) out = replace(out, out.contiguous(c.memoryFormat));
  return out;
}

function replace(old: Tensor, next: Tensor): Tensor {
  if (next !== old) old.dispose();
  return next;
}

/** fn (a forward pass) in the run's precision: under bfloat16 autocast for 'bf16'. */
export function inPrecision<T>(c: Compute, fn: () => T): T {
  return withPrecision(c.precision, c.device, fn);
}
