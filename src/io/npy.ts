/**
 * NumPy .npy files (format versions 1–3), C order, little-endian: float32/64, int8–64, uint8,
 * bool and float16. Anything else (Fortran order, big-endian, object arrays) is refused with
 * an error naming the file.
 */
import { readFileSync } from 'node:fs';
import { EngineError } from '../binding/errors.js';
import { fromBytes } from '../tensor/create.js';
import { BYTES_PER_ELEMENT, type DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from './atomic.js';

const DESCR: Record<string, DType> = {
  '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '<i8': 'int64', '<i4': 'int32', '<i2': 'int16',
  '|i1': 'int8', '|u1': 'uint8', '|b1': 'bool',
};
const TO_DESCR: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k]));

export interface NpyArray {
  dtype: DType;
  shape: number[];
  /** The raw little-endian element bytes, C order. */
  data: Uint8Array;
}

function bad(file: string, msg: string): EngineError {
  return new EngineError(`${file}: ${msg}`);
}

/** Parses .npy bytes without creating a tensor. */
export function parseNpy(buf: Uint8Array, file = '<buffer>'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (buf.length < 10 || magic.some((b, i) => buf[i] !== b)) throw bad(file, 'not a .npy file (missing the \\x93NUMPY magic)');
  const major = buf[6]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let hlen: number;
  let start: number;
  if (major === 1) [hlen, start] = [view.getUint16(8, true), 10];
  else if (major === 2 || major === 3) {
    if (buf.length < 12) throw bad(file, 'corrupt .npy header (file too short)');
    [hlen, start] = [view.getUint32(8, true), 12];
  } else throw bad(file, `unsupported .npy format version ${major}`);
  if (start + hlen > buf.length) throw bad(file, `corrupt .npy header: it claims ${hlen} bytes but the file has ${buf.length - start}`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + hlen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(file, `corrupt .npy header: ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw bad(file, 'Fortran-order arrays are not supported; save it with np.ascontiguousarray(x)');
  const dtype = DESCR[descr];
  if (!dtype) throw bad(file, `unsupported dtype '${descr}' (supported: ${Object.keys(DESCR).join(', ')})`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(file, `corrupt .npy header: bad shape (${shapeText})`);
  const nbytes = shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
  const data = buf.subarray(start + hlen);
  if (data.length < nbytes) throw bad(file, `truncated .npy data: shape [${shape.join(', ')}] of ${descr} needs ${nbytes} bytes, the file has ${data.length}`);
  return { dtype, shape, data: data.subarray(0, nbytes) };
}

export function readNpyArray(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new EngineError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseNpy(buf, path);
}

/** Reads a .npy file into a tensor. */
export function loadNpy(path: string): Tensor {
  const a = readNpyArray(path);
  return fromBytes(a.data, a.shape, a.dtype);
}

/** Encodes raw C-order bytes as a version-1 .npy file. */
export function encodeNpy(data: Uint8Array, shape: readonly number[], dtype: DType): Uint8Array[] {
  const descr = TO_DESCR[dtype];
  if (!descr) throw new EngineError(`cannot write dtype ${dtype} to .npy`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that the data starts on a 64-byte boundary, as NumPy does.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = new Uint8Array(10);
  pre.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(pre.buffer).setUint16(8, header.length, true);
  return [pre, new TextEncoder().encode(header), data];
}

/** Writes a tensor to a .npy file atomically. */
export function saveNpy(path: string, t: Tensor): void {
  writeFileAtomic(path, encodeNpy(new Uint8Array(t.toTypedArray().buffer), t.shape, t.dtype));
}
