import { InputError, type InputErrorWhere } from '../errors.js';

/** What every command shares: where it writes, and the error for input the user should fix. */

/** Where a command writes; tests pass their own. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Thrown by commands for a bad flag or argument: exit code 2 (see InputError). */
export class UsageError extends InputError {
  constructor(message: string, where: InputErrorWhere = {}) {
    super('usage', message, where);
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * Ends the CLI with a given exit code and a one-line message: `saln launch` exits with the code of
 * the rank that failed.
 */
export class ExitCodeError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
    this.name = 'ExitCodeError';
  }
}
