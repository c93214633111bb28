/**
 * `saln select`: exactness through the CLI on every fixture case with both solvers, the
 * output formats, and bad input (exit code 2, one clear line on stderr, no stack trace).
 * Most runs call main() in-process; a few spawn bin/saln.js to check the real process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCli, type CliRun } from '../cli-run.js';
import { encodeNpy } from '../../src/io/index.js';
import { fixture, repoRoot } from '../helpers.js';

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv);

const run = promisify(execFile);
async function spawnCli(...argv: string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'bin', 'saln.js'), ...argv], { cwd: repoRoot });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const cases = (JSON.parse(readFileSync(fixture('saln', 'cases.json'), 'utf8')) as {
  cases: { file: string; filter_ratio: number; selected: number[]; fiedler_value: number; n: number }[];
}).cases;

const tmp = mkdtempSync(join(tmpdir(), 'saln-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes a float32 .npy of the given shape and values. */
function npy(name: string, shape: number[], values: ArrayLike<number>): string {
  const file = join(tmp, name);
  const data = Float32Array.from(values);
  writeFileSync(file, Buffer.concat(encodeNpy(new Uint8Array(data.buffer), shape, 'float32')));
  return file;
}

/** Writes a .npy with a hand-made header (for the kinds of file the reader must refuse). */
function rawNpy(name: string, header: string, body: Uint8Array): string {
  const file = join(tmp, name);
  const h = header.padEnd(118, ' ') + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  writeFileSync(file, Buffer.concat([pre, Buffer.from(h, 'latin1'), body]));
  return file;
}

