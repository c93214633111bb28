/**
 * Bounded resources and degenerate input: --threads has a ceiling in every command that takes it,
 * eigh refuses a batch whose n² matrices exceed the memory limit before allocating them, NaN
 * pixels stop feature extraction naming the sample, and a batch with nothing to rank by says so.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../cli-run.js';
import { maxThreads, MAX_THREADS_CAP, nonNegInt, number, positiveInt, threads } from '../../src/cli/args.js';
import { DataError } from '../../src/data/index.js';
import { extractFeatures } from '../../src/features/index.js';
import { encodeNpy } from '../../src/io/index.js';
import { eighBytes, selectSpectral, SelectionLimitError } from '../../src/selection/index.js';
import { tensor } from '../../src/tensor/index.js';
import { expectExit2, imageBatch, MeanFeatures, spawnCli, tmp } from './hostile.js';

const dir = tmp('limits');
after(() => rmSync(dir, { recursive: true, force: true }));

function npy(name: string, shape: number[], values: (i: number) => number): string {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => values(i));
  const f = join(dir, name);
  writeFileSync(f, Buffer.concat(encodeNpy(new Uint8Array(data.buffer), shape, 'float32')));
  return f;
}

describe('--threads', () => {
  it('the shared parser takes 1 to 4 per core (at most 256) and refuses the rest', () => {
    const max = maxThreads();
    assert.equal(max, Math.min(MAX_THREADS_CAP, 4 * availableParallelism()));
    assert.equal(threads(String(max)), max);
    assert.equal(threads('1'), 1);
    for (const bad of [String(max + 1), '100000', '0', '-1', '1.5', 'many', '']) assert.throws(() => threads(bad), /Expected an integer between 1 and \d+/, bad);
    assert.equal(maxThreads(1000), 256);
    assert.equal(maxThreads(2), 8);
  });

  it('saln select --threads 100000 exits 2 at once instead of hanging', () => {
    const r = spawnCli(['select', '-f', npy('x.npy', [8, 3], (i) => i % 7), '-r', '0.5', '--threads', '100000'], { timeoutMs: 20_000 });
    expectExit2(r, /option '--threads <n>' argument '100000' is invalid\. Expected an integer between 1 and \d+/);
    assert.ok(r.seconds < 15, `${r.seconds} s`);
  });

  it('saln features extract --threads 100000 exits 2', async () => {
    expectExit2(await runCli(['features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', 'npy:x.npy', '-s', 'test', '--threads', '100000']), /--threads <n>' argument '100000' is invalid/);
  });

  it('the other shared parsers', () => {
    assert.equal(positiveInt('3'), 3);
    assert.throws(() => positiveInt('0'), /integer >= 1/);
    assert.throws(() => positiveInt('99999999999999999999'), /integer >= 1/);
    assert.equal(nonNegInt('0'), 0);
    assert.throws(() => nonNegInt('-1'), /integer >= 0/);
    assert.equal(number('-1.5e3'), -1500);
    assert.throws(() => number('Infinity'), /Expected a number/);
  });
});

describe('eigh memory', () => {
  it('a batch of 20,000 samples with --solver eigh is refused before allocating (exit 2)', () => {
    const f = npy('big.npy', [20000, 2], (i) => ((i * 7919) % 1000) / 1000 + 0.1);
    const r = spawnCli(['select', '-f', f, '-r', '0.5', '--solver', 'eigh'], { timeoutMs: 30_000 });
    expectExit2(r, /eigh for a batch of 20000 samples needs about \d+\.\d GiB .*over the limit .*--solver lanczos/);
    assert.ok(r.seconds < 20, `${r.seconds} s`);
  });

  it('the limit is SALN_SELECT_MAX_BYTES (or the option), checked against the estimate', () => {
    const x = tensor(Float32Array.from({ length: 64 * 4 }, (_, i) => Math.sin(i)), { shape: [64, 4] });
    const need = eighBytes(64, false);
    assert.throws(() => selectSpectral(x, { filterRatio: 0.5, solver: 'eigh', maxMemoryBytes: need }), SelectionLimitError);
    assert.equal(selectSpectral(x, { filterRatio: 0.5, solver: 'eigh', maxMemoryBytes: 1 << 30 }).k, 32);
    // The dense graph of --knn is bounded too, even with lanczos.
    assert.throws(() => selectSpectral(x, { filterRatio: 0.5, solver: 'lanczos', knn: 3, maxMemoryBytes: 1000 }), /the dense similarity graph .* needs about/);
    // The matrix-free lanczos path needs no n² memory.
    assert.equal(selectSpectral(x, { filterRatio: 0.5, solver: 'lanczos', maxMemoryBytes: 1000 }).k, 32);
    x.dispose();
  });

  it('a bad SALN_SELECT_MAX_BYTES is an error naming it', () => {
    const r = spawnCli(['select', '-f', npy('y.npy', [8, 3], (i) => i % 5), '-r', '0.5'], { env: { SALN_SELECT_MAX_BYTES: 'lots' } });
    expectExit2(r, /SALN_SELECT_MAX_BYTES must be a whole number of bytes, not "lots"/);
  });
});

describe('degenerate batches', () => {
  for (const [name, value] of [['all zero', () => 0], ['all identical', (i: number) => (i % 3) + 1]] as const) {
    for (const solver of ['eigh', 'lanczos']) {
      it(`${name} rows (${solver}): "degenerate": true and a warning`, async () => {
        const f = npy(`${name.replace(' ', '-')}.npy`, [80, 3], value);
        const r = await runCli(['select', '-f', f, '-r', '0.5', '--json', '--solver', solver]);
        assert.equal(r.code, 0, r.err);
        const j = JSON.parse(r.out);
        assert.equal(j.degenerate, true);
        assert.equal(j.indices.length, 40);
        assert.ok(Number.isFinite(j.fiedler_value), `fiedler_value ${j.fiedler_value}`);
        assert.match(r.err, /warning: .*every non-zero row points the same way/);
      });
    }
  }
  it('a batch with real structure is not degenerate (and the JSON keeps its two keys)', async () => {
    const r = await runCli(['select', '-f', npy('ok.npy', [16, 3], (i) => Math.sin(i * 1.7)), '-r', '0.5', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(Object.keys(JSON.parse(r.out)), ['indices', 'fiedler_value']);
    assert.equal(r.err, '');
  });
  it('zero rows mixed with identical ones are degenerate too; one distinct row is enough not to be', () => {
    const data = Float32Array.from({ length: 6 * 2 }, (_, i) => (i < 4 ? 0 : 2));
    assert.equal(selectSpectral({ data, n: 6, d: 2 }, { filterRatio: 0.5 }).degenerate, true);
    data[11] = 3;
    assert.equal(selectSpectral({ data, n: 6, d: 2 }, { filterRatio: 0.5 }).degenerate, false);
  });
});

describe('feature extraction on NaN pixels', () => {
  it('is a DataError naming the sample, and no NaN row reaches the cache', async () => {
    const path = join(dir, 'nan.safetensors');
    async function* batches() {
      yield { ids: ['ok-0', 'ok-1'], x: imageBatch(2) };
      yield { ids: ['ok-2', 'bad-3'], x: imageBatch(2, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, Number.NaN]) };
    }
    await assert.rejects(
      extractFeatures({ model: new MeanFeatures(), source: batches(), key: { dataset: 'd', split: 's', model: 'm', preprocess: 'none', size: 2 }, path, progress: false }),
      (e: Error) => e instanceof DataError && /sample "bad-3" has NaN or infinite pixel values/.test(e.message),
    );
  });

  it('through the CLI: exit 2 naming the row of an .npy dataset', async () => {
    const pixels = new Float32Array(3 * 8 * 8 * 3).fill(100);
    pixels[2 * 8 * 8 * 3 + 5] = Infinity;
    const f = join(dir, 'inf.npy');
    writeFileSync(f, Buffer.concat(encodeNpy(new Uint8Array(pixels.buffer), [3, 8, 8, 3], 'float32')));
    const r = await runCli(['features', 'extract', '-m', 'mobilenet-v1-0.75', '-d', `npy:${f}`, '-s', 'test', '--size', '32', '--cache-dir', join(dir, 'cache'), '--no-progress']);
    expectExit2(r, /sample "2" has NaN or infinite pixel values/);
  });
});
