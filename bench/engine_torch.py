#!/usr/bin/python3
"""PyTorch side of bench:engine: ResNet-18 (CIFAR stem) training steps on random data.

Usage: /usr/bin/python3 bench/engine_torch.py --batch 128 --threads 2 --warmup 2 --steps 8 [--channels-last] [--bf16]
       [--device cuda]
--bf16 runs the forward pass and the loss under torch.autocast(device type, dtype=torch.bfloat16)
(backward and the optimizer step outside, as the AMP recipe), weights stay float32. Each timed
step ends with loss.item() (as the engine side's), so on CUDA it waits for the step's kernels.
Prints one JSON line: {"img_s": ..., "step_s": [...], "torch": ..., "device": ..., "model_source": ...}.
"""
import argparse, contextlib, json, time
import torch, torch.nn as nn, torch.nn.functional as F
from torch_resnet import resnet

p = argparse.ArgumentParser()
p.add_argument('--batch', type=int, default=128)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--warmup', type=int, default=2)
p.add_argument('--steps', type=int, default=8)
p.add_argument('--size', type=int, default=32)
p.add_argument('--channels-last', action='store_true')
p.add_argument('--bf16', action='store_true')
p.add_argument('--device', default='cpu')
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
dev = torch.device(a.device)
m, source = resnet(18, num_classes=10)
m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)  # CIFAR stem, as saln's resnet18-cifar
m.maxpool = nn.Identity()
m = m.to(dev).train()
x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
y = torch.randint(0, 10, (a.batch,), device=dev)
if a.channels_last:
    m = m.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)


def precision():
    return torch.autocast(dev.type, dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()


times = []
for i in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad()
    with precision():
        loss = F.cross_entropy(m(x).float(), y)
    loss.backward()
    opt.step()
    loss.item()
    if i >= a.warmup:
        times.append(time.perf_counter() - t0)
times.sort()
med = times[len(times) // 2]
print(json.dumps({'img_s': a.batch / med, 'step_s': times, 'torch': torch.__version__, 'device': str(dev), 'model_source': source}))
