/**
 * The TF.js layers-model reader on small models written here, in both model.json layouts: the
 * current one (format 'layers-model', one group split over two shards, with float16 and uint8
 * quantized weights) and the older one (no format field, one extension-less file per layer).
 * Then the Keras→module conversion checks (strides, bias, epsilon) and the layer-name maps.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { disposeTfjs, kerasMobileNetModulePath, kerasResNet50ModulePath, kerasStateDict, readTfjsLayersModel, TfSameConv2d } from '../../src/models/index.js';
import { BatchNorm2d, Linear, Module } from '../../src/nn/index.js';
import type { Tensor } from '../../src/tensor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-tfjs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** float32 → IEEE half bits (exact for the small dyadic values used here). */
function half(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = (u >>> 13) & 0x3ff;
  if (v === 0) return sign;
  return sign | (exp << 10) | mant;
}

const layers = [
  { class_name: 'InputLayer', name: 'input_1', config: { batch_input_shape: [null, 8, 8, 2] }, inbound_nodes: [] },
  { class_name: 'Conv2D', name: 'conv', config: { filters: 3, kernel_size: [3, 3], strides: [2, 2], padding: 'same', use_bias: true }, inbound_nodes: [[['input_1', 0, 0, {}]]] },
  { class_name: 'BatchNormalization', name: 'conv_bn', config: { epsilon: 0.001, center: true, scale: true }, inbound_nodes: [[['conv', 0, 0, {}]]] },
  { class_name: 'GlobalAveragePooling2D', name: 'gap', config: {}, inbound_nodes: [[['conv_bn', 0, 0, {}]]] },
  { class_name: 'Dense', name: 'dense', config: { units: 2, use_bias: true }, inbound_nodes: [[['gap', 0, 0, {}]]] },
];
const topology = { keras_version: '2.2.4', backend: 'tensorflow', model_config: { class_name: 'Model', config: { name: 'tiny', layers } } };

const kernel = Float32Array.from({ length: 3 * 3 * 2 * 3 }, (_, i) => (i - 27) / 8); // HWIO [3,3,2,3]
const bias = Float32Array.from([0.5, -0.25, 1]);
const gamma = Float32Array.from([1, 2, 0.5]);
const beta = Float32Array.from([0, 0.125, -1]);
const mean = Float32Array.from([0.25, 0.5, 0.75]);
const variance = Float32Array.from([1, 4, 0.25]);
const denseK = Float32Array.from([1, 2, 3, 4, 5, 6]); // [in 3, out 2]
const denseB = Float32Array.from([0.5, -0.5]);

const specs = [
  { name: 'conv/kernel', shape: [3, 3, 2, 3], arr: kernel },
  { name: 'conv/bias', shape: [3], arr: bias },
  { name: 'conv_bn/gamma', shape: [3], arr: gamma },
  { name: 'conv_bn/beta', shape: [3], arr: beta },
  { name: 'conv_bn/moving_mean', shape: [3], arr: mean },
  { name: 'conv_bn/moving_variance', shape: [3], arr: variance },
  { name: 'dense/kernel', shape: [3, 2], arr: denseK },
  { name: 'dense/bias', shape: [2], arr: denseB },
];

function f32(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function writeCurrent(root: string): void {
  mkdirSync(root, { recursive: true });
  // conv/bias as float16; dense/kernel uint8-quantized (v = q * 1 + 1); the rest float32.
  const parts: Buffer[] = [];
  const weights: unknown[] = [];
  for (const s of specs) {
    if (s.name === 'conv/bias') {
      parts.push(Buffer.from(new Uint16Array([...s.arr].map(half)).buffer));
      weights.push({ name: s.name, shape: s.shape, dtype: 'float32', quantization: { dtype: 'float16' } });
    } else if (s.name === 'dense/kernel') {
      parts.push(Buffer.from(Uint8Array.from([...s.arr].map((v) => v - 1))));
      weights.push({ name: s.name, shape: s.shape, dtype: 'float32', quantization: { dtype: 'uint8', scale: 1, min: 1 } });
    } else {
      parts.push(f32(s.arr));
      weights.push({ name: s.name, shape: s.shape, dtype: 'float32' });
    }
  }
  const all = Buffer.concat(parts);
  const cut = 37; // shards split mid-tensor, as the converter does
  writeFileSync(join(root, 'group1-shard1of2.bin'), all.subarray(0, cut));
  writeFileSync(join(root, 'group1-shard2of2.bin'), all.subarray(cut));
  writeFileSync(join(root, 'model.json'), JSON.stringify({
    format: 'layers-model', generatedBy: 'keras v2.2.4-tf', convertedBy: 'TensorFlow.js Converter v1.2.6',
    modelTopology: topology, weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights }],
  }));
}

function writeOld(root: string): void {
  mkdirSync(root, { recursive: true });
  const groups: unknown[] = [];
  const byLayer = new Map<string, typeof specs>();
  for (const s of specs) byLayer.set(s.name.split('/')[0]!, [...(byLayer.get(s.name.split('/')[0]!) ?? []), s]);
  let g = 1;
  for (const [, ws] of byLayer) {
    const file = `group${g++}-shard1of1`;
    writeFileSync(join(root, file), Buffer.concat(ws.map((w) => f32(w.arr))));
    groups.push({ paths: [file], weights: ws.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) });
  }
  writeFileSync(join(root, 'model.json'), JSON.stringify({ modelTopology: topology, weightsManifest: groups }));
}

