/**
 * A process group on libtorch's c10d (Gloo on CPU, NCCL on CUDA), started the way torchrun starts
 * one: env:// (a TCPStore hosted by rank 0 at MASTER_ADDR:MASTER_PORT) or file:// (a FileStore
 * on a shared file system).
 *
 *   const pg = await initProcessGroup();            // RANK, WORLD_SIZE, MASTER_ADDR, ... from the env
 *   await pg.allReduce([t], 'avg');
 *   pg.destroy();
 *
 * Every collective returns a Promise: c10d runs it on its own threads, so the event loop stays
 * free. Tensors given to a collective must not be changed or read until its Promise settles. All
 * ranks must issue the same collectives in the same order. Failures reject with an EngineError
 * naming the op and this rank; after one, every later call rejects at once.
 */
import { native, type NativeGroup } from '../binding/binding.js';
import { EngineError } from '../binding/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { readTorchrunEnv } from './env.js';
import { DistConfigError } from './errors.js';

export type Backend = 'gloo' | 'nccl';
export type StoreKind = 'tcp' | 'file';
/** 'avg' is a sum then a division by the world size (Gloo has no AVG). */
export type ReduceOp = 'sum' | 'avg' | 'product' | 'min' | 'max';

const REDUCE_CODES: Record<Exclude<ReduceOp, 'avg'>, number> = { sum: 0, product: 1, min: 2, max: 3 };

/** PyTorch's default collective timeout (torch.distributed's default_pg_timeout): 30 minutes. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
/** DDP's bucket for the start-up broadcast of parameters and buffers: 250 MiB. */
export const BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024;

