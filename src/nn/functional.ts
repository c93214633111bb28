/**
 * Stateless network ops with torch.nn.functional's names and defaults. Modules in ./layers call
 * these; so can user code.
 */
import { EngineError } from '../binding/errors.js';
import * as ops from '../tensor/nn_ops.js';
import type { GridMode, GridPadding, Reduction } from '../tensor/nn_ops.js';
import { opNames, type OpTable } from '../tensor/opcodes.js';
import type { DType } from '../tensor/dtype.js';
import { autocast, convFloat32Device, convIm2colPlan } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkInt, checkNumber, invalid, pair } from '../tensor/validate.js';

type Pair = number | [number, number];
export type { Reduction };

/** value, checked against the names of one of the addon's tables. */
function oneOf<T extends string>(table: OpTable, value: T, name: string): T {
  const names = opNames(table);
  if (!names.includes(value)) throw invalid(names.map((n) => `'${n}'`).join(', ').replace(/, ([^,]*)$/, ' or $1'), name, value);
  return value;
}

function reduction(r: Reduction): Reduction {
  return oneOf('reduction', r, 'reduction');
}

function expectRank(x: Tensor, rank: number, op: string): void {
  if (x.ndim !== rank) throw new EngineError(`${op}: expected a ${rank}-D input, got shape [${x.shape.join(', ')}]`);
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  const groups = checkInt(o.groups ?? 1, 'groups', 1);
  const [stride, padding, dilation] = [pair(o.stride ?? 1, 'stride'), pair(o.padding ?? 0, 'padding'), pair(o.dilation ?? 1, 'dilation')];
  const run = (input: Tensor): Tensor => ops.conv2d(input, weight, bias, stride, padding, dilation, groups);
  const device = convFloat32Device(x, weight, groups);
  if (device !== null) {
    // The autocast scope keeps small maps' convolutions in float32 (scope.ts, float32ConvMaxPixels).
    return autocast({ dtype: 'bfloat16', device, enabled: false }, () => withCast(x, 'float32', run));
  }
  const plan = convIm2colPlan(x, weight, { groups, stride, padding, dilation });
  if (plan === null) return run(x);
  // The scope computes small maps' convolutions by matmul (scope.ts, matmulConv); the casts
  // autocast would make are made here, so gradients reach the float32 weights through them.
  return withCast(x, plan.dtype, (xc) => withCast(weight, plan.dtype, (wc) =>
    ops.conv2dIm2col(xc, wc, bias, stride, padding, plan.forwardByMatmul, plan.inputGradByFold)));
}

/** fn(t in dtype), disposing the cast (not t) afterwards. */
function withCast(t: Tensor, dtype: DType, fn: (cast: Tensor) => Tensor): Tensor {
  const cast = t.dtype === dtype ? t : t.to(dtype);
  try {
    return fn(cast);
  } finally {
    if (cast !== t) cast.dispose();
  }
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** In training mode the running stats (if given) are updated in place, with unbiased variance. */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, o: BatchNormOptions = {}): Tensor {
  return ops.batchNorm(x, o.weight ?? null, o.bias ?? null, runningMean, runningVar, o.training ?? false, o.momentum ?? 0.1, o.eps ?? 1e-5);
}

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return ops.linear(x, weight, bias);
}

export function relu(x: Tensor): Tensor {
  return x.relu();
}

export function maxPool2d(x: Tensor, kernelSize: Pair, o: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}): Tensor {
  const k = pair(kernelSize, 'kernelSize');
  return ops.maxPool2d(x, k, pair(o.stride ?? k, 'stride'), pair(o.padding ?? 0, 'padding'), pair(o.dilation ?? 1, 'dilation'), o.ceilMode ?? false);
}

export function avgPool2d(x: Tensor, kernelSize: Pair, o: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}): Tensor {
  const k = pair(kernelSize, 'kernelSize');
  return ops.avgPool2d(x, k, pair(o.stride ?? k, 'stride'), pair(o.padding ?? 0, 'padding'), o.ceilMode ?? false, o.countIncludePad ?? true);
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return ops.adaptiveAvgPool2d(x, pair(outputSize, 'outputSize'));
}

export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  return ops.dropout(x, checkNumber(p, 'p', 0, 1), training);
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  labelSmoothing?: number;
  weight?: Tensor | null;
  ignoreIndex?: number;
}

/**
 * Cross-entropy of logits [N, C] against int64 class indices [N] (F.cross_entropy). Always in
 * float32 or wider: bfloat16/float16 logits (from an autocast() forward) are upcast first, since
 * log-softmax over 8 mantissa bits loses the small differences the gradient is made of.
 */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  if (target.dtype !== 'int64') throw invalid('an int64 tensor of class indices', 'target', target.toString());
  const x = logits.dtype === 'bfloat16' || logits.dtype === 'float16' ? logits.float() : logits;
  try {
    return ops.crossEntropy(x, target, o.weight ?? null, reduction(o.reduction ?? 'mean'), o.ignoreIndex ?? -100,
      checkNumber(o.labelSmoothing ?? 0, 'labelSmoothing', 0, 1));
  } finally {
    if (x !== logits) x.dispose();
  }
}

export function nllLoss(logProbs: Tensor, target: Tensor, o: { reduction?: Reduction; weight?: Tensor | null; ignoreIndex?: number } = {}): Tensor {
  return ops.nllLoss(logProbs, target, o.weight ?? null, reduction(o.reduction ?? 'mean'), o.ignoreIndex ?? -100);
}

export function mseLoss(a: Tensor, b: Tensor, o: { reduction?: Reduction } = {}): Tensor {
  return ops.mseLoss(a, b, reduction(o.reduction ?? 'mean'));
}

/** Sampling grid for 2-D affine transforms: theta [N, 2, 3], size [N, C, H, W] (F.affine_grid). */
export function affineGrid(theta: Tensor, size: [number, number, number, number], alignCorners = false): Tensor {
  return ops.affineGrid(theta, size, alignCorners);
}

export function gridSample(x: Tensor, grid: Tensor, o: { mode?: GridMode; paddingMode?: GridPadding; alignCorners?: boolean } = {}): Tensor {
  expectRank(x, 4, 'gridSample');
  return ops.gridSample(x, grid, oneOf('gridMode', o.mode ?? 'bilinear', 'mode'), oneOf('gridPadding', o.paddingMode ?? 'zeros', 'paddingMode'),
    o.alignCorners ?? false);
}

/** Resizes [N, C, H, W] to size (F.interpolate with mode 'bilinear' or 'nearest'). */
export function interpolate(x: Tensor, size: [number, number], o: { mode?: 'bilinear' | 'nearest'; alignCorners?: boolean; antialias?: boolean } = {}): Tensor {
  expectRank(x, 4, 'interpolate');
  if ((o.mode ?? 'bilinear') === 'nearest') return ops.interpolateNearest(x, size);
  return ops.interpolateBilinear(x, size, o.alignCorners ?? false, o.antialias ?? false);
}

/**
 * Constant padding (F.pad with mode 'constant'): pads lists (before, after) pairs starting from the
 * last dim, e.g. [left, right, top, bottom] for an image. Negative values crop.
 */
export function pad(x: Tensor, pads: number[], value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim || pads.some((p) => !Number.isInteger(p))) {
    throw invalid(`an even number (at most ${2 * x.ndim}) of integers`, 'pads', pads);
  }
  return ops.constantPad(x, pads, value);
}
