import { EngineError } from '../binding/errors.js';
import { opCode, opNames } from './opcodes.js';

/** Element types; their codes come from the addon (native/src/op_tables.h: SALN_DTYPES). */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool' | 'float16' | 'bfloat16' | 'int8' | 'int16';

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, bool: 1, float16: 2, bfloat16: 2, int8: 1, int16: 2,
};

/** Checks once, at load, that the addon's dtype table names exactly the DType members. */
function dtypeCodes(): Record<DType, number> {
  const names = opNames('dtype');
  const known = Object.keys(BYTES_PER_ELEMENT);
  if (names.length !== known.length || names.some((n) => !known.includes(n))) {
    throw new EngineError(`the native addon's dtypes (${names.join(', ')}) differ from saln's (${known.join(', ')}): rebuild it with \`npm run build:native\``);
  }
  return Object.fromEntries(names.map((n) => [n, opCode('dtype', n)])) as Record<DType, number>;
}

/** DType -> the addon's code. */
export const DTYPE_CODES: Record<DType, number> = dtypeCodes();
/** The addon's code -> DType. */
export const DTYPES_BY_CODE: DType[] = opNames('dtype') as DType[];

/** The typed array `toTypedArray()` returns for each dtype. float16/bfloat16 come back as raw Uint16 bits. */
export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array
  : D extends 'float64' ? Float64Array
  : D extends 'int64' ? BigInt64Array
  : D extends 'int32' ? Int32Array
  : D extends 'uint8' | 'bool' ? Uint8Array
  : D extends 'int8' ? Int8Array
  : D extends 'int16' ? Int16Array
  : Uint16Array;

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array;

export function typedArrayFrom(dtype: DType, buf: ArrayBuffer): AnyTypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'int16': return new Int16Array(buf);
    default: return new Uint16Array(buf);
  }
}

/** The dtype a typed array maps to when no dtype is given. */
export function dtypeOfArray(a: ArrayBufferView): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  throw new TypeError(`Expected a Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array, Int8Array or Int16Array but received ${a.constructor.name}`);
}

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}
