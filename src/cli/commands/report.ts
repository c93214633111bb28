/**
 * `saln report`: run directories → an HTML report folder with one PNG per chart.
 *   saln report runs/none-s0 runs/random-s0 runs/saln-s0 --out reports/cifar10 --target-accuracy 0.8
 */
import { Command, InvalidArgumentError } from 'commander';
import { UsageError, type CliIO } from '../io.js';
import type { RunRecord } from '../../experiments/run-record.js';
import type { ReadResultEntry } from '../../reports/results.js';

interface ReportFlags {
  out: string;
  experiment?: string;
  runs?: string;
  registry?: string;
  title?: string;
  targetAccuracy?: number;
  results?: string;
}

function fraction(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !(v > 0 && v <= 1)) throw new InvalidArgumentError('Expected a validation accuracy as a fraction in (0, 1], e.g. 0.8.');
  return v;
}

const HELP = `
Reads each run directory (config.json, metrics.jsonl, summary.json; written by \`saln train\`)
and writes into --out:
  index.html  one self-contained page (no scripts, no network): per dataset, the paper's table
              (train/val/test accuracy and loss, wall time, time to the target validation
              accuracy; mean ± 95% CI over seeds, Student's t), the cost table (gradient,
              scored, reference and feature samples, optimizer steps, seconds per phase), each
              method minus none and minus random at the same filter ratio (paired by seed), the
              charts, and the list of runs
  NAME.png    one per chart: loss/accuracy against epoch and against wall time, accuracy
              against gradient samples, the selection PCA of saln runs that recorded batches
              (selection_examples.safetensors), and the final-layer weights
Runs are grouped by dataset and label: an experiment's label for its runs, else the method, with
the filter ratio, "super" and "wall" or "samples" added where the runs given of one method differ
in them (random-0.5 and random-0.8-super-wall, never one row of both).
Runs without summary.json are listed but left out.
Without --target-accuracy, each dataset's target is the lowest method's mean best validation
accuracy (floored to 1%), so that every method can reach it on average.

The headline table (per entry: test accuracy, wall time, time to 95%/99%, Δ vs none and random)
is built from the runs given. With --results FILE it shows that results file's numbers instead
(written by \`saln experiment --results\`): the numbers BENCHMARKS.md quotes, which may count runs
whose directories are gone (--lost-runs) and give times in another machine's seconds
(--machines). The other tables and the charts are always the runs'.

Prints the summary table and, last, "report: <path of index.html>".

Exit codes: 0 done; 2 bad input (a path that is not a run directory, a corrupt file); 1 anything else.

Examples:
  $ saln report --experiment quickstart --out reports/quickstart
  $ saln report --runs 3,4,7,8 --out reports/mine
  $ saln report --experiment p-cifar-ft --results results/p-cifar-ft.json --out reports/p-cifar-ft
  $ saln report runs/none-s0 runs/none-s1 runs/random-s0 runs/random-s1 runs/saln-s0 runs/saln-s1 \\
      --out reports/cifar10 --title "CIFAR-10, filter ratio 0.8" --target-accuracy 0.6
`;

export function reportCommand(io: CliIO): Command {
  return new Command('report')
    .summary('write an HTML report (tables, charts, PNGs) of training runs')
    .description('Write a self-contained HTML report and one PNG per chart comparing the given training runs.')
    .argument('[run-dir...]', 'run directories written by `saln train`')
    .option('--experiment <name>', 'every run of this experiment in the registry (see `saln runs ls`)')
    .option('--runs <ids>', 'these registry ids, comma-separated (e.g. 3,4,7)')
    .option('--registry <file>', 'the run registry (default $SALN_REGISTRY, else ~/.cache/saln/registry.sqlite)')
    .requiredOption('--out <dir>', 'the report folder (created; index.html and the PNGs are replaced)')
    .option('--title <text>', 'the report title', 'saln report')
    .option('--target-accuracy <x>', 'validation accuracy (a fraction) for the time-to-target column', fraction)
    .option('--results <file>', 'the headline from this results file (saln experiment --results) instead of the runs (see below)')
    .addHelpText('after', HELP)
    .action(async (dirs: string[], flags: ReportFlags) => {
      await runReport(dirs, flags, io);
    });
}

async function runReport(dirs: string[], flags: ReportFlags, io: CliIO): Promise<void> {
  const { recordsFromDirs, withConfigLabels } = await import('../../experiments/run-record.js');
  const { writeReport } = await import('../../reports/report.js');
  const { formatTables } = await import('../../reports/table-format.js');
  const { existsSync, statSync } = await import('node:fs');
  // --out is a folder: an existing file there is the user's, and is not replaced.
  if (existsSync(flags.out) && !statSync(flags.out).isDirectory()) {
    throw new UsageError(`--out ${flags.out} is a file, not a folder: give a folder for the report (index.html and the PNGs go in it)`, { path: flags.out, field: '--out' });
  }
  const sources = [dirs.length > 0, flags.experiment !== undefined, flags.runs !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('give run directories, --experiment NAME, or --runs IDS (exactly one of them)');
  let runs: RunRecord[];
  if (dirs.length > 0) {
    // A bad run directory is a RunDirError (an InputError: exit 2) naming the file.
    runs = recordsFromDirs(dirs, new Date().toISOString());
  } else {
    const { Registry, defaultRegistryPath } = await import('../../experiments/registry.js');
    const registry = Registry.open(flags.registry ?? defaultRegistryPath());
    try {
      if (flags.experiment !== undefined) {
        runs = registry.list({ experiment: flags.experiment });
        if (runs.length === 0) throw new UsageError(`--experiment: the registry ${registry.path} has no runs of experiment ${JSON.stringify(flags.experiment)}; experiments: ${registry.experiments().join(', ') || '(none)'}`);
      } else {
        const ids = flags.runs!.split(',').map((t) => t.trim());
        runs = ids.map((t) => {
          const id = Number(t);
          const r = /^\d+$/.test(t) ? registry.get(id) : null;
          if (!r) throw new UsageError(`--runs: no run with id ${JSON.stringify(t)} in ${registry.path}`);
          return r;
        });
      }
    } finally {
      registry.close();
    }
  }
  const headline = flags.results === undefined ? {} : await resultsHeadline(flags.results);
  let res;
  try {
    res = await writeReport({ runs: withConfigLabels(runs), outDir: flags.out, title: flags.title, targetAccuracy: flags.targetAccuracy, log: (s) => io.err(`${s}\n`), ...headline });
  } catch (e) {
    // A corrupt checkpoint or selection file is the user's input to fix.
    if ((e as Error).name === 'EngineError') throw new UsageError((e as Error).message);
    throw e;
  }
  io.out(formatTables(res.tables));
  for (const n of res.notes) io.out(`note: ${n}\n`);
  io.out(`report: ${res.indexPath}\n`);
}

/** The headline's entries from a results file, with a note saying whose numbers they are. A bad file is an InputError naming it (exit 2). */
async function resultsHeadline(path: string): Promise<{ results: ReadResultEntry[]; notes: string[] }> {
  const { readResults } = await import('../../reports/results.js');
  const file = readResults(path);
  const partial = file.complete ? '' : ', partial';
  return {
    results: file.entries,
    notes: [`The headline is ${path}'s numbers (protocol ${file.protocol}, ${file.runs.finished} of ${file.runs.planned} runs${partial}); the other tables and the charts are the runs given here.`],
  };
}
