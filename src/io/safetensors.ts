/**
 * The safetensors format (https://huggingface.co/docs/safetensors): u64-LE header length, a JSON
 * header {name: {dtype, shape, data_offsets}, __metadata__?}, then the raw little-endian bytes.
 * Files written here load in Python's safetensors, and the reverse.
 */
import { fromBytes } from '../tensor/create.js';
import { BYTES_PER_ELEMENT, type DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from './atomic.js';
import { FileError } from './errors.js';
import { RegularFile } from './files.js';

const TO_DTYPE: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const FROM_DTYPE: Record<DType, string> = Object.fromEntries(Object.entries(TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** One tensor of a checked header: its dtype and shape, and its bytes [begin, end) in the data buffer. */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** In the header's order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** The data buffer's length: every byte of it belongs to exactly one tensor. */
  dataBytes: number;
}

/** The reference implementation's cap on the header (MAX_HEADER_SIZE in huggingface/safetensors). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

function bad(file: string, msg: string, field?: string): FileError {
  return new FileError(`${file}: not a valid safetensors file: ${msg}`, { path: file, field });
}

/** The header length from the first 8 bytes, checked against the file's size and the reference's cap. */
function headerLength(first8: Uint8Array, fileBytes: number, name: string): number {
  if (fileBytes < 8) throw bad(name, `file is ${fileBytes} bytes, shorter than the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileBytes - 8)) throw bad(name, `header length ${n} exceeds the file size ${fileBytes}`);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) throw bad(name, `header length ${n} is over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`);
  return Number(n);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks one tensor entry's fields (dtype known, shape and offsets non-negative integers, byte count). */
function checkEntry(key: string, raw: unknown, name: string): SafetensorsEntry {
  if (!isObject(raw)) throw bad(name, `tensor ${key}: expected an object {dtype, shape, data_offsets}, not ${JSON.stringify(raw)}`, key);
  const dtype = typeof raw.dtype === 'string' ? TO_DTYPE[raw.dtype] : undefined;
  if (!dtype) throw bad(name, `tensor ${key} has unsupported dtype ${JSON.stringify(raw.dtype)} (supported: ${Object.keys(TO_DTYPE).join(', ')})`, `${key}.dtype`);
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(name, `tensor ${key}: shape must be a list of non-negative integers, not ${JSON.stringify(shape)}`, `${key}.shape`);
  }
  const off = raw.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount)) {
    throw bad(name, `tensor ${key}: data_offsets must be two non-negative integers [begin, end], not ${JSON.stringify(off)}`, `${key}.data_offsets`);
  }
  const [begin, end] = off as [number, number];
  if (end < begin) throw bad(name, `tensor ${key}: data_offsets [${begin}, ${end}] end before they begin`, `${key}.data_offsets`);
  let want = BYTES_PER_ELEMENT[dtype];
  for (const d of shape) want *= d;
  if (!Number.isSafeInteger(want)) throw bad(name, `tensor ${key}: shape [${shape.join(', ')}] is too large`, `${key}.shape`);
  if (end - begin !== want) throw bad(name, `tensor ${key} has ${end - begin} bytes but shape [${shape.join(', ')}] of ${raw.dtype} needs ${want}`, `${key}.data_offsets`);
  return { name: key, dtype, shape: shape as number[], begin, end };
}

/**
 * Parses and checks a header as strictly as the reference implementation (huggingface/safetensors'
 * read_metadata and Metadata::validate): UTF-8 JSON object; __metadata__ a map of strings; every
 * tensor's dtype known and shape and offsets non-negative integers; offsets, in data order,
 * starting at 0 and each beginning where the last ended (no gap, no overlap); byte length =
 * numel × itemsize. Returns the data buffer's length, which the caller checks against the file.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, name = '<buffer>'): SafetensorsHeader {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw bad(name, `header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) throw bad(name, `header is not a JSON object but ${Array.isArray(header) ? 'an array' : JSON.stringify(header)}`);
  const md = header.__metadata__ ?? {};
  if (!isObject(md)) throw bad(name, '__metadata__ must be an object of strings', '__metadata__');
  for (const [k, v] of Object.entries(md)) {
    if (typeof v !== 'string') throw bad(name, `__metadata__.${k} must be a string, not ${JSON.stringify(v)}`, `__metadata__.${k}`);
  }
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => checkEntry(k, v, name));
  const inDataOrder = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of inDataOrder) {
    if (e.begin !== at) {
      const what = e.begin > at ? `leaves bytes [${at}, ${e.begin}) of the data buffer unused` : `overlaps the tensor before it (which ends at ${at})`;
      throw bad(name, `tensor ${e.name}: data_offsets [${e.begin}, ${e.end}] ${what}`, `${e.name}.data_offsets`);
    }
    at = e.end;
  }
  return { entries, metadata: md as Record<string, string>, dataBytes: at };
}

function checkCovers(h: SafetensorsHeader, dataBytes: number, name: string): void {
  if (h.dataBytes !== dataBytes) {
    throw bad(name, h.dataBytes > dataBytes
      ? `the tensors need ${h.dataBytes} data bytes but the file holds ${dataBytes} (truncated?)`
      : `the file holds ${dataBytes} data bytes but the tensors cover only ${h.dataBytes} (trailing bytes)`);
  }
}

function toTensors(h: SafetensorsHeader, data: Uint8Array): SafetensorsFile {
  const tensors = new Map<string, Tensor>();
  for (const e of h.entries) tensors.set(e.name, fromBytes(data.subarray(e.begin, e.end), e.shape, e.dtype));
  return { tensors, metadata: h.metadata };
}

/** Parses safetensors bytes; `name` is used in error messages. */
export function parseSafetensors(buf: Uint8Array, name = '<buffer>'): SafetensorsFile {
  const n = headerLength(buf.subarray(0, 8), buf.length, name);
  const h = parseSafetensorsHeader(buf.subarray(8, 8 + n), name);
  checkCovers(h, buf.length - 8 - n, name);
  return toTensors(h, buf.subarray(8 + n));
}

/**
 * Reads a safetensors file: a regular file only; the header is read and checked first, and the
 * data buffer it declares must be exactly the rest of the file before any of it is read.
 */
export function loadSafetensors(path: string): SafetensorsFile {
  const f = RegularFile.open(path, { what: 'safetensors file', maxBytes: Number.MAX_SAFE_INTEGER });
  try {
    const n = headerLength(f.read(0, Math.min(8, f.size)), f.size, path);
    const h = parseSafetensorsHeader(f.read(8, n), path);
    checkCovers(h, f.size - 8 - n, path);
    return toTensors(h, f.read(8 + n, h.dataBytes));
  } finally {
    f.close();
  }
}

/** Serializes tensors (in the given order) with optional string metadata. */
export function serializeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array[] {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let off = 0;
  for (const [k, t] of entries) {
    const bytes = new Uint8Array(t.toTypedArray().buffer);
    header[k] = { dtype: FROM_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [off, off + bytes.length] };
    off += bytes.length;
    blobs.push(bytes);
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  const hj = new Uint8Array(raw.length + ((8 - (raw.length % 8)) % 8)).fill(0x20);
  hj.set(raw);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(hj.length), true);
  return [len, hj, ...blobs];
}

/** Writes a safetensors file atomically. */
export function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
