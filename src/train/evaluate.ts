/** Loss and accuracy of a model on a batch source, in eval mode without gradients. */
import { F } from '../nn/index.js';
import { noGrad, tidy } from '../tensor/index.js';
import { CPU_FP32, inPrecision, toInput, type Compute } from './compute.js';
import type { Learner } from './models.js';
import type { BatchSource } from './source.js';

export interface Evaluation {
  /** Mean cross-entropy (NaN for an empty source). */
  loss: number;
  accuracy: number;
  samples: number;
}

/**
 * Loss (mean) and accuracy of the model on a source, in eval mode without gradients, computing as
 * `compute` says (default: CPU, fp32); the mode is restored.
 */
export async function evaluate(model: Learner, src: BatchSource, compute: Compute = CPU_FP32): Promise<Evaluation> {
  const was = model.training;
  model.eval();
  let loss = 0;
  let correct = 0;
  let n = 0;
  try {
    for await (const batch of src.epoch(0)) {
      const x = toInput(batch.x, compute);
      const y = toInput(batch.y, compute);
      try {
        const [l, c] = tidy(() => noGrad(() => {
          const logits = inPrecision(compute, () => model.forward(x));
          return [F.crossEntropy(logits, y, { reduction: 'sum' }).item(), logits.argmax(1).eq(y).sum().item()];
        }));
        loss += l!;
        correct += c!;
        n += batch.ids.length;
      } finally {
        x.dispose();
        y.dispose();
      }
    }
  } finally {
    model.train(was);
  }
  return { loss: n ? loss / n : NaN, accuracy: n ? correct / n : NaN, samples: n };
}
