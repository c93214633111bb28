/**
 * Pretrained learners: an ImageNet model from the zoo, fine-tuned with a new head sized to the
 * classes (the paper fine-tunes a pretrained network). The data pipeline normalizes every image
 * with torchvision's ImageNet mean/std; these models were trained on other inputs (Keras 'tf':
 * [-1, 1]; 'caffe': BGR minus means), so the learner first maps one to the other.
 *
 * The wrapper registers the network's own children under their own names, so the state-dict
 * keys are the network's (`fc.weight`, `conv1.weight`), as in PyTorch.
 */
import { Module } from '../nn/index.js';
import type { FinetunableModel } from '../models/finetune.js';
import { PREPROCESS, preprocess, preprocessSpec, type PreprocessName } from '../models/preprocess.js';
import { ZOO, type ZooOptions } from '../models/zoo.js';
import { tensor, tidy, type Tensor } from '../tensor/index.js';
import type { Learner } from './models.js';

/** Learner name → the zoo model it starts from. */
export const PRETRAINED_LEARNERS: Readonly<Record<string, string>> = {
  'mobilenet-v1-0.75-imagenet': 'mobilenet-v1-0.75',
  'resnet50-keras-imagenet': 'resnet50-keras',
  'resnet18-tv-imagenet': 'resnet18-tv',
};

type Net = FinetunableModel & { forward(x: Tensor): Tensor; forwardFeatures(x: Tensor): Tensor };

export class PretrainedLearner extends Module implements Learner {
  readonly #net: Net;
  readonly #to: PreprocessName;
  constructor(net: Net, preprocessing: PreprocessName) {
    super();
    this.#net = net;
    this.#to = preprocessing;
    for (const [name, child] of net.namedChildren()) this.registerModule(name, child);
  }

  /** torchvision-normalized input → RGB in [0, 255] → the network's own preprocessing. */
  adapt(x: Tensor): Tensor {
    if (this.#to === 'torch') return x;
    return tidy(() => {
      const t = PREPROCESS.torch;
      const opts = { shape: [1, 3, 1, 1], device: x.device };
      const rgb = x.mul(tensor(t.std as unknown as number[], opts)).add(tensor(t.mean as unknown as number[], opts)).mul(255);
      return preprocess(rgb, preprocessSpec(this.#to));
    });
  }
  forwardFeatures(x: Tensor): Tensor {
    return tidy(() => this.#net.forwardFeatures(this.adapt(x)));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.#net.forward(this.adapt(x)));
  }
  classify(features: Tensor): Tensor {
    return this.#net.classify(features);
  }
  override train(mode = true): this {
    super.train(mode);
    this.#net.train(mode);
    return this;
  }
}

/** Whether the pretrained weights of a learner are available here (null: not a pretrained learner). */
export function locatePretrained(name: string, o: ZooOptions = {}): string | null | undefined {
  const zoo = PRETRAINED_LEARNERS[name];
  return zoo === undefined ? undefined : ZOO[zoo]!.locate(o);
}

/** Loads the zoo model and gives it a fresh head of numClasses (seed the engine first). */
export async function buildPretrainedLearner(name: string, numClasses: number, o: ZooOptions = {}): Promise<Learner> {
  const zoo = PRETRAINED_LEARNERS[name];
  if (zoo === undefined) throw new Error(`${name} is not a pretrained learner; pretrained learners: ${Object.keys(PRETRAINED_LEARNERS).join(', ')}`);
  const entry = ZOO[zoo]!;
  const net = (await entry.load(o)) as unknown as Net;
  net.replaceHead(numClasses);
  return new PretrainedLearner(net, entry.preprocess).train();
}
