/**
 * Downloads against a local HTTP server on 127.0.0.1 serving a small CIFAR-10-shaped tarball
 * built here: a full pull, a resumed one (Range), a connection dropped mid-body, a server that
 * ignores Range, a checksum mismatch, a 404, and --data-dir with archives or an unpacked copy.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { c as tarCreate } from 'tar';
import { DataError, download, openDataset, pullDataset, sha256File } from '../../src/data/index.js';
import { tempDir, writeCifarBinary } from './fixtures.js';

const tmp = tempDir();
const FILE = 'cifar-10-binary.tar.gz';
let archive: Buffer;
let sha: string;
let server: Server;
let base: string;

/** What the server does with the next requests, and what it saw. */
const behaviour = { dropFirstAfter: -1, ignoreRange: false };
let seen: { path: string; range: string | undefined }[] = [];

before(async () => {
  const src = join(tmp, 'src');
  writeCifarBinary(src, 30);
  // Incompressible filler, so the archive is big enough to cut in the middle.
  writeFileSync(join(src, 'cifar-10-batches-bin', 'filler.bin'), randomBytes(300_000));
  await tarCreate({ gzip: true, file: join(tmp, FILE), cwd: src }, ['cifar-10-batches-bin']);
  archive = readFileSync(join(tmp, FILE));
  sha = await sha256File(join(tmp, FILE));
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', range: req.headers.range });
    if (req.url !== `/${FILE}`) {
      res.writeHead(404).end('not found');
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !behaviour.ignoreRange ? Number(m[1]) : 0;
    if (start >= archive.length) {
      res.writeHead(416, { 'content-range': `bytes */${archive.length}` }).end();
      return;
    }
    const body = archive.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      'content-length': body.length,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${archive.length - 1}/${archive.length}` } : {}),
    });
    if (behaviour.dropFirstAfter >= 0) {
      const cut = behaviour.dropFirstAfter;
      behaviour.dropFirstAfter = -1;
      res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  seen = [];
  behaviour.dropFirstAfter = -1;
  behaviour.ignoreRange = false;
});

const fast = { backoffMs: () => 0 };

describe('download', () => {
  it('fetches, verifies and renames; a second call reuses the verified file', async () => {
    const dest = join(tmp, 'dl1', FILE);
    const progress: number[] = [];
    const r = await download(`${base}/${FILE}`, dest, { sha256: sha, onProgress: (got) => progress.push(got), ...fast });
    assert.deepEqual([r.reused, r.resumed, r.bytes, r.sha256], [false, false, archive.length, sha]);
    assert.deepEqual(readFileSync(dest), archive);
    assert.equal(progress.at(-1), archive.length);
    assert.ok(!existsSync(`${dest}.part`));
    const again = await download(`${base}/${FILE}`, dest, { sha256: sha, ...fast });
    assert.equal(again.reused, true);
    assert.equal(seen.length, 1, 'no second request');
  });
  it('resumes a partial download with a Range request', async () => {
    const dest = join(tmp, 'dl2', FILE);
    mkdirSync(join(tmp, 'dl2'));
    writeFileSync(`${dest}.part`, archive.subarray(0, 100_000));
    const r = await download(`${base}/${FILE}`, dest, { sha256: sha, ...fast });
    assert.equal(r.resumed, true);
    assert.deepEqual(seen.map((s) => s.range), ['bytes=100000-']);
    assert.deepEqual(readFileSync(dest), archive);
  });
  it('retries a connection dropped mid-body, resuming where it stopped', async () => {
    behaviour.dropFirstAfter = 150_000;
    const dest = join(tmp, 'dl3', FILE);
    const logs: string[] = [];
    const r = await download(`${base}/${FILE}`, dest, { sha256: sha, onLog: (m) => logs.push(m), ...fast });
    assert.equal(r.resumed, true);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.range, undefined);
    assert.match(seen[1]!.range!, /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(seen[1]!.range!)![0]) > 0);
    assert.deepEqual(readFileSync(dest), archive);
    assert.ok(logs.some((l) => /retrying/.test(l)) && logs.some((l) => /resuming/.test(l)), logs.join('\n'));
  });
  it('starts over when the server ignores Range', async () => {
    behaviour.ignoreRange = true;
    const dest = join(tmp, 'dl4', FILE);
    mkdirSync(join(tmp, 'dl4'));
    writeFileSync(`${dest}.part`, archive.subarray(0, 5000));
    const r = await download(`${base}/${FILE}`, dest, { sha256: sha, ...fast });
    assert.equal(r.resumed, false);
    assert.deepEqual(readFileSync(dest), archive);
  });
  it('a checksum mismatch is an error naming both checksums, and deletes the download', async () => {
    const dest = join(tmp, 'dl5', FILE);
    const wrong = '0'.repeat(64);
    await assert.rejects(download(`${base}/${FILE}`, dest, { sha256: wrong, ...fast }), (e: Error) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, new RegExp(`checksum mismatch .*expected SHA-256 ${wrong} .*hash to ${sha}`));
      return true;
    });
    assert.ok(!existsSync(dest) && !existsSync(`${dest}.part`));
  });
  it('a 404 fails at once, naming the address', async () => {
    await assert.rejects(download(`${base}/nope.tar.gz`, join(tmp, 'dl6', 'x'), { sha256: sha, ...fast }), /HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/nope\.tar\.gz/);
    assert.equal(seen.length, 1);
  });
  it('falls back to the next address', async () => {
    const r = await download([`${base}/gone/${FILE}`, `${base}/${FILE}`], join(tmp, 'dl7', FILE), { sha256: sha, ...fast });
    assert.equal(r.url, `${base}/${FILE}`);
  });
});

describe('pullDataset', () => {
  it('downloads, verifies and unpacks CIFAR-10 into the cache; a second pull does nothing', async () => {
    const cache = join(tmp, 'cache1');
    const r = await pullDataset('cifar10', { cache, baseUrl: base, sha256: { [FILE]: sha } });
    assert.equal(r.root, join(cache, 'datasets', 'cifar10', 'cifar-10-batches-bin'));
    assert.equal(r.archives[0]!.source, 'downloaded');
    const src = openDataset(r.kind, r.root);
    assert.deepEqual([src.splits.train!.length, src.splits.test!.length], [150, 30]);
    seen = [];
    const again = await pullDataset('cifar10', { cache, baseUrl: base, sha256: { [FILE]: sha } });
    assert.equal(again.alreadyThere, true);
    assert.equal(seen.length, 0);
  });
  it('refuses an archive whose checksum differs from the built-in one', async () => {
    await assert.rejects(pullDataset('cifar10', { cache: join(tmp, 'cache2'), baseUrl: base }), /checksum mismatch .*expected SHA-256 c4a38c50a1bc/);
  });
  it('--data-dir: verifies and unpacks a local archive, with no network', async () => {
    const dir = join(tmp, 'local');
    mkdirSync(dir);
    copyFileSync(join(tmp, FILE), join(dir, FILE));
    const r = await pullDataset('cifar10', { cache: join(tmp, 'cache3'), dataDir: dir, sha256: { [FILE]: sha }, baseUrl: 'http://127.0.0.1:9/' });
    assert.equal(r.archives[0]!.source, 'data-dir');
    assert.ok(existsSync(join(r.root, 'data_batch_5.bin')));
    assert.equal(seen.length, 0);
    await assert.rejects(pullDataset('cifar10', { cache: join(tmp, 'cache4'), dataDir: dir }), /checksum mismatch for .*cifar-10-binary\.tar\.gz/);
  });
  it('--data-dir: uses an unpacked copy in place; a folder with neither is an error', async () => {
    const r = await pullDataset('cifar10', { cache: join(tmp, 'cache5'), dataDir: join(tmp, 'src') });
    assert.equal(r.root, join(tmp, 'src', 'cifar-10-batches-bin'));
    assert.equal(r.alreadyThere, true);
    await assert.rejects(pullDataset('oxford-pets', { cache: join(tmp, 'cache5'), dataDir: join(tmp, 'src') }), /holds neither an unpacked oxford-pets nor its archive\(s\): missing images\.tar\.gz, annotations\.tar\.gz/);
    await assert.rejects(pullDataset('imagenet', {}), /unknown dataset "imagenet"/);
  });
});
