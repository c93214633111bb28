/**
 * `saln results`: a protocol's results file (results/<protocol>.json, written by `saln experiment
 * --results`) as the report's headline table, for the terminal or as Markdown for BENCHMARKS.md.
 *   saln results results/p-cifar-ft.json --markdown
 */
import { Command } from 'commander';
import { UsageError, type CliIO } from '../io.js';

export interface ResultsFlags {
  markdown?: boolean;
  label?: string;
  pair?: string[];
  verdict?: boolean | string;
}

const HELP = `
Prints, per file: the protocol, how many of its planned runs have finished ("partial" until all
have), and one row per entry: budget (the paper's epochs, or equal wall time), precision, test
accuracy, the final validation accuracy (the one a choice between entries may read), wall
seconds with every cost in them, the share spent choosing samples, the time to 95%
and 99% of standard training's accuracy (with how many seeds reached it), and the differences
from standard training and from random, paired by seed. Each is mean ± 95% CI over the seeds
("± n/a" for one seed). The HTML report's headline shows the same table.

--markdown prints Markdown tables, as BENCHMARKS.md quotes them. --label keeps the entries
whose label matches a regular expression.

--pair A,B (repeatable) prints, instead of the headline, entry A against entry B of the same
file over the seeds both ran: test and final validation accuracy A − B, paired by seed (mean ±
95% CI), and each side's mean wall seconds over those seeds. Any two entries pair: saln against
jest (the paper's claim over JEST), an entry against another budget's or ratio's.

--verdict [margin] prints, instead of the headline, each entry that has a random control (same
ratio, mode and budget) against it: the paired Δ vs random with its 95% CI, Δ vs standard
training, the selection cost share, and whether the whole CI lies above +margin points (default
1: the selection tournament's rule for calling a selector a win). One seed has no CI: "not yet".
--label applies.

Exit codes: 0 done; 2 bad input (a file that is not a results file, a bad --label, a --pair
label the file lacks, a --verdict margin that is not a number >= 0); 1 anything else.

Examples:
  $ saln results results/p-cifar-ft.json
  $ saln results results/p-cifar-ft.json --markdown --label 'wall$'
  $ saln results results/*.json
  $ saln results results/p-cifar-ft.json --pair saln-0.8,jest-super --pair saln-0.8-wall,jest-super-wall --markdown
  $ saln results results/selection-tournament.json --verdict --markdown
`;

export function resultsCommand(io: CliIO): Command {
  return new Command('results')
    .summary("print a protocol's results file (results/<protocol>.json) as a table")
    .description("Print the headline table of results files written by `saln experiment --results`.")
    .argument('<file...>', 'results files (JSON, as `saln experiment --results` writes them)')
    .option('--markdown', 'print Markdown tables (as BENCHMARKS.md quotes them)')
    .option('--label <regex>', 'only the entries whose label matches this regular expression')
    .option('--pair <a,b>', 'entry A against entry B, paired by seed (repeatable; instead of the headline)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--verdict [margin]', 'each entry against random: does its 95% CI lie above +margin pp? (default 1; instead of the headline)')
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

/** --verdict's margin in percentage points: 1 when the flag has no value. */
function verdictMargin(v: boolean | string | undefined): number | null {
  if (v === undefined || v === false) return null;
  if (v === true) return 1;
  const m = v.trim() === '' ? Number.NaN : Number(v);
  if (!(Number.isFinite(m) && m >= 0)) throw new UsageError(`--verdict ${JSON.stringify(v)}: expected a margin in percentage points, a number >= 0 (default 1)`, { field: '--verdict' });
  return m;
}

/** "A,B" as two labels. */
function parsePair(text: string): [string, string] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new UsageError(`--pair ${JSON.stringify(text)}: expected two entry labels separated by a comma, such as saln-0.8,jest-super`, { field: '--pair' });
  return [parts[0], parts[1]];
}

export async function printResults(files: string[], flags: ResultsFlags, io: CliIO): Promise<void> {
  const { readResults, headlineCells, HEADLINE_COLUMNS, markdownTable, pairEntries, pairCells, PAIR_COLUMNS, verdictCells, verdictColumns } = await import('../../reports/index.js');
  const { formatTable } = await import('../table.js');
  const keep = labelFilter(flags.label);
  const pairs = (flags.pair ?? []).map(parsePair);
  if (pairs.length && flags.label !== undefined) throw new UsageError('--label and --pair do not mix: --pair names the entries it prints', { field: '--label' });
  const margin = verdictMargin(flags.verdict);
  if (pairs.length && margin !== null) throw new UsageError('--pair and --verdict do not mix: each prints its own table', { field: '--verdict' });
  const table = (columns: readonly string[], rows: string[][], textColumns: number): string =>
    flags.markdown ? `\n${markdownTable(columns, rows, textColumns)}` : formatTable(columns.map((h, j) => ({ header: h, align: j < textColumns ? 'left' : 'right' })), rows);
  // Every file is read first, so that a bad one fails before anything is printed.
  const all = files.map((f) => ({ file: f, results: readResults(f) }));
  for (const [i, { file, results }] of all.entries()) {
    const state = results.complete ? 'complete' : `partial: ${results.runs.finished} of ${results.runs.planned} runs finished`;
    const datasets = [...new Set(results.entries.map((e) => e.dataset))];
    io.out(`${i > 0 ? '\n' : ''}${flags.markdown ? '### ' : ''}${results.protocol} (${state}; ${file})\n`);
    for (const dataset of datasets) {
      const inDataset = results.entries.filter((e) => e.dataset === dataset);
      if (datasets.length > 1) io.out(`\n${flags.markdown ? '#### ' : ''}${dataset}\n`);
      if (pairs.length) {
        const entry = (label: string): (typeof inDataset)[number] => {
          const e = inDataset.find((x) => x.label === label);
          if (!e) throw new UsageError(`--pair: ${file} has no entry ${JSON.stringify(label)}${datasets.length > 1 ? ` for ${dataset}` : ''}; its entries: ${inDataset.map((x) => x.label).join(', ')}`, { field: '--pair', path: file });
          if (!e.per_seed) throw new UsageError(`--pair: ${file} has no per-seed results (written before they existed); rewrite it with \`saln experiment CONFIG --results-only --results ${file}\``, { field: '--pair', path: file });
          return e;
        };
        const rows = pairs.map(([a, b]) => pairCells(pairEntries(entry(a), entry(b))));
        io.out(table(PAIR_COLUMNS, rows, 3));
        continue;
      }
      const entries = inDataset.filter((e) => keep(e.label));
      if (entries.length === 0) {
        io.out('(no entry matches --label)\n');
        continue;
      }
      if (margin !== null) {
        const rows = entries.map((e) => verdictCells(e, margin)).filter((r): r is string[] => r !== null);
        io.out(rows.length ? table(verdictColumns(margin), rows, 2) : '(no entry has a random control)\n');
        continue;
      }
      io.out(table(HEADLINE_COLUMNS, entries.map(headlineCells), 3));
    }
  }
}
