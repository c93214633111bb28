/**
 * Runs an experiment's grid (datasets × seeds × methods) one run after another, each through the
 * same path as `saln train`. Finished runs are skipped, interrupted ones resume from their last
 * checkpoint, so an experiment stopped at any point continues where it was by running it again.
 *
 * Layout under the experiment's out folder:
 *   runs/<dataset>/<label>/seed-<s>/     one run directory per cell
 *   references/<dataset>/seed-<s>/       the jest / rho-loss reference, trained once per seed
 * With a reference holdout, every method skips the held-out samples, so all of them train on
 * exactly the same data and the selector stays the only variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_FILE } from '../train/checkpoint.js';
import { ConfigError, parseCliConfig, type CliConfig } from '../train/config.js';
import { TRAIN_DEFAULTS } from '../train/defaults.js';
import { runCliTraining, type RunIO } from '../train/run.js';
import type { Summary, TrainEvent } from '../train/trainer.js';
import { ExperimentConfigError, type ExperimentConfig } from './config.js';

export interface PlannedRun {
  /** 1-based position in the grid. */
  index: number;
  dataset: string;
  label: string;
  method: string;
  seed: number;
  runDir: string;
  config: CliConfig;
}

export type RunState = 'new' | 'interrupted' | 'done';

/** Every cell's validated `saln train` configuration; all problems at once, each naming its cell. */
export function planExperiment(exp: ExperimentConfig, o: { cacheDir?: string } = {}): PlannedRun[] {
  const plans: PlannedRun[] = [];
  const problems: string[] = [];
  for (const d of exp.datasets) {
    const { label: dLabel, ...dOpts } = d;
    const dataset = dLabel ?? d.dataset;
    for (const seed of exp.seeds) {
      for (const m of exp.methods) {
        const runDir = join(exp.out, 'runs', dataset, m.label, `seed-${seed}`);
        const raw: Record<string, unknown> = {
          // saln train's own defaults, then the file's, most specific last.
          ...TRAIN_DEFAULTS, model: exp.model, filterRatio: m.method === 'none' ? 0 : 0.8,
          ...exp.train, ...dOpts, ...m.options,
          method: m.method, seed, out: runDir,
          ...(exp.reference ? { referenceHoldout: exp.reference.holdout, referenceEpochs: exp.reference.epochs, referenceDir: join(exp.out, 'references', dataset, `seed-${seed}`) } : {}),
        };
        // none trains every sample, whatever the shared filter ratio says.
        if (m.method === 'none' && m.options.filterRatio === undefined) raw.filterRatio = 0;
        try {
          plans.push({ index: plans.length + 1, dataset, label: m.label, method: m.method, seed, runDir, config: parseCliConfig(raw, o) });
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          const where = `datasets[${exp.datasets.indexOf(d)}] (${dataset}), methods[${exp.methods.indexOf(m)}] (${m.label}), seed ${seed}`;
          for (const line of e.message.split('\n').slice(1)) problems.push(`${where}: ${line.trim().replace(/^--([a-z-]+)/, (_, f: string) => f.replace(/-([a-z])/g, (__, c: string) => c.toUpperCase()))}`);
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
  const cfgPath = join(p.runDir, 'config.json');
  if (!existsSync(cfgPath)) return 'new';
  const saved = (JSON.parse(readFileSync(cfgPath, 'utf8')) as { extra?: { cli?: unknown } }).extra?.cli;
  if (canonical(JSON.parse(JSON.stringify(saved ?? null))) !== canonical(JSON.parse(JSON.stringify(p.config)))) {
    throw new ExperimentConfigError(`${p.runDir} holds a run with another configuration than this experiment's ${p.dataset}/${p.label}/seed ${p.seed}; delete it or give the experiment another out folder`);
  }
  if (existsSync(join(p.runDir, 'summary.json'))) return 'done';
  return existsSync(join(p.runDir, CHECKPOINT_FILE)) ? 'interrupted' : 'new';
}

export interface ExperimentIO {
  cacheDir?: string;
  progress: boolean;
  log(text: string): void;
  warn(text: string): void;
  usage(message: string): Error;
  /** Before a cell runs (or is skipped), and after every epoch and at its end: a registry keeps up. */
  onRun?(p: PlannedRun, phase: 'start' | 'epoch' | 'end'): void;
  onEvent?(p: PlannedRun, e: TrainEvent): void;
}

export interface RunOutcome {
  plan: PlannedRun;
  state: RunState;
  summary: Summary | null;
}

/** Runs every cell in order; returns what each one did. */
export async function runExperiment(exp: ExperimentConfig, io: ExperimentIO): Promise<RunOutcome[]> {
  const plans = planExperiment(exp, { cacheDir: io.cacheDir });
  // Check every existing run directory before training anything.
  const states = plans.map(runState);
  const todo = states.filter((s) => s !== 'done').length;
  io.log(`experiment ${exp.name}: ${plans.length} runs (${plans.length - todo} done, ${todo} to run) in ${exp.out}`);
  const outcomes: RunOutcome[] = [];
  for (const [i, p] of plans.entries()) {
    const state = states[i]!;
    const tag = `[${p.index}/${plans.length}] ${p.dataset} ${p.label} seed ${p.seed}`;
    io.onRun?.(p, 'start');
    if (state === 'done') {
      io.log(`${tag}: done, skipped`);
      outcomes.push({ plan: p, state, summary: JSON.parse(readFileSync(join(p.runDir, 'summary.json'), 'utf8')) as Summary });
      io.onRun?.(p, 'end');
      continue;
    }
    io.log(`${tag}: ${state === 'interrupted' ? 'resuming' : 'training'} ...`);
    const runIO: RunIO = {
      resume: state === 'interrupted', cacheDir: io.cacheDir, json: false, progress: io.progress,
      out: () => {}, warn: io.warn, log: (t) => io.log(`  ${t}`), usage: io.usage,
    };
    let summary: Summary | null;
    try {
      summary = await runCliTraining(p.config, runIO, {
        onEvent: (e) => {
          io.onEvent?.(p, e);
          if (e.event === 'epoch') io.onRun?.(p, 'epoch');
        },
      });
    } catch (e) {
      const err = e as Error;
      err.message = `${tag}: ${err.message}`;
      throw err;
    }
    io.onRun?.(p, 'end');
    outcomes.push({ plan: p, state, summary });
  }
  return outcomes;
}
