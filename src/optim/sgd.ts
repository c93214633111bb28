/**
 * SGD with momentum, dampening, Nesterov and weight decay, step for step as torch.optim.SGD:
 *   g = grad + wd·p;  buf = g (first step) or momentum·buf + (1 − dampening)·g;
 *   g = g + momentum·buf (Nesterov) or buf;  p -= lr·g
 */
import { EngineError } from '../binding/errors.js';
import { noGrad, tidy, keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkNumber } from '../tensor/validate.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD {
  readonly params: Tensor[];
  lr: number;
  /** Mutable: a schedule may drive it (onecycle's cycle_momentum), read at every step. */
  momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  /** Momentum buffers, by parameter index (PyTorch's state[p]['momentum_buffer']). */
  readonly momentumBuffers: (Tensor | null)[];

  constructor(params: Iterable<Tensor>, o: SGDOptions) {
    this.params = [...params];
    this.lr = checkNumber(o.lr, 'lr', 0);
    this.momentum = checkNumber(o.momentum ?? 0, 'momentum', 0);
    this.dampening = checkNumber(o.dampening ?? 0, 'dampening', 0, 1);
    this.weightDecay = checkNumber(o.weightDecay ?? 0, 'weightDecay', 0);
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new EngineError('SGD: Nesterov momentum requires a momentum and zero dampening');
    }
    this.momentumBuffers = this.params.map(() => null);
  }

  zeroGrad(): void {
    for (const p of this.params) p.clearGrad();
  }

  step(): void {
    noGrad(() => tidy(() => {
      this.params.forEach((p, i) => {
        let g = p.grad;
        if (g === null) return;
        if (this.weightDecay !== 0) g = g.add(p.mul(this.weightDecay));
        if (this.momentum !== 0) {
          let buf = this.momentumBuffers[i] ?? null;
          if (buf === null) {
            buf = keep(g.clone());
            this.momentumBuffers[i] = buf;
          } else {
            buf.mul_(this.momentum).add_(g, 1 - this.dampening);
          }
          g = this.nesterov ? g.add(buf.mul(this.momentum)) : buf;
        }
        p.add_(g, -this.lr);
      });
    }));
  }
}
