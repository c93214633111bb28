/**
 * Feature extraction into the cache: rows by sample id, eval mode, preprocessing, resume after an
 * interruption (an error or an abort), atomic completeness, cache keys, and lookups.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { extractFeatures, FeatureCache, featureCachePath, featureKeyHash, type FeatureBatch, type FeatureCacheKey } from '../../src/features/index.js';
import { saveSafetensors } from '../../src/io/index.js';
import { BatchNorm2d, Module } from '../../src/nn/index.js';
import { cat, manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-features-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Features = mean over H, W of BatchNorm(x): differs between train and eval mode. */
class Toy extends Module {
  readonly numFeatures = 3;
  readonly bn: BatchNorm2d;
  calls = 0;
  constructor() {
    super();
    this.bn = this.registerModule('bn', new BatchNorm2d(3));
    noGrad(() => {
      this.bn.runningMean!.copy_(tensor([10, 20, 30]));
      this.bn.runningVar!.copy_(tensor([4, 4, 4]));
    });
  }
  forwardFeatures(x: Tensor): Tensor {
    this.calls += x.shape[0]!;
    return this.bn.forward(x).mean([2, 3]);
  }
  forward(x: Tensor): Tensor {
    return this.forwardFeatures(x);
  }
}

const N = 10;
manualSeed(0);
const images = randn([N, 3, 4, 4]).mul(50).add(100);
const ids = Array.from({ length: N }, (_, i) => `img-${i}`);

/** Batches of 3; `failAfter` throws after that many batches (an interrupted run). */
function* batches(o: { failAfter?: number; skip?: ReadonlySet<string>; onBatch?: (i: number) => void } = {}): Generator<FeatureBatch> {
  let b = 0;
  for (let s = 0; s < N; s += 3) {
    if (o.failAfter !== undefined && b >= o.failAfter) throw new Error('simulated crash');
    const bIds = ids.slice(s, s + 3);
    if (o.skip && bIds.every((id) => o.skip!.has(id))) continue;
    o.onBatch?.(b);
    b++;
    yield { ids: bIds, x: images.narrow(0, s, bIds.length).clone() };
  }
}

const key = (extra: Partial<FeatureCacheKey> = {}): FeatureCacheKey => ({ dataset: 'toy', split: 'train', model: 'toy', preprocess: 'tf', size: 4, ...extra });

/** What the features must be: eval-mode BN on x / 127.5 - 1. */
function expectedRows(rows: number[]): number[] {
  const m = new Toy().eval();
  return tidy(() => noGrad(() => m.forwardFeatures(images.indexSelect(0, tensor(rows, { dtype: 'int64' })).div(127.5).sub(1)).toArray()));
}

