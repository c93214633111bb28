/**
 * Results whose runs trained on several machines. A wall time holds for one machine only, so an
 * equal-wall-time budget is standard training's median wall time on the machine the cell runs on,
 * and the results give every time in the reference machine's seconds: a run's seconds times
 * (standard training's median on the reference machine) / (that median on the run's machine).
 * Accuracies and paired differences are not touched.
 *
 * The machines file (`saln experiment --machines FILE`, e.g. results/p-cifar-ft.machines.json):
 *   {"reference": {"name": "…", "none_median_seconds": 970.9, "note": "…"},
 *    "machines": [{"name": "AMD EPYC (family 26, model 2), 2 CPUs", "none_median_seconds": 512.3, "note": "…"}]}
 * name is what runs record (config.json extra.machine, machine-cpu.ts machineName). A run without
 * that record trained before runs named their machine: on the reference machine.
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { RunRecord } from '../experiments/run-record.js';
import { machineOf } from '../train/records.js';
import { readJsonFile, type SecondsScale } from './results.js';

const machine = z.object({ name: z.string().min(1), none_median_seconds: z.number().positive(), note: z.string().optional() }).strict();
const machinesSchema = z.object({
  reference: machine.extend({ name: z.string().min(1).optional() }),
  machines: z.array(machine),
}).strict();
export type Machines = z.infer<typeof machinesSchema>;

export function readMachines(path: string): Machines {
  return readJsonFile(path, machinesSchema, 'a machines file');
}

/** Each run's factor to the reference machine's seconds; a run of a machine the file does not list is an error naming both. */
export function secondsScaleOf(m: Machines, path: string): SecondsScale {
  const medians = new Map(m.machines.map((x) => [x.name, x.none_median_seconds]));
  return (r: RunRecord) => {
    const name = machineOf(r.config);
    if (name === null || name === m.reference.name) return 1;
    const median = medians.get(name);
    if (median === undefined) throw new InputError('io', `${path}: ${r.runDir} trained on "${name}", which the file does not list; measure standard training there and add it`, { path });
    return m.reference.none_median_seconds / median;
  };
}
