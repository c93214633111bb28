/**
 * safetensors weights by path and by URL: a node:http server on 127.0.0.1 serves a small file
 * written here; the cache, the SHA-256 check, reuse without a request, the progress bar, key
 * normalization (module./model. prefixes, absent num_batches_tracked) and head skipping.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { saveSafetensors, serializeSafetensors } from '../../src/io/index.js';
import { fetchToCache, loadWeights, normalizeKeys, resnet18, resolveHfUrl } from '../../src/models/index.js';
import { manualSeed, noGrad, randn, type Tensor } from '../../src/tensor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-weights-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

/** A ResNet-18 (CIFAR stem, 10 classes) state dict, as a torchvision/timm checkpoint would hold it. */
function checkpoint(seed: number, o: { prefix?: string; dropNbt?: boolean } = {}): Map<string, Tensor> {
  manualSeed(seed);
  const m = resnet18({ stem: 'cifar', numClasses: 10 });
  const sd = new Map<string, Tensor>();
  for (const [k, v] of m.stateDict()) {
    if (o.dropNbt && k.endsWith('num_batches_tracked')) continue;
    sd.set(`${o.prefix ?? ''}${k}`, k.includes('running_mean') ? randn(v.shape as number[]) : v);
  }
  return sd;
}

describe('loadWeights from a path', () => {
  it('loads torchvision keys exactly, and timm-style packaging (module. prefix, no num_batches_tracked)', async () => {
    const sd = checkpoint(1);
    const p1 = join(dir, 'tv.safetensors');
    saveSafetensors(p1, sd);
    const p2 = join(dir, 'timm.safetensors');
    saveSafetensors(p2, checkpoint(1, { prefix: 'module.', dropNbt: true }));
    for (const p of [p1, p2]) {
      const m = resnet18({ stem: 'cifar', numClasses: 10 });
      const r = await loadWeights(m, p, { naming: p === p2 ? 'timm' : 'torchvision' });
      assert.equal(r.path, p);
      for (const [k, v] of m.stateDict()) {
        if (k.endsWith('num_batches_tracked')) continue;
        assert.equal(v.sub(sd.get(k)!).abs().amax().item(), 0, k);
      }
    }
  });

  it("head: 'skip' keeps a replaced head; a class-count mismatch otherwise says what to do", async () => {
    const p = join(dir, 'tv.safetensors');
    const m = resnet18({ stem: 'cifar', numClasses: 10 }).replaceHead(4);
    const head = m.fc.weight.clone();
    await loadWeights(m, p, { head: 'skip' });
    assert.deepEqual(m.fc.weight.toArray(), head.toArray());
    await assert.rejects(loadWeights(resnet18({ stem: 'cifar', numClasses: 4 }), p), /size mismatch for fc\.weight.*head: 'skip'/);
  });

  it('missing and unexpected keys are errors that list them', async () => {
    const sd = checkpoint(2);
    sd.delete('layer1.0.conv1.weight');
    sd.set('extra.weight', randn([2]));
    const p = join(dir, 'bad.safetensors');
    saveSafetensors(p, sd);
    await assert.rejects(loadWeights(resnet18({ stem: 'cifar', numClasses: 10 }), p), /missing keys: layer1\.0\.conv1\.weight; unexpected keys: extra\.weight/);
    await assert.rejects(loadWeights(resnet18(), join(dir, 'nope.safetensors')), /cannot read safetensors file/);
  });

  it('normalizeKeys strips a prefix only when every key has it', () => {
    const t = randn([1]);
    assert.deepEqual([...normalizeKeys(new Map([['model.a', t], ['model.b', t]])).keys()], ['a', 'b']);
    assert.deepEqual([...normalizeKeys(new Map([['model.a', t], ['b', t]])).keys()], ['model.a', 'b']);
    assert.equal(resolveHfUrl('hf://timm/resnet18.tv_in1k'), 'https://huggingface.co/timm/resnet18.tv_in1k/resolve/main/model.safetensors');
  });
});

