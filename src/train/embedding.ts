/**
 * The last-layer gradient embedding (BADGE, Ash et al. 2020; the cheap per-sample gradient CRAIG
 * recommends for deep networks, Mirzasoleiman et al. 2020 §3.4). For sample i with penultimate
 * features h_i, logits z_i = W·h_i + b and label y_i, the gradient of its cross-entropy with
 * respect to the head (W, b) is
 *     (softmax(z_i) − e_{y_i}) ⊗ [h_i, 1],
 * a [C·(D + 1)] row: what a selector on it compares is (close to) what the sample would do to the
 * last layer. Computed from one forward without gradients; the logits come from the head alone
 * (Learner.classify), so dropout before the head is not applied.
 */
import { F } from '../nn/index.js';
import { cat, ones, tidy, zeros, type Tensor } from '../tensor/index.js';

/** The rows (softmax(logits) − onehot(y)) ⊗ [features, 1], float32 [B, C·(D + 1)]. */
export function lastLayerGradients(features: Tensor, logits: Tensor, y: Tensor): Tensor {
  const [b, d] = features.shape as [number, number];
  const c = logits.shape[1]!;
  if (logits.shape[0] !== b || y.shape[0] !== b) throw new RangeError(`lastLayerGradients: ${b} feature rows, ${logits.shape[0]} logit rows and ${y.shape[0]} labels`);
  return tidy(() => {
    const onehot = zeros([b, c], { device: logits.device }).scatter(1, y.reshape(b, 1), ones([b, 1], { device: logits.device }));
    const err = F.softmax(logits.float(), 1).sub(onehot); // [B, C]
    const h = cat([features.float(), ones([b, 1], { device: features.device })], 1); // [B, D + 1]
    return err.unsqueeze(2).mul(h.unsqueeze(1)).reshape(b, c * (d + 1));
  });
}