describe('extractFeatures', () => {
  it('computes every sample once, in eval mode, with the preprocessing, and restores training mode', async () => {
    const model = new Toy().train();
    let progress = '';
    const stream = new Writable({ write(c, _e, cb) { progress += String(c); cb(); } });
    const r = await extractFeatures({ model, source: batches(), key: key(), cacheDir: dir, preprocess: 'tf', total: N, progress: { stream, everyMs: 1 } });
    assert.deepEqual({ rows: r.rows, dim: r.dim, computed: r.computed, resumed: r.resumed, cached: r.cached }, { rows: N, dim: 3, computed: N, resumed: 0, cached: false });
    assert.equal(r.path, featureCachePath(key(), dir));
    assert.equal(model.training, true);
    assert.equal(model.calls, N);
    assert.match(progress, /features .*\d+\/10 img.*ETA/);
    const c = FeatureCache.open(r.path);
    assert.deepEqual([...c.ids], ids);
    assertClose(c.features.toArray(), expectedRows([...Array(N).keys()]), { rtol: 1e-6, atol: 1e-6 });
    assertClose(c.lookup(['img-7', 'img-2']).toArray(), expectedRows([7, 2]), { rtol: 1e-6, atol: 1e-6 });
    assertClose([...c.get('img-4')], expectedRows([4]), { rtol: 1e-6, atol: 1e-6 });
    assert.equal(c.indexOf('nope'), -1);
    assert.throws(() => c.lookup(['img-1', 'nope']), /no row for 1 id\(s\): "nope"/);
    assert.equal(JSON.parse(c.metadata.key!).preprocess.name, 'tf');
    c.dispose();
    assert.ok(!existsSync(`${r.path}.partial`));
  });

  it('a complete cache is reused without running the model (force recomputes)', async () => {
    const model = new Toy();
    let pulled = 0;
    const r = await extractFeatures({ model, source: () => { pulled++; return batches(); }, key: key(), cacheDir: dir, preprocess: 'tf', total: N, progress: false });
    assert.equal(r.cached, true);
    assert.equal(pulled, 0);
    assert.equal(model.calls, 0);
    const f = await extractFeatures({ model, source: batches(), key: key(), cacheDir: dir, preprocess: 'tf', total: N, progress: false, force: true });
    assert.equal(f.computed, N);
  });

  it('an interrupted run leaves no cache file, and the next run resumes from its chunks', async () => {
    const k = key({ split: 'resume' });
    const model = new Toy();
    // The interrupted call takes at least 2 × 150 ms (each of its batches waits), and its chunks keep that time.
    const wait = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    await assert.rejects(
      extractFeatures({ model, source: batches({ failAfter: 2, onBatch: () => wait(150) }), key: k, cacheDir: dir, preprocess: 'tf', total: N, chunkRows: 2, progress: false }),
      /simulated crash/,
    );
    const path = featureCachePath(k, dir);
    assert.ok(!existsSync(path), 'no cache file under the final name');
    assert.equal(FeatureCache.find(k, dir), null);
    assert.ok(readdirSync(`${path}.partial`).length >= 1);
    let doneSeen: string[] = [];
    const model2 = new Toy();
    const r = await extractFeatures({
      model: model2,
      source: (done) => { doneSeen = [...done].sort(); return batches({ skip: done }); },
      key: k, cacheDir: dir, preprocess: 'tf', total: N, chunkRows: 2, progress: false,
    });
    assert.deepEqual(doneSeen, ids.slice(0, 6).sort());
    assert.deepEqual({ resumed: r.resumed, computed: r.computed, rows: r.rows }, { resumed: 6, computed: 4, rows: N });
    assert.equal(model2.calls, 4);
    const c = FeatureCache.open(path);
    // What the cache cost counts both calls: the interrupted one's flushed time too.
    assert.ok(Number(c.metadata.seconds) >= 0.3, `seconds ${c.metadata.seconds}`);
    assertClose(c.lookup(ids).toArray(), expectedRows([...Array(N).keys()]), { rtol: 1e-6, atol: 1e-6 });
    c.dispose();
    assert.ok(!existsSync(`${path}.partial`));
  });

  it('an abort stops after the current batch and keeps its rows; a source that repeats done ids only computes the rest', async () => {
    const k = key({ split: 'abort' });
    const ac = new AbortController();
    await assert.rejects(
      extractFeatures({ model: new Toy(), source: batches({ onBatch: (b) => b === 1 && ac.abort() }), key: k, cacheDir: dir, preprocess: 'tf', total: N, chunkRows: 1000, progress: false, signal: ac.signal }),
      (e: Error) => e.name === 'AbortError' && /resume/.test(e.message),
    );
    const model = new Toy();
    const r = await extractFeatures({ model, source: batches(), key: k, cacheDir: dir, preprocess: 'tf', total: N, progress: false });
    assert.deepEqual({ resumed: r.resumed, computed: r.computed }, { resumed: 6, computed: 4 });
    assert.equal(model.calls, 4);
  });

  it('lets the event loop run between batches (so Ctrl-C handlers and timers fire during a synchronous source)', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 0);
    // A synchronous source never yields to the event loop by itself: only the extractor can.
    await assert.rejects(
      extractFeatures({ model: new Toy(), source: batches(), key: key({ split: 'timer' }), cacheDir: dir, progress: false, signal: ac.signal }),
      (e: Error) => e.name === 'AbortError',
    );
  });

  it('duplicate ids, a short source and bad batches are errors; a short run keeps its rows for a resume', async () => {
    const dup = function* (): Generator<FeatureBatch> {
      yield { ids: ['a', 'b'], x: images.narrow(0, 0, 2).clone() };
      yield { ids: ['b', 'c'], x: images.narrow(0, 2, 2).clone() };
    };
    await assert.rejects(extractFeatures({ model: new Toy(), source: dup(), key: key({ split: 'dup' }), cacheDir: dir, progress: false }), /duplicate sample id "b"/);
    const k = key({ split: 'short' });
    await assert.rejects(extractFeatures({ model: new Toy(), source: batches(), key: k, cacheDir: dir, total: N + 1, progress: false }), /yielded 10 distinct samples but total is 11/);
    assert.ok(!existsSync(featureCachePath(k, dir)));
    assert.ok(existsSync(`${featureCachePath(k, dir)}.partial`));
    const bad = function* (): Generator<FeatureBatch> {
      yield { ids: ['a'], x: images.narrow(0, 0, 2).clone() };
    };
    await assert.rejects(extractFeatures({ model: new Toy(), source: bad(), key: key({ split: 'bad' }), cacheDir: dir, progress: false }), /ids\.length === x\.shape\[0\]/);
  });

  it('async sources work, and x is used as given without preprocessing', async () => {
    async function* gen(): AsyncGenerator<FeatureBatch> {
      for (let s = 0; s < N; s += 4) {
        await new Promise((r) => setTimeout(r, 1));
        yield { ids: ids.slice(s, s + 4), x: images.narrow(0, s, Math.min(4, N - s)).clone() };
      }
    }
    const r = await extractFeatures({ model: new Toy(), source: gen(), key: key({ preprocess: 'none', split: 'async' }), cacheDir: dir, progress: false });
    const c = FeatureCache.open(r.path);
    const m = new Toy().eval();
    assertClose(c.features.toArray(), noGrad(() => m.forwardFeatures(images)).toArray(), { rtol: 1e-6, atol: 1e-5 });
    c.dispose();
  });
});

