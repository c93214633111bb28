/**
 * `saln results`: a protocol's results file (results/<protocol>.json, written by `saln experiment
 * --results`) as the report's headline table, for the terminal or as Markdown for BENCHMARKS.md.
 *   saln results results/p-cifar-ft.json --markdown
 */
import { Command } from 'commander';
import { UsageError, type CliIO } from '../io.js';

interface ResultsFlags {
  markdown?: boolean;
  label?: string;
}

const HELP = `
Prints, per file: the protocol, how many of its planned runs have finished ("partial" until all
have), and one row per entry: budget (the paper's epochs, or equal wall time), precision, test
accuracy, wall seconds with every cost in them, the share spent choosing samples, the time to 95%
and 99% of standard training's accuracy (with how many seeds reached it), and the differences
from standard training and from random, paired by seed. Each is mean ± 95% CI over the seeds
("± n/a" for one seed). The HTML report's headline shows the same table.

--markdown prints Markdown tables, as BENCHMARKS.md quotes them. --label keeps the entries
whose label matches a regular expression.

Exit codes: 0 done; 2 bad input (a file that is not a results file, a bad --label); 1 anything else.

Examples:
  $ saln results results/p-cifar-ft.json
  $ saln results results/p-cifar-ft.json --markdown --label 'wall$'
  $ saln results results/*.json
`;

export function resultsCommand(io: CliIO): Command {
  return new Command('results')
    .summary("print a protocol's results file (results/<protocol>.json) as a table")
    .description("Print the headline table of results files written by `saln experiment --results`.")
    .argument('<file...>', 'results files (JSON, as `saln experiment --results` writes them)')
    .option('--markdown', 'print Markdown tables (as BENCHMARKS.md quotes them)')
    .option('--label <regex>', 'only the entries whose label matches this regular expression')
    .addHelpText('after', HELP)
    .action(async (files: string[], flags: ResultsFlags) => {
      await printResults(files, flags, io);
    });
}

function labelFilter(source: string | undefined): (label: string) => boolean {
  if (source === undefined) return () => true;
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (e) {
    throw new UsageError(`--label ${JSON.stringify(source)} is not a regular expression: ${(e as Error).message}`, { field: '--label' });
  }
  return (label) => re.test(label);
}

async function printResults(files: string[], flags: ResultsFlags, io: CliIO): Promise<void> {
  const { readResults, headlineMarkdown, headlineCells, HEADLINE_COLUMNS } = await import('../../reports/index.js');
  const { formatTable } = await import('../table.js');
  const keep = labelFilter(flags.label);
  // Every file is read first, so that a bad one fails before anything is printed.
  const all = files.map((f) => ({ file: f, results: readResults(f) }));
  for (const [i, { file, results }] of all.entries()) {
    const state = results.complete ? 'complete' : `partial: ${results.runs.finished} of ${results.runs.planned} runs finished`;
    const datasets = [...new Set(results.entries.map((e) => e.dataset))];
    io.out(`${i > 0 ? '\n' : ''}${flags.markdown ? '### ' : ''}${results.protocol} (${state}; ${file})\n`);
    for (const dataset of datasets) {
      const entries = results.entries.filter((e) => e.dataset === dataset && keep(e.label));
      if (datasets.length > 1) io.out(`\n${flags.markdown ? '#### ' : ''}${dataset}\n`);
      if (entries.length === 0) {
        io.out('(no entry matches --label)\n');
        continue;
      }
      io.out(flags.markdown ? `\n${headlineMarkdown(entries)}` : formatTable(HEADLINE_COLUMNS.map((h, j) => ({ header: h, align: j < 3 ? 'left' : 'right' })), entries.map(headlineCells)));
    }
  }
}
