/**
 * `saln experiment CONFIG`: a grid of datasets × seeds × methods, run one after another into a
 * registry, then the report.
 *   saln experiment experiments/quickstart.yaml
 */
import { Command } from 'commander';
import type { ExperimentConfig } from '../../experiments/config.js';
import type { MachineTimes } from '../../experiments/machines.js';
import type { GridCell, PlannedRun, PlanOptions } from '../../experiments/runner.js';
import type { LostRuns } from '../../reports/lost-runs.js';
import type { CliIO } from '../io.js';

interface ExperimentFlags {
  registry?: string;
  cacheDir?: string;
  report: boolean;
  reportDir?: string;
  results?: string;
  dryRun?: boolean;
  resultsOnly?: boolean;
  lostRuns?: string;
  archive?: string;
  machines?: string;
  progress: boolean;
}

const HELP = `
CONFIG is YAML or JSON:

  name: quickstart                       # names the experiment in the registry and its folder
  out: runs/quickstart                   # default: runs/<name> under the working directory
  datasets:
    - { dataset: cifar10, dataDir: ../data/cifar10-sample, limitTrain: 10000 }
  model: resnet18-cifar
  seeds: [0, 1, 2]
  train: { epochs: 3, batchSize: 128, lr: 0.05, filterRatio: 0.8 }
  methods:
    - none
    - { method: saln, featureModel: mobilenet-v1-0.75, featureSize: 64 }
    - random                             # the control: uniform at the same keep ratio
    - jest
  reference: { holdout: 300, epochs: 3 } # jest / rho-loss: trained once per seed on held-out
                                         # samples, which every method then skips
  report: { title: "...", targetAccuracy: 0.5 }

Keys under datasets, train and each method are \`saln train\`'s options in camelCase (see
\`saln train --help\`); method entries override train. Relative paths resolve against the
config file's folder. Every run is checked before any starts; errors name the field.

A method entry may list its own seeds ({ method: none, seeds: [0, 1, 2, 3, 4] }); the grid goes
seed by seed, each entry in the seeds it runs.

Equal wall time: a method entry { method: saln, label: saln-wall, wallBudgetOf: none, epochs: 40 }
trains each seed with --budget-seconds set to the median wall seconds of none's runs (every
seed, same dataset); those cells wait and run after the rest of the grid (--dry-run: waiting).

Runs go to OUT/runs/<dataset>/<label>/seed-<s>/ and are registered (see \`saln runs ls\`).
Running the same config again skips finished runs and resumes interrupted ones from their last
checkpoint; a run directory holding another configuration is an error, not overwritten. At the
end the summary table is printed, the results written as data to OUT/results.json (or
--results FILE: the protocol's table as JSON, rewritten after every finished run, with
"complete": false until every run has finished;
see src/reports/results.ts for the fields), the report written to OUT/report/ (its headline is
the results file's numbers, lost runs and machine scaling included), and the last line
is \`report: PATH\` (its index.html; the charts' PNGs sit beside it).

Archive: --archive DIR keeps each finished run's record (config.json, metrics.jsonl,
summary.json, and its reference's; no weights) in DIR/<dataset>/<label>/seed-<s>/, e.g. a folder
under results/ that is committed, and restores a record from there where a cell has no run
directory: it reads as finished and is not trained again. A grid then moves from machine to
machine through the repository. An archive never overwrites: another record already there is
an error naming both.

Lost runs: a grid that moves to a new machine without its run directories (only the committed
results file survived) goes on with --lost-runs FILE, a results file written while those runs
existed (it must have per_seed). Its cells count as done and are not trained again, a wall budget
reads their wall seconds, and the results merge them: per-seed values exactly, and the statistics
that need a run's curves (time to target, cost share, Δ at equal samples) pooled from the file's
means and CIs (src/reports/lost-runs.ts). A seed that is both a lost run and a run directory is
an error.

Machines: a wall time holds for one machine only (each run records its own, config.json
extra.machine; SALN_MACHINE_NAME overrides the name, e.g. for two VMs that show one CPU model).
A wall cell trains for its budget in this machine's seconds: where the runs its budget comes
from trained elsewhere, that needs --machines FILE, standard training's median wall seconds on
each machine, and the budget is their median converted (a run's seconds × reference median / its
machine's median, then × this machine's median / reference median); without the file such a cell
is an error, never another machine's seconds. A finished wall cell is held to the budget of the
machine it trained on, and an unfinished one resumes only there. The results give every time in
the reference machine's seconds; accuracies and paired differences are untouched. See
src/experiments/machines.ts for the file.

Examples:
  $ saln experiment experiments/quickstart.yaml
  $ saln experiment my-grid.json --dry-run
  $ saln experiment experiments/p-cifar-ft.yaml --results-only --results /tmp/now.json && saln results /tmp/now.json
  $ saln experiment experiments/p-cifar-ft.yaml --lost-runs results/p-cifar-ft.lost.json --results results/p-cifar-ft.json
  $ saln experiment experiments/p-cifar-ft.yaml --dry-run --machines results/p-cifar-ft.machines.json --lost-runs results/p-cifar-ft.lost.json
  $ saln runs ls --experiment quickstart
`;

