/**
 * `saln models` and `saln features` through main(): listing, pulling a local model, extracting
 * features of an .npy dataset into the cache (then reused), info, and usage errors (exit code 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, type CliRun } from '../cli-run.js';
import { FeatureCache } from '../../src/features/index.js';
import { encodeNpy } from '../../src/io/index.js';
import { loadKerasMobileNetV1, preprocess } from '../../src/models/index.js';
import { F } from '../../src/nn/index.js';
import { fromBytes, noGrad, tidy } from '../../src/tensor/index.js';
import { assertClose, sharedDir } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-cli-feat-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv);

// 5 RGB images 40x40, uint8.
const pixels = Uint8Array.from({ length: 5 * 40 * 40 * 3 }, (_, i) => (i * 37 + (i >> 7)) % 256);
const npy = join(dir, 'imgs.npy');
writeFileSync(npy, Buffer.concat(encodeNpy(pixels, [5, 40, 40, 3], 'uint8')));

describe('saln models', () => {
  it('list --json names every model and where it is', async () => {
    const r = await cli('models', 'list', '--json');
    assert.equal(r.code, 0, r.err);
    const rows = JSON.parse(r.out);
    assert.deepEqual(rows.map((x: { name: string }) => x.name), ['resnet50-keras', 'mobilenet-v1-0.75', 'resnet18-tv', 'resnet50-tv']);
    assert.ok(rows[1].location.endsWith('mobilenet_v1_0.75_224'));
  });

  it('pull of a local model prints its folder; an unknown model is a usage error', async () => {
    const r = await cli('models', 'pull', 'mobilenet-v1-0.75');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^mobilenet-v1-0\.75: .*mobilenet_v1_0\.75_224\n$/);
    const bad = await cli('models', 'pull', 'vgg16');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown model "vgg16"; known models: resnet50-keras/);
  });
});

describe('saln features extract', () => {
  const cache = join(dir, 'cache');

  it('extracts pooled features of an npy dataset into the cache, then reuses it', async () => {
    const r = await cli('features', 'extract', '--model', 'mobilenet-v1-0.75', '--dataset', `npy:${npy}`, '--split', 'test', '--size', '32', '--batch', '2', '--cache-dir', cache, '--json', '--no-progress');
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out);
    assert.deepEqual({ rows: res.rows, dim: res.dim, computed: res.computed, cached: res.cached }, { rows: 5, dim: 768, computed: 5, cached: false });
    assert.ok(res.path.startsWith(join(cache, 'features', 'npy_imgs.npy-test-mobilenet-v1-0.75-')), res.path);
    // The same features as the library path: resize, "tf" preprocessing, forwardFeatures.
    const c = FeatureCache.open(res.path);
    const m = loadKerasMobileNetV1(`${sharedDir}/models/mobilenet_v1_0.75_224`);
    const want = tidy(() => noGrad(() => {
      const x = F.interpolate(fromBytes(pixels, [5, 40, 40, 3], 'uint8').permute(0, 3, 1, 2).float().contiguous(), [32, 32], { mode: 'bilinear' });
      return m.forwardFeatures(preprocess(x, 'tf')).toArray();
    }));
    assert.deepEqual([...c.ids], ['0', '1', '2', '3', '4']);
    assertClose(c.features.toArray(), want, { rtol: 1e-5, atol: 1e-5 });
    c.dispose();
    const again = await cli('features', 'extract', '--model', 'mobilenet-v1-0.75', '--dataset', `npy:${npy}`, '--split', 'test', '--size', '32', '--cache-dir', cache, '--json');
    assert.equal(JSON.parse(again.out).cached, true);
    const info = await cli('features', 'info', res.path, '--json');
    assert.equal(info.code, 0, info.err);
    assert.equal(JSON.parse(info.out).rows, 5);
  });

  it('a dataset of the data module (Oxford-IIIT Pet mini, test split) by KIND:ROOT, with its stable ids', async () => {
    const root = join(sharedDir, 'datasets', 'oxford-iiit-pet-mini');
    const r = await cli('features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', `oxford-pets:${root}`, '-s', 'test', '--size', '64', '--batch', '64', '--cache-dir', cache, '--json', '--no-progress');
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out);
    assert.deepEqual({ rows: res.rows, dim: res.dim }, { rows: 111, dim: 768 });
    const c = FeatureCache.open(res.path);
    assert.equal(new Set(c.ids).size, 111);
    assert.ok(c.ids.every((id) => /^images\/[A-Za-z_]+_\d+\.jpg$/.test(id)), c.ids[0]);
    assert.ok(c.has('images/Abyssinian_142.jpg'));
    assert.equal(c.metadata.dataset, 'oxford-pets:oxford-iiit-pet-mini');
    c.dispose();
    const bad = await cli('features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', `oxford-pets:${root}`, '-s', 'val', '--cache-dir', cache);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /has no val split/);
  });

  it('ids from a file; usage errors exit 2 with one line', async () => {
    const idsFile = join(dir, 'ids.txt');
    writeFileSync(idsFile, 'a\nb\nc\n');
    const short = await cli('features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', `npy:${npy}`, '-s', 'x', '--ids', idsFile, '--cache-dir', cache);
    assert.equal(short.code, 2);
    assert.match(short.err, /has 3 ids but .* has 5 images/);
    const named = await cli('features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', 'cifar10', '-s', 'train', '--cache-dir', cache);
    assert.equal(named.code, 2);
    assert.match(named.err, /cifar10 is not in the cache .*saln data pull cifar10/);
    const unknown = await cli('features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', 'imagenet', '-s', 'train', '--cache-dir', cache);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown dataset "imagenet"/);
    const model = await cli('features', 'extract', '-m', 'vgg', '-d', `npy:${npy}`, '-s', 'x');
    assert.equal(model.code, 2);
    const missing = await cli('features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', `npy:${npy}`);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--split/);
  });
});
