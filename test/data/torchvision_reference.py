"""Writes fixtures/torchvision_transforms.json: torchvision's tensor transforms on a small batch,
the reference that test/data/transforms.test.ts compares saln's batched ops against.

    /usr/bin/python3 test/data/torchvision_reference.py   (torch + torchvision; written with 1.13 / 0.14)
"""
import json
import os

import torch
import torchvision
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

torch.manual_seed(0)
B, H, W = 3, 6, 8
x = torch.rand(B, 3, H, W)
x[2] = x[2].mean(0, keepdim=True)  # a gray image: hue must leave it alone
x[1, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])  # pure red somewhere

out = {"torch": torch.__version__, "torchvision": torchvision.__version__, "shape": [B, 3, H, W], "x": x.flatten().tolist(), "cases": []}


def case(name, fn, factors):
    y = torch.stack([fn(x[i], f) for i, f in enumerate(factors)])
    out["cases"].append({"name": name, "factors": factors, "y": y.flatten().tolist()})


case("brightness", TF.adjust_brightness, [0.8, 1.2, 1.0])
case("contrast", TF.adjust_contrast, [0.8, 1.2, 0.0])
case("saturation", TF.adjust_saturation, [0.8, 1.2, 0.0])
case("hue", TF.adjust_hue, [0.1, -0.1, 0.05])
case("rotate_nearest", lambda img, a: TF.rotate(img, a, interpolation=InterpolationMode.NEAREST), [10.0, -15.0, 90.0])
case("rotate_bilinear", lambda img, a: TF.rotate(img, a, interpolation=InterpolationMode.BILINEAR), [10.0, -15.0, 3.0])
case("rotate_fill", lambda img, a: TF.rotate(img, a, interpolation=InterpolationMode.NEAREST, fill=0.5), [30.0, -30.0, 0.0])

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torchvision_transforms.json")
with open(path, "w") as f:
    json.dump(out, f)
print(path)