export function experimentCommand(io: CliIO): Command {
  return new Command('experiment')
    .summary('run a grid of methods × seeds × datasets, then report')
    .description('Run every training of an experiment config (YAML or JSON), skipping finished runs and resuming interrupted ones; register them and write the report.')
    .argument('<config>', 'the experiment file (.yaml, .yml or .json)')
    .option('--registry <file>', 'the run registry (default $SALN_REGISTRY, else ~/.cache/saln/registry.sqlite)')
    .option('--cache-dir <dir>', 'cache folder for prepared data, models and features (default $SALN_CACHE or ~/.cache/saln)')
    .option('--report-dir <dir>', 'where the report goes (default OUT/report)')
    .option('--no-report', 'do not write the report at the end')
    .option('--results <file>', 'where the results JSON goes (default OUT/results.json), e.g. results/<name>.json')
    .option('--dry-run', 'check the config, list the runs (done, interrupted, new or waiting) and estimate the time left, without training')
    .option('--results-only', 'write the results file from the runs finished so far, without training (a grid still running, or another saln version\'s fields)')
    .option('--lost-runs <file>', 'a results file of runs done on an earlier machine whose run directories are gone: skipped, and merged into the results (see below)')
    .option('--archive <dir>', 'keep finished runs\' records in DIR (committable), and restore them from there where a run directory is missing (see below)')
    .option('--machines <file>', 'standard training\'s median wall seconds on each machine: wall budgets in this machine\'s seconds, results in the reference machine\'s (see below)')
    .option('--no-progress', 'no progress bars')
    .addHelpText('after', HELP)
    .action(async (config: string, flags: ExperimentFlags) => {
      await runExperimentCommand(config, flags, io);
    });
}