describe('the feature cache file', () => {
  it('keys: preprocessing, size and extras change the hash; a preprocessing name equals its spec', async () => {
    const { PREPROCESS } = await import('../../src/models/index.js');
    const h = featureKeyHash(key());
    assert.notEqual(featureKeyHash(key({ preprocess: 'caffe' })), h);
    assert.notEqual(featureKeyHash(key({ size: 8 })), h);
    assert.notEqual(featureKeyHash(key({ extra: { crop: 'center' } })), h);
    assert.equal(featureKeyHash(key({ preprocess: PREPROCESS.tf })), h);
    assert.equal(featureKeyHash(key({ size: [4, 4] })), h);
    assert.match(featureCachePath(key({ dataset: 'cifar 10/x' }), dir), /cifar_10_x-train-toy-[0-9a-f]{16}\.safetensors$/);
  });

  it('refuses files that are not complete feature caches', () => {
    const p = join(dir, 'half.safetensors');
    const f = randn([2, 3]);
    saveSafetensors(p, { features: f }, { saln_format: 'features/1', complete: 'false', ids: '["a","b"]', key: '{}' });
    assert.throws(() => FeatureCache.open(p), /not a complete feature cache: it is not marked complete/);
    saveSafetensors(p, { features: f }, { saln_format: 'features/1', complete: 'true', ids: '["a"]', key: '{}' });
    assert.throws(() => FeatureCache.open(p), /1 ids for 2 rows/);
    saveSafetensors(p, { features: cat([f, f]) }, { saln_format: 'features/1', complete: 'true', ids: '["a","a","b","c"]', key: '{}' });
    assert.throws(() => FeatureCache.open(p), /duplicate ids/);
    assert.throws(() => FeatureCache.open(join(dir, 'none.safetensors')), /no feature cache at/);
  });
});
