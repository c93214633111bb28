/**
 * Dataset listing on the real data in ../shared/datasets (counted, not decoded) and on small
 * layouts built on purpose: class order, labels of known files, ids, splits, and every kind of
 * bad layout (wrong class id, missing annotation file, empty class folder, non-image files).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CIFAR10_CLASSES, classCounts, DataError, decodeImage, encodeImage, openDataset } from '../../src/data/index.js';
import { sharedDir } from '../helpers.js';
import { tempDir, writeCifarBinary, writeImage, writePets } from './fixtures.js';

const CIFAR = join(sharedDir, 'datasets', 'cifar10-jpg');
const PETS = join(sharedDir, 'datasets', 'oxford-iiit-pet-mini');
const quiet = { warn: () => {} };
const tmp = tempDir();
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('CIFAR-10 image folder (real data)', () => {
  const src = openDataset('cifar10-folder', CIFAR, quiet);
  it('has 5,000 images per class in train and 1,000 in test, in CIFAR\'s class order', () => {
    assert.deepEqual(src.classes, CIFAR10_CLASSES);
    assert.deepEqual(classCounts(src.splits.train!, 10), new Array(10).fill(5000));
    assert.deepEqual(classCounts(src.splits.test!, 10), new Array(10).fill(1000));
    assert.equal(src.splits.val, undefined);
    assert.deepEqual(src.warnings, []);
  });
  it('labels known files by their class folder, with relative-path ids', () => {
    const byId = new Map(src.splits.train!.concat(src.splits.test!).map((s) => [s.id, s]));
    assert.equal(byId.get('train/airplane/0000.jpg')!.label, 0);
    assert.equal(byId.get('train/cat/1234.jpg')!.label, 3);
    assert.equal(byId.get('train/frog/4999.jpg')!.label, 6);
    assert.equal(byId.get('test/truck/0999.jpg')!.label, 9);
    assert.equal(byId.get('test/automobile/0000.jpg')!.label, 1);
    assert.equal(new Set(byId.keys()).size, 60000, 'ids are unique');
  });
  it('decodes a few of them to 32x32 RGB', async () => {
    for (const id of ['train/airplane/0000.jpg', 'test/ship/0500.jpg', 'train/horse/2500.jpg']) {
      const img = await decodeImage(readFileSync(join(CIFAR, id)));
      assert.deepEqual([img.width, img.height, img.data.length], [32, 32, 3072]);
    }
  });
  it('as a generic folder, classes are sorted by name instead', () => {
    const g = openDataset('folder', CIFAR, quiet);
    assert.deepEqual(g.classes, [...CIFAR10_CLASSES].sort());
    assert.equal(g.splits.train!.length, 50000);
  });
});

describe('Oxford-IIIT Pet (real 370-image subset)', () => {
  const src = openDataset('oxford-pets', PETS, quiet);
  it('has 37 breeds with ids 1-37 in the official order; 7 trainval and 3 test images each', () => {
    assert.equal(src.classes.length, 37);
    assert.deepEqual(src.classes.slice(0, 6), ['Abyssinian', 'american_bulldog', 'american_pit_bull_terrier', 'basset_hound', 'beagle', 'Bengal']);
    assert.equal(src.classes[33], 'Sphynx');
    assert.equal(src.classes[36], 'yorkshire_terrier');
    assert.deepEqual(classCounts(src.splits.train!, 37), new Array(37).fill(7));
    assert.deepEqual(classCounts(src.splits.test!, 37), new Array(37).fill(3));
    assert.deepEqual(src.missing, []);
  });
  it('labels known files (class id − 1) with ids images/<name>.jpg', () => {
    const byId = new Map([...src.splits.train!, ...src.splits.test!].map((s) => [s.id, s]));
    assert.equal(byId.get('images/Abyssinian_142.jpg')!.label, 0);
    assert.equal(byId.get('images/american_bulldog_168.jpg')!.label, 1);
    assert.equal(byId.get('images/Sphynx_14.jpg')!.label, 33);
    assert.ok(src.splits.test!.some((s) => s.id === 'images/Abyssinian_142.jpg'));
    assert.ok(src.splits.train!.some((s) => s.id === 'images/Sphynx_14.jpg'));
  });
});

describe('Oxford-IIIT Pet: bad annotations', () => {
  const make = async (name: string, edit?: (dir: string) => void): Promise<string> => {
    const dir = join(tmp, name);
    await writePets(dir);
    edit?.(dir);
    return dir;
  };
  it('an out-of-range class id in trainval.txt is an error naming the path and line', async () => {
    const dir = await make('pets-id38', (d) => {
      const p = join(d, 'annotations', 'trainval.txt');
      writeFileSync(p, readFileSync(p, 'utf8').replace('Bengal_2 3 1 1', 'Bengal_2 38 1 1'));
    });
    assert.throws(() => openDataset('oxford-pets', dir, quiet), (e: Error) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, /trainval\.txt:6: unknown class id "38" for image Bengal_2/);
      assert.equal(e.line, 6);
      return true;
    });
  });
  it('a class id that contradicts the breed\'s other lines is an error at the wrong line', async () => {
    const dir = await make('pets-wrong', (d) => {
      const p = join(d, 'annotations', 'trainval.txt');
      writeFileSync(p, readFileSync(p, 'utf8').replace('Abyssinian_2 1 1 1', 'Abyssinian_2 2 1 1'));
    });
    assert.throws(() => openDataset('oxford-pets', dir, quiet), /trainval\.txt:2: class id 2 for image Abyssinian_2 contradicts .* breed Abyssinian, which give class id 1/);
  });
  it('a malformed line and a non-numeric id are errors naming the line', async () => {
    const dir = await make('pets-malformed', (d) => writeFileSync(join(d, 'annotations', 'test.txt'), 'Abyssinian_3 1 1 1\n# a comment\n\nBengal_3\n'));
    assert.throws(() => openDataset('oxford-pets', dir, quiet), /test\.txt:4: expected "<image> <class id> <species> <breed id>"/);
    const dir2 = await make('pets-nan', (d) => writeFileSync(join(d, 'annotations', 'test.txt'), 'Abyssinian_3 one 1 1\n'));
    assert.throws(() => openDataset('oxford-pets', dir2, quiet), /test\.txt:1: unknown class id "one"/);
  });
  it('a missing annotation file is an error naming it', async () => {
    const dir = await make('pets-noann', (d) => rmSync(join(d, 'annotations', 'trainval.txt')));
    assert.throws(() => openDataset('oxford-pets', dir, quiet), (e: Error) => e instanceof DataError && /missing annotation file .*trainval\.txt/.test(e.message));
  });
  it('an image in both splits is an error naming both lines', async () => {
    const dir = await make('pets-dup', (d) => writeFileSync(join(d, 'annotations', 'test.txt'), 'Abyssinian_3 1 1 1\nAbyssinian_1 1 1 1\n'));
    assert.throws(() => openDataset('oxford-pets', dir, quiet), /test\.txt:2: image Abyssinian_1 is already listed at .*trainval\.txt:1/);
  });
  it('a listed image that is missing is reported and left out (an error under strict)', async () => {
    const dir = await make('pets-missing', (d) => rmSync(join(d, 'images', 'Bengal_1.jpg')));
    const warnings: string[] = [];
    const src = openDataset('oxford-pets', dir, { warn: (m) => warnings.push(m) });
    assert.equal(src.splits.train!.length, 5);
    assert.equal(src.missing.length, 1);
    assert.match(warnings[0]!, /missing image .*Bengal_1\.jpg: listed at .*trainval\.txt:5/);
    assert.throws(() => openDataset('oxford-pets', dir, { strict: true }), /Bengal_1\.jpg/);
  });
});

describe('generic image folder', () => {
  it('sorts classes by name, ignores non-image files, reports empty class folders', async () => {
    const root = join(tmp, 'folder-flat');
    await writeImage(join(root, 'zebra', 'a.png'), 8, 8, 1);
    await writeImage(join(root, 'Apple', 'x.webp'), 8, 8, 2, 'webp');
    await writeImage(join(root, 'Apple', 'sub', 'y.JPEG'), 8, 8, 3, 'jpeg');
    await writeImage(join(root, 'mango', 'm.jpg'), 8, 8, 4, 'jpeg');
    writeFileSync(join(root, 'mango', 'notes.txt'), 'not an image');
    writeFileSync(join(root, 'README.md'), 'loose file');
    mkdirSync(join(root, 'empty'));
    const warnings: string[] = [];
    const src = openDataset('folder', root, { warn: (m) => warnings.push(m) });
    assert.deepEqual(src.classes, ['Apple', 'empty', 'mango', 'zebra']);
    assert.deepEqual(src.splits.all!.map((s) => [s.id, s.label]), [['Apple/sub/y.JPEG', 0], ['Apple/x.webp', 0], ['mango/m.jpg', 2], ['zebra/a.png', 3]]);
    assert.equal(src.ignoredFiles, 2);
    assert.ok(warnings.some((w) => /empty class folder .*empty/.test(w)), warnings.join('\n'));
    assert.ok(src.warnings.some((w) => /empty class folder/.test(w)));
    assert.throws(() => openDataset('folder', root, { strict: true, warn: () => {} }), /empty class folder/);
  });
  it('uses train/test/val subfolders as the splits', async () => {
    const root = join(tmp, 'folder-splits');
    for (const [split, n] of [['train', 3], ['val', 1], ['test', 2]] as const) {
      for (const c of ['b', 'a']) for (let i = 0; i < n; i++) await writeImage(join(root, split, c, `${i}.png`), 4, 4, i);
    }
    const src = openDataset('folder', root, quiet);
    assert.deepEqual(src.classes, ['a', 'b']);
    assert.deepEqual(Object.keys(src.splits).sort(), ['test', 'train', 'val']);
    assert.deepEqual([src.splits.train!.length, src.splits.val!.length, src.splits.test!.length], [6, 2, 4]);
    assert.equal(src.splits.test![0]!.id, 'test/a/0.png');
  });
  it('a CIFAR-10 folder with an unknown class folder is an error naming it', async () => {
    const root = join(tmp, 'cifar-bad');
    await writeImage(join(root, 'train', 'cat', '0.png'), 4, 4, 0);
    await writeImage(join(root, 'train', 'kitten', '0.png'), 4, 4, 0);
    assert.throws(() => openDataset('cifar10-folder', root, quiet), /kitten.*is not a CIFAR-10 class/);
  });
  it('a missing root is an error naming it', () => {
    assert.throws(() => openDataset('folder', join(tmp, 'nope'), quiet), /nope does not exist/);
  });
});

describe('decoding: grayscale and RGBA become RGB', () => {
  it('gray PNG → three equal channels; RGBA PNG → alpha dropped', async () => {
    const gray = new Uint8Array(16).map((_, i) => i * 10);
    const g = await decodeImage(await encodeImage(gray, { width: 4, height: 4, channels: 1 }, 'png'));
    assert.equal(g.data.length, 48);
    for (let i = 0; i < 16; i++) assert.deepEqual([...g.data.subarray(3 * i, 3 * i + 3)], [gray[i], gray[i], gray[i]]);
    const rgba = new Uint8Array(16 * 4).map((_, i) => (i % 4 === 3 ? 7 : i));
    const c = await decodeImage(await encodeImage(rgba, { width: 4, height: 4, channels: 4 }, 'png'));
    for (let i = 0; i < 16; i++) assert.deepEqual([...c.data.subarray(3 * i, 3 * i + 3)], [4 * i, 4 * i + 1, 4 * i + 2]);
  });
  it('resizes with the squash and crop policies', async () => {
    const buf = await encodeImage(new Uint8Array(40 * 20 * 3).fill(100), { width: 40, height: 20, channels: 3 }, 'png');
    const s = await decodeImage(buf, { size: 16 });
    const c = await decodeImage(buf, { size: [10, 12], resize: 'crop' });
    assert.deepEqual([s.width, s.height, c.width, c.height], [16, 16, 12, 10]);
    assert.ok(s.data.every((v) => v === 100));
  });
});

describe('CIFAR-10 binary form (built here)', () => {
  it('reads labels from the record bytes; ids count up per split', () => {
    const dir = join(tmp, 'cifar-bin');
    writeCifarBinary(dir, 3);
    for (const root of [dir, join(dir, 'cifar-10-batches-bin')]) {
      const src = openDataset('cifar10-bin', root);
      assert.equal(src.splits.train!.length, 15);
      assert.equal(src.splits.test!.length, 3);
      assert.deepEqual(src.splits.train!.slice(0, 4).map((s) => [s.id, s.label, s.record]), [
        ['cifar10-bin/train/0', 0, 0], ['cifar10-bin/train/1', 1, 1], ['cifar10-bin/train/2', 2, 2], ['cifar10-bin/train/3', 1, 0],
      ]);
      assert.deepEqual(src.splits.test!.map((s) => s.label), [5, 6, 7]);
    }
  });
  it('a truncated file or a label above 9 is an error naming the file', () => {
    const dir = join(tmp, 'cifar-bin-bad');
    writeCifarBinary(dir, 2);
    const p = join(dir, 'cifar-10-batches-bin', 'data_batch_3.bin');
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 100));
    assert.throws(() => openDataset('cifar10-bin', dir), /data_batch_3\.bin is 6046 bytes, not a whole number of 3073-byte/);
    bytes[3073] = 12;
    writeFileSync(p, bytes);
    assert.throws(() => openDataset('cifar10-bin', dir), /data_batch_3\.bin: record 1 has label 12/);
    rmSync(join(dir, 'cifar-10-batches-bin', 'test_batch.bin'));
    writeFileSync(p, bytes.fill(0, 3073, 3074));
    assert.throws(() => openDataset('cifar10-bin', dir), /missing CIFAR-10 file .*test_batch\.bin/);
    assert.ok(existsSync(p));
  });
});
