/** The timed unit of bench:features and bench:features-probe, so both measure the same work. */
import { preprocess, type ResNet } from '../src/models/index.js';
import { noGrad, tidy, type Tensor } from '../src/tensor/index.js';

/** One extraction batch: "caffe" preprocessing, forward to the pooled features, copy to host memory. */
export function extractStep(model: ResNet, x: Tensor): void {
  tidy(() => noGrad(() => {
    model.forwardFeatures(preprocess(x, 'caffe')).toTypedArray();
  }));
}
