/** `saln launch`: torchrun's environment, flags, exit codes, stopping the job, two launchers as two nodes. */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { runCli } from '../cli-run.js';
import { freePort, runNode } from '../dist/helpers.js';
import { repoRoot, srcModule } from '../helpers.js';
import { rankEnv, supervise, type LaunchPlan } from '../../src/cli/supervisor.js';
import { join } from 'node:path';

const plan = (o: Partial<LaunchPlan> = {}): LaunchPlan => ({ nprocPerNode: 2, nnodes: 1, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: 29500, graceS: 1, ...o });

interface Captured {
  out: string;
  err: string;
}
const capture = (): Captured & { io: { out(t: string): void; err(t: string): void } } => {
  const c = { out: '', err: '', io: { out: (t: string) => void (c.out += t), err: (t: string) => void (c.err += t) } };
  return c;
};

/** node -e SCRIPT as every rank's command. */
const nodeScript = (script: string): string[] => ['--input-type=module', '-e', script];

test("rankEnv sets torchrun's variables and splits the cores between the local ranks", () => {
  const env = rankEnv(plan({ nprocPerNode: 2, nnodes: 3, nodeRank: 1, masterAddr: '10.0.0.1', masterPort: 1234, distTimeoutS: 9 }), 1, {});
  assert.deepEqual(
    { ...env },
    {
      MASTER_ADDR: '10.0.0.1', MASTER_PORT: '1234', WORLD_SIZE: '6', RANK: '3', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', GROUP_RANK: '1',
      OMP_NUM_THREADS: String(Math.max(1, Math.floor(availableParallelism() / 2))), SALN_DIST_TIMEOUT: '9',
    },
  );
  assert.equal(rankEnv(plan(), 0, { OMP_NUM_THREADS: '3' }).OMP_NUM_THREADS, '3', "a user's OMP_NUM_THREADS wins");
});

test('a failing rank stops the job: the launcher reports it, with its exit code, and kills the others', async () => {
  // Rank 1 fails; rank 0 would run for a minute and ignores SIGTERM, so only SIGKILL ends it.
  const script = `
if (process.env.RANK === '1') setTimeout(() => process.exit(7), 200);
else { process.on('SIGTERM', () => console.log('rank 0 got SIGTERM')); console.log('rank 0 started'); setTimeout(() => console.log('rank 0 finished'), 60000); }
`;
  const c = capture();
  const t0 = Date.now();
  const outcome = await supervise(plan(), nodeScript(script), c.io);
  assert.deepEqual(outcome, { exitCode: 7, failed: { rank: 1, localRank: 1, code: 7, signal: null } });
  assert.match(c.out, /rank 0 started\n/);
  assert.match(c.out, /rank 0 got SIGTERM\n/);
  assert.doesNotMatch(c.out, /finished/);
  assert.ok(Date.now() - t0 < 30_000, 'ended long before the surviving rank would have');
});

test('a rank killed by a signal ends the job with 128 + the signal number', async () => {
  const script = `if (process.env.RANK === '0') process.kill(process.pid, 'SIGKILL'); else setTimeout(() => {}, 60000);`;
  const outcome = await supervise(plan(), nodeScript(script), capture().io);
  assert.deepEqual(outcome, { exitCode: 137, failed: { rank: 0, localRank: 0, code: null, signal: 'SIGKILL' } });
});

test('a collective that times out (--dist-timeout) fails its rank, named, and the job ends', async () => {
  // Rank 1 never joins rank 0's all-reduce. The timeout also bounds the rendezvous, so it leaves
  // time for both ranks to load the engine on a busy machine.
  const script = `
const { initProcessGroup } = await import(${JSON.stringify(srcModule('dist'))});
const { zeros } = await import(${JSON.stringify(srcModule('tensor'))});
const pg = await initProcessGroup();
if (pg.rank === 1) await new Promise((r) => setTimeout(r, 60000));
try { await pg.allReduce(zeros([8])); } catch (e) { console.error(e.message); process.exit(1); }
`;
  const c = capture();
  const outcome = await supervise(plan({ masterPort: await freePort(), distTimeoutS: 6 }), nodeScript(script), c.io);
  assert.deepEqual(outcome.failed, { rank: 0, localRank: 0, code: 1, signal: null }, c.err);
  assert.match(c.err, /allReduce \(rank 0 of 2\): .*Timed out waiting 6000ms/);
});

test('saln launch runs dist-check on 2 ranks; a failing command exits with its code, naming the rank', async () => {
  const ok = await runCli(['launch', '--nproc-per-node', '2', '--master-port', String(await freePort()), '--', 'dist-check', '--elements', '100']);
  assert.equal(ok.code, 0, ok.err);
  const lines = ok.out.trim().split('\n').map((l) => JSON.parse(l) as { rank: number; world_size: number; ok: boolean });
  assert.deepEqual(lines.map((l) => [l.rank, l.world_size, l.ok]).sort(), [[0, 2, true], [1, 2, true]]);

  // A bad flag of the launched command: every rank exits 2, and so does the launcher.
  const bad = await runCli(['launch', '--nproc-per-node', '2', '--master-port', String(await freePort()), '--', 'dist-check', '--elements', 'many']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /saln: error: launch: rank [01] \(node 0, local rank [01]\) exited with code 2; the other ranks were stopped/);
});

test('bad launch flags exit 2, naming the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['--nproc-per-node', '0', '--', 'dist-check'], /--nproc-per-node <n>' argument '0' is invalid/],
    [['--nproc-per-node', 'two', '--', 'dist-check'], /--nproc-per-node <n>' argument 'two' is invalid/],
    [['--nproc-per-node', '1', '--master-port', '70000', '--', 'dist-check'], /--master-port <port>' argument '70000' is invalid/],
    [['--nproc-per-node', '1', '--dist-timeout', '-1', '--', 'dist-check'], /--dist-timeout <s>' argument '-1' is invalid/],
    [['--nproc-per-node', '1', '--nnodes', '2', '--node-rank', '2', '--', 'dist-check'], /--node-rank 2 must be below --nnodes 2/],
    [['--', 'dist-check'], /required option '--nproc-per-node <n>' not specified/],
    [['--nproc-per-node', '1'], /missing required argument 'command'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['launch', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, re, args.join(' '));
  }
  const help = await runCli(['launch', '--help']);
  assert.equal(help.code, 0);
  for (const f of ['--nproc-per-node', '--nnodes', '--node-rank', '--master-addr', '--master-port', '--dist-timeout', 'Examples:']) assert.ok(help.out.includes(f), f);
});

test('two launchers as two nodes on 127.0.0.1 (--nnodes 2) complete a job together', async () => {
  const port = String(await freePort());
  const bin = join(repoRoot, 'bin', 'saln.js');
  const node = (r: number) => runNode<unknown>([bin, 'launch', '--nnodes', '2', '--node-rank', String(r), '--nproc-per-node', '1', '--master-port', port, '--dist-timeout', '30', '--', 'dist-check'], {}, 60_000);
  const [n0, n1] = await Promise.all([node(0), node(1)]);
  for (const [r, n] of [n0, n1].entries()) {
    assert.equal(n.code, 0, `node ${r}: ${n.stderr}`);
    assert.deepEqual(JSON.parse(n.stdout.trim()), { ...(JSON.parse(n.stdout.trim()) as object), rank: r, world_size: 2, ok: true });
  }
});