async function runExperimentCommand(file: string, flags: ExperimentFlags, io: CliIO): Promise<void> {
  const { join } = await import('node:path');
  const { readExperiment } = await import('../../experiments/config.js');
  const { finishedRecords, gridCells, planExperiment, runExperiment } = await import('../../experiments/runner.js');
  const { cellKey } = await import('../../experiments/run-record.js');
  const { epochLine, progressCallback } = await import('../train-output.js');
  const exp = readExperiment(file);
  const log = (t: string): void => io.err(`${t}\n`);
  const { lost, machines, archive } = await gridInputs(flags, gridCells(exp).map((p) => cellKey(p.dataset, p.label, p.seed)));
  const planOptions: PlanOptions = { cacheDir: flags.cacheDir, lost: lost?.cells, machines };
  if (flags.dryRun) {
    await printDryRun(exp, planOptions, { lost, machines, archive }, flags, io);
    return;
  }
  const { Registry, defaultRegistryPath } = await import('../../experiments/registry.js');
  const { formatSummaryTable, writeReport, buildResults, writeResults } = await import('../../reports/index.js');
  const { mergeLostRuns, standardAccuracyWithLost } = await import('../../reports/lost-runs.js');
  const registry = Registry.open(flags.registry ?? defaultRegistryPath());
  const resultsPath = flags.results ?? join(exp.out, 'results.json');
  if (archive) {
    // Before the plan: a restored run of a wall budget's source entry resolves the budget.
    const restored = archive.restore(gridCells(exp, lost?.cells));
    if (restored) log(`archive: ${restored} finished run${restored === 1 ? '' : 's'} restored from ${flags.archive}`);
  }
  const plans = planExperiment(exp, planOptions);
  const results = (runs: Parameters<typeof buildResults>[1]): ReturnType<typeof buildResults> => {
    const standardAccuracy = lost ? standardAccuracyWithLost(lost.file, runs) ?? undefined : undefined;
    const fresh = buildResults(exp.name, runs, plans.length, { standardAccuracy, secondsScale: machines?.secondsScale() });
    return lost ? mergeLostRuns(fresh, lost.file, flags.lostRuns!) : fresh;
  };
  // Results as the grid goes: a long grid's finished runs are there to commit, marked partial.
  const writePartial = (): void => writeResults(resultsPath, results(finishedRecords(plans, registry)));
  if (flags.resultsOnly) {
    try {
      if (archive) {
        const kept = archive.keepFinished(plans);
        if (kept) log(`archive: ${kept} finished run${kept === 1 ? '' : 's'} kept in ${flags.archive}`);
      }
      writePartial();
    } finally {
      registry.close();
    }
    log(`results: ${resultsPath}`);
    return;
  }
  try {
    const outcomes = await runExperiment(exp, {
      ...planOptions, progress: flags.progress, log, warn: (t) => io.err(`saln: warning: ${t}\n`),
      callbacks: (p) => [progressCallback(flags.progress), { onEpochEnd: (m) => log(`  ${epochLine(m, p.config!.epochs)}`) }],
      referenceCallbacks: () => [progressCallback(flags.progress)],
      // The registry follows every run as it goes, so `saln runs ls` shows progress.
      onRun: (p, phase) => {
        if (phase !== 'start') registry.ingest(p.runDir, { experiment: exp.name, label: p.label });
        if (phase === 'end') {
          if (archive) archive.keepFinished([p]);
          writePartial();
        }
      },
    });
    const runs = outcomes.map((o) => registry.ingest(o.plan.runDir, { experiment: exp.name, label: o.plan.label }));
    const final = results(runs);
    writeResults(resultsPath, final);
    log(`results: ${resultsPath}`);
    const { formatTables } = await import('../../reports/table-format.js');
    if (!flags.report) {
      io.out(`\n${formatSummaryTable(runs, { targetAccuracy: exp.report.targetAccuracy })}\n`);
      return;
    }
    const outDir = flags.reportDir ?? join(exp.out, 'report');
    // The headline shows the results file's numbers, which BENCHMARKS.md quotes too.
    const notes = [
      ...(lost ? [`The headline counts ${lost.cells.size} runs trained on an earlier machine whose run directories are gone (--lost-runs ${flags.lostRuns}); no other table or chart has them.`] : []),
      ...(machines ? [`The headline's times are in the reference machine's seconds (--machines ${flags.machines}); the other tables give each run's own.`] : []),
    ];
    const r = await writeReport({ runs, outDir, title: exp.report.title ?? `saln experiment ${exp.name}`, targetAccuracy: exp.report.targetAccuracy, log, results: final.entries, notes });
    io.out(`\n${formatTables(r.tables)}`);
    for (const n of r.notes) io.out(`note: ${n}\n`);
    io.out(`report: ${r.indexPath}\n`);
  } finally {
    registry.close();
  }
}

