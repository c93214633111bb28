import { test } from 'node:test';
import { SGD } from '../../src/optim/index.js';
import { tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

/** Plain-number SGD, written from torch.optim.SGD's documented update. */
function reference(p0: number[], grads: number[][], o: { lr: number; momentum: number; dampening: number; wd: number; nesterov: boolean }): number[] {
  const p = [...p0];
  let buf: number[] | null = null;
  for (const g0 of grads) {
    const g = g0.map((g, i) => g + o.wd * p[i]!);
    let d = g;
    if (o.momentum) {
      buf = buf === null ? [...g] : buf.map((b, i) => o.momentum * b + (1 - o.dampening) * g[i]!);
      d = o.nesterov ? g.map((v, i) => v + o.momentum * buf![i]!) : buf;
    }
    for (let i = 0; i < p.length; i++) p[i]! -= o.lr * d[i]!;
  }
  return p;
}

for (const o of [
  { lr: 0.1, momentum: 0, dampening: 0, wd: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, wd: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, wd: 1e-2, nesterov: true },
  { lr: 0.01, momentum: 0.5, dampening: 0.3, wd: 5e-4, nesterov: false },
]) {
  test(`SGD matches torch.optim.SGD step for step (${JSON.stringify(o)})`, () => {
    const p0 = [0.5, -1, 2];
    const grads = [[1, 2, 3], [-1, 0.5, 0.25], [0.1, -0.2, 0.3]];
    const p = tensor(p0, { dtype: 'float64' }).requiresGrad_();
    const opt = new SGD([p], { lr: o.lr, momentum: o.momentum, dampening: o.dampening, weightDecay: o.wd, nesterov: o.nesterov });
    for (const g of grads) {
      opt.zeroGrad();
      // loss = sum(p * g) has gradient g
      p.mul(tensor(g, { dtype: 'float64' })).sum().backward();
      opt.step();
    }
    assertClose(p.toArray(), reference(p0, grads, o), { rtol: 1e-12, atol: 1e-14 });
  });
}
