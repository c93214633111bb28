/**
 * Augmentations: one property per op (flip twice is the identity, rotation by 0 is the identity,
 * hue shifts keep value and saturation, normalization of a constant image…) and agreement with
 * torchvision's tensor functions (fixtures/torchvision_transforms.json, written by
 * torchvision_reference.py).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  adjustBrightness, adjustContrast, adjustHue, adjustSaturation, centerCrop, colorJitter, EvalTransform, hflip, hsvToRgb, IMAGENET_MEAN,
  IMAGENET_STD, normalize, resize, resizeShorter, rgbToGrayscale, rgbToHsv, rotate, Rng, sampleJitterParams, toFloatImages, TrainTransform, transformRows,
} from '../../src/data/index.js';
import { full, manualSeed, rand, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, repoRoot } from '../helpers.js';

const arr = (t: Tensor): number[] => Array.from(t.toTypedArray() as Float32Array);

function images(b = 4, h = 10, w = 12, seed = 1): Tensor {
  manualSeed(seed);
  return rand([b, 3, h, w]);
}

describe('hflip', () => {
  it('twice is the identity, and mirrors columns', () => tidy(() => {
    const x = images();
    assert.deepEqual(arr(hflip(hflip(x))), arr(x));
    assert.deepEqual(arr(hflip(x).select(3, 0)), arr(x.select(3, 11)));
  }));
  it('flips only the flagged images', () => tidy(() => {
    const x = images();
    const y = hflip(x, [1, 0, 0, 1]);
    assert.deepEqual(arr(y.select(0, 1)), arr(x.select(0, 1)));
    assert.deepEqual(arr(y.select(0, 0)), arr(x.select(0, 0).flip(2)));
    assert.deepEqual(arr(hflip(y, [1, 0, 0, 1])), arr(x));
  }));
});

describe('rotate', () => {
  it('by 0 degrees is the identity (nearest and bilinear)', () => tidy(() => {
    const x = images();
    assert.deepEqual(arr(rotate(x, 0)), arr(x));
    assertClose(arr(rotate(x, [0, 0, 0, 0], { interpolation: 'bilinear' })), arr(x), { atol: 1e-6 });
  }));
  it('by 90 degrees turns a square image counter-clockwise (= transpose + flip rows)', () => tidy(() => {
    const x = images(2, 8, 8);
    assert.deepEqual(arr(rotate(x, 90)), arr(x.transpose(2, 3).flip(2)));
    assert.deepEqual(arr(rotate(rotate(x, 90), -90)), arr(x));
  }));
  it('flipFirst mirrors before rotating, in the same resampling', () => tidy(() => {
    const x = images(3, 10, 14);
    const flags = [1, 0, 1];
    assert.deepEqual(arr(rotate(x, 0, { flipFirst: flags })), arr(hflip(x, flags)));
    const angles = [12, -7, 90];
    assertClose(arr(rotate(x, angles, { flipFirst: flags, interpolation: 'bilinear' })), arr(rotate(hflip(x, flags), angles, { interpolation: 'bilinear' })), { atol: 1e-5 });
  }));
  it('by 360 degrees is the identity', () => tidy(() => {
    const x = images(2, 8, 8);
    assertClose(arr(rotate(x, 360, { interpolation: 'bilinear' })), arr(x), { atol: 1e-4 });
  }));
  it('fills the corners that come from outside', () => tidy(() => {
    const x = full([1, 3, 9, 9], 0.3);
    const y = rotate(x, 45, { fill: 1 });
    assert.equal(y.select(2, 0).select(2, 0).toArray()[0], 1);
    assertClose(y.select(2, 4).select(2, 4).toArray(), [0.3, 0.3, 0.3], { atol: 1e-6 });
    assert.equal(rotate(x, 45).select(2, 0).select(2, 0).toArray()[0], 0);
  }));
});

describe('color adjustments', () => {
  it('brightness: factor 1 is the identity; factor f scales and clamps', () => tidy(() => {
    const x = images();
    assert.deepEqual(arr(adjustBrightness(x, 1)), arr(x));
    assertClose(arr(adjustBrightness(x, 1.5)), arr(x).map((v) => Math.min(1, v * 1.5)), { atol: 1e-6 });
  }));
  it('contrast: factor 0 gives the grayscale mean everywhere; a small change keeps that mean', () => tidy(() => {
    const x = images(2);
    const mean = arr(rgbToGrayscale(x).mean([1, 2, 3]));
    const flat = arr(adjustContrast(x, [0, 0]).select(0, 0));
    assertClose(flat, new Array(flat.length).fill(mean[0]), { atol: 1e-6 });
    const xs = x.mul(0.5).add(0.25); // away from the clamp
    assertClose(arr(rgbToGrayscale(adjustContrast(xs, 0.8)).mean([1, 2, 3])), arr(rgbToGrayscale(xs).mean([1, 2, 3])), { atol: 1e-5 });
  }));
  it('saturation: factor 0 gives equal channels (the luma), factor 1 the identity', () => tidy(() => {
    const x = images();
    const g = adjustSaturation(x, 0);
    assertClose(arr(g.select(1, 0)), arr(g.select(1, 2)), { atol: 1e-6 });
    assertClose(arr(g.select(1, 1)), arr(rgbToGrayscale(x).squeeze(1)), { atol: 1e-6 });
    assertClose(arr(adjustSaturation(x, 1)), arr(x), { atol: 1e-6 });
  }));
  it('HSV round trip is the identity, and red/green/blue/white land where they should', () => tidy(() => {
    const x = images();
    assertClose(arr(hsvToRgb(rgbToHsv(x))), arr(x), { atol: 1e-5 });
    // red, green, blue, white as 1x1 images
    const px = tensor(Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]), { shape: [4, 3, 1, 1] });
    assertClose(arr(rgbToHsv(px)), [0, 1, 1, 1 / 3, 1, 1, 2 / 3, 1, 1, 0, 0, 1], { atol: 1e-6 });
  }));
  it('hue: shift 0 is the identity, +h then −h comes back, a third of a turn sends red to green', () => tidy(() => {
    const x = images();
    assertClose(arr(adjustHue(x, 0)), arr(x), { atol: 1e-5 });
    assertClose(arr(adjustHue(adjustHue(x, [0.1, -0.2, 0.3, 0.5]), [-0.1, 0.2, -0.3, -0.5])), arr(x), { atol: 1e-5 });
    assertClose(arr(adjustHue(tensor(Float32Array.from([1, 0, 0]), { shape: [1, 3, 1, 1] }), 1 / 3)), [0, 1, 0], { atol: 1e-5 });
  }));
  it('hue: keeps each pixel\'s value (max channel) and min channel, so its saturation; leaves gray alone', () => tidy(() => {
    const x = images();
    const y = adjustHue(x, [0.1, -0.1, 0.25, -0.4]);
    assertClose(arr(y.amax(1)), arr(x.amax(1)), { atol: 1e-5 });
    assertClose(arr(y.amin(1)), arr(x.amin(1)), { atol: 1e-5 });
    const gray = rgbToGrayscale(x).expand(4, 3, 10, 12).contiguous();
    const shifted = adjustHue(gray, 0.3);
    // A gray image keeps its luminance exactly (up to float error).
    assertClose(arr(rgbToGrayscale(shifted)), arr(rgbToGrayscale(gray)), { atol: 1e-5 });
  }));
});

describe('colorJitter', () => {
  it('with neutral factors is the identity, whatever the order', () => tidy(() => {
    const x = images();
    const rng = new Rng(3);
    const p = sampleJitterParams(rng, 4, { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.1 });
    p.brightness!.fill(1);
    p.contrast!.fill(1);
    p.saturation!.fill(1);
    p.hue!.fill(0);
    assertClose(arr(colorJitter(x, p)), arr(x), { atol: 1e-5 });
  }));
  it('applies each image\'s ops in its own order, as the ops applied one by one', () => tidy(() => {
    const x = images();
    const p = sampleJitterParams(new Rng(5), 4, { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.2 });
    const y = colorJitter(x, p);
    const ops = [adjustBrightness, adjustContrast, adjustSaturation, adjustHue];
    const f = [p.brightness!, p.contrast!, p.saturation!, p.hue!];
    for (let i = 0; i < 4; i++) {
      let xi = x.narrow(0, i, 1);
      for (let k = 0; k < 4; k++) {
        const op = p.order[4 * i + k]!;
        xi = ops[op]!(xi, f[op]![i]!);
      }
      assertClose(arr(y.narrow(0, i, 1)), arr(xi), { atol: 1e-6, what: `image ${i}` });
    }
    const orders = new Set(Array.from({ length: 4 }, (_, i) => p.order.slice(4 * i, 4 * i + 4).join('')));
    assert.ok(orders.size > 1, 'the images should not all share one order');
  }));
  it('draws factors in torchvision\'s ranges', () => {
    const p = sampleJitterParams(new Rng(9), 2000, { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.1 });
    for (const a of [p.brightness!, p.contrast!, p.saturation!]) {
      assert.ok(Math.min(...a) >= 0.8 && Math.max(...a) <= 1.2);
      assert.ok(Math.min(...a) < 0.81 && Math.max(...a) > 1.19);
    }
    assert.ok(Math.min(...p.hue!) >= -0.1 && Math.max(...p.hue!) <= 0.1);
    for (let i = 0; i < 2000; i++) assert.deepEqual([...p.order.slice(4 * i, 4 * i + 4)].sort(), [0, 1, 2, 3]);
  });
});

describe('agreement with torchvision (tensor path)', () => {
  const ref = JSON.parse(readFileSync(join(repoRoot, 'test', 'data', 'fixtures', 'torchvision_transforms.json'), 'utf8')) as {
    shape: number[]; x: number[]; cases: { name: string; factors: number[]; y: number[] }[];
  };
  const fns: Record<string, (x: Tensor, f: number[]) => Tensor> = {
    brightness: adjustBrightness, contrast: adjustContrast, saturation: adjustSaturation, hue: adjustHue,
    rotate_nearest: (x, f) => rotate(x, f),
    rotate_bilinear: (x, f) => rotate(x, f, { interpolation: 'bilinear' }),
    rotate_fill: (x, f) => rotate(x, f, { fill: 0.5 }),
  };
  for (const c of ref.cases) {
    it(`${c.name} ${JSON.stringify(c.factors)}`, () => tidy(() => {
      const x = tensor(Float32Array.from(ref.x), { shape: ref.shape });
      const tol = c.name.startsWith('rotate') ? 1e-5 : 2e-6;
      assertClose(arr(fns[c.name]!(x, c.factors)), c.y, { atol: tol, what: c.name });
    }));
  }
});

describe('resize, crop, normalize', () => {
  it('normalization of a constant image gives (c − mean) / std per channel', () => tidy(() => {
    const y = normalize(full([2, 3, 5, 5], 0.5));
    for (let c = 0; c < 3; c++) {
      const ch = y.select(1, c);
      assertClose([ch.mean().item()], [(0.5 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!], { atol: 1e-6 });
      assertClose([ch.std().item()], [0], { atol: 1e-6 });
    }
  }));
  it('an image with ImageNet\'s mean and std per channel normalizes to mean 0, std 1', () => tidy(() => {
    manualSeed(4);
    const z = rand([1, 3, 64, 64]);
    const zs = z.sub(z.mean([2, 3], true)).div(z.std([2, 3], { keepdim: true, correction: 0 }));
    const img = zs.mul(tensor([...IMAGENET_STD], { shape: [1, 3, 1, 1] })).add(tensor([...IMAGENET_MEAN], { shape: [1, 3, 1, 1] }));
    const y = normalize(img);
    assertClose(arr(y.mean([0, 2, 3])), [0, 0, 0], { atol: 1e-5 });
    assertClose(arr(y.std([0, 2, 3], { correction: 0 })), [1, 1, 1], { atol: 1e-4 });
  }));
  it('center crop takes torchvision\'s offsets (Python rounding) and resize keeps a constant image', () => tidy(() => {
    const x = images(1, 37, 37);
    // (37 − 32) / 2 = 2.5 rounds to 2, as Python's round().
    assert.deepEqual(arr(centerCrop(x, 32)), arr(x.narrow(2, 2, 32).narrow(3, 2, 32)));
    assert.throws(() => centerCrop(x, 40), /larger than the image/);
    assertClose(arr(resize(full([1, 3, 40, 40], 0.7), 17)), new Array(3 * 17 * 17).fill(0.7), { atol: 1e-6 });
    assert.deepEqual(arr(resize(x, [37, 37])), arr(x));
    assert.deepEqual(resizeShorter(images(1, 20, 30), 10).shape, [1, 3, 10, 15]);
  }));
});

describe('TrainTransform / EvalTransform', () => {
  const u8 = (): Tensor => tidy(() => images(4, 40, 40).mul(255).round().to('uint8').permute(0, 2, 3, 1).contiguous());
  it('train: float32 [B, 3, size, size], the same for the same Rng seed, different for another', () => tidy(() => {
    const t = new TrainTransform({ inputSize: 32 });
    const raw = u8();
    const a = t.apply(raw, new Rng(1));
    const b = t.apply(raw, new Rng(1));
    const c = t.apply(raw, new Rng(2));
    assert.deepEqual(a.shape, [4, 3, 32, 32]);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(arr(a), arr(b));
    assert.notDeepEqual(arr(a), arr(c));
  }));
  it('chunking the batch (to stay in cache) does not change the result', () => tidy(() => {
    const raw = u8();
    const p = new TrainTransform({ inputSize: 32 }).sample(new Rng(4), 4);
    const whole = new TrainTransform({ inputSize: 32, chunkBytes: 1 << 30 }).applyWith(raw, p);
    const ones = new TrainTransform({ inputSize: 32, chunkBytes: 1 }).applyWith(raw, p);
    const threes = new TrainTransform({ inputSize: 32, chunkBytes: 3 * 3 * 40 * 40 * 4 }).applyWith(raw, p);
    assertClose(arr(ones), arr(whole), { atol: 1e-6 });
    assertClose(arr(threes), arr(whole), { atol: 1e-6 });
    const e = new EvalTransform({ inputSize: 30, cropFraction: 0.9 });
    assert.deepEqual(arr(new EvalTransform({ inputSize: 30, cropFraction: 0.9, chunkBytes: 1 }).apply(raw)), arr(e.apply(raw)));
  }));
  it('applyRows gives the rows of the full batch\'s result, in the order asked, without the others', () => tidy(() => {
    manualSeed(9);
    const raw = tidy(() => images(8, 40, 40, 9).mul(255).round().to('uint8').permute(0, 2, 3, 1).contiguous());
    const t = new TrainTransform({ inputSize: 32 });
    const full8 = t.apply(raw, new Rng(7));
    const rows = [6, 1, 3];
    const some = t.applyRows(raw, new Rng(7), rows);
    assert.deepEqual(some.shape, [3, 3, 32, 32]);
    const per = 3 * 32 * 32;
    const all = arr(full8);
    assertClose(arr(some), rows.flatMap((r) => all.slice(r * per, (r + 1) * per)), { atol: 1e-6 });
    // The generic path (any BatchTransform) agrees, and rows outside the batch are refused.
    const e = new EvalTransform({ inputSize: 24 });
    assert.deepEqual(arr(transformRows(e, raw, new Rng(0), [2, 0])), arr(e.apply(raw).indexSelect(0, tensor([2, 0], { dtype: 'int64' }))));
    assert.throws(() => t.applyRows(raw, new Rng(7), [8]), /row 8 is not in a batch of 8/);
  }));
  it('train with every augmentation off is resize + normalize', () => tidy(() => {
    const raw = u8();
    const t = new TrainTransform({ inputSize: 40, flipP: 0, rotation: 0, jitter: null });
    assertClose(arr(t.apply(raw, new Rng(0))), arr(normalize(toFloatImages(raw))), { atol: 1e-6 });
  }));
  it('eval: resize then centre crop (cropFraction 0.875: 256 → 224 crop, as torchvision)', () => tidy(() => {
    const raw = u8();
    const e = new EvalTransform({ inputSize: 35, cropFraction: 0.875 });
    const y = e.apply(raw);
    assert.deepEqual(y.shape, [4, 3, 35, 35]);
    const expect = normalize(centerCrop(resize(toFloatImages(raw), 40), 35));
    assertClose(arr(y), arr(expect), { atol: 1e-6 });
    assert.deepEqual(arr(new EvalTransform({ inputSize: 40 }).apply(raw)), arr(normalize(toFloatImages(raw))));
  }));
});
