import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distributedIndices, distributedNumSamples, shardIndices } from '../../src/dist/index.js';

/**
 * torch.utils.data.DistributedSampler.__iter__ (PyTorch 2.x), transcribed step by step on plain
 * arrays, given the epoch's order (PyTorch's randperm(n, generator seeded with seed + epoch)).
 */
function pytorchSampler(order: number[], numReplicas: number, rank: number, dropLast: boolean): number[] {
  const n = order.length;
  // Python's math.ceil(-0.5) is the int 0; JS's is -0.
  const numSamples = dropLast && n % numReplicas !== 0 ? Math.max(0, Math.ceil((n - numReplicas) / numReplicas)) : Math.ceil(n / numReplicas);
  const totalSize = numSamples * numReplicas;
  let indices = [...order];
  if (!dropLast) {
    const paddingSize = totalSize - indices.length;
    if (paddingSize <= indices.length) indices = indices.concat(indices.slice(0, paddingSize));
    else {
      const reps = Math.ceil(paddingSize / indices.length);
      indices = indices.concat(Array.from({ length: reps }, () => indices).flat().slice(0, paddingSize));
    }
  } else {
    indices = indices.slice(0, totalSize);
  }
  assert.equal(indices.length, totalSize);
  const out: number[] = [];
  for (let i = rank; i < totalSize; i += numReplicas) out.push(indices[i]!);
  assert.equal(out.length, numSamples);
  return out;
}

function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

test('distributedIndices matches DistributedSampler on small cases (padding, drop_last, n < world size)', () => {
  for (const n of [0, 1, 2, 3, 5, 7, 10, 16, 17]) {
    for (const W of [1, 2, 3, 4, 5, 8]) {
      for (const dropLast of [false, true]) {
        const order = shuffled(n, n * 31 + W);
        for (let r = 0; r < W; r++) {
          const ours = Array.from(distributedIndices(order, r, W, { dropLast }));
          assert.deepEqual(ours, pytorchSampler(order, W, r, dropLast), `n=${n} W=${W} rank=${r} dropLast=${dropLast}`);
          assert.equal(ours.length, distributedNumSamples(n, W, { dropLast }));
        }
      }
    }
  }
});

test('with padding, every sample is seen and the ranks\' i-th batches of b form the one-process i-th batch of W·b', () => {
  const order = shuffled(10, 3);
  const W = 4;
  const b = 2;
  const parts = Array.from({ length: W }, (_, r) => distributedIndices(order, r, W));
  // 10 samples over 4 ranks: 3 each, padded with order[0], order[1]
  assert.deepEqual(parts.map((p) => p.length), [3, 3, 3, 3]);
  assert.deepEqual(new Set(parts.flatMap((p) => Array.from(p))), new Set(order));
  const padded = [...order, order[0]!, order[1]!];
  const globalBatch0 = new Set(padded.slice(0, W * b));
  assert.deepEqual(new Set(parts.flatMap((p) => Array.from(p.subarray(0, b)))), globalBatch0);
});

test('shardIndices covers every sample exactly once, sizes within one', () => {
  for (const n of [0, 1, 5, 9]) {
    for (const W of [1, 2, 3, 4]) {
      const shards = Array.from({ length: W }, (_, r) => Array.from(shardIndices(n, r, W)));
      assert.deepEqual(shards.flat().sort((a, c) => a - c), Array.from({ length: n }, (_, i) => i));
      const sizes = shards.map((s) => s.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    }
  }
});

test('distributedIndices rejects a rank outside the world', () => {
  assert.throws(() => distributedIndices([1, 2], 2, 2), /Expected an integer between 0 and 1 for rank but received 2/);
});
