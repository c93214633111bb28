/** The precision and memory-format pairs bench:engine and bench:features compare, and the engine's default. */
import { cudaDeviceCount, engineInfo, resolvePrecision, type Device, type MemoryFormat, type Precision } from '../src/tensor/index.js';
import { device } from '../src/cli/args.js';
import { log } from './common.js';

export interface Mode {
  precision: Precision;
  memoryFormat: MemoryFormat;
}

export const BF16_CL: Mode = { precision: 'bf16', memoryFormat: 'channels-last' };
export const FP32_NCHW: Mode = { precision: 'fp32', memoryFormat: 'contiguous' };
export const FP32_CL: Mode = { precision: 'fp32', memoryFormat: 'channels-last' };

export const sameMode = (a: Mode, b: Mode): boolean => a.precision === b.precision && a.memoryFormat === b.memoryFormat;

export const PRECISION_FLAGS = ['auto', 'fp32', 'bf16'] as const satisfies readonly (Precision | 'auto')[];
export const MEMORY_FORMAT_FLAGS = ['auto', 'contiguous', 'channels-last'] as const satisfies readonly (MemoryFormat | 'auto')[];

/** What `--precision`/`--memory-format` (default auto) resolve to on the device; logs why. */
export function engineDefault(precision: Precision | 'auto', memoryFormat: MemoryFormat | 'auto', device: Device = 'cpu'): Mode {
  const mode = resolvePrecision(precision, memoryFormat, device);
  log(`engine default: ${mode.reason}`);
  return mode;
}

/** The --device flag of bench:engine and bench:features: cpu, cuda or cuda:N, and CUDA must be there; `fail` reports a bad one. */
export function benchDevice(flag: string, fail: (message: string) => never): Device {
  try {
    device(flag);
  } catch (e) {
    fail(`--device ${flag}: ${(e as Error).message}`);
  }
  if (flag !== 'cpu' && cudaDeviceCount() === 0) fail(`--device ${flag}: CUDA is not available to the engine (engineInfo: ${JSON.stringify(engineInfo())})`);
  return flag as Device;
}
