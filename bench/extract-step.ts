/** The timed unit of bench:features and bench:features-probe, so both measure the same work. */
import { preprocess, type ResNet } from '../src/models/index.js';
import { noGrad, tidy, withPrecision, type Device, type Precision, type Tensor } from '../src/tensor/index.js';

/**
 * One extraction batch: "caffe" preprocessing, forward to the pooled features (under bfloat16
 * autocast for 'bf16'; the caller lays out model and x), copy to host memory as float32.
 */
export function extractStep(model: ResNet, x: Tensor, precision: Precision = 'fp32', device: Device = 'cpu'): void {
  tidy(() => noGrad(() => {
    // The host copy at the end also waits for the batch's kernels on CUDA.
    withPrecision(precision, device, () => model.forwardFeatures(preprocess(x, 'caffe'))).float().toTypedArray();
  }));
}
