/**
 * Wall times across machines. A wall time holds for one machine only, so an equal-wall-time
 * budget is standard training's median wall time on the machine the cell runs on, and results
 * give every time in the reference machine's seconds: a run's seconds times (standard training's
 * median on the reference machine) / (that median on the run's machine). Accuracies and paired
 * differences are not touched.
 *
 * The machines file (`saln experiment --machines FILE`, e.g. results/p-cifar-ft.machines.json):
 *   {"reference": {"name": "…", "none_median_seconds": 970.9, "note": "…"},
 *    "machines": [{"name": "AMD EPYC (family 26, model 2), 2 CPUs", "none_median_seconds": 512.3, "note": "…"}]}
 * name is what runs record (config.json extra.machine, machine-cpu.ts machineName). A run without
 * that record trained before runs named their machine: on the reference machine.
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import { readJsonFile } from '../io/json-file.js';
import { machineOf } from '../train/records.js';
import type { RunRecord } from './run-record.js';

const machine = z.object({ name: z.string().min(1), none_median_seconds: z.number().positive(), note: z.string().optional() }).strict();
const machinesSchema = z.object({
  reference: machine.extend({ name: z.string().min(1).optional() }),
  machines: z.array(machine),
}).strict();
export type Machines = z.infer<typeof machinesSchema>;

/** A run's seconds in the reference machine's (buildResults' secondsScale). */
export type SecondsScale = (r: RunRecord) => number;

/** A machines file, read and checked, with the lookups a wall budget and the results need. */
export class MachineTimes {
  private readonly medians: ReadonlyMap<string, number>;

  constructor(readonly file: Machines, readonly path: string) {
    this.medians = new Map(file.machines.map((x) => [x.name, x.none_median_seconds]));
  }

  static read(path: string): MachineTimes {
    return new MachineTimes(readJsonFile(path, machinesSchema, 'a machines file'), path);
  }

  /** Standard training's median seconds on the reference machine. */
  get referenceSeconds(): number {
    return this.file.reference.none_median_seconds;
  }

  /**
   * Standard training's median seconds on a machine (null: a run before the machine record, the
   * reference's). An unlisted machine is an error: `subject` says whose it is ("runs/x trained on").
   */
  medianOn(name: string | null, subject: string): number {
    if (name === null || name === this.file.reference.name) return this.referenceSeconds;
    const median = this.medians.get(name);
    if (median === undefined) throw new InputError('io', `${this.path}: ${subject} "${name}", which the file does not list; measure standard training there and add it`, { path: this.path });
    return median;
  }

  /** Seconds on machine `from` as seconds on machine `to` (null: the reference machine); `what` names the run for an unlisted machine. */
  convert(seconds: number, from: string | null, to: string | null, what: string): number {
    return (seconds * this.medianOn(to, 'this machine is')) / this.medianOn(from, `${what} trained on`);
  }

  /** Each run's factor to the reference machine's seconds. */
  secondsScale(): SecondsScale {
    return (r: RunRecord) => this.referenceSeconds / this.medianOn(machineOf(r.config), `${r.runDir} trained on`);
  }
}
