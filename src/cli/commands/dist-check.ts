/**
 * `saln dist-check`: joins the process group from torchrun's environment and checks the
 * collectives end to end, before a long job is trusted to them.
 *   saln launch --nproc-per-node 2 -- dist-check
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CliIO } from '../io.js';

interface CheckFlags {
  backend: 'gloo' | 'nccl';
  elements: number;
}

function positiveInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !(v >= 1)) throw new InvalidArgumentError('Expected an integer >= 1.');
  return v;
}

const HELP = `
Each rank all-reduces a tensor filled with rank + 1 (the sum must be W(W+1)/2 everywhere),
receives rank 0's broadcast and meets the others at a barrier, then prints one JSON line:
  {"rank":0,"world_size":2,"backend":"gloo","ok":true,"allreduce_ms":...}
A failed check exits 1, naming the rank.

Examples:
  $ saln launch --nproc-per-node 2 -- dist-check
  $ saln launch --nnodes 2 --node-rank 1 --nproc-per-node 1 --master-addr 10.0.0.1 -- dist-check --elements 1000000
`;

export function distCheckCommand(io: CliIO): Command {
  return new Command('dist-check')
    .summary('check the process group\'s collectives (run under saln launch)')
    .addOption(new Option('--backend <name>', 'c10d backend').choices(['gloo', 'nccl']).default('gloo'))
    .option('--elements <n>', 'float32 elements all-reduced', positiveInt, 1024)
    .addHelpText('after', HELP)
    .action(async (flags: CheckFlags) => run(flags, io));
}

async function run(flags: CheckFlags, io: CliIO): Promise<void> {
  const { initProcessGroup } = await import('../../dist/index.js');
  const { full, zeros } = await import('../../tensor/index.js');
  const { EngineError } = await import('../../tensor/index.js');
  const pg = await initProcessGroup({ backend: flags.backend });
  const W = pg.worldSize;
  const device = flags.backend === 'nccl' ? `cuda:${Number(process.env.LOCAL_RANK ?? 0)}` as const : 'cpu';
  try {
    const x = full([flags.elements], pg.rank + 1, { device });
    const t0 = performance.now();
    await pg.allReduce(x);
    const allreduceMs = performance.now() - t0;
    const sums = x.to({ device: 'cpu' }).toTypedArray();
    const wrong = sums.findIndex((v) => v !== (W * (W + 1)) / 2);
    if (wrong >= 0) throw new EngineError(`dist-check (rank ${pg.rank} of ${W}): all-reduce gave ${sums[wrong]} at ${wrong}, expected ${(W * (W + 1)) / 2}`);
    const b = pg.rank === 0 ? full([4], 42, { device }) : zeros([4], { device });
    await pg.broadcast(b, 0);
    if (b.to({ device: 'cpu' }).toArray().some((v) => v !== 42)) throw new EngineError(`dist-check (rank ${pg.rank} of ${W}): broadcast from rank 0 did not arrive`);
    await pg.barrier();
    io.out(`${JSON.stringify({ rank: pg.rank, world_size: W, backend: pg.backend, ok: true, allreduce_ms: Number(allreduceMs.toFixed(3)) })}\n`);
  } finally {
    pg.destroy();
  }
}
