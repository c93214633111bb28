/** Spawning ranks on loopback for the dist tests: free ports, torchrun's env, a hard time limit. */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { srcModule } from '../helpers.js';

/** A port nothing listens on now (the OS picks it), so parallel runs never collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ProcResult<T> {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last stdout line as JSON, when it parses. */
  result: T | undefined;
  /** True when the time limit killed it. */
  killed: boolean;
}

function lastJson<T>(stdout: string): T | undefined {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}

/** Runs `node args...` with env, killing it after limitMs so a test can never hang. */
export function runNode<T>(args: string[], env: Record<string, string>, limitMs = 60_000): Promise<ProcResult<T>> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, OMP_NUM_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, result: lastJson<T>(stdout), killed });
    });
  });
}

/**
 * Runs an ES module script once per rank, as torchrun would start it (RANK, WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT, LOCAL_RANK, LOCAL_WORLD_SIZE). `DIST` in the script is replaced by
 * the compiled src/dist module's path, `TENSOR` by src/tensor's, `NN` by src/nn's, `OPTIM` by src/optim's.
 */
export async function runRanks<T>(script: string, worldSize: number, o: { env?: Record<string, string>; limitMs?: number; args?: string[] } = {}): Promise<ProcResult<T>[]> {
  const port = await freePort();
  const code = script
    .replaceAll('DIST', JSON.stringify(srcModule('dist')))
    .replaceAll('TENSOR', JSON.stringify(srcModule('tensor')))
    .replaceAll('NN', JSON.stringify(srcModule('nn')))
    .replaceAll('OPTIM', JSON.stringify(srcModule('optim')));
  const ranks = Array.from({ length: worldSize }, (_, rank) =>
    runNode<T>(['--input-type=module', '-e', code, ...(o.args ?? [])], {
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      WORLD_SIZE: String(worldSize),
      RANK: String(rank),
      LOCAL_RANK: String(rank),
      LOCAL_WORLD_SIZE: String(worldSize),
      ...(o.env ?? {}),
    }, o.limitMs),
  );
  return Promise.all(ranks);
}
