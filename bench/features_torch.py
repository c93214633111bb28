#!/usr/bin/python3
"""PyTorch side of bench:features: torchvision ResNet-50 pooled-feature extraction (eval, no_grad).

Usage: /usr/bin/python3 bench/features_torch.py --size 224 --batch 16 --threads 2 --warmup 1 --steps 4 [--bf16] [--channels-last]
       [--device cuda]
--bf16 runs the model under torch.autocast(device type, dtype=torch.bfloat16), features upcast to float32.
Each batch ends with the features copied to host memory, which on CUDA waits for the kernels.
Prints one JSON line: {"img_s": ..., "step_s": [...] (sorted, timed batches), "trace": [...]
(every batch in order: seconds, minor page faults, RSS), "torch": "..."}.
"""
import argparse, contextlib, json, resource, time
import torch, torch.nn as nn
from torch_resnet import resnet

p = argparse.ArgumentParser()
p.add_argument('--size', type=int, default=224)
p.add_argument('--batch', type=int, default=16)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--warmup', type=int, default=1)
p.add_argument('--steps', type=int, default=4)
p.add_argument('--bf16', action='store_true')
p.add_argument('--channels-last', action='store_true')
p.add_argument('--device', default='cpu')
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
dev = torch.device(a.device)
m, source = resnet(50)
m.fc = nn.Identity()  # pooled 2048-d features, as saln's forwardFeatures
m = m.to(dev).eval()
x = torch.rand(a.batch, 3, a.size, a.size, device=dev) * 255
mean = torch.tensor([103.939, 116.779, 123.68], device=dev).view(1, 3, 1, 1)
if a.channels_last:
    m = m.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)


def precision():
    return torch.autocast(dev.type, dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()


def rss_mb():
    return int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize() / 2**20


times = []
trace = []  # every batch, warm-ups included, in order: seconds, minor page faults, RSS (MB)
with torch.no_grad():
    for i in range(a.warmup + a.steps):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        with precision():
            f = m(x.flip(1) - mean)  # the same "caffe" preprocessing as the engine side
        f.float().cpu().numpy().copy()
        dt = time.perf_counter() - t0
        trace.append({'s': round(dt, 4), 'faults': resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0, 'rss_mb': round(rss_mb())})
        if i >= a.warmup:
            times.append(dt)
times.sort()
med = times[len(times) // 2]
print(json.dumps({'img_s': a.batch / med, 'step_s': times, 'trace': trace, 'torch': torch.__version__, 'device': str(dev), 'model_source': source}))
