/**
 * Feature extraction in bfloat16: the precision is part of the cache key (fp32 keys hash as before
 * the field existed), bf16 features are close to fp32 ones but not equal, the cache stores float32,
 * and the model is handed back in its own layout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { extractFeatures, FeatureCache, featureCachePath, featureKeyHash, type FeatureBatch, type FeatureCacheKey } from '../../src/features/index.js';
import { mobilenetV1 } from '../../src/models/index.js';
import { manualSeed, rand } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-features-precision-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const key: FeatureCacheKey = { dataset: 'toy', split: 'train', model: 'mobilenet-v1-0.25', preprocess: 'tf', size: 32 };

test('the precision is part of the feature cache key; fp32 hashes as a key without it', () => {
  assert.equal(featureKeyHash({ ...key, precision: 'fp32' }), featureKeyHash(key));
  assert.notEqual(featureKeyHash({ ...key, precision: 'bf16' }), featureKeyHash(key));
  assert.throws(() => featureKeyHash({ ...key, precision: 'fp16' as 'bf16' }), /Expected 'fp32' or 'bf16' for precision/);
});

test('bf16 extraction: its own cache file, float32 features within bf16 error of fp32, model layout restored', async () => {
  manualSeed(0);
  const model = mobilenetV1({ alpha: 0.25, numClasses: 10 });
  const images = rand([6, 3, 32, 32]).mul(255);
  const ids = Array.from({ length: 6 }, (_, i) => `s${i}`);
  function* source(): Generator<FeatureBatch> {
    for (let s = 0; s < 6; s += 4) yield { ids: ids.slice(s, s + 4), x: images.narrow(0, s, Math.min(4, 6 - s)).clone() };
  }
  const fp32 = await extractFeatures({ model, source: source(), key, cacheDir: dir, preprocess: 'tf', progress: false });
  const bf16 = await extractFeatures({ model, source: source(), key, cacheDir: dir, preprocess: 'tf', progress: false, precision: 'bf16' });
  assert.equal(fp32.precision, 'fp32');
  assert.equal(bf16.precision, 'bf16');
  assert.equal(fp32.path, featureCachePath(key, dir));
  assert.equal(bf16.path, featureCachePath({ ...key, precision: 'bf16' }, dir));
  assert.notEqual(bf16.path, fp32.path);
  const a = FeatureCache.open(fp32.path);
  const b = FeatureCache.open(bf16.path);
  try {
    assert.equal(b.features.dtype, 'float32');
    assert.equal(b.metadata.precision, 'bf16');
    const x = a.features.toArray();
    const y = b.features.toArray();
    // bf16 carries 8 bits of mantissa through 28 layers: a few percent of the feature scale.
    const scale = Math.max(...x.map(Math.abs));
    assertClose(y, x, { rtol: 0.05, atol: 0.05 * scale, what: 'bf16 features' });
    assert.ok(y.some((v, i) => v !== x[i]), 'bf16 features are not the fp32 ones');
  } finally {
    a.dispose();
    b.dispose();
  }
  assert.ok(model.conv1.weight.isContiguous(), 'the model is back in its own layout');
});
