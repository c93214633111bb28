/**
 * Hostile files: links to /dev/zero and FIFOs where a reader expects a regular file, images over
 * the size limit, file names that are not UTF-8, and temporaries left by a killed run. Every case
 * must end quickly (a hang is killed and fails) with a clear message; the CLI's exit code is
 * checked in a spawned process.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../cli-run.js';
import { writeImage } from '../data/fixtures.js';
import { openDataset, prepareSplit } from '../../src/data/index.js';
import { extractFeatures } from '../../src/features/index.js';
import { FileError, loadSafetensors, readNpyArray, readRegularFile } from '../../src/io/index.js';
import { readTfjsLayersModel } from '../../src/models/index.js';
import { deadPid, expectExit2, imageBatch, linkToDevZero, makeFifo, MeanFeatures, spawnCli, tmp } from './hostile.js';

const dir = tmp('files');
after(() => rmSync(dir, { recursive: true, force: true }));

/** An image folder with two classes of two real images each; returns its root. */
async function folder(name: string): Promise<string> {
  const root = join(dir, name);
  for (const [c, seed] of [['cat', 1], ['dog', 5]] as const) {
    mkdirSync(join(root, c), { recursive: true });
    await writeImage(join(root, c, 'a.png'), 12, 10, seed);
    await writeImage(join(root, c, 'b.png'), 12, 10, seed + 1);
  }
  return root;
}

const quiet = { warn: () => {} };

describe('saln select -f', () => {
  it('a link to /dev/zero is refused without reading it (exit 2)', () => {
    const r = spawnCli(['select', '-f', linkToDevZero(dir, 'zero.npy'), '-r', '0.5'], { timeoutMs: 20_000 });
    expectExit2(r, /zero\.npy: it is a character device \(a link to \/dev\/zero\), not a regular file/);
  });
  it('a FIFO is refused without blocking on it (exit 2)', () => {
    const r = spawnCli(['select', '-f', makeFifo(join(dir, 'pipe.npy')), '-r', '0.5'], { timeoutMs: 20_000 });
    expectExit2(r, /pipe\.npy: it is a FIFO \(named pipe\), not a regular file/);
  });
});

