/**
 * Runs an experiment's grid (datasets × seeds × methods) one run after another, each through the
 * same path as `saln train` (runTraining). Finished runs are skipped, interrupted ones resume
 * from their last checkpoint, so an experiment stopped at any point continues where it was by
 * running it again.
 *
 * Layout under the experiment's out folder:
 *   runs/<dataset>/<label>/seed-<s>/     one run directory per cell
 *   references/<dataset>/seed-<s>/       the jest / rho-loss reference, trained once per seed
 * With a reference holdout, every method skips the held-out samples, so all of them train on
 * exactly the same data and the selector stays the only variable.
 *
 * Cells of an entry with `wallBudgetOf: L` wait until every seed of L (same dataset) is finished:
 * their budgetSeconds is the median of those runs' wall seconds. So the entries a wall budget
 * comes from run first, every seed; then the rest, seed by seed, each wall cell in its place (a
 * grid cut short has both budgets of its first seeds).
 *
 * A wall time holds for one machine (runs record theirs). A wall cell trains for the budget in
 * this machine's seconds: L's median as it is where L's runs trained here, or converted through
 * a machines file (PlanOptions.machines, machines.ts) where they trained elsewhere; without one,
 * another machine's seconds are refused, never taken as this one's. A finished wall cell is held
 * to the budget of the machine it trained on.
 */
import { join } from 'node:path';
import type { FitCallback } from '../train/callbacks.js';
import { optionDefaults, type RunSpec } from '../train/options.js';
import { machineName } from '../train/machine-cpu.js';
import { machineOf, type Summary } from '../train/records.js';
import { RunDir, type RunStatus } from '../train/run-dir.js';
import { runTraining } from '../train/run.js';
import { parseRunSpec, SpecError } from '../train/spec.js';
import { ExperimentConfigError, seedsOf, type ExperimentConfig } from './config.js';
import type { MachineTimes } from './machines.js';
import type { Registry } from './registry.js';
import { cellKey, type RunRecord } from './run-record.js';

export interface PlannedRun {
  /** 1-based position in the grid. */
  index: number;
  /** The dataset entry's label (its dataset name unless the file gives one): its identity. */
  dataset: string;
  label: string;
  method: string;
  seed: number;
  runDir: string;
  /** null while the cell waits for the runs its wall budget comes from (waitsFor). */
  config: RunSpec | null;
  /** The label whose runs' median wall seconds become this cell's budget. */
  waitsFor?: string;
  /** Finished on an earlier machine, its run directory lost (PlanOptions.lost): never trained here. */
  lost?: true;
  /** A wall cell whose budget is known (config.budgetSeconds: wall.machine's seconds). */
  wall?: WallCell;
}

export interface WallCell {
  /** Its budget on any machine. */
  budget: WallBudget;
  /** The machine this plan is for, whose seconds config.budgetSeconds holds. */
  machine: string;
  /** Why that machine has no budget (config then holds a stand-in): the cell cannot train there. */
  problem?: string;
}

/** A wall cell's budget in a machine's seconds (null: a run recorded before runs named their machine), or why there is none. */
export interface WallBudget {
  on(machine: string | null): number | { problem: string };
}

/**
 * Cells finished on an earlier machine whose run directories are gone: each cell's key
 * (cellKey) and its whole cost in seconds, which a wall budget reads (`saln experiment
 * --lost-runs FILE`, from a results file's per_seed).
 */
export type LostCells = ReadonlyMap<string, number>;

export interface PlanOptions {
  cacheDir?: string;
  lost?: LostCells;
  /** Standard training's median on each machine (--machines FILE): wall budgets convert between machines. */
  machines?: MachineTimes;
  /** The machine this process runs on (default machineName()): new wall cells get a budget in its seconds. */
  machine?: string;
}

/** A cell's state; 'waiting': its wall budget's runs are not all finished yet; 'lost': finished on an earlier machine (PlannedRun.lost). */
export type RunState = RunStatus | 'waiting' | 'lost';

