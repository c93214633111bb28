/**
 * `saln tables DOC`: rewrites the results tables quoted in a Markdown document (BENCHMARKS.md,
 * a README) from the results files they name, so no table of numbers is typed by hand;
 * `--check` only says which are stale (CI runs it on BENCHMARKS.md).
 *   saln tables BENCHMARKS.md
 *   saln tables BENCHMARKS.md --check
 */
import { Command, CommanderError } from 'commander';
import { isInputError } from '../../errors.js';
import { ExitCodeError, UsageError, type CliIO } from '../io.js';
import { printResults, resultsCommand, type ResultsFlags } from './results.js';

const HELP = `
A block in the document is two HTML comments (invisible on GitHub) around what
\`saln results ARGS --markdown\` prints, headings left out:

  <!-- saln results results/p-cifar-ft.json --label 'wall$' -->
  | entry | budget | ... |
  | --- | --- | ... |
  | saln-0.8-wall | equal wall time | ... |
  <!-- end saln results -->

ARGS are \`saln results\`'s (files, --label, --pair, --verdict; --markdown is implied), with
files relative to the document's folder; '...' keeps spaces. Every block is rendered before the
document is rewritten (atomically), so a bad block changes nothing.

Exit codes: 0 done (with --check: every block is up to date); 1 --check found stale blocks (each
is named by its line); 2 bad input (a marker without its end, a results file that is missing or
not one, bad ARGS: the message names the document's line).

Examples:
  $ saln results results/p-cifar-ft.json --markdown     # what a block of the first kind holds
  $ saln tables BENCHMARKS.md                           # after a grid wrote new results
  $ saln tables BENCHMARKS.md --check
`;

export function tablesCommand(io: CliIO): Command {
  return new Command('tables')
    .summary('rewrite the results tables quoted in a Markdown document from their results files')
    .description('Rewrite every <!-- saln results ARGS --> block of a Markdown document with what `saln results ARGS --markdown` prints now.')
    .argument('<doc>', 'the Markdown document (e.g. BENCHMARKS.md)')
    .option('--check', 'change nothing; exit 1 naming the blocks that differ from their results files')
    .addHelpText('after', HELP)
    .action(async (doc: string, flags: { check?: boolean }) => {
      await rewriteTables(doc, flags.check ?? false, io);
    });
}

async function rewriteTables(doc: string, check: boolean, io: CliIO): Promise<void> {
  const { readRegularText } = await import('../../io/files.js');
  const { dirname } = await import('node:path');
  const { writeFileAtomic } = await import('../../io/atomic.js');
  const { blockBody, DocTablesError, renderBlocks } = await import('../../reports/doc-tables.js');
  let markdown: string;
  try {
    markdown = readRegularText(doc, { maxBytes: 64 << 20 });
  } catch (e) {
    if (isInputError(e)) throw e;
    throw new UsageError(`cannot read ${doc}: ${(e as Error).message}`, { path: doc });
  }
  const base = dirname(doc);
  let result: { text: string; changed: number[] };
  try {
    result = await renderBlocks(markdown, async (b) => blockBody(await runResults(b.args, base, `${doc}:${b.line}`)));
  } catch (e) {
    if (e instanceof DocTablesError) throw new UsageError(`${doc}:${e.line}: ${e.message}`, { path: doc, line: e.line });
    throw e;
  }
  const blocks = (lines: number[]): string => lines.map((l) => `${doc}:${l}`).join(', ');
  if (check) {
    if (result.changed.length) throw new ExitCodeError(1, `${result.changed.length} table block(s) differ from their results files: ${blocks(result.changed)}; run \`saln tables ${doc}\` to rewrite them`);
    io.out(`${doc}: every results table is up to date\n`);
    return;
  }
  if (result.changed.length) writeFileAtomic(doc, [Buffer.from(result.text)]);
  io.out(result.changed.length ? `${doc}: rewrote ${result.changed.length} table block(s): ${blocks(result.changed)}\n` : `${doc}: every results table was up to date\n`);
}

/** What `saln results ARGS --markdown` prints, parsed by its own command; files resolve against base. */
async function runResults(args: string[], base: string, where: string): Promise<string> {
  const { isAbsolute, join } = await import('node:path');
  let out = '';
  let err = '';
  const capture: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const cmd = resultsCommand(capture)
    .exitOverride()
    .configureOutput({ writeOut: capture.out, writeErr: capture.err })
    .action(async (files: string[], flags: ResultsFlags) => {
      await printResults(files.map((f) => (isAbsolute(f) ? f : join(base, f))), { ...flags, markdown: true }, capture);
    });
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError) && !isInputError(e)) throw e;
    const message = e instanceof CommanderError ? err.trim().split('\n')[0] : e.message;
    throw new UsageError(`${where}: saln results ${args.join(' ')}: ${message}`);
  }
  return out;
}
