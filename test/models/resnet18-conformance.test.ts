/**
 * Conformance with torchvision's resnet18 (../shared/fixtures/resnet18-torchvision, made by PyTorch
 * 1.13): eval logits, the train-mode loss, conv1's gradient norm and fc.bias after one SGD step.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadNpy, loadSafetensors } from '../../src/io/index.js';
import { resnet18 } from '../../src/models/index.js';
import { F } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { noGrad, tensor } from '../../src/tensor/index.js';
import { assertClose, fixture } from '../helpers.js';

const ref = JSON.parse(readFileSync(fixture('resnet18-torchvision', 'train_step.json'), 'utf8'));

function loaded() {
  const m = resnet18({ numClasses: 10 });
  m.loadStateDict(loadSafetensors(fixture('resnet18-torchvision', 'model.safetensors')).tensors);
  return m;
}

test('ResNet-18 state-dict keys equal torchvision\'s', () => {
  const keys = [...loaded().stateDict().keys()];
  const fileKeys = [...loadSafetensors(fixture('resnet18-torchvision', 'model.safetensors')).tensors.keys()];
  assert.deepEqual([...keys].sort(), [...fileKeys].sort());
  assert.ok(keys.includes('layer2.0.downsample.0.weight') && keys.includes('layer1.0.bn1.running_mean'));
});

test('eval-mode logits match torchvision within 1e-4 relative', () => {
  const m = loaded().eval();
  const x = loadNpy(fixture('resnet18-torchvision', 'input.npy'));
  const logits = noGrad(() => m.forward(x));
  const expected = loadNpy(fixture('resnet18-torchvision', 'eval_logits.npy'));
  assertClose(logits.toArray(), expected.toArray(), { rtol: 1e-4, atol: 1e-4, what: 'logits' });
});

test('one SGD step in train mode matches PyTorch: loss, per-sample loss, grad norm, BN stats, fc.bias', () => {
  const m = loaded().train();
  const x = loadNpy(fixture('resnet18-torchvision', 'input.npy'));
  const y = tensor(ref.labels, { dtype: 'int64' });
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 0 });
  const logits = m.forward(x);
  const per = F.crossEntropy(logits, y, { reduction: 'none' });
  const loss = per.mean();
  assertClose([loss.item()], [ref.loss_before_step], { rtol: 1e-5, what: 'loss' });
  assertClose(per.toArray(), ref.per_sample_loss_before_step, { rtol: 1e-5, what: 'per-sample loss' });
  assertClose(logits.toArray(), ref.extra.train_mode_logits_before_step.flat(), { rtol: 1e-4, atol: 1e-4, what: 'train logits' });
  assertClose(m.bn1.runningMean!.narrow(0, 0, 8).toArray(), ref.extra.bn1_running_mean_after_train_forward_first8, { rtol: 1e-4, atol: 1e-6 });
  assertClose(m.bn1.runningVar!.narrow(0, 0, 8).toArray(), ref.extra.bn1_running_var_after_train_forward_first8, { rtol: 1e-4, atol: 1e-6 });
  loss.backward();
  assertClose([m.conv1.weight.grad!.norm().item()], [ref.conv1_weight_grad_l2], { rtol: 1e-5, what: 'conv1 grad L2' });
  assertClose(m.fc.bias!.grad!.toArray(), ref.extra.fc_bias_grad, { rtol: 1e-4, atol: 1e-6, what: 'fc.bias grad' });
  opt.step();
  assertClose(m.fc.bias!.toArray(), ref.fc_bias_after_step, { rtol: 1e-4, atol: 1e-7, what: 'fc.bias after step' });
  const after = noGrad(() => F.crossEntropy(m.forward(x), y)).item();
  assertClose([after], [ref.extra.loss_after_step_train_mode], { rtol: 1e-4, what: 'loss after step' });
});
