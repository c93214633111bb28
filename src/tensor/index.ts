export { Tensor, type Device, type MemoryFormat } from './tensor.js';
export * from './create.js';
export { tidy, keep, noGrad, isGradEnabled } from './scope.js';
export { type DType, isFloating, BYTES_PER_ELEMENT } from './dtype.js';
export { invalid, checkInt, checkNumber, normDim, pair } from './validate.js';
export { EngineError } from '../binding/errors.js';
