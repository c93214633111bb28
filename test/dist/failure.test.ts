import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runRanks } from './helpers.js';

interface Outcome {
  first: { name: string; op: string; rank: number; message: string; ms: number };
  later: { message: string; ms: number };
}

// Rank 0 all-reduces; rank 1 either exits (killed peer) or never joins (stuck peer).
const SCRIPT = `
import { initProcessGroup } from DIST;
import { zeros } from TENSOR;
const mode = process.argv[1];
const pg = await initProcessGroup({ timeoutMs: Number(process.env.TEST_TIMEOUT_MS), rendezvousTimeoutMs: 60000 });
await pg.barrier();
if (pg.rank === 1) {
  if (mode === 'exit') process.exit(3);
  await new Promise((r) => setTimeout(r, Number(process.env.TEST_TIMEOUT_MS) + 500));
  process.exit(0);
}
const t0 = Date.now();
const out = {};
try { await pg.allReduce(zeros([1000])); } catch (e) { out.first = { name: e.name, op: e.op, rank: e.rank, message: e.message, ms: Date.now() - t0 }; }
const t1 = Date.now();
try { await pg.barrier(); } catch (e) { out.later = { message: e.message, ms: Date.now() - t1 }; }
console.log(JSON.stringify(out));
`;

test('a killed peer rejects the pending all-reduce at once, naming the op and this rank; later calls reject at once', async () => {
  const [r0, r1] = await runRanks<Outcome>(SCRIPT, 2, { args: ['exit'], env: { TEST_TIMEOUT_MS: '60000' } });
  assert.equal(r1!.code, 3);
  assert.equal(r0!.code, 0, r0!.stderr);
  const { first, later } = r0!.result!;
  assert.equal(first.name, 'EngineError');
  assert.equal(first.op, 'allReduce');
  assert.equal(first.rank, 0);
  assert.match(first.message, /^allReduce \(rank 0 of 2\): .*Connection closed by peer/);
  // Far below the 60 s collective timeout: the closed connection was noticed, not waited out.
  assert.ok(first.ms < 20_000, `rejected after ${first.ms} ms`);
  assert.match(later.message, /^barrier \(rank 0 of 2\): the process group failed earlier \(allReduce: .*Connection closed by peer/);
  assert.ok(later.ms < 1000, `later call took ${later.ms} ms`);
});

test('a stuck peer rejects the all-reduce after the timeout, naming the rank', async () => {
  const [r0] = await runRanks<Outcome>(SCRIPT, 2, { args: ['stuck'], env: { TEST_TIMEOUT_MS: '1500' } });
  assert.equal(r0!.code, 0, r0!.stderr);
  const { first } = r0!.result!;
  assert.match(first.message, /^allReduce \(rank 0 of 2\): .*Timed out waiting 1500ms/);
  assert.ok(first.ms >= 1400, `rejected after ${first.ms} ms, before the 1500 ms timeout`);
});

test('a rank whose peers never come rejects initProcessGroup after the timeout, naming the rank and address', async () => {
  const script = `
import { initProcessGroup } from DIST;
try { await initProcessGroup({ timeoutMs: 1000 }); console.log('{}'); }
catch (e) { console.log(JSON.stringify({ name: e.name, rank: e.rank, message: e.message })); }
`;
  // Rank 1 of 2 alone: rank 0 never hosts the store.
  const [r1] = await runRanks<{ name: string; rank: number; message: string }>(script, 1, { env: { WORLD_SIZE: '2', RANK: '1' } });
  assert.equal(r1!.code, 0, r1!.stderr);
  assert.equal(r1!.result!.name, 'EngineError');
  assert.equal(r1!.result!.rank, 1);
  assert.match(r1!.result!.message, /^initProcessGroup \(rank 1 of 2\): joining 2 ranks \(gloo\) at tcp:\/\/127\.0\.0\.1:\d+ failed: /);
});

test('bad torchrun variables are input errors naming the variable', async () => {
  const script = `
import { initProcessGroup } from DIST;
try { await initProcessGroup(); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, field: e.field, message: e.message })); }
`;
  const [p] = await runRanks<{ name: string; code: string; field: string; message: string }>(script, 1, { env: { WORLD_SIZE: '2', RANK: '2' } });
  assert.deepEqual(p!.result, { name: 'DistConfigError', code: 'config', field: 'RANK', message: 'RANK=2 must be below WORLD_SIZE=2' });
  const [q] = await runRanks<{ field: string; message: string }>(script, 1, { env: { MASTER_PORT: 'http' } });
  assert.equal(q!.result!.field, 'MASTER_PORT');
});

test('in a build without c10d, initProcessGroup fails with an error saying how to get it', async () => {
  const { native } = await import('../../src/binding/binding.js');
  const { initProcessGroup } = await import('../../src/dist/index.js');
  const real = native.distAvailable;
  native.distAvailable = () => false; // what dist.cc exports when built without the Gloo headers
  try {
    await assert.rejects(initProcessGroup({ worldSize: 1 }), { name: 'EngineError', message: /built without distributed support \(c10d\).*apt-get install libgloo-dev.*npm run build:native/ });
  } finally {
    native.distAvailable = real;
  }
});
