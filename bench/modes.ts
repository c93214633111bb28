/** The precision and memory-format pairs bench:engine and bench:features compare, and the engine's default. */
import { cudaDeviceCount, engineInfo, resolvePrecision, type Device, type MemoryFormat, type Precision } from '../src/tensor/index.js';
import { log } from './common.js';

export interface Mode {
  precision: Precision;
  memoryFormat: MemoryFormat;
}

export const BF16_CL: Mode = { precision: 'bf16', memoryFormat: 'channels-last' };
export const FP32_NCHW: Mode = { precision: 'fp32', memoryFormat: 'contiguous' };
export const FP32_CL: Mode = { precision: 'fp32', memoryFormat: 'channels-last' };

export const sameMode = (a: Mode, b: Mode): boolean => a.precision === b.precision && a.memoryFormat === b.memoryFormat;

/** What `--precision`/`--memory-format` (default auto) resolve to on the device; logs why. */
export function engineDefault(precision: string, memoryFormat: string, device: Device = 'cpu'): Mode {
  const mode = resolvePrecision(precision as Precision | 'auto', memoryFormat as MemoryFormat | 'auto', device);
  log(`engine default: ${mode.reason}`);
  return mode;
}

/** The --device flag of bench:engine and bench:features: cpu, cuda or cuda:N, and CUDA must be there. */
export function benchDevice(flag: string): Device {
  if (!/^(cpu|cuda(:\d+)?)$/.test(flag)) throw new Error(`--device: expected cpu, cuda or cuda:N, got ${flag}`);
  if (flag !== 'cpu' && cudaDeviceCount() === 0) throw new Error(`--device ${flag}: CUDA is not available to the engine (engineInfo: ${JSON.stringify(engineInfo())})`);
  return flag as Device;
}
