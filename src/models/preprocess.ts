/**
 * Input normalization of the pretrained models, as data: from RGB pixels in [0, 255], NCHW
 * float32, to what each model was trained on. A spec is plain JSON, so the feature cache can hash it.
 *
 * - 'caffe' (Keras ResNet50): RGB→BGR, subtract the B,G,R means [103.939, 116.779, 123.68], no scaling.
 * - 'tf' (Keras MobileNet): x / 127.5 − 1, RGB.
 * - 'torch' (torchvision/timm ImageNet weights): x / 255, then (x − [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225].
 */
import { EngineError } from '../binding/errors.js';
import { tensor } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export interface PreprocessSpec {
  name: string;
  /** Channel order the model expects. */
  channels: 'rgb' | 'bgr';
  /** Applied first: x / divide. */
  divide: number;
  /** Then per channel (in the model's channel order): (x − mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
}

export const PREPROCESS = {
  caffe: { name: 'caffe', channels: 'bgr', divide: 1, mean: [103.939, 116.779, 123.68], std: [1, 1, 1] },
  tf: { name: 'tf', channels: 'rgb', divide: 127.5, mean: [1, 1, 1], std: [1, 1, 1] },
  torch: { name: 'torch', channels: 'rgb', divide: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
} as const satisfies Record<string, PreprocessSpec>;

export type PreprocessName = keyof typeof PREPROCESS;

export function preprocessSpec(p: PreprocessName | PreprocessSpec): PreprocessSpec {
  if (typeof p === 'object') return p;
  const s = PREPROCESS[p] as PreprocessSpec | undefined;
  if (!s) throw new EngineError(`Expected one of ${Object.keys(PREPROCESS).join(', ')} for preprocessing but received ${JSON.stringify(p)}`);
  return s;
}

/** Applies a spec to RGB pixels in [0, 255], [N, 3, H, W] (any float dtype; uint8 is converted). */
export function preprocess(x: Tensor, p: PreprocessName | PreprocessSpec): Tensor {
  const s = preprocessSpec(p);
  if (x.ndim !== 4 || x.shape[1] !== 3) throw new EngineError(`preprocess: expected RGB images [N, 3, H, W], got shape [${x.shape.join(', ')}]`);
  return tidy(() => {
    let y = x.dtype === 'float32' || x.dtype === 'float64' ? x : x.to('float32');
    if (s.channels === 'bgr') y = y.flip(1);
    if (s.divide !== 1) y = y.div(s.divide);
    // On x's device: a [1,3,1,1] CPU tensor is not a scalar, and CUDA ops refuse it.
    const opts = { dtype: y.dtype === 'float64' ? 'float64' as const : 'float32' as const, shape: [1, 3, 1, 1], device: y.device };
    if (s.mean.some((m) => m !== 0)) y = y.sub(tensor(s.mean as unknown as number[], opts));
    if (s.std.some((v) => v !== 1)) y = y.div(tensor(s.std as unknown as number[], opts));
    return y === x ? x.clone() : y;
  });
}
