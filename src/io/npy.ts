/**
 * NumPy .npy files (format versions 1–3), C order, little-endian: float32/64, int8–64, uint8,
 * bool and float16. Anything else (Fortran order, big-endian, object arrays) is refused with
 * an error naming the file.
 */
import { EngineError } from '../binding/errors.js';
import { fromBytes } from '../tensor/create.js';
import { BYTES_PER_ELEMENT, type DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from './atomic.js';
import { FileError } from './errors.js';
import { RegularFile } from './files.js';

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

function bad(file: string, msg: string, field?: string): FileError {
  return new FileError(`${file}: ${msg}`, { path: file, field });
}

/** NumPy's own cap on header length (np.load's max_header_size): a bigger header is hostile. */
export const NPY_MAX_HEADER_BYTES = 10_000;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const KEYS = ['descr', 'fortran_order', 'shape'];

/** The fixed part of a .npy file: format version, header length, where the header starts. */
interface Preamble {
  major: number;
  headerBytes: number;
  start: number;
}

/** Reads the magic, version and header length from the first (up to) 12 bytes. */
function parsePreamble(head: Uint8Array, fileBytes: number, file: string): Preamble {
  if (head.length < 10 || MAGIC.some((b, i) => head[i] !== b)) throw bad(file, 'not a .npy file (missing the \\x93NUMPY magic)');
  const major = head[6]!;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let p: Preamble;
  if (major === 1) p = { major, headerBytes: view.getUint16(8, true), start: 10 };
  else if (major === 2 || major === 3) {
    if (head.length < 12) throw bad(file, 'corrupt .npy header (file too short)');
    p = { major, headerBytes: view.getUint32(8, true), start: 12 };
  } else throw bad(file, `unsupported .npy format version ${major}`);
  if (p.headerBytes > NPY_MAX_HEADER_BYTES) throw bad(file, `corrupt .npy header: it claims ${p.headerBytes} bytes, over NumPy's limit of ${NPY_MAX_HEADER_BYTES}`);
  if (p.start + p.headerBytes > fileBytes) throw bad(file, `corrupt .npy header: it claims ${p.headerBytes} bytes but the file has ${fileBytes - p.start}`);
  return p;
}

type PyValue = string | number | boolean | null | PyValue[] | { tuple: PyValue[] } | { float: string };

/**
 * A strict reader of the Python literal a .npy header holds: one dict of string keys; values are
 * strings, integers, True/False/None, tuples and lists. Duplicate keys are an error (Python would
 * keep the last one silently).
 */
class PyLiteral {
  private i = 0;
  constructor(private readonly s: string, private readonly file: string) {}

  private fail(what: string): never {
    throw bad(this.file, `corrupt .npy header: ${what} at character ${this.i} of ${JSON.stringify(this.s.trim())}`);
  }
  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }
  private eat(c: string): boolean {
    this.ws();
    if (this.s[this.i] === c) {
      this.i++;
      return true;
    }
    return false;
  }
  dict(): Map<string, PyValue> {
    if (!this.eat('{')) this.fail('expected a dict');
    const out = new Map<string, PyValue>();
    while (!this.eat('}')) {
      const key = this.value();
      if (typeof key !== 'string') this.fail('expected a string key');
      if (!this.eat(':')) this.fail(`expected ':' after '${key}'`);
      if (out.has(key)) throw bad(this.file, `corrupt .npy header: the key '${key}' appears twice`, key);
      out.set(key, this.value());
      if (!this.eat(',')) {
        if (!this.eat('}')) this.fail("expected ',' or '}'");
        break;
      }
    }
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected text after the dict');
    return out;
  }
  private seq(close: string): PyValue[] {
    const items: PyValue[] = [];
    while (!this.eat(close)) {
      items.push(this.value());
      if (!this.eat(',')) {
        if (!this.eat(close)) this.fail(`expected ',' or '${close}'`);
        break;
      }
    }
    return items;
  }
  private value(): PyValue {
    this.ws();
    const c = this.s[this.i];
    if (c === "'" || c === '"') {
      const end = this.s.indexOf(c, this.i + 1);
      if (end < 0) this.fail('unterminated string');
      const text = this.s.slice(this.i + 1, end);
      if (text.includes('\\')) this.fail('escapes in strings are not supported');
      this.i = end + 1;
      return text;
    }
    if (c === '(') {
      this.i++;
      const start = this.i;
      const items = this.seq(')');
      // (5) is the integer 5 in Python, not a tuple: only (5,) is.
      const body = this.s.slice(start, this.i - 1).trim();
      return items.length === 1 && !body.endsWith(',') ? items[0]! : { tuple: items };
    }
    if (c === '[') {
      this.i++;
      return this.seq(']');
    }
    const word = /^(True|False|None|[-+\w.]+)/.exec(this.s.slice(this.i))?.[0];
    if (word === undefined) this.fail('unexpected character');
    this.i += word.length;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    if (/^-?\d+L?$/.test(word)) return Number(word.replace(/L$/, ''));
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(word)) return { float: word };
    return this.fail(`'${word}' is not a literal saln reads`);
  }
}