/** One cell's raw options: the run options' defaults, then the file's, most specific last. */
function cellOptions(exp: ExperimentConfig, d: ExperimentConfig['datasets'][number], m: ExperimentConfig['methods'][number], seed: number, runDir: string, dataset: string): Record<string, unknown> {
  const { label: _label, ...dOpts } = d;
  const raw: Record<string, unknown> = {
    ...optionDefaults(), model: exp.model, filterRatio: m.method === 'none' ? 0 : 0.8,
    ...exp.train, ...dOpts, ...m.options,
    method: m.method, seed, out: runDir,
    ...(exp.reference ? { referenceHoldout: exp.reference.holdout, referenceEpochs: exp.reference.epochs, referenceDir: join(exp.out, 'references', dataset, `seed-${seed}`) } : {}),
  };
  // none trains every sample, whatever the shared filter ratio says.
  if (m.method === 'none' && m.options.filterRatio === undefined) raw.filterRatio = 0;
  return raw;
}

function cellDir(exp: ExperimentConfig, dataset: string, label: string, seed: number): string {
  return join(exp.out, 'runs', dataset, label, `seed-${seed}`);
}

/** One run a wall budget comes from: its whole cost in seconds and the machine it trained on. */
interface BudgetRun {
  seed: number;
  seconds: number;
  /** null: lost (its machine unknown to the results file), or recorded before runs named their machine. */
  machine: string | null;
}

/**
 * The wall budget that every seed's run of `label` on the dataset gives, or null until all are
 * finished. A lost run counts with its whole cost (its results' wall_seconds: the same for a
 * budget's usual source, standard training, which has no up-front work).
 */
export function wallBudget(exp: ExperimentConfig, dataset: string, label: string, o: Pick<PlanOptions, 'lost' | 'machines'> = {}): WallBudget | null {
  const runs: BudgetRun[] = [];
  for (const seed of seedsOf(exp, exp.methods.find((m) => m.label === label)!)) {
    const dir = cellDir(exp, dataset, label, seed);
    const lostWall = o.lost?.get(cellKey(dataset, label, seed));
    if (lostWall !== undefined && !RunDir.exists(dir)) {
      runs.push({ seed, seconds: lostWall, machine: null });
      continue;
    }
    if (!RunDir.exists(dir)) return null;
    const run = RunDir.open(dir);
    if (run.status() !== 'done') return null;
    runs.push({ seed, seconds: run.summary()!.wall_seconds, machine: machineOf(run.config()) });
  }
  const source = `${dataset}/${label}`;
  return o.machines ? convertedBudget(runs, source, o.machines) : sameMachineBudget(runs, source);
}

