/**
 * How much CPU other work took while a run trained: the machine's busy CPU time (Linux
 * /proc/stat, steal included: a hypervisor's other guests slow a run too) minus this process's
 * own, per second of wall time, in cores. Unlike the load average it does not count this run's
 * own threads waiting on disk, so a run alone on the machine reads ≈ 0.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

/** CPU seconds used so far by the whole machine (null where /proc/stat is not there) and by this process. */
export interface CpuSnapshot {
  machine: number | null;
  own: number;
  /** performance.now() in seconds. */
  at: number;
}

/** USER_HZ: /proc/stat's unit (100 on every Linux that saln runs on). */
const USER_HZ = 100;

function machineCpuSeconds(): number | null {
  try {
    const stat = readFileSync('/proc/stat', 'utf8');
    // In a container /proc/stat may show the host's CPUs, most of which this process cannot use:
    // their work is no contention of ours, so the measure is only taken where they are ours.
    if (stat.split('\n').filter((l) => /^cpu\d/.test(l)).length !== availableParallelism()) return null;
    const line = stat.split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    if (v[0] === undefined || v.some((x) => !Number.isFinite(x))) return null;
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = v;
    return (user + nice + system + irq + softirq + steal) / USER_HZ;
  } catch {
    return null;
  }
}

export function cpuSnapshot(): CpuSnapshot {
  const u = process.cpuUsage();
  return { machine: machineCpuSeconds(), own: (u.user + u.system) / 1e6, at: performance.now() / 1000 };
}

/** Cores' worth of CPU that other work used between two snapshots (never negative); null where unknown. */
export function otherCpu(from: CpuSnapshot, to: CpuSnapshot): number | null {
  const wall = to.at - from.at;
  if (from.machine === null || to.machine === null || !(wall > 0)) return null;
  return Math.max(0, (to.machine - from.machine - (to.own - from.own)) / wall);
}

/**
 * The machine a run trained on, as a name that tells two CPU models apart: /proc/cpuinfo's model
 * name with its family and model numbers (a VM may show only "AMD EPYC"), and the CPUs this process
 * may use. Wall times (a wall budget, time to accuracy) hold for one such machine only.
 * SALN_MACHINE_NAME, where set, is the name instead.
 */
export function machineName(): string {
  // Two machines can show one CPU model at different speeds (VM sizes, clocks): the user names them apart.
  const named = process.env.SALN_MACHINE_NAME?.trim();
  if (named) return named;
  const n = availableParallelism();
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (k: string): string | undefined => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
    const model = field('model name');
    if (model) return `${model} (family ${field('cpu family') ?? '?'}, model ${field('model') ?? '?'}), ${n} CPUs`;
  } catch {
    // not Linux: os.cpus() below
  }
  return `${cpus()[0]?.model.trim() || 'unknown CPU'}, ${n} CPUs`;
}
