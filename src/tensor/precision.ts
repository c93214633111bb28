/**
 * Choosing a precision and memory layout for the hardware: float32 everywhere, or bfloat16
 * autocast (see autocast() in scope.ts) with channels-last activations and conv weights.
 *
 * bfloat16 pays only where the hardware computes in it natively: CPUs with AMX-BF16 or
 * AVX512-BF16 (oneDNN's `avx512_core_amx_bf16` / `avx512_core_bf16` kernels), CUDA GPUs of
 * compute capability 8.0 and up. Elsewhere libtorch emulates it, slower than float32. oneDNN's
 * bfloat16 convolutions want channels-last input: in NCHW every conv pays a reorder each way.
 */
import { readFileSync } from 'node:fs';
import { native } from '../binding/binding.js';
import { autocast, type MatmulConvLimits } from './scope.js';
import type { Device, MemoryFormat } from './tensor.js';
import { invalid } from './validate.js';

export type Precision = 'fp32' | 'bf16';

export interface ResolvedPrecision {
  precision: Precision;
  memoryFormat: MemoryFormat;
  /** Why, in a sentence (for logs and run metadata). */
  reason: string;
}

const BF16_CPU_FLAGS = ['amx_bf16', 'avx512_bf16'];

let cpuFlags: string[] | undefined;
/** The CPU's feature flags (Linux /proc/cpuinfo); empty where unreadable. */
function readCpuFlags(): string[] {
  if (cpuFlags === undefined) {
    try {
      const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
      cpuFlags = line ? line[1]!.trim().split(/\s+/) : [];
    } catch {
      cpuFlags = [];
    }
  }
  return cpuFlags;
}

/** The bfloat16 instruction sets the CPU has, of amx_bf16 and avx512_bf16. */
export function cpuBf16Flags(): string[] {
  const flags = readCpuFlags();
  return BF16_CPU_FLAGS.filter((f) => flags.includes(f));
}

function isCuda(device: Device): boolean {
  return device === 'cuda' || device.startsWith('cuda:');
}

/** Whether device computes in bfloat16 natively (see the file comment). */
export function nativeBf16(device: Device = 'cpu'): boolean {
  return isCuda(device) ? native.isCudaAvailable() && native.cudaBf16Supported() : cpuBf16Flags().length > 0;
}

function hardwareNote(device: Device): string {
  if (isCuda(device)) return nativeBf16(device) ? 'the GPU has native bf16 (compute capability >= 8.0)' : 'the GPU has no native bf16 (compute capability < 8.0)';
  const flags = cpuBf16Flags();
  return flags.length ? `the CPU has native bf16 (${flags.join(', ')})` : 'the CPU has no native bf16 (no amx_bf16 or avx512_bf16)';
}

/**
 * Resolves 'auto' settings for device: bf16 and channels-last where the hardware computes in
 * bf16 natively, fp32 and contiguous otherwise. Explicit values win, each on its own.
 */
export function resolvePrecision(precision: Precision | 'auto', memoryFormat: MemoryFormat | 'auto', device: Device = 'cpu'): ResolvedPrecision {
  if (!['auto', 'fp32', 'bf16'].includes(precision)) throw invalid("'auto', 'fp32' or 'bf16'", 'precision', precision);
  if (!['auto', 'contiguous', 'channels-last'].includes(memoryFormat)) throw invalid("'auto', 'contiguous' or 'channels-last'", 'memoryFormat', memoryFormat);
  const fast = nativeBf16(device);
  const p: Precision = precision === 'auto' ? (fast ? 'bf16' : 'fp32') : precision;
  const m: MemoryFormat = memoryFormat === 'auto' ? (fast ? 'channels-last' : 'contiguous') : memoryFormat;
  const how = (v: string, asked: string): string => (asked === 'auto' ? `${v} (auto)` : `${v} (requested)`);
  return { precision: p, memoryFormat: m, reason: `${how(p, precision)}, ${how(m, memoryFormat)}: ${hardwareNote(device)}` };
}

/**
 * On CPU, bf16 training keeps pointwise (1×1) and depthwise convolutions over maps of at most this
 * many pixels (4×4) in float32: libtorch 1.13's oneDNN runs their bfloat16 backward 2–4× slower
 * than float32's (the 4×4 and 2×2 stages of MobileNetV1-0.75 at 64 px; BENCHMARKS.md). Full 3×3
 * convolutions there (ResNet-18's 4×4 stage on CIFAR) are faster in bfloat16 and stay so.
 */
export const CPU_BF16_FLOAT32_CONV_MAX_PIXELS = 16;

/**
 * On CPU in bf16, full convolutions with output maps of at most 8×8 (on CIFAR, ResNet-18's last
 * two stages and the stride-2 convolutions into them) take their weight gradient, and strided ones
 * their input gradient, by matmul over the unfolded input; at 4×4 and below the forward pass and
 * every input gradient too. libtorch 1.13's oneDNN bf16 kernels run 2-8x slower than the matmul
 * there (BENCHMARKS.md, bf16); at 16×16 the two are even, and unfolding costs k² times the input's
 * memory, so larger maps keep the kernels.
 */
export const CPU_BF16_MATMUL_CONV: MatmulConvLimits = { backward: 64, forward: 16 };

/**
 * Runs fn in precision on device: under bfloat16 autocast for 'bf16' (on CPU with small maps'
 * pointwise and depthwise convolutions in float32, CPU_BF16_FLOAT32_CONV_MAX_PIXELS, and small
 * maps' full convolutions by matmul, CPU_BF16_MATMUL_CONV), as it is for 'fp32'. A training step
 * puts the forward pass and the loss inside, backward and the optimizer outside:
 *
 *   const loss = withPrecision('bf16', 'cpu', () => F.crossEntropy(model.forward(x), y));
 *   loss.backward();
 *   opt.step();
 */
export function withPrecision<T>(precision: Precision, device: Device, fn: () => T): T {
  if (precision === 'fp32') return fn();
  if (precision !== 'bf16') throw invalid("'fp32' or 'bf16'", 'precision', precision);
  const cuda = isCuda(device);
  return autocast({
    dtype: 'bfloat16',
    device: cuda ? 'cuda' : 'cpu',
    float32ConvMaxPixels: cuda ? 0 : CPU_BF16_FLOAT32_CONV_MAX_PIXELS,
    matmulConv: cuda ? undefined : CPU_BF16_MATMUL_CONV,
  }, fn);
}