function median(xs: readonly number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** With a machines file: the median of the runs' seconds in the reference machine's, then in the target's. */
function convertedBudget(runs: readonly BudgetRun[], source: string, machines: MachineTimes): WallBudget {
  const reference = machines.referenceSeconds;
  // Checked now: a source run of an unlisted machine fails the plan, before any work.
  const seconds = median(runs.map((r) => (r.seconds * reference) / machines.medianOn(r.machine, `${source} seed ${r.seed} trained on`)));
  return {
    on: (machine) => {
      try {
        return (seconds * machines.medianOn(machine, 'this wall cell is for')) / reference;
      } catch (e) {
        return { problem: (e as Error).message };
      }
    },
  };
}

/** Without one: the runs' median, which holds only on the machine they trained on. */
function sameMachineBudget(runs: readonly BudgetRun[], source: string): WallBudget {
  const seconds = median(runs.map((r) => r.seconds));
  const recorded = [...new Set(runs.flatMap((r) => (r.machine === null ? [] : [r.machine])))];
  return {
    on: (machine) => {
      const others = machine === null ? [] : recorded.filter((x) => x !== machine);
      if (!others.length) return seconds;
      return { problem: `${source}'s runs, which a wall budget comes from, trained on ${others.map((x) => `"${x}"`).join(' and ')}, not on "${machine}": their seconds are no equal wall time there. Give --machines FILE with standard training's median seconds on each machine (see saln experiment --help), or train where they trained` };
    },
  };
}

/** A cell of the grid before its options are resolved: where its run goes (a PlannedRun has these too). */
export interface GridCell {
  dataset: string;
  label: string;
  method: string;
  seed: number;
  runDir: string;
  /** Finished on an earlier machine (PlanOptions.lost). */
  lost?: true;
}

/**
 * The grid's cells in plan order, without resolving a thing: seed by seed (an entry with its own
 * seeds takes part in those only), so a grid cut short has every entry's first seeds.
 */
export function gridCells(exp: ExperimentConfig, lost?: LostCells): (GridCell & { datasetIndex: number; methodIndex: number })[] {
  const cells: (GridCell & { datasetIndex: number; methodIndex: number })[] = [];
  const extra = exp.methods.flatMap((m) => m.seeds ?? []).filter((x) => !exp.seeds.includes(x)).sort((a, b) => a - b);
  const seeds = [...new Set([...exp.seeds, ...extra])];
  for (const [datasetIndex, d] of exp.datasets.entries()) {
    const dataset = d.label ?? d.dataset;
    for (const seed of seeds) {
      for (const [methodIndex, m] of exp.methods.entries()) {
        if (!seedsOf(exp, m).includes(seed)) continue;
        const isLost = lost?.has(cellKey(dataset, m.label, seed)) ? { lost: true as const } : {};
        cells.push({ dataset, label: m.label, method: m.method, seed, runDir: cellDir(exp, dataset, m.label, seed), datasetIndex, methodIndex, ...isLost });
      }
    }
  }
  return cells;
}

/** Every cell's validated run spec; all problems at once, each naming its cell. */
export function planExperiment(exp: ExperimentConfig, o: PlanOptions = {}): PlannedRun[] {
  const plans: PlannedRun[] = [];
  const problems: string[] = [];
  const machine = o.machine ?? machineName();
  // Every wall cell of a dataset shares its source entry's budget: its runs are read once per plan.
  const budgets = new Map<string, WallBudget | null>();
  const budgetOf = (dataset: string, label: string): WallBudget | null => {
    const key = JSON.stringify([dataset, label]);
    if (!budgets.has(key)) budgets.set(key, wallBudget(exp, dataset, label, o));
    return budgets.get(key)!;
  };
  for (const { datasetIndex: di, methodIndex: mi, ...cell } of gridCells(exp, o.lost)) {
    const m = exp.methods[mi]!;
    try {
      const raw = cellOptions(exp, exp.datasets[di]!, m, cell.seed, cell.runDir, cell.dataset);
      const budget = m.wallBudgetOf !== undefined ? budgetOf(cell.dataset, m.wallBudgetOf) : undefined;
      const here = budget ? budget.on(machine) : undefined;
      // A waiting cell (or one this machine has no budget for) is still checked now, with a stand-in budget, so a bad option fails before any work.
      const config = parseRunSpec(budget === undefined ? raw : { ...raw, budgetSeconds: typeof here === 'number' ? here : 1 }, o);
      const waits = budget === null ? { waitsFor: m.wallBudgetOf! } : {};
      const wall = budget ? { wall: { budget, machine, ...(typeof here === 'object' ? { problem: here.problem } : {}) } } : {};
      plans.push({ index: plans.length + 1, ...cell, config: budget === null ? null : config, ...waits, ...wall });
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      const where = `datasets[${di}] (${cell.dataset}), methods[${mi}] (${m.label}), seed ${cell.seed}`;
      for (const i of e.issues) problems.push(`${where}: ${i.key}: ${i.message}`);
    }
  }
  if (problems.length) throw new ExperimentConfigError(`${exp.file}: invalid experiment:\n  ${[...new Set(problems)].join('\n  ')}`);
  return plans;
}

/** Key order and undefined fields do not make two configurations different. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

/** Whether a cell still has to run, and whether its run directory belongs to this configuration. */
export function runState(p: PlannedRun): RunState {
  if (p.lost) {
    if (RunDir.exists(p.runDir)) throw new ExperimentConfigError(`${p.runDir}: ${p.dataset}/${p.label}/seed ${p.seed} is also a lost run (--lost-runs); keep one of the two: move the run directory away, or drop the seed from the lost runs' file`);
    return 'lost';
  }
  if (p.config === null) return 'waiting';
  if (!RunDir.exists(p.runDir)) {
    if (p.wall?.problem) throw new ExperimentConfigError(`${p.dataset}/${p.label}/seed ${p.seed}: ${p.wall.problem}`);
    return 'new';
  }
  const run = RunDir.open(p.runDir);
  const ran = machineOf(run.config());
  if (!sameSpec(run.spec(), heldTo(p, ran))) {
    throw new ExperimentConfigError(`${p.runDir} holds a run with another configuration than this experiment's ${p.dataset}/${p.label}/seed ${p.seed}; delete it or give the experiment another out folder`);
  }
  // A cell killed before its first checkpoint has its config but nothing to resume from: resuming
  // it starts it over (train() does when there is no checkpoint).
  const status = run.status();
  if (status !== 'done' && p.wall && ran !== null && ran !== p.wall.machine) {
    throw new ExperimentConfigError(`${p.runDir}: this wall cell started on "${ran}", on that machine's budget; resumed on "${p.wall.machine}" it would train for another machine's seconds. Resume it there, or move the run directory away to start it over here`);
  }
  return status === 'new' ? 'interrupted' : status;
}

/** The spec a run of the cell must have: a wall cell's budget is the one of the machine the run trained on. */
function heldTo(p: PlannedRun, ran: string | null): RunSpec {
  if (!p.wall) return p.config!;
  const seconds = p.wall.budget.on(ran);
  if (typeof seconds === 'object') throw new ExperimentConfigError(`${p.runDir} trained on ${ran === null ? 'an unnamed machine' : `"${ran}"`}, and ${seconds.problem}`);
  return { ...p.config!, budgetSeconds: seconds };
}

/** A stored spec against the planned one; budgets converted between machines (a product and a quotient) are equal up to rounding. */
function sameSpec(stored: Record<string, unknown> | null, planned: RunSpec): boolean {
  if (stored === null) return false;
  const { budgetSeconds: a, ...rest } = JSON.parse(JSON.stringify(stored)) as Record<string, unknown>;
  const { budgetSeconds: b, ...want } = JSON.parse(JSON.stringify(planned)) as Record<string, unknown>;
  const seconds = typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)) : a === b;
  return seconds && canonical(rest) === canonical(want);
}

