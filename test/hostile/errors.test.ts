/**
 * Bad input through the commands: exit 2, one line naming the file or the field, and nothing
 * overwritten. (Run in-process through main(): the exit code is main()'s return value; the
 * spawned cases in files.test.ts and limits.test.ts check the real process.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../cli-run.js';
import { writeImage } from '../data/fixtures.js';
import { DataError, openDataset, PreparedSet, prepareSplit } from '../../src/data/index.js';
import { encodeNpy } from '../../src/io/index.js';
import { expectExit2, tmp } from './hostile.js';

const dir = tmp('errors');
after(() => rmSync(dir, { recursive: true, force: true }));

const images = join(dir, 'imgs.npy');
writeFileSync(images, Buffer.concat(encodeNpy(new Uint8Array(2 * 8 * 8 * 3).fill(7), [2, 8, 8, 3], 'uint8')));
const extract = ['features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', `npy:${images}`, '-s', 'test', '--size', '32', '--no-progress', '--cache-dir', join(dir, 'cache')];

describe('--out', () => {
  it('saln report --out naming a file exits 2 and leaves the file alone', async () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'mine');
    expectExit2(await runCli(['report', '--out', f, dir]), /--out .*notes\.txt is a file, not a folder/);
    assert.equal(readFileSync(f, 'utf8'), 'mine');
  });

  it('saln features extract --out naming a folder exits 2 before any work', async () => {
    const d = join(dir, 'outdir');
    mkdirSync(d);
    expectExit2(await runCli([...extract, '--out', d]), /--out .*outdir is not a file/);
  });

  it('saln features extract --out naming an unrelated file exits 2 and does not overwrite it, even with --force', async () => {
    const f = join(dir, 'precious.bin');
    writeFileSync(f, 'do not overwrite');
    expectExit2(await runCli([...extract, '--out', f, '--force']), /--out .*precious\.bin exists and is not a feature cache .*refusing to overwrite it/);
    assert.equal(readFileSync(f, 'utf8'), 'do not overwrite');
  });
});

describe('flags checked before work', () => {
  it('--device: a bad name, or CUDA where there is none', async () => {
    expectExit2(await runCli([...extract, '--device', 'gpu7']), /--device <device>' argument 'gpu7' is invalid\. Expected cpu, cuda or cuda:N/);
    const { isCudaAvailable } = await import('../../src/tensor/index.js');
    if (!isCudaAvailable()) expectExit2(await runCli([...extract, '--device', 'cuda']), /--device cuda: CUDA is not available here/);
  });

  it('data prepare --size beyond 4096, data pull --sha256 that is not a hash', async () => {
    expectExit2(await runCli(['data', 'prepare', 'folder', dir, '--size', '99999']), /--size <px>' argument '99999' is invalid\. Expected a size in pixels from 1 to 4096/);
    expectExit2(await runCli(['data', 'pull', 'cifar10', '--sha256', 'xyz', '--data-dir', dir, '--cache', join(dir, 'c')]), /--sha256 xyz: expected 64 hex digits/);
  });

  it('saln select: a batch of one, named with its file', async () => {
    const f = join(dir, 'one.npy');
    writeFileSync(f, Buffer.concat(encodeNpy(new Uint8Array(new Float32Array([1, 2]).buffer), [1, 2], 'float32')));
    expectExit2(await runCli(['select', '-f', f, '-r', '0.5']), /one\.npy: selection needs a batch of at least 2 samples/);
  });
});

describe('the prepared cache', () => {
  it('an index naming a data file outside its folder is refused, naming the field', async () => {
    const root = join(dir, 'ds');
    for (const c of ['a', 'b']) {
      mkdirSync(join(root, c), { recursive: true });
      await writeImage(join(root, c, '1.png'), 6, 6, c.charCodeAt(0));
    }
    const set = await prepareSplit(openDataset('folder', root, { warn: () => {} }), 'all', { size: 4, cacheDir: join(dir, 'prep'), warn: () => {} });
    await set.close();
    const index = JSON.parse(readFileSync(set.indexPath, 'utf8'));
    writeFileSync(set.indexPath, JSON.stringify({ ...index, dataFile: '../../../etc/passwd' }));
    assert.throws(() => PreparedSet.open(set.indexPath), (e: Error) => e instanceof DataError && e.field === 'dataFile' && /dataFile must be a file name in the index's folder/.test(e.message));
  });
});
