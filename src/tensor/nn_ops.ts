/**
 * Network ops on tensors, one per addon export: the layer under src/nn/functional.ts, which adds
 * torch.nn.functional's option objects, defaults and checks. Arguments are taken as validated.
 */
import { native } from '../binding/binding.js';
import { opCode } from './opcodes.js';
import { Tensor } from './tensor.js';

export type Reduction = 'none' | 'mean' | 'sum';
export type GridMode = 'bilinear' | 'nearest' | 'bicubic';
export type GridPadding = 'zeros' | 'border' | 'reflection';
type Pair = [number, number];

const handle = (t: Tensor | null | undefined) => t?.handle ?? null;

export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, stride: Pair, padding: Pair, dilation: Pair, groups: number): Tensor {
  return new Tensor(native.conv2d(x.handle, weight.handle, handle(bias), stride, padding, dilation, groups));
}

/**
 * conv2d (groups 1, dilation 1) by matmuls over x's unfolded patches: always the weight's gradient;
 * the forward pass and the input's gradient as asked. x and weight share a dtype.
 */
export function conv2dIm2col(x: Tensor, weight: Tensor, bias: Tensor | null, stride: Pair, padding: Pair, forwardByMatmul: boolean, inputGradByFold: boolean): Tensor {
  return new Tensor(native.conv2dIm2col(x.handle, weight.handle, handle(bias), stride, padding, forwardByMatmul, inputGradByFold));
}

/** In training mode libtorch updates the running stats (if given) in place, with unbiased variance. */
export function batchNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, runningMean: Tensor | null, runningVar: Tensor | null,
  training: boolean, momentum: number, eps: number): Tensor {
  return new Tensor(native.batchNorm(x.handle, handle(weight), handle(bias), handle(runningMean), handle(runningVar), training, momentum, eps));
}

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  return new Tensor(native.linear(x.handle, weight.handle, handle(bias)));
}

export function maxPool2d(x: Tensor, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, ceilMode: boolean): Tensor {
  return new Tensor(native.maxPool2d(x.handle, kernel, stride, padding, dilation, ceilMode));
}

export function avgPool2d(x: Tensor, kernel: Pair, stride: Pair, padding: Pair, ceilMode: boolean, countIncludePad: boolean): Tensor {
  return new Tensor(native.avgPool2d(x.handle, kernel, stride, padding, ceilMode, countIncludePad));
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return new Tensor(native.adaptiveAvgPool2d(x.handle, outputSize));
}

export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return new Tensor(native.dropout(x.handle, p, training));
}

export function crossEntropy(logits: Tensor, target: Tensor, weight: Tensor | null, reduction: Reduction, ignoreIndex: number, labelSmoothing: number): Tensor {
  return new Tensor(native.crossEntropy(logits.handle, target.handle, handle(weight), opCode('reduction', reduction), ignoreIndex, labelSmoothing));
}

export function nllLoss(logProbs: Tensor, target: Tensor, weight: Tensor | null, reduction: Reduction, ignoreIndex: number): Tensor {
  return new Tensor(native.nllLoss(logProbs.handle, target.handle, handle(weight), opCode('reduction', reduction), ignoreIndex));
}

export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction): Tensor {
  return new Tensor(native.mseLoss(a.handle, b.handle, opCode('reduction', reduction)));
}

export function affineGrid(theta: Tensor, size: [number, number, number, number], alignCorners: boolean): Tensor {
  return new Tensor(native.affineGrid(theta.handle, size, alignCorners));
}

export function gridSample(x: Tensor, grid: Tensor, mode: GridMode, padding: GridPadding, alignCorners: boolean): Tensor {
  return new Tensor(native.gridSample(x.handle, grid.handle, opCode('gridMode', mode), opCode('gridPadding', padding), alignCorners));
}

export function interpolateBilinear(x: Tensor, size: Pair, alignCorners: boolean, antialias: boolean): Tensor {
  return new Tensor(native.interpolateBilinear(x.handle, size, alignCorners, antialias));
}

export function interpolateNearest(x: Tensor, size: Pair): Tensor {
  return new Tensor(native.interpolateNearest(x.handle, size));
}

/** F.pad's constant mode: pads as (before, after) pairs from the last dim. */
export function constantPad(x: Tensor, pads: number[], value: number): Tensor {
  return new Tensor(native.constantPad(x.handle, pads, value));
}
