/**
 * `saln launch`: data-parallel training on one or several machines, started as torchrun starts
 * PyTorch jobs: N ranks per machine, each a `saln` process with torchrun's environment.
 *   saln launch --nproc-per-node 2 -- train --dataset cifar10 --data-dir data/cifar10-sample --out runs/ddp
 */
import { Command, InvalidArgumentError } from 'commander';
import { fileURLToPath } from 'node:url';
import { ExitCodeError, UsageError, type CliIO } from '../io.js';
import { freePort, supervise, type LaunchPlan } from '../supervisor.js';

interface LaunchFlags {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  distTimeout?: number;
  standalone?: boolean;
}

function positiveInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !(v >= 1)) throw new InvalidArgumentError('Expected an integer >= 1.');
  return v;
}
function nonNegInt(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError('Expected an integer >= 0.');
  return Number(text);
}
function port(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || v < 1 || v > 65535) throw new InvalidArgumentError('Expected a port number in [1, 65535].');
  return v;
}
function seconds(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !(v > 0) || !Number.isFinite(v)) throw new InvalidArgumentError('Expected a positive number of seconds.');
  return v;
}

const HELP = `
Each rank runs \`saln <command ...>\` with torchrun's environment: MASTER_ADDR, MASTER_PORT,
WORLD_SIZE (= nnodes x nproc-per-node), RANK (= node-rank x nproc-per-node + local rank),
LOCAL_RANK, LOCAL_WORLD_SIZE, and OMP_NUM_THREADS = cores / nproc-per-node (unless set).
Rank 0 hosts the rendezvous (a c10d TCPStore) at --master-addr:--master-port; collectives run
on Gloo (CPU). Output of the ranks is passed through a line at a time.

If a rank fails, the others are stopped and the launcher exits with that rank's exit code,
naming it. A collective that waits longer than --dist-timeout fails, naming its rank, so a
stuck job ends too. The same machine can play several nodes (give each launcher its
--node-rank and the same --master-addr/--master-port).

Exit codes: 0 every rank succeeded; 2 bad flags; otherwise the failed rank's code
(128 + signal number when it was killed by a signal).

Examples:
  # two ranks on this machine (saln train --nproc 2 ... is the same)
  $ saln launch --standalone --nproc-per-node 2 -- train --dataset cifar10 --data-dir data/cifar10-sample --out runs/ddp

  # two machines, two ranks each: run on 10.0.0.1 (node 0) and on the other machine (node 1)
  $ saln launch --nnodes 2 --node-rank 0 --nproc-per-node 2 --master-addr 10.0.0.1 --master-port 29500 -- dist-check
  $ saln launch --nnodes 2 --node-rank 1 --nproc-per-node 2 --master-addr 10.0.0.1 --master-port 29500 -- dist-check

  # pick the network interface Gloo uses (as with PyTorch)
  $ GLOO_SOCKET_IFNAME=eth0 saln launch --nproc-per-node 2 -- dist-check
`;

/** bin/saln.js, which every rank runs: from dist/src/cli/commands/ up to the package root. */
const SALN_BIN = fileURLToPath(new URL('../../../../bin/saln.js', import.meta.url));

export function launchCommand(io: CliIO): Command {
  return new Command('launch')
    .summary('run a saln command as several data-parallel processes (as torchrun)')
    .description('Start --nproc-per-node ranks of a saln command on this machine, with torchrun\'s environment; with --nnodes, one launcher per machine.')
    .argument('<command...>', 'the saln command each rank runs, after --')
    .requiredOption('--nproc-per-node <n>', 'ranks on this machine', positiveInt)
    .option('--nnodes <n>', 'machines in the job', positiveInt, 1)
    .option('--node-rank <r>', 'this machine\'s index, in [0, nnodes)', nonNegInt, 0)
    .option('--master-addr <addr>', 'address of node 0, where rank 0 hosts the rendezvous', '127.0.0.1')
    .option('--master-port <port>', 'port of the rendezvous on node 0', port, 29500)
    .option('--standalone', 'one machine: the rendezvous on 127.0.0.1 at a free port (torchrun --standalone); saln train --nproc uses it')
    .option('--dist-timeout <s>', 'seconds a rendezvous or collective may wait for the other ranks (default 1800, as PyTorch)', seconds)
    .addHelpText('after', HELP)
    .action(async (command: string[], flags: LaunchFlags) => run(command, flags, io));
}

async function planFrom(flags: LaunchFlags): Promise<LaunchPlan> {
  if (flags.standalone && flags.nnodes > 1) throw new UsageError('--standalone runs on one machine: drop --nnodes', { field: '--standalone' });
  if (flags.nodeRank >= flags.nnodes) {
    throw new UsageError(`--node-rank ${flags.nodeRank} must be below --nnodes ${flags.nnodes}`, { field: '--node-rank' });
  }
  return {
    nprocPerNode: flags.nprocPerNode,
    nnodes: flags.nnodes,
    nodeRank: flags.nodeRank,
    masterAddr: flags.standalone ? '127.0.0.1' : flags.masterAddr,
    masterPort: flags.standalone ? await freePort() : flags.masterPort,
    distTimeoutS: flags.distTimeout,
  };
}

async function run(command: string[], flags: LaunchFlags, io: CliIO): Promise<void> {
  const plan = await planFrom(flags);
  if (command[0] === 'launch') throw new UsageError('saln launch cannot launch itself: give the command each rank runs, e.g. `-- train ...`', { field: 'command' });
  const outcome = await supervise(plan, [SALN_BIN, ...command], io);
  if (outcome.failed) {
    const f = outcome.failed;
    const how = f.signal ? `was killed by ${f.signal}` : f.code === null ? 'could not start' : `exited with code ${f.code}`;
    throw new ExitCodeError(outcome.exitCode, `launch: rank ${f.rank} (node ${plan.nodeRank}, local rank ${f.localRank}) ${how}; the other ranks were stopped`);
  }
  if (outcome.exitCode !== 0) throw new ExitCodeError(outcome.exitCode, 'launch: interrupted; the ranks were stopped');
}

/**
 * `saln train --nproc N ...` is `saln launch --nproc-per-node N -- train ...` (this machine only).
 * Returns argv unchanged when it is not such a command line.
 */
export function expandTrainNproc(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (argv[0] !== 'train') return [...argv];
  const rest: string[] = [];
  let n: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--nproc') n = argv[++i] ?? '';
    else if (a.startsWith('--nproc=')) n = a.slice('--nproc='.length);
    else rest.push(a);
  }
  if (n === undefined) return [...argv];
  if (!/^\s*\d+\s*$/.test(n) || Number(n) < 1) throw new UsageError(`--nproc: expected an integer >= 1 but received ${JSON.stringify(n)}`, { field: '--nproc' });
  if (Number(n) > 1 && Number(env.WORLD_SIZE ?? 1) > 1) throw new UsageError('--nproc: this process is already one rank of a launched job; give --nproc to one `saln train`, or use saln launch', { field: '--nproc' });
  return Number(n) === 1 ? ['train', ...rest] : ['launch', '--standalone', '--nproc-per-node', String(Number(n)), '--', 'train', ...rest];
}
