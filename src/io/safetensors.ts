/**
 * The safetensors format (https://huggingface.co/docs/safetensors): u64-LE header length, a JSON
 * header {name: {dtype, shape, data_offsets}, __metadata__?}, then the raw little-endian bytes.
 * Files written here load in Python's safetensors, and the reverse.
 */
import { readFileSync } from 'node:fs';
import { EngineError } from '../binding/errors.js';
import { fromBytes } from '../tensor/create.js';
import { BYTES_PER_ELEMENT, type DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from './atomic.js';

const TO_DTYPE: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const FROM_DTYPE: Record<DType, string> = Object.fromEntries(Object.entries(TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

function bad(file: string, msg: string): EngineError {
  return new EngineError(`${file}: not a valid safetensors file: ${msg}`);
}

/** Parses safetensors bytes; `name` is used in error messages. */
export function parseSafetensors(buf: Uint8Array, name = '<buffer>'): SafetensorsFile {
  if (buf.length < 8) throw bad(name, `file is ${buf.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > buf.length - 8) throw bad(name, `header length ${n} exceeds the file size ${buf.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(name, `header is not JSON (${(e as Error).message})`);
  }
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, Tensor>();
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  for (const [key, raw] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const e = raw as Entry;
    const dtype = TO_DTYPE[e?.dtype];
    if (!dtype) throw bad(name, `tensor ${key} has unsupported dtype ${JSON.stringify(e?.dtype)}`);
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw bad(name, `tensor ${key} lacks a shape or data_offsets`);
    }
    const [s, end] = e.data_offsets;
    const want = e.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
    if (end - s !== want) throw bad(name, `tensor ${key} has ${end - s} bytes but shape [${e.shape.join(', ')}] of ${e.dtype} needs ${want}`);
    if (s < 0 || end > data.length) throw bad(name, `tensor ${key} data [${s}, ${end}) lies outside the ${data.length}-byte buffer`);
    tensors.set(key, fromBytes(data.subarray(s, end), e.shape, dtype));
  }
  return { tensors, metadata };
}

export function loadSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new EngineError(`cannot read safetensors file ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(buf, path);
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
