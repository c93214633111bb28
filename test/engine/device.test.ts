/**
 * The device is a parameter everywhere. Without CUDA, asking for it is a clear error (not an
 * abort); with CUDA (a CUDA libtorch via LIBTORCH), the conformance model runs there too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadNpy, loadSafetensors } from '../../src/io/index.js';
import { resnet18 } from '../../src/models/index.js';
import { EngineError, isCudaAvailable, noGrad, ones, randn, setAllowTf32, tensor, zeros } from '../../src/tensor/index.js';
import { assertClose, fixture } from '../helpers.js';

const cuda = isCudaAvailable();

test('an unknown device string is an EngineError', () => {
  assert.throws(() => zeros([2], { device: 'gpu0' }), (e: unknown) => e instanceof EngineError && /gpu0/.test(e.message));
});

test('asking for CUDA on a machine without it is an EngineError', { skip: cuda ? 'CUDA is available here' : false }, () => {
  assert.throws(() => ones([2], { device: 'cuda' }), EngineError);
  assert.throws(() => randn([2]).to({ device: 'cuda' }), EngineError);
});

test('tensors, autograd and ResNet-18 conformance on CUDA', { skip: cuda ? false : 'no CUDA device (CPU libtorch or no GPU)' }, () => {
  const a = tensor([1, 2, 3], { device: 'cuda' }).requiresGrad_();
  assert.match(a.device, /^cuda/);
  a.mul(a).sum().backward();
  assertClose(a.grad!.toArray(), [2, 4, 6]);
  setAllowTf32(false); // cuDNN's TF32 default would give ~1e-3 relative error
  const m = resnet18({ numClasses: 10 });
  m.loadStateDict(loadSafetensors(fixture('resnet18-torchvision', 'model.safetensors')).tensors);
  m.to('cuda').eval();
  const x = loadNpy(fixture('resnet18-torchvision', 'input.npy')).to({ device: 'cuda' });
  const logits = noGrad(() => m.forward(x));
  assertClose(logits.toArray(), loadNpy(fixture('resnet18-torchvision', 'eval_logits.npy')).toArray(), { rtol: 1e-4, atol: 1e-4 });
});