describe('saln data prepare', () => {
  it('an image that is a link to /dev/zero is skipped with its reason, in bounded time', async () => {
    const root = await folder('zero');
    linkToDevZero(join(root, 'cat'), 'zero.jpg');
    const r = spawnCli(['data', 'prepare', 'folder', root, '--size', '8', '--cache', join(dir, 'c-zero'), '--json'], { timeoutMs: 30_000 });
    assert.ok(!r.timedOut, 'hung');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual([j.splits.all.images, j.splits.all.skipped], [4, 1]);
    assert.ok(j.warnings.some((w: string) => /skipping .*zero\.jpg: it is a character device \(a link to \/dev\/zero\)/.test(w)), j.warnings.join('\n'));
  });

  it('an image that is a link to a FIFO is skipped without blocking, and no temporary file is left', async () => {
    const root = await folder('fifo');
    const pipe = makeFifo(join(dir, 'images.pipe'));
    const { symlinkSync } = await import('node:fs');
    symlinkSync(pipe, join(root, 'dog', 'pipe.jpg'));
    const cache = join(dir, 'c-fifo');
    const r = spawnCli(['data', 'prepare', 'folder', root, '--size', '8', '--cache', cache, '--json'], { timeoutMs: 30_000 });
    assert.ok(!r.timedOut, 'hung');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /pipe\.jpg: it is a FIFO \(named pipe\) \(a link to [^)]*images\.pipe\), not a regular file/);
    assert.deepEqual(readdirSync(join(cache, 'prepared')).filter((f) => f.includes('.tmp-')), []);
  });

  it('--strict fails on such a file (exit 2), naming it', async () => {
    const root = await folder('strict');
    linkToDevZero(join(root, 'cat'), 'zero.jpg');
    expectExit2(spawnCli(['data', 'prepare', 'folder', root, '--size', '8', '--cache', join(dir, 'c-strict'), '--strict']), /cannot read .*zero\.jpg: it is a character device/);
  });

  it('an image over the size limit is skipped; raising the limit takes it', async () => {
    const root = await folder('big');
    await writeImage(join(root, 'cat', 'big.png'), 300, 300, 9);
    const src = openDataset('folder', root, quiet);
    const warnings: string[] = [];
    const small = await prepareSplit(src, 'all', { size: 8, cacheDir: join(dir, 'c-big'), maxImageBytes: 4096, warn: (m) => warnings.push(m) });
    assert.ok(!small.ids.includes('cat/big.png'));
    assert.ok(warnings.some((w) => /big\.png: it is \d+ bytes, over the limit of 4096 \(raise it with --max-image-bytes or SALN_MAX_IMAGE_BYTES\)/.test(w)), warnings.join('\n'));
    await small.close();
    const large = await prepareSplit(src, 'all', { size: 8, cacheDir: join(dir, 'c-big2'), maxImageBytes: 1 << 20, warn: () => {} });
    assert.ok(large.ids.includes('cat/big.png'));
    await large.close();
    expectExit2(await runCli(['data', 'prepare', 'folder', root, '--size', '8', '--max-image-bytes', 'lots']), /--max-image-bytes .*is invalid/);
  });

  it('a file name that is not UTF-8 is reported with its bytes escaped (a warning; an error under --strict)', async () => {
    const root = await folder('utf8');
    writeFileSync(Buffer.concat([Buffer.from(join(root, 'cat') + '/'), Buffer.from([0x66, 0xff, 0xfe]), Buffer.from('.png')]), 'x');
    const warnings: string[] = [];
    const src = openDataset('folder', root, { warn: (m) => warnings.push(m) });
    assert.equal(src.splits.all!.length, 4);
    assert.ok(warnings.some((w) => /not valid UTF-8.*cat\/f\\xff\\xfe\.png/.test(w)), warnings.join('\n'));
    expectExit2(await runCli(['data', 'info', 'folder', root, '--strict']), /not valid UTF-8.*f\\xff\\xfe\.png/);
  });

  it('temporaries of a killed prepare are removed at the next start; those of a live one are kept', async () => {
    const root = await folder('temps');
    const cache = join(dir, 'c-temps');
    mkdirSync(cache, { recursive: true });
    const dead = join(cache, `folder-all-8x8-squash-0000.u8.tmp-${deadPid()}-abcd1234`);
    const live = join(cache, `other.json.tmp-${process.pid}-0f0f0f0f`);
    writeFileSync(dead, Buffer.alloc(1000));
    writeFileSync(live, '{}');
    const warnings: string[] = [];
    const set = await prepareSplit(openDataset('folder', root, quiet), 'all', { size: 8, cacheDir: cache, warn: (m) => warnings.push(m) });
    await set.close();
    assert.ok(!existsSync(dead), 'the dead process\'s temporary is gone');
    assert.ok(existsSync(live), 'a live process\'s temporary is left alone');
    assert.ok(warnings.some((w) => /removed .*\.tmp-\d+-abcd1234, left by an interrupted prepare/.test(w)), warnings.join('\n'));
  });
});

