/** The timed unit of bench:features and bench:features-probe, so both measure the same work. */
import { preprocess, type ResNet } from '../src/models/index.js';
import { noGrad, tidy, withPrecision, type Precision, type Tensor } from '../src/tensor/index.js';

/**
 * One extraction batch: "caffe" preprocessing, forward to the pooled features (under bfloat16
 * autocast for 'bf16'; the caller lays out model and x), copy to host memory as float32.
 */
export function extractStep(model: ResNet, x: Tensor, precision: Precision = 'fp32'): void {
  tidy(() => noGrad(() => {
    withPrecision(precision, 'cpu', () => model.forwardFeatures(preprocess(x, 'caffe'))).float().toTypedArray();
  }));
}
