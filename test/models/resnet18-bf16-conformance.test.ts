/**
 * bfloat16 conformance with PyTorch: torchvision's ResNet-18 (../shared/fixtures/resnet18-torchvision)
 * in eval mode under CPU bfloat16 autocast, against the logits PyTorch 1.13's torch.autocast gives
 * on the same weights and input (test/fixtures/resnet18-bf16/, made by make_fixture.py there on a
 * CPU of each bf16 kernel family).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadNpy, loadSafetensors } from '../../src/io/index.js';
import { resnet18 } from '../../src/models/index.js';
import { autocast, noGrad, type MemoryFormat } from '../../src/tensor/index.js';
import { assertClose, fixture, repoRoot } from '../helpers.js';

/** One oneDNN bf16 kernel family's logits, made on a CPU that runs it (make_fixture.py). */
interface KernelSet {
  cpu: string;
  contiguous: number[];
  channels_last: number[];
  max_abs_diff_bf16_vs_fp32: number;
}
interface Expected {
  shape: number[];
  fp32_logits: number[];
  by_kernels: Record<string, KernelSet>;
}
const expected = JSON.parse(readFileSync(`${repoRoot}/test/fixtures/resnet18-bf16/expected.json`, 'utf8')) as Expected;

/** The bf16 kernels oneDNN picks here: AMX tiles, else AVX-512 BF16, else null (emulated bf16). */
function cpuKernels(): string | null {
  const flags = existsSync('/proc/cpuinfo') ? /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [] : [];
  return flags.includes('amx_bf16') ? 'amx_bf16' : flags.includes('avx512_bf16') ? 'avx512_bf16' : null;
}

/**
 * Tolerance: both sides run the same oneDNN bf16 kernels under the same autocast policy, and on
 * each CPU that made a set (AMX; AVX-512 BF16 without AMX) the engine's logits equal PyTorch's
 * bit for bit. The two kernel families round differently (their sets differ by up to 0.0195), so
 * each CPU checks against its own family's set. A thread count or library build may still change
 * a summation order, and the logits are themselves bfloat16 (fc runs in bf16), spaced 2^-7 = 0.0078
 * for |logit| in [1, 2): one rounding step of disagreement upstream shows as about one such step
 * here. So atol 2^-6 plus rtol 2^-7 (one bf16 ulp of the value), under the bf16-vs-fp32 gap (0.030
 * to 0.034). A CPU of neither family (emulated bf16) has no set: it is held to every set within
 * twice that. The second check requires bf16 numerics outright: an engine that ignored autocast fails it.
 */
const TOL = { atol: 2 ** -6, rtol: 2 ** -7 };
const OTHER_CPU_TOL = { atol: 2 ** -5, rtol: 2 ** -6 };
function bf16Logits(memoryFormat: MemoryFormat): number[] {
  const m = resnet18({ numClasses: 10 });
  m.loadStateDict(loadSafetensors(fixture('resnet18-torchvision', 'model.safetensors')).tensors);
  m.eval().toMemoryFormat(memoryFormat);
  const x = loadNpy(fixture('resnet18-torchvision', 'input.npy')).contiguous(memoryFormat);
  const logits = noGrad(() => autocast({ dtype: 'bfloat16' }, () => m.forward(x)));
  assert.equal(logits.dtype, 'bfloat16');
  return logits.float().toArray();
}

for (const memoryFormat of ['contiguous', 'channels-last'] as const) {
  test(`ResNet-18 eval logits under bf16 autocast (${memoryFormat}) match PyTorch's autocast`, () => {
    const got = bf16Logits(memoryFormat);
    const layout = memoryFormat === 'channels-last' ? 'channels_last' : 'contiguous';
    const own = expected.by_kernels[cpuKernels() ?? ''];
    const sets = own ? [own] : Object.values(expected.by_kernels);
    for (const set of sets) assertClose(got, set[layout], { ...(own ? TOL : OTHER_CPU_TOL), what: `bf16 logits (against ${set.cpu})` });
    const offFp32 = Math.max(...got.map((v, i) => Math.abs(v - expected.fp32_logits[i]!)));
    assert.ok(offFp32 > 1e-3, `bf16 logits differ from fp32 ones (max ${offFp32}; PyTorch's differ by ${sets[0]!.max_abs_diff_bf16_vs_fp32})`);
  });
}
