import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadNpy, loadSafetensors, saveNpy, saveSafetensors, encodeNpy } from '../../src/io/index.js';
import { randn, tensor } from '../../src/tensor/index.js';
import { fixture } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'saln-io-'));

function hasPythonNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('safetensors round trip keeps names, order, dtypes, shapes and values', () => {
  const tensors = new Map([
    ['a.weight', randn([3, 4])],
    ['b.count', tensor([7], { dtype: 'int64', shape: [] })],
    ['c', tensor([1, 2, 3], { dtype: 'float64' })],
    ['d', tensor([1, 0], { dtype: 'uint8' })],
    ['e', randn([2]).to('float16')],
  ]);
  const path = join(dir, 'x.safetensors');
  saveSafetensors(path, tensors, { note: 'hello' });
  const back = loadSafetensors(path);
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  assert.equal(back.metadata.note, 'hello');
  for (const [k, t] of tensors) {
    const u = back.tensors.get(k)!;
    assert.equal(u.dtype, t.dtype, k);
    assert.deepEqual(u.shape, t.shape, k);
    assert.deepEqual(u.toArray(), t.toArray(), k);
  }
});

test('the torchvision fixture loads: 122 keys, F16 widened on load, I64 scalars', () => {
  const { tensors } = loadSafetensors(fixture('resnet18-torchvision', 'model.safetensors'));
  assert.equal(tensors.size, 122);
  assert.equal(tensors.get('conv1.weight')!.dtype, 'float16');
  assert.deepEqual(tensors.get('conv1.weight')!.shape, [64, 3, 7, 7]);
  assert.deepEqual(tensors.get('bn1.num_batches_tracked')!.shape, []);
});

test('written safetensors files parse with an independent reader (Python)', { skip: hasPythonNumpy() ? false : 'python3 with numpy is not installed' }, () => {
  const path = join(dir, 'py.safetensors');
  saveSafetensors(path, new Map([['w', tensor([[1.5, -2], [3, 4]])], ['n', tensor([5, 6], { dtype: 'int64' })]]));
  // The same layout checks as the fixture's make_fixture.py reader: header, offsets, no holes.
  const script = `
import json, struct, sys, numpy as np
data = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', data[:8]); assert n % 8 == 0
h = json.loads(data[8:8+n]); buf = data[8+n:]
covered = 0; out = {}
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']; covered += e - s
    out[k] = np.frombuffer(buf[s:e], dtype={'F32':'<f4','I64':'<i8'}[v['dtype']]).reshape(v['shape']).tolist()
assert covered == len(buf)
print(json.dumps(out))`;
  const out = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }));
  assert.deepEqual(out, { w: [[1.5, -2], [3, 4]], n: [5, 6] });
});

test('corrupt safetensors files get clear errors naming the file', () => {
  const p1 = join(dir, 'short.safetensors');
  writeFileSync(p1, Buffer.from([1, 2, 3]));
  assert.throws(() => loadSafetensors(p1), new RegExp(`${p1}: not a valid safetensors file: file is 3 bytes`));
  const p2 = join(dir, 'huge.safetensors');
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(1000n);
  writeFileSync(p2, b);
  assert.throws(() => loadSafetensors(p2), /header length 1000 exceeds/);
  assert.throws(() => loadSafetensors(join(dir, 'missing.safetensors')), /cannot read safetensors file/);
});

test('npy: reads the fixture and round-trips float32/float64/int64', () => {
  const x = loadNpy(fixture('resnet18-torchvision', 'input.npy'));
  assert.deepEqual(x.shape, [4, 3, 64, 64]);
  assert.equal(x.dtype, 'float32');
  for (const t of [randn([2, 3]), tensor([1, 2], { dtype: 'float64' }), tensor([[1], [2]], { dtype: 'int64' })]) {
    const p = join(dir, `rt-${t.dtype}.npy`);
    saveNpy(p, t);
    const u = loadNpy(p);
    assert.equal(u.dtype, t.dtype);
    assert.deepEqual(u.shape, t.shape);
    assert.deepEqual(u.toArray(), t.toArray());
    assert.equal(readFileSync(p).indexOf(0x0a) % 64, 63, 'header padded to 64 bytes');
  }
});

test('npy: Fortran order, unsupported dtype and corrupt headers are clear errors', () => {
  const good = Buffer.concat(encodeNpy(new Uint8Array(8), [2], 'float32'));
  const fortran = Buffer.from(good.toString('latin1').replace("'fortran_order': False", "'fortran_order': True "), 'latin1');
  const pF = join(dir, 'f.npy');
  writeFileSync(pF, fortran);
  assert.throws(() => loadNpy(pF), /f\.npy: Fortran-order arrays are not supported/);
  const pD = join(dir, 'd.npy');
  writeFileSync(pD, Buffer.from(good.toString('latin1').replace("'<f4'", "'>f4'"), 'latin1'));
  assert.throws(() => loadNpy(pD), /d\.npy: unsupported dtype '>f4'/);
  const pC = join(dir, 'c.npy');
  writeFileSync(pC, Buffer.from('\x93NUMPY\x01\x00\x05\x00{bad}', 'latin1'));
  assert.throws(() => loadNpy(pC), /c\.npy: corrupt \.npy header/);
  const pT = join(dir, 't.npy');
  writeFileSync(pT, good.subarray(0, good.length - 3));
  assert.throws(() => loadNpy(pT), /t\.npy: truncated \.npy data/);
  const pM = join(dir, 'm.npy');
  writeFileSync(pM, 'hello world');
  assert.throws(() => loadNpy(pM), /m\.npy: not a \.npy file/);
});
