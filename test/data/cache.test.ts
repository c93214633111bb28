/**
 * The prepared cache: built once and reused, rebuilt when the source changes or the file is
 * damaged, written atomically; corrupt inputs (a truncated JPEG, a text file named .jpg) skipped
 * with a warning naming them, or fatal under strict; CIFAR-10 binary records laid out as NHWC.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataError, decodeImage, loadData, openDataset, prepareSplit, stratifiedSplit, type PreparedSet } from '../../src/data/index.js';
import { sharedDir } from '../helpers.js';
import { tempDir, writeCifarBinary, writeImage } from './fixtures.js';

const tmp = tempDir();
after(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = { warn: () => {} };

async function pixels(set: PreparedSet, positions: number[]): Promise<number[]> {
  const t = await set.readBatch(positions);
  try {
    return Array.from(t.toTypedArray() as Uint8Array);
  } finally {
    t.dispose();
  }
}

async function makeFolder(name: string): Promise<string> {
  const root = join(tmp, name);
  for (const c of ['cat', 'dog']) for (let i = 0; i < 3; i++) await writeImage(join(root, c, `${i}.png`), 20, 12, i + (c === 'dog' ? 10 : 0));
  return root;
}

describe('prepared cache', () => {
  it('decodes once into uint8 NHWC rows equal to a direct decode, then reuses the cache', async () => {
    const root = await makeFolder('basic');
    const cacheDir = join(tmp, 'cache-basic');
    const src = openDataset('folder', root, quiet);
    const a = await prepareSplit(src, 'all', { size: 16, cacheDir, warn: () => {} });
    assert.equal(a.fromCache, false);
    assert.deepEqual([a.length, a.height, a.width], [6, 16, 16]);
    assert.deepEqual(a.ids, ['cat/0.png', 'cat/1.png', 'cat/2.png', 'dog/0.png', 'dog/1.png', 'dog/2.png']);
    assert.deepEqual([...a.labels], [0, 0, 0, 1, 1, 1]);
    const direct = await decodeImage(readFileSync(join(root, 'dog', '1.png')), { size: 16 });
    assert.deepEqual(await pixels(a, [4]), Array.from(direct.data));
    const b = await prepareSplit(src, 'all', { size: 16, cacheDir, warn: () => {} });
    assert.equal(b.fromCache, true);
    assert.deepEqual(await pixels(b, [0, 5]), await pixels(a, [0, 5]));
    // Another size is another cache; nothing temporary is left behind.
    const c = await prepareSplit(src, 'all', { size: 8, cacheDir, warn: () => {} });
    assert.equal(c.fromCache, false);
    const files = readdirSync(cacheDir);
    assert.equal(files.filter((f) => f.endsWith('.json')).length, 2);
    assert.ok(!files.some((f) => f.includes('.tmp-')), files.join(', '));
    for (const s of [a, b, c]) await s.close();
  });

  it('rebuilds when a source file changes, and deletes the stale cache', async () => {
    const root = await makeFolder('stale');
    const cacheDir = join(tmp, 'cache-stale');
    const a = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 12, cacheDir, warn: () => {} });
    const before = await pixels(a, [1]);
    await a.close();
    await writeImage(join(root, 'cat', '1.png'), 20, 12, 99);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, 'cat', '1.png'), later, later);
    const warnings: string[] = [];
    const b = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 12, cacheDir, warn: (m) => warnings.push(m) });
    assert.equal(b.fromCache, false);
    assert.notDeepEqual(await pixels(b, [1]), before);
    assert.ok(warnings.some((w) => /changed since it was prepared: rebuilding/.test(w)), warnings.join('\n'));
    assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.json')).length, 1);
    assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.u8')).length, 1);
    await b.close();
  });

  it('the same bytes under new mtimes (a copy, a re-mount) reuse the cache; other bytes rebuild it', async () => {
    const root = await makeFolder('remount');
    const cacheDir = join(tmp, 'cache-remount');
    const a = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 12, cacheDir, warn: () => {} });
    const before = await pixels(a, [0, 1]);
    const { key: firstKey, contentKey: firstContent } = a.index;
    await a.close();
    const later = new Date(Date.now() + 60_000);
    for (const f of ['cat/1.png', 'dog/1.png']) utimesSync(join(root, f), later, later);
    const warnings: string[] = [];
    const b = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 12, cacheDir, warn: (m) => warnings.push(m) });
    assert.equal(b.fromCache, true);
    assert.equal(warnings.length, 0, warnings.join('\n'));
    assert.notEqual(b.index.key, firstKey);
    assert.equal(b.index.contentKey, firstContent);
    assert.deepEqual(await pixels(b, [0, 1]), before);
    assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.json')).length, 1);
    await b.close();
    // Adopted once, it is found by its new key without another hash of the sources.
    const c = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 12, cacheDir, warn: (m) => warnings.push(m) });
    assert.deepEqual([c.fromCache, c.index.key], [true, b.index.key]);
    await c.close();
    await writeImage(join(root, 'cat', '1.png'), 20, 12, 77);
    const d = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 12, cacheDir, warn: (m) => warnings.push(m) });
    assert.equal(d.fromCache, false);
    assert.notEqual(d.index.contentKey, firstContent);
    assert.ok(warnings.some((w) => /changed since it was prepared: rebuilding/.test(w)), warnings.join('\n'));
    assert.deepEqual(readdirSync(cacheDir).filter((f) => !f.includes('.tmp-')).length, 2); // one index, one data file
    await d.close();
  });

  it('verify: "content" catches an edit that keeps size and mtime, which "stat" (the default) cannot see', async () => {
    const root = join(tmp, 'same-stat');
    const p = join(root, 'x', 'a.png');
    await writeImage(p, 8, 8, 1);
    const cacheDir = join(tmp, 'cache-same-stat');
    utimesSync(p, 1_700_000_000, 1_700_000_000); // whole seconds, so that it can be set back exactly
    for (const verify of ['stat', 'content'] as const) await (await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 8, cacheDir, verify, warn: () => {} })).close();
    const bytes = readFileSync(p);
    bytes[bytes.length - 5] ^= 0xff; // same size, other bytes
    writeFileSync(p, bytes);
    utimesSync(p, 1_700_000_000, 1_700_000_000);
    const byStat = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 8, cacheDir, verify: 'stat', warn: () => {} });
    const byContent = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 8, cacheDir, verify: 'content', warn: () => {} });
    assert.deepEqual([byStat.fromCache, byContent.fromCache], [true, false]);
    await byStat.close();
    await byContent.close();
  });

  it('rebuilds a damaged data file instead of reading it', async () => {
    const root = await makeFolder('damaged');
    const cacheDir = join(tmp, 'cache-damaged');
    const src = openDataset('folder', root, quiet);
    const a = await prepareSplit(src, 'all', { size: 10, cacheDir, warn: () => {} });
    await a.close();
    truncateSync(a.dataPath, 100);
    const warnings: string[] = [];
    const b = await prepareSplit(src, 'all', { size: 10, cacheDir, warn: (m) => warnings.push(m) });
    assert.equal(b.fromCache, false);
    assert.equal(statSync(b.dataPath).size, 6 * 10 * 10 * 3);
    assert.match(warnings.join('\n'), /rebuilding the damaged cache/);
    await b.close();
  });

  it('skips a truncated JPEG and a text file named .jpg with a warning naming each, and counts them', async () => {
    const root = await makeFolder('corrupt');
    const good = readFileSync(join(root, 'cat', '0.png'));
    await writeImage(join(root, 'cat', 'truncated.jpg'), 64, 64, 3, 'jpeg');
    const full = readFileSync(join(root, 'cat', 'truncated.jpg'));
    writeFileSync(join(root, 'cat', 'truncated.jpg'), full.subarray(0, Math.floor(full.length / 2)));
    writeFileSync(join(root, 'dog', 'text.jpg'), 'this is not a JPEG\n');
    assert.ok(good.length > 0);
    const warnings: string[] = [];
    const src = openDataset('folder', root, quiet);
    const set = await prepareSplit(src, 'all', { size: 8, cacheDir: join(tmp, 'cache-corrupt'), warn: (m) => warnings.push(m) });
    assert.equal(set.length, 6);
    assert.equal(set.skipped.length, 2);
    assert.ok(!set.ids.includes('cat/truncated.jpg') && !set.ids.includes('dog/text.jpg'));
    assert.ok(warnings.some((w) => w.startsWith('skipping ') && w.includes('truncated.jpg')), warnings.join('\n'));
    assert.ok(warnings.some((w) => w.startsWith('skipping ') && w.includes('text.jpg')), warnings.join('\n'));
    assert.ok(warnings.some((w) => /skipped 2 of 8 all image/.test(w)), warnings.join('\n'));
    await set.close();
    // Reusing the cache still says what was skipped.
    const again: string[] = [];
    const set2 = await prepareSplit(src, 'all', { size: 8, cacheDir: join(tmp, 'cache-corrupt'), warn: (m) => again.push(m) });
    assert.equal(set2.fromCache, true);
    assert.match(again.join('\n'), /2 file\(s\) of all were skipped/);
    await set2.close();
    await assert.rejects(prepareSplit(src, 'all', { size: 8, cacheDir: join(tmp, 'cache-corrupt-strict'), strict: true, warn: () => {} }),
      (e: Error) => e instanceof DataError && /cannot decode .*(truncated|text)\.jpg/.test(e.message));
    assert.deepEqual(readdirSync(join(tmp, 'cache-corrupt-strict')), [], 'a failed build leaves nothing');
  });

  it('disk-backed and in-memory stores return the same rows', async () => {
    const root = await makeFolder('stores');
    const src = openDataset('folder', root, quiet);
    const cacheDir = join(tmp, 'cache-stores');
    const mem = await prepareSplit(src, 'all', { size: 9, cacheDir, inMemory: true, warn: () => {} });
    const disk = await prepareSplit(src, 'all', { size: 9, cacheDir, inMemory: false, warn: () => {} });
    assert.deepEqual([mem.inMemory, disk.inMemory], [true, false]);
    assert.deepEqual(await pixels(disk, [5, 0, 3]), await pixels(mem, [5, 0, 3]));
    const sub = disk.subset([4, 1]);
    assert.deepEqual(sub.ids, ['dog/1.png', 'cat/1.png']);
    assert.deepEqual(await pixels(sub, [0]), await pixels(mem, [4]));
    await mem.close();
    await disk.close();
  });
});

describe('CIFAR-10 binary → prepared', () => {
  it('turns planar records into NHWC rows (R, G, B interleaved per pixel)', async () => {
    const dir = join(tmp, 'cifar-bin');
    writeCifarBinary(dir, 3);
    const src = openDataset('cifar10-bin', dir);
    const train = await prepareSplit(src, 'train', { size: 32, cacheDir: join(tmp, 'cache-cifar'), warn: () => {} });
    assert.equal(train.length, 15);
    // Sample 7 = file 2 (data_batch_3), record 1: R = 1, G = 2, B = 255 − floor(i / 12).
    const px = await pixels(train, [7]);
    for (const i of [0, 1, 100, 1023]) assert.deepEqual(px.slice(3 * i, 3 * i + 3), [1, 2, 255 - Math.floor(i / 12)]);
    assert.equal(train.labels[7], (2 + 1) % 10);
    const small = await prepareSplit(src, 'test', { size: 16, cacheDir: join(tmp, 'cache-cifar'), warn: () => {} });
    const sp = await pixels(small, [2]);
    assert.equal(sp.length, 16 * 16 * 3);
    assert.deepEqual([sp[0], sp[1]], [2, 5]);
    await train.close();
    await small.close();
  });
});

describe('splits on the real data', () => {
  it('CIFAR-10: 10% validation is 500 per class, deterministic', () => {
    const src = openDataset('cifar10-folder', join(sharedDir, 'datasets', 'cifar10-jpg'), quiet);
    const labels = src.splits.train!.map((s) => s.label);
    const a = stratifiedSplit(labels, 0.1, 0);
    assert.deepEqual([a.keep.length, a.take.length], [45000, 5000]);
    const per = new Array(10).fill(0);
    for (const i of a.take) per[labels[i]!]++;
    assert.deepEqual(per, new Array(10).fill(500));
    assert.deepEqual(stratifiedSplit(labels, 0.1, 0).take, a.take);
  });
  it('Oxford-IIIT Pet subset through loadData: official test split, validation carved from trainval', async () => {
    const cacheDir = join(tmp, 'cache-pets');
    const pets = join(sharedDir, 'datasets', 'oxford-iiit-pet-mini');
    const d = await loadData({ kind: 'oxford-pets', root: pets, size: 24, cacheDir, warn: () => {} });
    assert.deepEqual([d.train.length, d.val!.length, d.test.length], [222, 37, 111]);
    assert.deepEqual(d.val!.classCounts(), new Array(37).fill(1));
    assert.equal(new Set([...d.train.ids, ...d.val!.ids]).size, 259);
    const again = await loadData({ kind: 'oxford-pets', root: pets, size: 24, cacheDir, warn: () => {} });
    assert.equal(again.train.fromCache, true);
    assert.deepEqual(again.val!.ids, d.val!.ids);
    const other = await loadData({ kind: 'oxford-pets', root: pets, size: 24, cacheDir, seed: 1, warn: () => {} });
    assert.notDeepEqual(other.val!.ids, d.val!.ids);
    for (const x of [d, again, other]) await x.close();
  });
  it('a folder without splits gets test (20%) and validation (10% of the rest) carved out', async () => {
    const root = join(tmp, 'nosplit');
    for (const c of ['a', 'b']) for (let i = 0; i < 10; i++) await writeImage(join(root, c, `${i}.png`), 6, 6, i);
    const d = await loadData({ kind: 'folder', root, size: 6, cacheDir: join(tmp, 'cache-nosplit'), warn: () => {} });
    assert.deepEqual([d.train.length, d.val!.length, d.test.length], [14, 2, 4]);
    assert.equal(new Set([...d.train.ids, ...d.val!.ids, ...d.test.ids]).size, 20);
    await d.close();
  });
});