function expectInputError(r: CliRun, re: RegExp): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.err})`);
  assert.equal(r.out, '');
  assert.match(r.err, re);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

describe('saln select: every fixture case through the CLI', () => {
  for (const c of cases) {
    for (const solver of ['eigh', 'lanczos']) {
      it(`${c.file} --solver ${solver}`, async () => {
        const r = await cli('select', '--features', fixture('saln', c.file), '--filter-ratio', String(c.filter_ratio), '--json', '--solver', solver);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.err, '');
        assert.match(r.out, /^\{"indices":\[[\d,]+\],"fiedler_value":[-\d.e+]+\}\n$/, 'one JSON line with exactly these keys');
        const j = JSON.parse(r.out) as { indices: number[]; fiedler_value: number };
        assert.deepEqual([...j.indices].sort((a, b) => a - b), c.selected);
        assert.ok(Math.abs(j.fiedler_value - c.fiedler_value) <= 1e-9 * c.fiedler_value);
      });
    }
  }
});

describe('saln select: output', () => {
  const f = fixture('saln', 'case_00.npy');
  it('--scores adds |f| for every sample, and indices come by descending score', async () => {
    const r = await cli('select', '-f', f, '-r', '0.8', '--json', '--scores');
    const j = JSON.parse(r.out) as { indices: number[]; scores: number[] };
    assert.equal(j.scores.length, 32);
    for (let i = 1; i < j.indices.length; i++) assert.ok(j.scores[j.indices[i - 1]!]! >= j.scores[j.indices[i]!]!);
  });
  it('without --json, a readable summary', async () => {
    const r = await cli('select', '-f', f, '-r', '0.8', '--solver', 'eigh');
    assert.equal(r.code, 0);
    assert.match(r.out, /^Kept 6 of 32 samples \(filter ratio 0\.8\)/);
    assert.match(r.out, /Fiedler value\s+11\.1990666/);
    assert.match(r.out, /kept, by descending \|f\|: 19, 21, 18, 9, 6, 22/);
  });
  it('options beyond the paper are accepted', async () => {
    const r = await cli('select', '-f', f, '-r', '0.5', '--json', '--laplacian', 'symmetric', '--knn', '8', '--clamp-negative', '--threads', '1');
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { indices: number[] }).indices.length, 16);
  });
  it('--help explains the algorithm, the solvers and the exit codes', async () => {
    const r = await cli('select', '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /Fiedler vector/);
    assert.match(r.out, /--filter-ratio <ratio>/);
    assert.match(r.out, /Exit codes: 0 success, 2 bad usage or input/);
  });
});

describe('saln select: bad input', () => {
  const good = fixture('saln', 'case_00.npy');
  it('a filter ratio outside [0, 1)', async () => {
    for (const r of ['1', '-0.1', 'abc', '']) {
      expectInputError(await cli('select', '-f', good, '-r', r), /--filter-ratio .*is invalid\. Expected a number in \[0, 1\)/);
    }
  });
  it('k = 0, naming the batch size and the ratio', async () => {
    expectInputError(await cli('select', '-f', good, '-r', '0.99'), /batch of 32 samples with filter ratio 0\.99 keeps .* = 0 samples/);
  });
  it('n < 2', async () => {
    expectInputError(await cli('select', '-f', npy('one.npy', [1, 4], [1, 2, 3, 4]), '-r', '0'), /at least 2 samples, but features has 1/);
  });
  it('NaN or Inf, naming the first bad row', async () => {
    const v = Array.from({ length: 40 }, (_, i) => i + 1);
    v[4 * 5 + 2] = Number.NaN;
    v[4 * 7] = Infinity;
    expectInputError(await cli('select', '-f', npy('nan.npy', [10, 4], v), '-r', '0.5'), /first bad row is 5/);
  });
  it('a 1-D array', async () => {
    expectInputError(await cli('select', '-f', npy('flat.npy', [6], [1, 2, 3, 4, 5, 6]), '-r', '0.5'), /expected an array of shape \[n, d\].*has shape \[6\]/);
  });
  it('a missing file, and missing options', async () => {
    expectInputError(await cli('select', '-f', join(tmp, 'nope.npy'), '-r', '0.5'), /cannot read .*nope\.npy: ENOENT/);
    expectInputError(await cli('select', '-r', '0.5'), /required option '-f, --features <file>' not specified/);
    expectInputError(await cli('select', '-f', good, '-r', '0.5', '--solver', 'qr'), /Allowed choices are auto, eigh, lanczos/);
  });
  it('a Fortran-order file', async () => {
    const f = rawNpy('fortran.npy', "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new Uint8Array(16));
    expectInputError(await cli('select', '-f', f, '-r', '0.5'), /Fortran-order arrays are not supported/);
  });
  it('an unsupported dtype', async () => {
    const f = rawNpy('complex.npy', "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }", new Uint8Array(32));
    expectInputError(await cli('select', '-f', f, '-r', '0.5'), /unsupported dtype '<c8'/);
    const g = rawNpy('bigendian.npy', "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", new Uint8Array(16));
    expectInputError(await cli('select', '-f', g, '-r', '0.5'), /unsupported dtype '>f4'/);
  });
  it('a corrupt header, truncated data, and a file that is not .npy', async () => {
    expectInputError(await cli('select', '-f', rawNpy('corrupt.npy', "{'descr': '<f4', 'shape': (2, 2)}", new Uint8Array(16)), '-r', '0.5'), /corrupt \.npy header/);
    expectInputError(await cli('select', '-f', rawNpy('short.npy', "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", new Uint8Array(8)), '-r', '0.5'), /truncated \.npy data/);
    const text = join(tmp, 'text.npy');
    writeFileSync(text, 'hello, world');
    expectInputError(await cli('select', '-f', text, '-r', '0.5'), /not a \.npy file/);
  });
});

describe('bin/saln.js as a process', () => {
  it('prints the JSON line and exits 0', async () => {
    const r = await spawnCli('select', '--features', fixture('saln', 'case_05.npy'), '--filter-ratio', '0.75', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { indices: number[] };
    assert.deepEqual([...j.indices].sort((a, b) => a - b), cases.find((c) => c.file === 'case_05.npy')!.selected);
  });
  it('exits 2 on bad input with one clear line and no stack trace', async () => {
    const r = await spawnCli('select', '--features', join(tmp, 'missing.npy'), '--filter-ratio', '0.5');
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.match(r.err, /^saln: error: cannot read .*missing\.npy/);
  });
});
