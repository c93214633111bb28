/**
 * torchrun's environment, read and checked: what a process launched by `saln launch` (or by
 * torchrun itself) learns about its place in the job.
 */
import { DistConfigError } from './errors.js';

export interface TorchrunEnv {
  /** Global rank, in [0, worldSize). */
  rank: number;
  /** Rank on this machine, in [0, localWorldSize): picks the GPU with NCCL. */
  localRank: number;
  worldSize: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function intVar(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || v < min || v > max) {
    throw new DistConfigError(`${name}=${text}: expected an integer in [${min}, ${max}]`, { field: name });
  }
  return v;
}

/**
 * The torchrun variables present in env (each undefined when unset). A single process with none
 * of them set is rank 0 of 1, as torch.distributed's env:// needs them all.
 */
export function readTorchrunEnv(env: Env = process.env): Partial<TorchrunEnv> {
  const worldSize = intVar(env, 'WORLD_SIZE', 1);
  const rank = intVar(env, 'RANK', 0);
  if (rank !== undefined && worldSize !== undefined && rank >= worldSize) {
    throw new DistConfigError(`RANK=${rank} must be below WORLD_SIZE=${worldSize}`, { field: 'RANK' });
  }
  const localWorldSize = intVar(env, 'LOCAL_WORLD_SIZE', 1);
  const localRank = intVar(env, 'LOCAL_RANK', 0);
  if (localRank !== undefined && localWorldSize !== undefined && localRank >= localWorldSize) {
    throw new DistConfigError(`LOCAL_RANK=${localRank} must be below LOCAL_WORLD_SIZE=${localWorldSize}`, { field: 'LOCAL_RANK' });
  }
  const masterAddr = env.MASTER_ADDR === '' ? undefined : env.MASTER_ADDR;
  return { rank, localRank, worldSize, localWorldSize, masterAddr, masterPort: intVar(env, 'MASTER_PORT', 1, 65535) };
}

/** Whether this process was started as one rank of several (WORLD_SIZE > 1). */
export function isDistributedLaunch(env: Env = process.env): boolean {
  return (readTorchrunEnv(env).worldSize ?? 1) > 1;
}
