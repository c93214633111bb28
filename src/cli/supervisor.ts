/**
 * What `saln launch` does once its flags are checked, as torchrun does on one node: start one
 * process per local rank with torchrun's environment, pass their output through, and if one rank
 * fails, stop the others and report that rank. Engine-free: it only spawns processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism, constants } from 'node:os';
import type { CliIO } from './io.js';

export interface LaunchPlan {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  /** Collective and rendezvous timeout in seconds, passed as SALN_DIST_TIMEOUT; undefined: saln's default. */
  distTimeoutS?: number;
  /** Seconds between SIGTERM and SIGKILL when stopping the other ranks (torchrun waits 30). */
  graceS?: number;
}

export interface LaunchOutcome {
  /** 0 when every rank exited 0; else the failed rank's code (128 + signal number for a signal). */
  exitCode: number;
  /** The first rank that failed, with how it ended. */
  failed?: { rank: number; localRank: number; code: number | null; signal: NodeJS.Signals | null };
}

/** torchrun's variables for one local rank, plus the threads each rank may use. */
export function rankEnv(plan: LaunchPlan, localRank: number, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    MASTER_ADDR: plan.masterAddr,
    MASTER_PORT: String(plan.masterPort),
    WORLD_SIZE: String(plan.nnodes * plan.nprocPerNode),
    RANK: String(plan.nodeRank * plan.nprocPerNode + localRank),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(plan.nprocPerNode),
    GROUP_RANK: String(plan.nodeRank),
    // The cores are shared by the ranks on this machine; a user's OMP_NUM_THREADS wins, as in torchrun.
    OMP_NUM_THREADS: base.OMP_NUM_THREADS || String(Math.max(1, Math.floor(availableParallelism() / plan.nprocPerNode))),
  };
  if (plan.distTimeoutS !== undefined) env.SALN_DIST_TIMEOUT = String(plan.distTimeoutS);
  return env;
}

/** Writes a child's stream to `write` a whole line at a time, so ranks' lines never interleave mid-line. */
function pipeLines(stream: NodeJS.ReadableStream | null, write: (text: string) => void): () => void {
  let pending = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    pending += chunk;
    const cut = pending.lastIndexOf('\n');
    if (cut >= 0) {
      write(pending.slice(0, cut + 1));
      pending = pending.slice(cut + 1);
    }
  });
  return () => {
    if (pending) write(pending);
    pending = '';
  };
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * Runs `node ...argv` once per local rank and resolves when all have exited. The first rank to
 * fail sets the outcome; the others get SIGTERM, then SIGKILL after graceS. SIGINT or SIGTERM to
 * the launcher is passed on to the ranks.
 */
export function supervise(plan: LaunchPlan, argv: readonly string[], io: CliIO, base: NodeJS.ProcessEnv = process.env): Promise<LaunchOutcome> {
  return new Promise((resolve) => {
    const children: ChildProcess[] = [];
    const flushers: (() => void)[] = [];
    let running = plan.nprocPerNode;
    let outcome: LaunchOutcome = { exitCode: 0 };
    let killTimer: NodeJS.Timeout | undefined;

    const stopAll = (): void => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      killTimer ??= setTimeout(() => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, (plan.graceS ?? 5) * 1000);
    };
    const onSignal = (sig: NodeJS.Signals): void => {
      if (outcome.exitCode === 0) outcome = { exitCode: signalExitCode(sig) };
      stopAll();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    for (let local = 0; local < plan.nprocPerNode; local++) {
      const rank = plan.nodeRank * plan.nprocPerNode + local;
      const child = spawn(process.execPath, [...argv], { env: rankEnv(plan, local, base), stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      flushers.push(pipeLines(child.stdout, io.out), pipeLines(child.stderr, io.err));
      child.on('error', (e) => {
        io.err(`saln launch: rank ${rank}: ${e.message}\n`);
        if (outcome.exitCode === 0) outcome = { exitCode: 1, failed: { rank, localRank: local, code: null, signal: null } };
        stopAll();
      });
      child.on('exit', (code, signal) => {
        if ((code !== 0 || signal !== null) && outcome.failed === undefined && outcome.exitCode === 0) {
          outcome = { exitCode: signal ? signalExitCode(signal) : (code ?? 1), failed: { rank, localRank: local, code, signal } };
          stopAll();
        }
      });
      child.on('close', () => {
        if (--running > 0) return;
        clearTimeout(killTimer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        for (const f of flushers) f();
        resolve(outcome);
      });
    }
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it): torchrun --standalone's rendezvous port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}