describe('other readers', () => {
  it('.npy, safetensors, JSON manifests and TF.js models refuse FIFOs and devices without blocking', () => {
    const fifo = makeFifo(join(dir, 'any.fifo'));
    const zero = linkToDevZero(dir, 'model.safetensors');
    assert.throws(() => readNpyArray(fifo), (e: Error) => e instanceof FileError && /FIFO/.test(e.message));
    assert.throws(() => loadSafetensors(zero), (e: Error) => e instanceof FileError && /cannot read safetensors file .*character device/.test(e.message));
    assert.throws(() => readRegularFile(fifo), /FIFO \(named pipe\), not a regular file/);
    const model = join(dir, 'tfjs');
    mkdirSync(model);
    makeFifo(join(model, 'model.json'));
    assert.throws(() => readTfjsLayersModel(model), /cannot read TF\.js model .*model\.json: it is a FIFO/);
  });

  it('feature extraction removes the temporaries of a killed run', async () => {
    const out = join(dir, 'feat');
    mkdirSync(out);
    const dead = join(out, `x.safetensors.tmp-${deadPid()}-00aa00aa`);
    writeFileSync(dead, Buffer.alloc(64));
    async function* batches() {
      yield { ids: ['a', 'b'], x: imageBatch(2) };
    }
    await extractFeatures({ model: new MeanFeatures(), source: batches(), key: { dataset: 'd', split: 's', model: 'm', preprocess: 'none', size: 1 }, path: join(out, 'x.safetensors'), progress: false });
    assert.ok(!existsSync(dead));
  });

  it('features info on a FIFO or a link to /dev/zero exits 2', () => {
    expectExit2(spawnCli(['features', 'info', makeFifo(join(dir, 'cache.safetensors'))], { timeoutMs: 20_000 }), /FIFO/);
  });

  it('a CIFAR-10 batch that is a link to /dev/zero is refused (exit 2)', async () => {
    const root = join(dir, 'cifar');
    mkdirSync(root);
    linkToDevZero(root, 'data_batch_1.bin');
    assert.throws(() => openDataset('cifar10-bin', root), (e: Error) => e instanceof FileError && /cannot read CIFAR-10 file .*data_batch_1\.bin: it is a character device/.test(e.message));
    expectExit2(await runCli(['data', 'info', 'cifar10-bin', root]), /data_batch_1\.bin: it is a character device/);
  });
});

// A hang is killed at this limit; generous, so that a loaded machine's slow start is not taken for one.
const HANG_MS = 60_000;

describe('files the experiment, results and tables commands are pointed at', () => {
  const experiment = (): string => {
    const p = join(dir, 'exp.yaml');
    mkdirSync(join(dir, 'cifar-dir'), { recursive: true });
    writeFileSync(p, 'name: e\nout: out-e\ndatasets: [{ dataset: cifar10, dataDir: cifar-dir }]\nmodel: resnet18\nseeds: [0]\ntrain: { epochs: 1 }\nmethods: [{ method: none }]\n');
    return p;
  };
  // Each of these read the whole file with readFileSync: a FIFO blocked forever, /dev/zero ran out of memory.
  it('an experiment config that is a FIFO or a link to /dev/zero exits 2, naming it', () => {
    expectExit2(spawnCli(['experiment', makeFifo(join(dir, 'exp.fifo.yaml')), '--dry-run'], { timeoutMs: HANG_MS }), /cannot read experiment config .*exp\.fifo\.yaml: it is a FIFO/);
    expectExit2(spawnCli(['experiment', linkToDevZero(dir, 'exp.zero.yaml'), '--dry-run'], { timeoutMs: HANG_MS }), /exp\.zero\.yaml: it is a character device \(a link to \/dev\/zero\)/);
  });
  it('--machines and --lost-runs files, results files and a tables document: the same', () => {
    const exp = experiment();
    expectExit2(spawnCli(['experiment', exp, '--dry-run', '--machines', makeFifo(join(dir, 'machines.fifo'))], { timeoutMs: HANG_MS }), /machines\.fifo: it is a FIFO/);
    expectExit2(spawnCli(['experiment', exp, '--dry-run', '--lost-runs', linkToDevZero(dir, 'lost.json')], { timeoutMs: HANG_MS }), /lost\.json: it is a character device/);
    expectExit2(spawnCli(['results', makeFifo(join(dir, 'results.fifo'))], { timeoutMs: HANG_MS }), /results\.fifo: it is a FIFO/);
    expectExit2(spawnCli(['tables', makeFifo(join(dir, 'doc.fifo.md'))], { timeoutMs: HANG_MS }), /doc\.fifo\.md: it is a FIFO/);
  });
  it('a run directory whose config.json is a FIFO exits 2 in report, naming the file', () => {
    const run = join(dir, 'fifo-run');
    mkdirSync(run);
    makeFifo(join(run, 'config.json'));
    expectExit2(spawnCli(['report', run, '--out', join(dir, 'fifo-report')], { timeoutMs: HANG_MS }), /fifo-run\/config\.json: it is a FIFO/);
    assert.ok(!existsSync(join(dir, 'fifo-report')));
  });
});