/** --dry-run: every cell's state, the time left (in this machine's seconds where a machines file says how), and what the archive would restore. */
async function printDryRun(exp: ExperimentConfig, planOptions: PlanOptions, inputs: GridInputs, flags: ExperimentFlags, io: CliIO): Promise<void> {
  const { relative } = await import('node:path');
  const { planExperiment, runState } = await import('../../experiments/runner.js');
  const { cellKey } = await import('../../experiments/run-record.js');
  const { estimateRemaining, formatRemaining } = await import('../../experiments/estimate.js');
  const { RunDir } = await import('../../train/run-dir.js');
  const { machineName } = await import('../../train/machine-cpu.js');
  const { machineOf } = await import('../../train/records.js');
  const { lost, machines, archive } = inputs;
  const plans = planExperiment(exp, planOptions);
  const here = machineName();
  const finishedSeconds = (p: PlannedRun, state: string): number | null => {
    const run = state === 'done' ? RunDir.open(p.runDir) : null;
    const seconds = run ? run.summary()?.wall_seconds ?? null : state === 'lost' ? lost!.cells.get(cellKey(p.dataset, p.label, p.seed)) ?? null : null;
    return seconds === null || !machines ? seconds : machines.convert(seconds, run ? machineOf(run.config()) : null, here, p.runDir);
  };
  const cells = plans.map((p) => {
    const state = runState(p);
    io.out(`${String(p.index).padStart(3)}  ${state.padEnd(11)}  ${p.dataset}  ${p.label}  seed ${p.seed}  ${relative(process.cwd(), p.runDir) || '.'}\n`);
    return { entry: `${p.dataset}/${p.label}`, state, wallSeconds: finishedSeconds(p, state), budgetSeconds: p.config?.budgetSeconds ?? null };
  });
  io.out(formatRemaining(estimateRemaining(cells)));
  const restorable = archive ? archive.restorable(plans).length : 0;
  if (restorable) io.out(`archive: ${restorable} of the cells above have a record in ${flags.archive} and will be restored, not trained, when the experiment runs\n`);
}

interface GridInputs {
  lost?: LostRuns;
  machines?: MachineTimes;
  archive?: ExperimentArchive;
}

/** What --lost-runs, --machines and --archive bring, each read and checked before any work (undefined without its flag). */
async function gridInputs(flags: ExperimentFlags, planned: readonly string[]): Promise<GridInputs> {
  const { MachineTimes } = await import('../../experiments/machines.js');
  return {
    lost: flags.lostRuns === undefined ? undefined : await readLostRuns(flags.lostRuns, planned),
    machines: flags.machines === undefined ? undefined : MachineTimes.read(flags.machines),
    archive: flags.archive === undefined ? undefined : await archiveOf(flags.archive),
  };
}

/** --lost-runs FILE: the file's entries this experiment plans (lost-runs.ts lostRunsFor). */
async function readLostRuns(path: string, planned: readonly string[]): Promise<LostRuns> {
  const { readResults } = await import('../../reports/results.js');
  const { lostRunsFor } = await import('../../reports/lost-runs.js');
  return lostRunsFor(readResults(path), new Set(planned), path);
}

interface ExperimentArchive {
  /** The cells without a run directory whose record is in the archive. */
  restorable(plans: readonly GridCell[]): GridCell[];
  /** Restores those; returns how many. */
  restore(plans: readonly GridCell[]): number;
  /** Archives the finished cells not archived yet; returns how many. */
  keepFinished(plans: readonly GridCell[]): number;
}

/** --archive DIR: each cell's record at DIR/<dataset>/<label>/seed-<s> (train/run-archive.ts). */
async function archiveOf(dir: string): Promise<ExperimentArchive> {
  const { join } = await import('node:path');
  const { archiveRun, isArchived, restoreRun } = await import('../../train/run-archive.js');
  const { RunDir } = await import('../../train/run-dir.js');
  const at = (p: GridCell): string => join(dir, p.dataset, p.label, `seed-${p.seed}`);
  const restorable = (plans: readonly GridCell[]): GridCell[] => plans.filter((p) => !p.lost && !RunDir.exists(p.runDir) && isArchived(at(p)));
  return {
    restorable,
    restore: (plans) => {
      const todo = restorable(plans);
      for (const p of todo) restoreRun(at(p), p.runDir);
      return todo.length;
    },
    keepFinished: (plans) => plans.filter((p) => RunDir.exists(p.runDir) && RunDir.open(p.runDir).status() === 'done' && archiveRun(p.runDir, at(p)) === 'archived').length,
  };
}