class Tiny extends Module {
  readonly conv: TfSameConv2d;
  readonly conv_bn: BatchNorm2d;
  readonly fc: Linear;
  constructor(o: { stride?: number; eps?: number; bias?: boolean } = {}) {
    super();
    this.conv = this.registerModule('conv', new TfSameConv2d(2, 3, 3, { stride: o.stride ?? 2, bias: o.bias ?? true }));
    this.conv_bn = this.registerModule('conv_bn', new BatchNorm2d(3, { eps: o.eps ?? 1e-3 }));
    this.fc = this.registerModule('fc', new Linear(3, 2));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.conv_bn.forward(this.conv.forward(x)).mean([2, 3]));
  }
}
const mapTiny = (l: { name: string }): string | null => ({ conv: 'conv', conv_bn: 'conv_bn', dense: 'fc' })[l.name] ?? null;

describe('readTfjsLayersModel', () => {
  writeCurrent(join(dir, 'current'));
  writeOld(join(dir, 'old'));

  for (const kind of ['current', 'old'] as const) {
    it(`reads the ${kind} format: layers, and weights decoded across shards${kind === 'current' ? ', float16 and uint8 quantization' : ''}`, () => {
      const m = readTfjsLayersModel(join(dir, kind));
      assert.equal(m.format, kind === 'current' ? 'layers-model' : 'keras-json');
      assert.equal(m.kerasVersion, '2.2.4');
      assert.deepEqual(m.layers.map((l) => l.name), ['input_1', 'conv', 'conv_bn', 'gap', 'dense']);
      assert.deepEqual([...m.weights.keys()], specs.map((s) => s.name));
      for (const s of specs) {
        const t = m.weights.get(s.name)!;
        assert.deepEqual(t.shape, s.shape, s.name);
        assert.equal(t.dtype, 'float32');
        assert.deepEqual(t.toArray(), [...s.arr], s.name);
      }
      disposeTfjs(m);
    });
  }

  it('reads model.json given as a file; errors name the missing or short weight file', () => {
    const m = readTfjsLayersModel(join(dir, 'old', 'model.json'));
    disposeTfjs(m);
    const bad = join(dir, 'bad');
    writeCurrent(bad);
    rmSync(join(bad, 'group1-shard2of2.bin'));
    assert.throws(() => readTfjsLayersModel(bad), /weight file group1-shard2of2\.bin of the manifest/);
    writeFileSync(join(bad, 'group1-shard2of2.bin'), Buffer.alloc(3));
    assert.throws(() => readTfjsLayersModel(bad), /weight conv\/kernel needs bytes \[\d+, \d+\) but its group's files/);
    assert.throws(() => readTfjsLayersModel(join(dir, 'nowhere')), /cannot read TF\.js model/);
  });
});

describe('kerasStateDict', () => {
  it('converts HWIO and Dense kernels and BatchNorm names into the module layout', () => {
    const m = readTfjsLayersModel(join(dir, 'current'));
    const tiny = new Tiny();
    const sd = kerasStateDict(m, tiny, mapTiny);
    assert.deepEqual([...sd.keys()].sort(), ['conv.bias', 'conv.weight', 'conv_bn.bias', 'conv_bn.running_mean', 'conv_bn.running_var', 'conv_bn.weight', 'fc.bias', 'fc.weight']);
    const w = sd.get('conv.weight')!;
    assert.deepEqual(w.shape, [3, 2, 3, 3]);
    // OIHW [o, i, h, w] = HWIO [h, w, i, o]
    assert.equal(w.select(0, 2).select(0, 1).select(0, 0).select(0, 1).item(), kernel[((0 * 3 + 1) * 2 + 1) * 3 + 2]);
    assert.deepEqual(sd.get('fc.weight')!.toArray(), [1, 3, 5, 2, 4, 6]);
    assert.deepEqual(sd.get('conv_bn.running_var')!.toArray(), [...variance]);
    tiny.loadStateDict(sd, { strict: false });
    disposeTfjs(m);
  });

  it('refuses a module whose strides, bias or BatchNorm epsilon differ from the Keras config', () => {
    const m = readTfjsLayersModel(join(dir, 'old'));
    assert.throws(() => kerasStateDict(m, new Tiny({ stride: 1 }), mapTiny), /Keras layer conv \(Conv2D\) -> conv: strides \[2, 2\] but the module has \[1, 1\]/);
    assert.throws(() => kerasStateDict(m, new Tiny({ bias: false }), mapTiny), /use_bias is true but the module has no bias/);
    assert.throws(() => kerasStateDict(m, new Tiny({ eps: 1e-5 }), mapTiny), /epsilon 0\.001 but the module has 0\.00001|epsilon 0\.001 but the module has 1e-5/);
    assert.throws(() => kerasStateDict(m, new Tiny(), () => 'nope'), /the model has no such module/);
    disposeTfjs(m);
  });

  it('maps Keras ResNet50 and MobileNet layer names to module paths', () => {
    const r: Array<[string, string | null]> = [
      ['conv1', 'conv1'], ['bn_conv1', 'bn1'], ['fc1000', 'fc'], ['res2a_branch2a', 'layer1.0.conv1'], ['bn2a_branch2c', 'layer1.0.bn3'],
      ['res3d_branch2b', 'layer2.3.conv2'], ['res4a_branch1', 'layer3.0.downsample.0'], ['bn5a_branch1', 'layer4.0.downsample.1'], ['activation_3', null],
    ];
    for (const [k, v] of r) assert.equal(kerasResNet50ModulePath(k), v, k);
    const mb: Array<[string, string | null]> = [
      ['conv1', 'conv1'], ['conv1_bn', 'bn1'], ['conv_dw_1', 'blocks.0.conv_dw'], ['conv_dw_13_bn', 'blocks.12.bn_dw'], ['conv_pw_7', 'blocks.6.conv_pw'], ['conv_preds', 'fc'], ['reshape_1', null],
    ];
    for (const [k, v] of mb) assert.equal(kerasMobileNetModulePath(k), v, k);
  });
});