/** How runExperiment plans (PlanOptions) and what it tells its caller. */
export interface ExperimentIO extends PlanOptions {
  progress: boolean;
  log(text: string): void;
  warn(text: string): void;
  /** Before a cell runs (or is skipped), and after every epoch and at its end: a registry keeps up. */
  onRun?(p: PlannedRun, phase: 'start' | 'epoch' | 'end'): void;
  /** Observers of each cell's loop (the CLI's progress bar and epoch lines), given the cell. */
  callbacks?(p: PlannedRun): readonly FitCallback[];
  /** Observers of a cell's reference training (a progress bar). */
  referenceCallbacks?(p: PlannedRun): readonly FitCallback[];
}

export interface RunOutcome {
  plan: PlannedRun;
  state: RunState;
  summary: Summary | null;
}

/** The order cells run in: every cell of the entries wall budgets come from, then the rest, in plan order. */
export function runOrder(exp: ExperimentConfig, plans: readonly PlannedRun[]): PlannedRun[] {
  const sources = new Set(exp.methods.flatMap((m) => (m.wallBudgetOf === undefined ? [] : [m.wallBudgetOf])));
  return [...plans.filter((p) => sources.has(p.label)), ...plans.filter((p) => !sources.has(p.label))];
}

/** Runs every cell (see runOrder), each waiting one once its budget's runs are done; returns what each one did. */
export async function runExperiment(exp: ExperimentConfig, io: ExperimentIO): Promise<RunOutcome[]> {
  const plans = planExperiment(exp, io);
  // Check every existing run directory before training anything.
  const states = plans.map(runState);
  const todo = states.filter((s) => s !== 'done' && s !== 'lost').length;
  const lost = states.filter((s) => s === 'lost').length;
  const waiting = states.filter((s) => s === 'waiting').length;
  io.log(`experiment ${exp.name}: ${plans.length} runs (${plans.length - todo} done${lost ? `, ${lost} of them on an earlier machine` : ''}, ${todo} to run${waiting ? `, ${waiting} of them on a wall budget from other runs, once those are done` : ''}) in ${exp.out}`);
  const outcomes: RunOutcome[] = [];
  for (const p of runOrder(exp, plans)) {
    if (states[p.index - 1] === 'lost') {
      io.log(`[${p.index}/${plans.length}] ${p.dataset} ${p.label} seed ${p.seed}: done on an earlier machine (a lost run), skipped`);
      continue;
    }
    if (states[p.index - 1] !== 'waiting') {
      outcomes.push(await runCell(p, states[p.index - 1]!, plans.length, io));
      continue;
    }
    // The runs its budget comes from ran first: it resolves now.
    const cell = planExperiment(exp, io)[p.index - 1]!;
    if (cell.config === null) throw new ExperimentConfigError(`${cell.dataset}/${cell.label}/seed ${cell.seed}: the runs of ${cell.waitsFor} its wall budget comes from are not all finished`);
    const state = runState(cell);
    const converted = io.machines ? `, in the seconds of ${cell.wall!.machine}` : '';
    io.log(`[${cell.index}/${plans.length}] ${cell.dataset} ${cell.label} seed ${cell.seed}: wall budget ${cell.config.budgetSeconds!.toFixed(1)} s (the median of ${cell.waitsFor}'s runs${converted})`);
    outcomes.push(await runCell(cell, state, plans.length, io));
  }
  return outcomes;
}

