/** Loss and accuracy of a model on a batch source, in eval mode without gradients. */
import { F } from '../nn/index.js';
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { TrainDevice } from './modes.js';
import type { Learner } from './models.js';
import type { BatchSource } from './source.js';

export interface Evaluation {
  /** Mean cross-entropy (NaN for an empty source). */
  loss: number;
  accuracy: number;
  samples: number;
}

/** t on device (t itself when already there; otherwise t is disposed). */
export function onDevice(t: Tensor, device: TrainDevice): Tensor {
  if (device === 'cpu' && t.device === 'cpu') return t;
  const moved = t.to({ device });
  if (moved !== t) t.dispose();
  return moved;
}

/** Loss (mean) and accuracy of the model on a source, in eval mode without gradients; the mode is restored. */
export async function evaluate(model: Learner, src: BatchSource, device: TrainDevice = 'cpu'): Promise<Evaluation> {
  const was = model.training;
  model.eval();
  let loss = 0;
  let correct = 0;
  let n = 0;
  try {
    for await (const batch of src.epoch(0)) {
      const x = onDevice(batch.x, device);
      const y = onDevice(batch.y, device);
      try {
        const [l, c] = tidy(() => noGrad(() => {
          const logits = model.forward(x);
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
