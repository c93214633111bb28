export { native } from './binding.js';
export type { NativeBinding, NativeHandle } from './binding.js';
export { EngineError } from './errors.js';
