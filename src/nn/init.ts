/** Weight initializers with torch.nn.init's formulas (in place, without gradient recording). */
import { noGrad } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** [fanIn, fanOut] of a Linear [out, in] or Conv [out, in/groups, kh, kw] weight. */
export function fans(t: Tensor): [number, number] {
  const s = t.shape;
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return [(s[1] ?? 1) * receptive, (s[0] ?? 1) * receptive];
}

function gain(nonlinearity: 'relu' | 'leaky_relu' | 'linear', a = 0): number {
  if (nonlinearity === 'relu') return Math.SQRT2;
  if (nonlinearity === 'leaky_relu') return Math.sqrt(2 / (1 + a * a));
  return 1;
}

export function uniform_(t: Tensor, lo: number, hi: number): Tensor {
  return noGrad(() => t.uniform_(lo, hi));
}
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => t.normal_(mean, std));
}
export function constant_(t: Tensor, v: number): Tensor {
  return noGrad(() => t.fill_(v));
}

export interface KaimingOptions {
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: 'relu' | 'leaky_relu' | 'linear';
}

export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const [fi, fo] = fans(t);
  const std = gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(o.mode === 'fan_out' ? fo : fi);
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound);
}

export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const [fi, fo] = fans(t);
  const std = gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(o.mode === 'fan_out' ? fo : fi);
  return normal_(t, 0, std);
}

/** PyTorch's default for Conv/Linear: kaiming_uniform(a=√5) weights, U(±1/√fanIn) bias. */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const bound = 1 / Math.sqrt(fans(weight)[0]);
    uniform_(bias, -bound, bound);
  }
}
