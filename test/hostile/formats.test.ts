/**
 * Malformed .npy, safetensors and TF.js files: each is refused with an error that names the file
 * and the offending key or field, as an InputError (exit 2 through the CLI), and a header that
 * declares more data than the file holds is refused before anything that size is allocated.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../cli-run.js';
import { InputError } from '../../src/errors.js';
import { FileError, loadSafetensors, parseNpy, parseSafetensors, readNpyArray, serializeSafetensors } from '../../src/io/index.js';
import { ModelError, readTfjsLayersModel } from '../../src/models/index.js';
import { tensor } from '../../src/tensor/index.js';
import { expectExit2, tmp } from './hostile.js';

const dir = tmp('formats');
after(() => rmSync(dir, { recursive: true, force: true }));

/** A version-1 .npy with this header text and body. */
function npyBytes(header: string, body: Uint8Array = new Uint8Array(16)): Buffer {
  const h = `${header}\n`;
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), body]);
}

/** Throws an InputError naming the file and the field, with a message matching re. */
function refuses(fn: () => unknown, re: RegExp, field?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, `an InputError, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match(e.message, re);
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

describe('.npy headers, parsed strictly', () => {
  const cases: [string, string, RegExp, string | undefined][] = [
    ['duplicate key', "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'shape': (4, 1), }", /the key 'shape' appears twice/, 'shape'],
    ['float dimension', "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 2), }", /dimension 0 is 2\.0 \(a float\), not a non-negative integer/, 'shape'],
    ['negative dimension', "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 2), }", /dimension 0 is -2/, 'shape'],
    ['shape not a tuple', "{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", /shape must be a tuple of integers/, 'shape'],
    ['unknown key', "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'evil': 1, }", /unexpected key 'evil'/, 'evil'],
    ['missing key', "{'descr': '<f4', 'shape': (2, 2), }", /missing key 'fortran_order'/, 'fortran_order'],
    ['structured dtype', "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", /structured arrays are not supported/, 'descr'],
    ['unsupported descr', "{'descr': '<u4', 'fortran_order': False, 'shape': (2, 2), }", /unsupported dtype '<u4'/, 'descr'],
    ['fortran_order not a bool', "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 2), }", /fortran_order must be True or False/, 'fortran_order'],
    ['code instead of a literal', "{'descr': '<f4', 'fortran_order': False, 'shape': __import__('os'), }", /corrupt \.npy header/, undefined],
  ];
  for (const [name, header, re, field] of cases) {
    it(`${name}: an error naming the file and the field`, () => refuses(() => parseNpy(npyBytes(header), 'x.npy'), new RegExp(`^x\\.npy: .*${re.source}`), field));
  }

  it('a header declaring 4 TB of data is refused from the file size, before reading', () => {
    const f = join(dir, 'huge.npy');
    writeFileSync(f, npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }"));
    refuses(() => readNpyArray(f), /huge\.npy: truncated \.npy data: shape \[1000000000, 1000\] needs 4000000000000 bytes/);
  });

  it('a header length over NumPy\'s limit is refused', () => {
    const b = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }");
    const v2 = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0, 0, 0, 0x7f]), b.subarray(10)]);
    refuses(() => parseNpy(v2, 'long.npy'), /long\.npy: corrupt \.npy header: it claims \d+ bytes, over NumPy's limit/);
  });

  it('Python 2 long dimensions (3L) and a 1-tuple (5,) still read', () => {
    const a = parseNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }"));
    assert.deepEqual(a.shape, [2, 2]);
    const b = parseNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"));
    assert.deepEqual(b.shape, [4]);
  });

  it('through saln select: exit 2, naming the file and the key', async () => {
    const f = join(dir, 'dup.npy');
    writeFileSync(f, npyBytes("{'descr': '<f4', 'fortran_order': False, 'descr': '<f8', 'shape': (2, 2), }", new Uint8Array(32)));
    expectExit2(await runCli(['select', '-f', f, '-r', '0.5']), /dup\.npy: corrupt \.npy header: the key 'descr' appears twice/);
  });
});

/** A safetensors file from a header object (written as given) and a data buffer. */
function st(header: unknown, data: Uint8Array = new Uint8Array(0), headerBytes?: Buffer): Buffer {
  const raw = headerBytes ?? Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(raw.length));
  return Buffer.concat([len, raw, data]);
}

describe('safetensors, checked as the reference implementation does', () => {
  const t = (o: Record<string, unknown>) => ({ dtype: 'F32', shape: [2], data_offsets: [0, 8], ...o });
  const cases: [string, Buffer, RegExp, string | undefined][] = [
    ['header not an object', st([1, 2]), /header is not a JSON object but an array/, undefined],
    ['header not UTF-8', st(null, undefined, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), /header is not UTF-8 JSON/, undefined],
    ['unknown dtype', st({ w: t({ dtype: 'F12' }) }, new Uint8Array(8)), /tensor w has unsupported dtype "F12"/, 'w.dtype'],
    ['negative shape', st({ w: t({ shape: [-2] }) }, new Uint8Array(8)), /tensor w: shape must be a list of non-negative integers/, 'w.shape'],
    ['fractional shape', st({ w: t({ shape: [1.5] }) }, new Uint8Array(8)), /tensor w: shape must be/, 'w.shape'],
    ['offsets not integers', st({ w: t({ data_offsets: [0, 8.5] }) }, new Uint8Array(8)), /tensor w: data_offsets must be two non-negative integers/, 'w.data_offsets'],
    ['offsets reversed', st({ w: t({ data_offsets: [8, 0] }) }, new Uint8Array(8)), /end before they begin/, 'w.data_offsets'],
    ['byte length ≠ numel × itemsize', st({ w: t({ shape: [3] }) }, new Uint8Array(8)), /tensor w has 8 bytes but shape \[3\] of F32 needs 12/, 'w.data_offsets'],
    ['overlapping tensors', st({ a: t({}), b: t({ data_offsets: [4, 12] }) }, new Uint8Array(12)), /tensor b: data_offsets \[4, 12\] overlaps the tensor before it/, 'b.data_offsets'],
    ['a gap between tensors', st({ a: t({}), b: t({ data_offsets: [12, 20] }) }, new Uint8Array(20)), /tensor b: data_offsets \[12, 20\] leaves bytes \[8, 12\)/, 'b.data_offsets'],
    ['trailing bytes', st({ w: t({}) }, new Uint8Array(12)), /the file holds 12 data bytes but the tensors cover only 8/, undefined],
    ['truncated data', st({ w: t({}) }, new Uint8Array(4)), /the tensors need 8 data bytes but the file holds 4/, undefined],
    ['metadata not strings', st({ __metadata__: { n: 3 } }), /__metadata__\.n must be a string/, '__metadata__.n'],
  ];
  for (const [name, bytes, re, field] of cases) {
    it(`${name}: an error naming the file and the field`, () => refuses(() => parseSafetensors(bytes, 'w.safetensors'), new RegExp(`^w\\.safetensors: not a valid safetensors file: .*${re.source}`), field));
  }

  it('a header length beyond the file, or over the 100 MB limit, is refused before it is read', () => {
    const f = join(dir, 'long.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(2n ** 60n);
    writeFileSync(f, Buffer.concat([len, Buffer.from('{}')]));
    refuses(() => loadSafetensors(f), /long\.safetensors: not a valid safetensors file: header length \d+ exceeds the file size 10/);
    const big = Buffer.alloc(8);
    big.writeBigUInt64LE(100_000_001n);
    refuses(() => parseSafetensors(Buffer.concat([big, Buffer.alloc(100_000_001, 0x20)]), 'big'), /header length 100000001 is over the 100000000-byte limit/);
  });

  it('a valid file written here still loads, and features info on a malformed one exits 2', async () => {
    const f = join(dir, 'ok.safetensors');
    writeFileSync(f, Buffer.concat(serializeSafetensors({ a: tensor([1, 2]), b: tensor([3]) })));
    const file = loadSafetensors(f);
    assert.deepEqual([...file.tensors.keys()], ['a', 'b']);
    for (const x of file.tensors.values()) x.dispose();
    const badFile = join(dir, 'bad.safetensors');
    writeFileSync(badFile, st({ w: t({ dtype: 'F12' }) }, new Uint8Array(8)));
    expectExit2(await runCli(['features', 'info', badFile]), /bad\.safetensors: not a valid safetensors file: tensor w has unsupported dtype/);
  });
});

describe('TF.js manifests', () => {
  /** A model folder with one conv layer's kernel, the manifest given. */
  function model(name: string, manifest: unknown, files: Record<string, Uint8Array> = { 'w.bin': new Uint8Array(16) }): string {
    const d = join(dir, name);
    mkdirSync(d);
    const topology = { class_name: 'Model', config: { layers: [{ class_name: 'Conv2D', name: 'conv', config: {} }] } };
    writeFileSync(join(d, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: topology, weightsManifest: manifest }));
    for (const [f, b] of Object.entries(files)) writeFileSync(join(d, f), b);
    return d;
  }
  const weights = [{ name: 'conv/kernel', shape: [1, 1, 2, 2], dtype: 'float32' }];

  it('a manifest that fails its schema is refused, naming the field', () => {
    const d = model('schema', [{ paths: ['w.bin'], weights: [{ name: 'conv/kernel', shape: [1, -1, 2, 2], dtype: 'float32' }] }]);
    assert.throws(() => readTfjsLayersModel(d), (e: Error) => e instanceof ModelError && /model\.json: malformed manifest: weightsManifest\[0\]\.weights\[0\]\.shape\[1\]/.test(e.message));
    const d2 = model('schema2', [{ paths: 'w.bin', weights }]);
    assert.throws(() => readTfjsLayersModel(d2), /weightsManifest\[0\]\.paths/);
  });

  it('a weight path outside the model folder is refused, as written or through a link', () => {
    writeFileSync(join(dir, 'outside.bin'), new Uint8Array(16));
    const d = model('escape', [{ paths: ['../outside.bin'], weights }], {});
    assert.throws(() => readTfjsLayersModel(d), (e: Error) => e instanceof ModelError && /weight file "\.\.\/outside\.bin" of the manifest lies outside the model folder/.test(e.message));
    const d2 = model('escape-link', [{ paths: ['w.bin'], weights }], {});
    symlinkSync(join(dir, 'outside.bin'), join(d2, 'w.bin'));
    assert.throws(() => readTfjsLayersModel(d2), /"w\.bin" of the manifest lies outside the model folder/);
    assert.throws(() => readTfjsLayersModel(model('abs', [{ paths: [join(dir, 'outside.bin')], weights }], {})), /lies outside the model folder/);
  });

  it('weight files larger than the manifest declares are refused before they are read', () => {
    const d = model('long', [{ paths: ['w.bin'], weights }], { 'w.bin': new Uint8Array(1 << 20) });
    assert.throws(() => readTfjsLayersModel(d), (e: Error) => e instanceof ModelError && /holds 1048576 bytes but its weights use 16/.test(e.message));
  });
});

it('FileError is an InputError', () => {
  assert.ok(new FileError('x') instanceof InputError);
});