export interface InitOptions {
  /** 'gloo' (CPU tensors, default) or 'nccl' (CUDA tensors; CUDA builds only). */
  backend?: Backend;
  /** Default: RANK, else 0. */
  rank?: number;
  /** Default: WORLD_SIZE, else 1. */
  worldSize?: number;
  /** 'tcp' (env://, default) or 'file' (file://, with filePath). */
  store?: StoreKind;
  /** Default: MASTER_ADDR, else 127.0.0.1. */
  masterAddr?: string;
  /** Default: MASTER_PORT, else 29500 (torchrun's). */
  masterPort?: number;
  /** The FileStore's file, for store 'file'; every rank names the same one. */
  filePath?: string;
  /** How long rendezvous and each collective may wait for the others (default: SALN_DIST_TIMEOUT seconds, else 30 min). */
  timeoutMs?: number;
  /** How long joining may wait for the other ranks, when it should differ from timeoutMs (ranks start at different times). */
  rendezvousTimeoutMs?: number;
  /** Environment to read torchrun's variables from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Throws the error every dist call gives in a build without c10d. */
export function assertDistAvailable(): void {
  if (!native.distAvailable()) {
    throw new EngineError(
      'saln was built without distributed support (c10d): the Gloo headers were not found at build time. ' +
        'Install them (Debian: apt-get install libgloo-dev) and rebuild with `npm run build:native`.',
    );
  }
}

/** Whether this build has c10d collectives (false when built without the Gloo headers). */
export function distAvailable(): boolean {
  return native.distAvailable();
}

function checkInt(v: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new DistConfigError(`${name}: expected an integer in [${min}, ${max}] but received ${v}`, { field: name });
  return v;
}

function timeoutFromEnv(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const text = env.SALN_DIST_TIMEOUT;
  if (text === undefined || text === '') return undefined;
  const s = Number(text);
  if (!(s > 0) || !Number.isFinite(s)) throw new DistConfigError(`SALN_DIST_TIMEOUT=${text}: expected a positive number of seconds`, { field: 'SALN_DIST_TIMEOUT' });
  return Math.round(s * 1000);
}

function resolveOptions(o: InitOptions): Parameters<typeof native.distInit>[0] {
  const env = o.env ?? process.env;
  const te = readTorchrunEnv(env);
  const backend = o.backend ?? 'gloo';
  if (backend !== 'gloo' && backend !== 'nccl') throw new DistConfigError(`backend: expected 'gloo' or 'nccl' but received ${String(backend)}`, { field: 'backend' });
  if (!native.distBackends().includes(backend)) {
    throw new DistConfigError(`backend '${backend}' is not in this build (it has: ${native.distBackends().join(', ')}); NCCL needs a CUDA libtorch and nccl.h at build time`, { field: 'backend' });
  }
  const store = o.store ?? 'tcp';
  if (store !== 'tcp' && store !== 'file') throw new DistConfigError(`store: expected 'tcp' or 'file' but received ${String(store)}`, { field: 'store' });
  const worldSize = checkInt(o.worldSize ?? te.worldSize ?? 1, 'worldSize', 1, 1 << 20);
  const rank = checkInt(o.rank ?? te.rank ?? 0, 'rank', 0, worldSize - 1);
  const port = checkInt(o.masterPort ?? te.masterPort ?? 29500, 'masterPort', 1, 65535);
  const timeoutMs = checkInt(o.timeoutMs ?? timeoutFromEnv(env) ?? DEFAULT_TIMEOUT_MS, 'timeoutMs', 1, 2 ** 31 - 1);
  const rendezvousTimeoutMs = checkInt(o.rendezvousTimeoutMs ?? timeoutMs, 'rendezvousTimeoutMs', 1, 2 ** 31 - 1);
  const host = o.masterAddr ?? te.masterAddr ?? '127.0.0.1';
  if (store === 'file' && !o.filePath) throw new DistConfigError("store 'file' needs filePath (the same file for every rank)", { field: 'filePath' });
  const ifnames = (env.GLOO_SOCKET_IFNAME ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { backend, store, rank, worldSize, host, port, path: o.filePath ?? '', timeoutMs, rendezvousTimeoutMs, ifnames };
}

/**
 * Joins the process group: returns once every rank has joined, or rejects after the timeout
 * (naming this rank and the rendezvous address).
 */
export async function initProcessGroup(o: InitOptions = {}): Promise<ProcessGroup> {
  assertDistAvailable();
  const opts = resolveOptions(o);
  const handle = await native.distInit(opts);
  return new ProcessGroup(handle, opts.backend, opts.rank, opts.worldSize, opts.timeoutMs);
}

function asList(ts: Tensor | readonly Tensor[]): Tensor[] {
  return ts instanceof Tensor ? [ts] : [...ts];
}

export class ProcessGroup {
  readonly #g: NativeGroup;
  #destroyed = false;

  /** Made by initProcessGroup. */
  constructor(
    g: NativeGroup,
    readonly backend: Backend,
    readonly rank: number,
    readonly worldSize: number,
    readonly timeoutMs: number,
  ) {
    this.#g = g;
  }

  #checkSrc(src: number, op: string): void {
    if (!Number.isInteger(src) || src < 0 || src >= this.worldSize) {
      throw new EngineError(`${op}: Expected an integer between 0 and ${this.worldSize - 1} for src but received ${src}`);
    }
  }

  /**
   * Reduces each tensor in place across the ranks (one collective per tensor, all in flight
   * together). 'avg' divides the sum by the world size.
   */
  async allReduce(ts: Tensor | readonly Tensor[], op: ReduceOp = 'sum'): Promise<void> {
    const list = asList(ts);
    if (op !== 'avg' && !(op in REDUCE_CODES)) throw new EngineError(`allReduce: Expected one of sum, avg, product, min, max for op but received ${String(op)}`);
    await native.distAllReduce(this.#g, list.map((t) => t.handle), op === 'avg' ? REDUCE_CODES.sum : REDUCE_CODES[op]);
    if (op === 'avg') for (const t of list) t.div_(this.worldSize);
  }

  /** Copies rank src's values into every rank's tensors, in place. */
  async broadcast(ts: Tensor | readonly Tensor[], src = 0): Promise<void> {
    this.#checkSrc(src, 'broadcast');
    await native.distBroadcast(this.#g, asList(ts).map((t) => t.handle), src);
  }

  /**
   * As broadcast, for many small tensors (a model's parameters and buffers): runs of the same
   * dtype go as flat buckets of about bucketBytes (c10d's broadcast_coalesced).
   */
  async broadcastCoalesced(ts: readonly Tensor[], src = 0, bucketBytes = BROADCAST_BUCKET_BYTES): Promise<void> {
    this.#checkSrc(src, 'broadcastCoalesced');
    if (!Number.isInteger(bucketBytes) || bucketBytes < 1) throw new EngineError(`broadcastCoalesced: Expected an integer >= 1 for bucketBytes but received ${bucketBytes}`);
    await native.distBroadcastCoalesced(this.#g, ts.map((t) => t.handle), src, bucketBytes);
  }

  /** Every rank's t, in rank order (same shape and dtype on every rank). */
  async allGather(t: Tensor): Promise<Tensor[]> {
    const hs = await native.distAllGather(this.#g, t.handle);
    return hs.map((h) => new Tensor(h));
  }

  /** Resolves once every rank has reached it. */
  async barrier(): Promise<void> {
    await native.distBarrier(this.#g);
  }

  /** Leaves the group (c10d joins its threads); later calls reject. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    native.distDestroy(this.#g);
  }
}
