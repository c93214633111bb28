export { Tensor, type Device, type MemoryFormat } from './tensor.js';
export * from './create.js';
export { tidy, keep, noGrad, isGradEnabled, autocast, autocastState, type AutocastOptions, type MatmulConvLimits } from './scope.js';
export { CPU_BF16_FLOAT32_CONV_MAX_PIXELS, CPU_BF16_MATMUL_CONV, nativeBf16, cpuBf16Flags, resolvePrecision, withPrecision, type Precision, type ResolvedPrecision } from './precision.js';
export { type DType, isFloating, BYTES_PER_ELEMENT } from './dtype.js';
export { invalid, checkInt, checkNumber, normDim, pair } from './validate.js';
export { EngineError } from '../binding/errors.js';
