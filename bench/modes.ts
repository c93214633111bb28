/** The precision and memory-format pairs bench:engine and bench:features compare, and the engine's default. */
import { resolvePrecision, type MemoryFormat, type Precision } from '../src/tensor/index.js';
import { log } from './common.js';

export interface Mode {
  precision: Precision;
  memoryFormat: MemoryFormat;
}

export const BF16_CL: Mode = { precision: 'bf16', memoryFormat: 'channels-last' };
export const FP32_NCHW: Mode = { precision: 'fp32', memoryFormat: 'contiguous' };

export const sameMode = (a: Mode, b: Mode): boolean => a.precision === b.precision && a.memoryFormat === b.memoryFormat;

/** What `--precision`/`--memory-format` (default auto) resolve to on the CPU; logs why. */
export function engineDefault(precision: string, memoryFormat: string): Mode {
  const mode = resolvePrecision(precision as Precision | 'auto', memoryFormat as MemoryFormat | 'auto', 'cpu');
  log(`engine default: ${mode.reason}`);
  return mode;
}
