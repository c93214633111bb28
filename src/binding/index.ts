export { native } from './binding.js';
export type { NativeBinding, NativeHandle, NativeGroup, NativeDistInit } from './binding.js';
export { EngineError } from './errors.js';
