/**
 * The `saln` command line. One subcommand per file under commands/. The engine (a native addon)
 * is loaded only by the commands that need it, so `saln --help` works even where it is broken.
 *
 * Exit codes: 0 success; 2 bad usage or bad input (an InputError: the message says what to fix);
 * 1 anything else, engine failures included. Errors print one line on stderr, never a stack trace (SALN_DEBUG=1 adds it).
 */
import { Command, CommanderError } from 'commander';
import { selectCommand } from './commands/select.js';
import { dataCommand } from './commands/data.js';
import { modelsCommand } from './commands/models.js';
import { featuresCommand } from './commands/features.js';
import { trainCommand } from './commands/train.js';
import { runsCommand } from './commands/runs.js';
import { experimentCommand } from './commands/experiment.js';
import { reportCommand } from './commands/report.js';
import { resultsCommand } from './commands/results.js';
import { tablesCommand } from './commands/tables.js';
import { expandTrainNproc, launchCommand } from './commands/launch.js';
import { distCheckCommand } from './commands/dist-check.js';
import { isInputError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, ExitCodeError, processIO, type CliIO } from './io.js';

export type { CliIO };

const VERSION = '0.1.0';

export function buildProgram(io: CliIO): Command {
  const program = new Command('saln')
    .description('Spectral in-batch sample selection (SALN) on a TypeScript + libtorch engine.')
    .version(VERSION, '-V, --version')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  // addCommand() does not pass these settings down by itself.
  program.addCommand(selectCommand(io).copyInheritedSettings(program));
  program.addCommand(dataCommand(io).copyInheritedSettings(program));
  program.addCommand(modelsCommand(io).copyInheritedSettings(program));
  program.addCommand(featuresCommand(io).copyInheritedSettings(program));
  program.addCommand(trainCommand(io).copyInheritedSettings(program));
  program.addCommand(experimentCommand(io).copyInheritedSettings(program));
  program.addCommand(runsCommand(io).copyInheritedSettings(program));
  program.addCommand(reportCommand(io).copyInheritedSettings(program));
  program.addCommand(resultsCommand(io).copyInheritedSettings(program));
  program.addCommand(tablesCommand(io).copyInheritedSettings(program));
  program.addCommand(launchCommand(io).copyInheritedSettings(program));
  program.addCommand(distCheckCommand(io).copyInheritedSettings(program));
  return program;
}


/**
 * Runs the CLI on argv (without the node and script paths) and returns the exit code.
 * Never throws: every failure becomes a message on io.err.
 */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(expandTrainNproc(argv), { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its message (help and --version end here too).
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (e instanceof ExitCodeError) {
      io.err(`saln: error: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.err(`saln: error: ${err.message}\n`);
    if (process.env.SALN_DEBUG) io.err(`${err.stack ?? ''}\n`);
    return isInputError(err) ? EXIT_USAGE : EXIT_FAILURE;
  }
}
