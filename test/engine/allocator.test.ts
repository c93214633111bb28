/**
 * The caching CPU allocator (native/src/cpu_allocator.cc): blocks of 1 MiB and up are kept and
 * reused, so repeated batches of the same shapes need no new memory; contents never leak from
 * one tensor to the next; SALN_CPU_CACHE_MB bounds or disables the cache.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Conv2d } from '../../src/nn/index.js';
import { cpuCacheStats, emptyCpuCache, full, noGrad, randn, tidy, zeros } from '../../src/tensor/index.js';
import { runFreshNode, srcModule } from '../helpers.js';

const MiB = 1 << 20;

test('a freed large block serves the next request of the same size', () => {
  const a = zeros([MiB]); // 4 MiB of float32
  const before = cpuCacheStats();
  assert.ok(before.installed);
  assert.ok(before.allocatedBytes >= 4 * MiB);
  a.dispose();
  const freed = cpuCacheStats();
  assert.ok(freed.cachedBytes >= before.cachedBytes + 4 * MiB, 'kept for reuse');
  const b = zeros([MiB]);
  const after = cpuCacheStats();
  assert.equal(after.misses, before.misses, 'no new memory');
  assert.equal(after.hits, before.hits + 1);
  b.dispose();
});

test('small tensors stay with malloc', () => {
  const before = cpuCacheStats();
  tidy(() => zeros([1000]).add(1).sum().item());
  const after = cpuCacheStats();
  assert.equal(after.hits + after.misses, before.hits + before.misses);
});

test('a reused block carries nothing over: zeros() after a tensor of sevens is all zeros', () => {
  full([512, 1024], 7).dispose();
  const z = zeros([512, 1024]);
  assert.equal(z.abs().sum().item(), 0);
  z.dispose();
});

test('repeated forward passes of the same shapes need no new memory after the first', () => {
  const conv = new Conv2d(8, 8, 3, { padding: 1 });
  const x = randn([4, 8, 96, 96]); // 1.2 MB per activation
  const pass = (): number => tidy(() => noGrad(() => conv.forward(conv.forward(conv.forward(x))).mean().item()));
  pass();
  const warm = cpuCacheStats();
  for (let i = 0; i < 5; i++) pass();
  const after = cpuCacheStats();
  assert.equal(after.misses, warm.misses);
  assert.ok(after.hits >= warm.hits + 15, `${after.hits - warm.hits} hits`);
});

test('emptyCpuCache() returns the cached blocks', () => {
  zeros([2 * MiB]).dispose();
  assert.ok(cpuCacheStats().cachedBytes > 0);
  emptyCpuCache();
  assert.equal(cpuCacheStats().cachedBytes, 0);
});

const tensorIndex = srcModule('tensor');
function child(env: Record<string, string>): { installed: boolean; cachedBytes: number; sum: number; stderr: string } {
  const script = `import { cpuCacheStats, zeros } from ${JSON.stringify(tensorIndex)};
const t = zeros([${MiB}]).add(2); const sum = t.sum().item(); t.dispose();
const s = cpuCacheStats(); console.log(JSON.stringify({ installed: s.installed, cachedBytes: s.cachedBytes, sum }));`;
  const { result, stderr } = runFreshNode<{ installed: boolean; cachedBytes: number; sum: number }>(script, env);
  return { ...result, stderr };
}

test('at the cap, blocks of an earlier phase give way to the current one, least recently freed first', () => {
  // 40 MiB cap. Phase A leaves 32 MiB of 8 MiB blocks; phase B frees 25 MiB of other sizes
  // (3..7 MiB, none of which an 8 MiB block serves within 1/8), so A's blocks must go.
  const script = `import { cpuCacheStats, tidy, zeros } from ${JSON.stringify(tensorIndex)};
const MiB = ${MiB};
tidy(() => { for (let i = 0; i < 4; i++) zeros([2 * MiB]); });
const passB = () => tidy(() => { for (let i = 0; i < 5; i++) zeros([(3 + i) * MiB / 4]); });
passB();
const afterB = cpuCacheStats();
passB(); passB();
const end = cpuCacheStats();
console.log(JSON.stringify({ cachedAfterB: afterB.cachedBytes, newMisses: end.misses - afterB.misses }));`;
  const { cachedAfterB, newMisses } = runFreshNode<{ cachedAfterB: number; newMisses: number }>(script, { SALN_CPU_CACHE_MB: '40' }).result;
  assert.ok(cachedAfterB <= 40 * MiB, `${cachedAfterB} cached`);
  assert.equal(newMisses, 0, 'phase B runs from the cache from its second pass on');
});

test('SALN_CPU_CACHE_MB bounds the cache, and 0 keeps libtorch\'s allocator', () => {
  const capped = child({ SALN_CPU_CACHE_MB: '1' });
  assert.deepEqual(capped, { installed: true, cachedBytes: 0, sum: 2 * MiB, stderr: '' }, 'a 4 MiB block is not kept under a 1 MiB cap');
  const roomy = child({ SALN_CPU_CACHE_MB: '64' });
  assert.ok(roomy.cachedBytes >= 4 * MiB, 'kept under a 64 MiB cap');
  const off = child({ SALN_CPU_CACHE_MB: '0' });
  assert.deepEqual(off, { installed: false, cachedBytes: 0, sum: 2 * MiB, stderr: '' });
  const dflt = child({ SALN_CPU_CACHE_MB: '' });
  assert.ok(dflt.installed && dflt.cachedBytes >= 4 * MiB && dflt.stderr === '', 'set but empty: the default');
  const bad = child({ SALN_CPU_CACHE_MB: '2GB' });
  assert.ok(bad.installed && bad.cachedBytes >= 4 * MiB, 'a bad value keeps the default');
  assert.match(bad.stderr, /ignoring SALN_CPU_CACHE_MB=2GB \(expected a whole number of MiB/);
});