describe('loadWeights from a URL (local server)', () => {
  let server: Server;
  let base = '';
  let requests = 0;
  const body = concat(serializeSafetensors(checkpoint(3)));
  const sha = createHash('sha256').update(body).digest('hex');
  const cache = join(dir, 'cache');

  before(async () => {
    server = createServer((req, res) => {
      requests++;
      if (req.url === '/w/resnet18.safetensors') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
        // Two writes, so the progress bar sees more than one chunk.
        res.write(body.subarray(0, body.length >> 1));
        setTimeout(() => res.end(body.subarray(body.length >> 1)), 30);
      } else if (req.url === '/redirect') {
        res.writeHead(302, { location: '/w/resnet18.safetensors' });
        res.end();
      } else if (req.url === '/truncated.safetensors') {
        // The connection drops after 100 of the promised bytes.
        res.writeHead(200, { 'content-length': String(body.length) });
        res.write(body.subarray(0, 100));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.writeHead(404);
        res.end('not found');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads into the cache with a progress bar, checks the SHA-256, and loads', async () => {
    let progress = '';
    const stream = new Writable({ write(c, _e, cb) { progress += String(c); cb(); } });
    const m = resnet18({ stem: 'cifar', numClasses: 10 });
    requests = 0;
    const r = await loadWeights(m, `${base}/w/resnet18.safetensors`, { sha256: sha, cacheDir: cache, progress: { stream, everyMs: 1 } });
    assert.equal(requests, 1);
    assert.equal(r.sha256, sha);
    assert.ok(r.path.startsWith(join(cache, 'weights')), r.path);
    assert.deepEqual(readFileSync(r.path), body);
    assert.equal(readFileSync(`${r.path}.sha256`, 'utf8').trim(), sha);
    assert.match(progress, /download resnet18\.safetensors/);
    assert.match(progress, /MiB/);
    const want = checkpoint(3).get('layer3.1.bn2.running_mean')!;
    assert.deepEqual(m.stateDict().get('layer3.1.bn2.running_mean')!.toArray(), want.toArray());
  });

  it('reuses the verified cached copy without a request', async () => {
    requests = 0;
    const r = await fetchToCache(`${base}/w/resnet18.safetensors`, { sha256: sha, cacheDir: cache, progress: false });
    assert.equal(r.downloaded, false);
    assert.equal(requests, 0);
    // Without a given hash, the hash recorded at download is checked.
    const r2 = await fetchToCache(`${base}/w/resnet18.safetensors`, { cacheDir: cache, progress: false });
    assert.equal(r2.downloaded, false);
    assert.equal(requests, 0);
  });

  it('a SHA-256 mismatch is an error and leaves nothing in the cache', async () => {
    const c2 = join(dir, 'cache2');
    await assert.rejects(fetchToCache(`${base}/w/resnet18.safetensors`, { sha256: '0'.repeat(64), cacheDir: c2, progress: false }), /SHA-256 mismatch.*expected 0{64}, got [0-9a-f]{64}; the file was not kept/);
    const sub = readdirSync(join(c2, 'weights'));
    assert.equal(sub.length, 1);
    assert.deepEqual(readdirSync(join(c2, 'weights', sub[0]!)), []);
  });

  it('follows redirects; HTTP errors, truncated bodies and bad hashes are clear errors', async () => {
    const c3 = join(dir, 'cache3');
    const r = await fetchToCache(`${base}/redirect`, { cacheDir: c3, progress: false, fileName: 'r.safetensors' });
    assert.equal(r.sha256, sha);
    await assert.rejects(fetchToCache(`${base}/missing.safetensors`, { cacheDir: c3, progress: false }), /HTTP 404/);
    await assert.rejects(fetchToCache(`${base}/truncated.safetensors`, { cacheDir: c3, progress: false }), /truncated|failed after/);
    assert.ok(!existsSync(join(c3, 'weights', 'truncated.safetensors')));
    await assert.rejects(fetchToCache(`${base}/w/x`, { sha256: 'abc', cacheDir: c3 }), /Expected 64 hex digits for sha256/);
    await assert.rejects(fetchToCache('ftp://example/x', { cacheDir: c3 }), /Expected an http\(s\) URL/);
  });

  it('a corrupted cached file is fetched again', async () => {
    const first = await fetchToCache(`${base}/w/resnet18.safetensors`, { sha256: sha, cacheDir: cache, progress: false });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(first.path, 'garbage');
    requests = 0;
    const r = await fetchToCache(`${base}/w/resnet18.safetensors`, { sha256: sha, cacheDir: cache, progress: false });
    assert.equal(r.downloaded, true);
    assert.equal(requests, 1);
    assert.equal(noGrad(() => readFileSync(r.path).length), body.length);
  });
});