async function runCell(p: PlannedRun, state: RunState, total: number, io: ExperimentIO): Promise<RunOutcome> {
  const tag = `[${p.index}/${total}] ${p.dataset} ${p.label} seed ${p.seed}`;
  io.onRun?.(p, 'start');
  if (state === 'done') {
    io.log(`${tag}: done, skipped`);
    const summary = RunDir.open(p.runDir).summary();
    io.onRun?.(p, 'end');
    return { plan: p, state, summary };
  }
  io.log(`${tag}: ${state === 'interrupted' ? 'resuming' : 'training'} ...`);
  let summary: Summary | null;
  try {
    summary = await runTraining(p.config!, {
      resume: state === 'interrupted', cacheDir: io.cacheDir, progress: io.progress, datasetLabel: p.dataset,
      warn: io.warn, log: (t) => io.log(`  ${t}`),
      callbacks: [...(io.callbacks?.(p) ?? []), { onEpochEnd: () => io.onRun?.(p, 'epoch') }],
      referenceCallbacks: io.referenceCallbacks?.(p),
    });
  } catch (e) {
    const err = e as Error;
    err.message = `${tag}: ${err.message}`;
    throw err;
  }
  io.onRun?.(p, 'end');
  return { plan: p, state, summary };
}

/**
 * The registry's records of the planned cells that are finished now, each read again from its run
 * directory (the source of truth): a registered run whose directory is gone or unfinished is no
 * result, and a cell another experiment trained (a shared output folder) is one. The registry
 * keeps the experiment that trained each run.
 */
export function finishedRecords(plans: readonly PlannedRun[], registry: Registry): RunRecord[] {
  return plans.filter((p) => RunDir.exists(p.runDir) && RunDir.open(p.runDir).status() === 'done').map((p) => registry.ingest(p.runDir, { label: p.label }));
}