interface NpyHeader {
  dtype: DType;
  shape: number[];
  nbytes: number;
}

/** Checks the header dict the way np.load does, and more strictly (integer dimensions, byte count in range). */
function parseHeader(text: string, file: string): NpyHeader {
  const d = new PyLiteral(text, file).dict();
  const missing = KEYS.filter((k) => !d.has(k));
  if (missing.length) throw bad(file, `corrupt .npy header: missing key '${missing[0]}' in ${JSON.stringify(text.trim())}`, missing[0]);
  const extra = [...d.keys()].filter((k) => !KEYS.includes(k));
  if (extra.length) throw bad(file, `corrupt .npy header: unexpected key '${extra[0]}' (a .npy header has exactly ${KEYS.join(', ')})`, extra[0]);
  const descr = d.get('descr');
  if (typeof descr !== 'string') throw bad(file, `unsupported dtype ${JSON.stringify(descr)}: structured arrays are not supported (supported: ${Object.keys(DESCR).join(', ')})`, 'descr');
  const fortran = d.get('fortran_order');
  if (typeof fortran !== 'boolean') throw bad(file, `corrupt .npy header: fortran_order must be True or False, not ${JSON.stringify(fortran)}`, 'fortran_order');
  if (fortran) throw bad(file, 'Fortran-order arrays are not supported; save it with np.ascontiguousarray(x)', 'fortran_order');
  const dtype = DESCR[descr];
  if (!dtype) throw bad(file, `unsupported dtype '${descr}' (supported: ${Object.keys(DESCR).join(', ')})`, 'descr');
  const shapeValue = d.get('shape');
  if (shapeValue === null || typeof shapeValue !== 'object' || !('tuple' in shapeValue)) {
    throw bad(file, `corrupt .npy header: shape must be a tuple of integers, not ${JSON.stringify(shapeValue)}`, 'shape');
  }
  const shape = shapeValue.tuple as unknown[];
  const badDim = shape.findIndex((v) => typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0);
  if (badDim >= 0) {
    const v = shape[badDim] as PyValue;
    const text = v !== null && typeof v === 'object' && 'float' in v ? `${v.float} (a float)` : JSON.stringify(v);
    throw bad(file, `corrupt .npy header: bad shape: dimension ${badDim} is ${text}, not a non-negative integer`, 'shape');
  }
  let nbytes = BYTES_PER_ELEMENT[dtype];
  for (const v of shape as number[]) nbytes *= v;
  if (!Number.isSafeInteger(nbytes)) throw bad(file, `corrupt .npy header: shape [${shape.join(', ')}] of ${descr} is too large`, 'shape');
  return { dtype, shape: shape as number[], nbytes };
}

function headerText(bytes: Uint8Array, major: number): string {
  return new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes);
}

function truncated(file: string, h: NpyHeader, descrBytes: number, have: number): FileError {
  return bad(file, `truncated .npy data: shape [${h.shape.join(', ')}] needs ${h.nbytes} bytes (${descrBytes} per element), the file has ${have}`);
}

/** Parses .npy bytes without creating a tensor. */
export function parseNpy(buf: Uint8Array, file = '<buffer>'): NpyArray {
  const p = parsePreamble(buf.subarray(0, 12), buf.length, file);
  const h = parseHeader(headerText(buf.subarray(p.start, p.start + p.headerBytes), p.major), file);
  const data = buf.subarray(p.start + p.headerBytes);
  if (data.length < h.nbytes) throw truncated(file, h, BYTES_PER_ELEMENT[h.dtype], data.length);
  return { dtype: h.dtype, shape: h.shape, data: data.subarray(0, h.nbytes) };
}

/**
 * Reads a .npy file: a regular file only (not a FIFO or a device), whose header is parsed and its
 * byte count checked against the file's size before the data is read; only that many bytes are read.
 */
export function readNpyArray(path: string): NpyArray {
  const f = RegularFile.open(path, { maxBytes: Number.MAX_SAFE_INTEGER });
  try {
    const p = parsePreamble(f.read(0, Math.min(12, f.size)), f.size, path);
    const h = parseHeader(headerText(f.read(p.start, p.headerBytes), p.major), path);
    const at = p.start + p.headerBytes;
    if (f.size - at < h.nbytes) throw truncated(path, h, BYTES_PER_ELEMENT[h.dtype], f.size - at);
    return { dtype: h.dtype, shape: h.shape, data: f.read(at, h.nbytes) };
  } finally {
    f.close();
  }
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
