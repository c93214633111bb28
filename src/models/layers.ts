/**
 * Layers the imported Keras models need that the engine's nn does not have, composed from
 * existing ops: TensorFlow's 'same' padding (asymmetric when the total is odd) and zero padding.
 */
import { Conv2d, F, type Conv2dOptions } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * TensorFlow's SAME padding along one axis: the output has ceil(size / stride) positions, and an
 * odd total pad puts the extra zero after (bottom/right), not before. Returns [before, after].
 */
export function tfSamePads(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(size / stride);
  const eff = (kernel - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + eff - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Zero-pads the last two dims of [N, C, H, W] by [top, bottom, left, right] (Keras ZeroPadding2D). */
export function zeroPad2d(x: Tensor, [top, bottom, left, right]: [number, number, number, number]): Tensor {
  return F.pad(x, [left, right, top, bottom]);
}

/**
 * Conv2d with TensorFlow's padding='same': the symmetric part of the padding goes to the conv,
 * the odd extra row/column (TF puts it at the bottom/right) is added with zeroPad2d first. Same
 * parameters and keys as Conv2d (`weight`, `bias`), and equal to Conv2d(padding=k//2) whenever
 * the total padding is even (stride 1, odd kernel).
 */
export class TfSameConv2d extends Conv2d {
  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], o: Omit<Conv2dOptions, 'padding'> = {}) {
    super(inChannels, outChannels, kernelSize, { ...o, padding: 0 });
  }

  override forward(x: Tensor): Tensor {
    const [kh, kw] = [this.weight.shape[2]!, this.weight.shape[3]!];
    const [t, b] = tfSamePads(x.shape[2]!, kh, this.stride[0], this.dilation[0]);
    const [l, r] = tfSamePads(x.shape[3]!, kw, this.stride[1], this.dilation[1]);
    const sym: [number, number] = [Math.min(t, b), Math.min(l, r)];
    const extra: [number, number, number, number] = [t - sym[0], b - sym[0], l - sym[1], r - sym[1]];
    const padded = extra.some(Boolean) ? zeroPad2d(x, extra) : x;
    const y = F.conv2d(padded, this.weight, this.bias, { stride: this.stride, padding: sym, dilation: this.dilation, groups: this.groups });
    if (padded !== x) padded.dispose();
    return y;
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, padding='same' (TensorFlow)`;
  }
}

/**
 * Applies fns in order and disposes each intermediate result as soon as the next one exists
 * (never x itself, nor a result a step passes through unchanged). Inside a tidy() scope nothing
 * would be freed before the scope ends, so a whole forward pass would keep every activation
 * alive; freeing them as they are consumed lets libtorch's allocator reuse hot memory, as
 * PyTorch's eager mode does. Safe under autograd: what backward needs, the graph holds itself.
 */
export function chain(x: Tensor, ...fns: Array<(t: Tensor) => Tensor>): Tensor {
  let y = x;
  for (const f of fns) {
    const z = f(y);
    if (y !== x && z !== y) y.dispose();
    y = z;
  }
  return y;
}

/** relu(main + identity), computed in place in main (torchvision's `out += identity; relu(out)`). */
export function addRelu(main: Tensor, identity: Tensor): Tensor {
  return main.add_(identity).relu_();
}
