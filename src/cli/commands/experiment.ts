/**
 * `saln experiment CONFIG`: a grid of datasets × seeds × methods, run one after another into a
 * registry, then the report.
 *   saln experiment experiments/quickstart.yaml
 */
import { Command } from 'commander';
import type { CliIO } from '../io.js';

interface ExperimentFlags {
  registry?: string;
  cacheDir?: string;
  report: boolean;
  reportDir?: string;
  results?: string;
  dryRun?: boolean;
  resultsOnly?: boolean;
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
see src/reports/results.ts for the fields), the report written to OUT/report/, and the last line
is \`report: PATH\` (its index.html; the charts' PNGs sit beside it).

Examples:
  $ saln experiment experiments/quickstart.yaml
  $ saln experiment my-grid.json --dry-run
  $ saln experiment experiments/p-cifar-ft.yaml --results-only --results /tmp/now.json && saln results /tmp/now.json
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
    .option('--no-progress', 'no progress bars')
    .addHelpText('after', HELP)
    .action(async (config: string, flags: ExperimentFlags) => {
      await runExperimentCommand(config, flags, io);
    });
}

async function runExperimentCommand(file: string, flags: ExperimentFlags, io: CliIO): Promise<void> {
  const { join, relative } = await import('node:path');
  const { readExperiment } = await import('../../experiments/config.js');
  const { finishedRecords, planExperiment, runExperiment, runState } = await import('../../experiments/runner.js');
  const { epochLine, progressCallback } = await import('../train-output.js');
  const exp = readExperiment(file);
  const log = (t: string): void => io.err(`${t}\n`);
  if (flags.dryRun) {
    const plans = planExperiment(exp, { cacheDir: flags.cacheDir });
    const { estimateRemaining, formatRemaining } = await import('../../experiments/estimate.js');
    const { RunDir } = await import('../../train/run-dir.js');
    const cells = plans.map((p) => {
      const state = runState(p);
      io.out(`${String(p.index).padStart(3)}  ${state.padEnd(11)}  ${p.dataset}  ${p.label}  seed ${p.seed}  ${relative(process.cwd(), p.runDir) || '.'}\n`);
      const wallSeconds = state === 'done' ? RunDir.open(p.runDir).summary()?.wall_seconds ?? null : null;
      return { entry: `${p.dataset}/${p.label}`, state, wallSeconds, budgetSeconds: p.config?.budgetSeconds ?? null };
    });
    io.out(formatRemaining(estimateRemaining(cells)));
    return;
  }
  const { Registry, defaultRegistryPath } = await import('../../experiments/registry.js');
  const { formatSummaryTable, writeReport, buildResults, writeResults } = await import('../../reports/index.js');
  const registry = Registry.open(flags.registry ?? defaultRegistryPath());
  const resultsPath = flags.results ?? join(exp.out, 'results.json');
  const plans = planExperiment(exp, { cacheDir: flags.cacheDir });
  // Results as the grid goes: a long grid's finished runs are there to commit, marked partial.
  const writePartial = (): void => writeResults(resultsPath, buildResults(exp.name, finishedRecords(plans, registry), plans.length));
  if (flags.resultsOnly) {
    try {
      writePartial();
    } finally {
      registry.close();
    }
    log(`results: ${resultsPath}`);
    return;
  }
  try {
    const outcomes = await runExperiment(exp, {
      cacheDir: flags.cacheDir, progress: flags.progress, log, warn: (t) => io.err(`saln: warning: ${t}\n`),
      callbacks: (p) => [progressCallback(flags.progress), { onEpochEnd: (m) => log(`  ${epochLine(m, p.config!.epochs)}`) }],
      referenceCallbacks: () => [progressCallback(flags.progress)],
      // The registry follows every run as it goes, so `saln runs ls` shows progress.
      onRun: (p, phase) => {
        if (phase !== 'start') registry.ingest(p.runDir, { experiment: exp.name, label: p.label });
        if (phase === 'end') writePartial();
      },
    });
    const runs = outcomes.map((o) => registry.ingest(o.plan.runDir, { experiment: exp.name, label: o.plan.label }));
    writeResults(resultsPath, buildResults(exp.name, runs, outcomes.length));
    log(`results: ${resultsPath}`);
    const { formatTables } = await import('../../reports/table-format.js');
    if (!flags.report) {
      io.out(`\n${formatSummaryTable(runs, { targetAccuracy: exp.report.targetAccuracy })}\n`);
      return;
    }
    const outDir = flags.reportDir ?? join(exp.out, 'report');
    const r = await writeReport({ runs, outDir, title: exp.report.title ?? `saln experiment ${exp.name}`, targetAccuracy: exp.report.targetAccuracy, log });
    io.out(`\n${formatTables(r.tables)}`);
    for (const n of r.notes) io.out(`note: ${n}\n`);
    io.out(`report: ${r.indexPath}\n`);
  } finally {
    registry.close();
  }
}
