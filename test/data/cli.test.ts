/** `saln data pull | prepare | info` through the CLI's main(), plus one spawned process. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { c as tarCreate } from 'tar';
import { runCli, type CliRun } from '../cli-run.js';
import { sha256File } from '../../src/data/index.js';
import { repoRoot, sharedDir } from '../helpers.js';
import { tempDir, writeCifarBinary, writePets } from './fixtures.js';

const tmp = tempDir();
after(() => rmSync(tmp, { recursive: true, force: true }));
const CIFAR = join(sharedDir, 'datasets', 'cifar10-jpg');
const PETS = join(sharedDir, 'datasets', 'oxford-iiit-pet-mini');

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv);

describe('saln data', () => {
  it('--help lists pull, prepare and info; each has examples', async () => {
    const r = await cli('data', '--help');
    assert.equal(r.code, 0);
    for (const c of ['pull', 'prepare', 'info']) assert.match(r.out, new RegExp(`\\b${c}\\b`));
    const p = await cli('data', 'pull', '--help');
    assert.match(p.out, /--data-dir <dir>/);
    assert.match(p.out, /SHA-256/);
    assert.match(p.out, /\$ saln data pull cifar10/);
  });

  it('info counts the real CIFAR-10 copy without decoding it', async () => {
    const r = await cli('data', 'info', 'cifar10', CIFAR, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.kind, 'cifar10-folder');
    assert.deepEqual(j.splits.train.per_class, new Array(10).fill(5000));
    assert.deepEqual(j.splits.test.per_class, new Array(10).fill(1000));
  });

  it('prepare writes the cache and reports it; a second run reuses it', async () => {
    const cache = join(tmp, 'cache');
    const r = await cli('data', 'prepare', 'oxford-pets', PETS, '--size', '16', '--limit', '5', '--split', 'test', '--cache', cache, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual([j.splits.test.images, j.splits.test.from_cache, j.splits.test.height], [5, false, 16]);
    const again = JSON.parse((await cli('data', 'prepare', 'oxford-pets', PETS, '--size', '16', '--limit', '5', '--split', 'test', '--cache', cache, '--json')).out);
    assert.equal(again.splits.test.from_cache, true);
    const text = await cli('data', 'prepare', 'oxford-pets', PETS, '--size', '16', '--limit', '5', '--split', 'test', '--cache', cache);
    assert.match(text.out, /test +5 images 16x16 +cached/);
  });

  it('pull --data-dir verifies and unpacks a local archive', async () => {
    const src = join(tmp, 'src');
    writeCifarBinary(src, 2);
    const dir = join(tmp, 'dl');
    mkdirSync(dir);
    const file = join(dir, 'cifar-10-binary.tar.gz');
    await tarCreate({ gzip: true, file, cwd: src }, ['cifar-10-batches-bin']);
    const sha = await sha256File(file);
    const r = await cli('data', 'pull', 'cifar10', '--data-dir', dir, '--sha256', sha, '--cache', join(tmp, 'pc'), '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.root, join(tmp, 'pc', 'datasets', 'cifar10', 'cifar-10-batches-bin'));
    const info = JSON.parse((await cli('data', 'info', 'cifar10', '--cache', join(tmp, 'pc'), '--json')).out);
    assert.equal(info.splits.train.total, 10);
    const bad = await cli('data', 'pull', 'cifar10', '--data-dir', dir, '--cache', join(tmp, 'pc2'));
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^saln: error: checksum mismatch for .*cifar-10-binary\.tar\.gz: expected SHA-256 c4a38c50/m);
  });

  it('bad input exits 2 with one line naming the file and line', async () => {
    const pets = join(tmp, 'pets');
    await writePets(pets);
    const p = join(pets, 'annotations', 'trainval.txt');
    writeFileSync(p, readFileSync(p, 'utf8').replace('Bengal_1 3 1 1', 'Bengal_1 99 1 1'));
    const r = await cli('data', 'info', 'oxford-pets', pets);
    assert.equal(r.code, 2);
    assert.match(r.err, /^saln: error: .*trainval\.txt:5: unknown class id "99" for image Bengal_1/);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.equal((await cli('data', 'pull', 'imagenet')).code, 2);
    assert.equal((await cli('data', 'info', 'folder')).code, 2);
    assert.equal((await cli('data', 'prepare', 'cifar10', CIFAR, '--size', 'big')).code, 2);
    assert.equal((await cli('data', 'info', 'oxford-pets', '--cache', join(tmp, 'empty-cache'))).code, 2);
  });

  it('runs as a real process', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(repoRoot, 'bin', 'saln.js'), 'data', 'info', 'oxford-pets', PETS], { cwd: repoRoot });
    assert.match(stdout, /oxford-pets at .*: 37 classes\n {2}train +259 images, 7 per class\n {2}test +111 images, 3 per class/);
  });
});
