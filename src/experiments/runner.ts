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
 */
import { join } from 'node:path';
import type { FitCallback } from '../train/callbacks.js';
import { optionDefaults, type RunSpec } from '../train/options.js';
import type { Summary } from '../train/records.js';
import { RunDir, type RunStatus } from '../train/run-dir.js';
import { runTraining } from '../train/run.js';
import { parseRunSpec, SpecError } from '../train/spec.js';
import { ExperimentConfigError, seedsOf, type ExperimentConfig } from './config.js';
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

/**
 * The median wall seconds of every seed's run of `label` on the dataset, or null until all are
 * finished. A lost run counts with its whole cost (its results' wall_seconds: the same for a
 * budget's usual source, standard training, which has no up-front work).
 */
export function wallBudget(exp: ExperimentConfig, dataset: string, label: string, lost: LostCells = new Map()): number | null {
  const walls: number[] = [];
  for (const seed of seedsOf(exp, exp.methods.find((m) => m.label === label)!)) {
    const dir = cellDir(exp, dataset, label, seed);
    const lostWall = lost.get(cellKey(dataset, label, seed));
    if (lostWall !== undefined && !RunDir.exists(dir)) {
      walls.push(lostWall);
      continue;
    }
    if (!RunDir.exists(dir) || RunDir.open(dir).status() !== 'done') return null;
    walls.push(RunDir.open(dir).summary()!.wall_seconds);
  }
  walls.sort((a, b) => a - b);
  const mid = walls.length >> 1;
  return walls.length % 2 ? walls[mid]! : (walls[mid - 1]! + walls[mid]!) / 2;
}

/** Every cell's validated run spec; all problems at once, each naming its cell. */
export function planExperiment(exp: ExperimentConfig, o: PlanOptions = {}): PlannedRun[] {
  const plans: PlannedRun[] = [];
  const problems: string[] = [];
  for (const [di, d] of exp.datasets.entries()) {
    const dataset = d.label ?? d.dataset;
    // Seed by seed (an entry with its own seeds takes part in those only), so a grid cut short has every entry's first seeds.
    const extra = exp.methods.flatMap((m) => m.seeds ?? []).filter((x) => !exp.seeds.includes(x)).sort((a, b) => a - b);
    const seeds = [...new Set([...exp.seeds, ...extra])];
    for (const seed of seeds) {
      for (const [mi, m] of exp.methods.entries()) {
        if (!seedsOf(exp, m).includes(seed)) continue;
        const runDir = cellDir(exp, dataset, m.label, seed);
        try {
          const raw = cellOptions(exp, d, m, seed, runDir, dataset);
          const budget = m.wallBudgetOf !== undefined ? wallBudget(exp, dataset, m.wallBudgetOf, o.lost) : undefined;
          // A waiting cell is still checked now, with a stand-in budget, so a bad option fails before any work.
          const config = parseRunSpec(budget === undefined ? raw : { ...raw, budgetSeconds: budget ?? 1 }, o);
          const waits = budget === null ? { waitsFor: m.wallBudgetOf! } : {};
          const lost = o.lost?.has(cellKey(dataset, m.label, seed)) ? { lost: true as const } : {};
          plans.push({ index: plans.length + 1, dataset, label: m.label, method: m.method, seed, runDir, config: budget === null ? null : config, ...waits, ...lost });
        } catch (e) {
          if (!(e instanceof SpecError)) throw e;
          const where = `datasets[${di}] (${dataset}), methods[${mi}] (${m.label}), seed ${seed}`;
          for (const i of e.issues) problems.push(`${where}: ${i.key}: ${i.message}`);
        }
      }
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
  if (!RunDir.exists(p.runDir)) return 'new';
  const run = RunDir.open(p.runDir);
  if (canonical(JSON.parse(JSON.stringify(run.spec()))) !== canonical(JSON.parse(JSON.stringify(p.config)))) {
    throw new ExperimentConfigError(`${p.runDir} holds a run with another configuration than this experiment's ${p.dataset}/${p.label}/seed ${p.seed}; delete it or give the experiment another out folder`);
  }
  // A cell killed before its first checkpoint has its config but nothing to resume from: resuming
  // it starts it over (train() does when there is no checkpoint).
  const status = run.status();
  return status === 'new' ? 'interrupted' : status;
}

export interface ExperimentIO {
  cacheDir?: string;
  lost?: LostCells;
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
  const plans = planExperiment(exp, { cacheDir: io.cacheDir, lost: io.lost });
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
    const cell = planExperiment(exp, { cacheDir: io.cacheDir, lost: io.lost })[p.index - 1]!;
    if (cell.config === null) throw new ExperimentConfigError(`${cell.dataset}/${cell.label}/seed ${cell.seed}: the runs of ${cell.waitsFor} its wall budget comes from are not all finished`);
    io.log(`[${cell.index}/${plans.length}] ${cell.dataset} ${cell.label} seed ${cell.seed}: wall budget ${cell.config.budgetSeconds!.toFixed(1)} s (the median of ${cell.waitsFor}'s runs)`);
    outcomes.push(await runCell(cell, runState(cell), plans.length, io));
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
