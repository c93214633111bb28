/**
 * The one base class for input the user should fix: a bad flag, config field, file, run
 * directory, registry or experiment. Every layer throws a subclass; the CLI maps
 * `instanceof InputError` to exit code 2 and anything else (internal or engine failures) to 1.
 *
 * This module imports nothing, so every layer, from io up to the CLI, can depend on it.
 */

/** What kind of input was at fault; each subclass fixes its own. */
export type InputErrorCode = 'usage' | 'config' | 'data' | 'io' | 'run-dir' | 'registry' | 'experiment' | 'model';

export interface InputErrorWhere {
  /** The file or folder at fault, when there is one. */
  path?: string;
  /** The field or flag at fault (`filterRatio`, `--lr`, `methods[2].label`). */
  field?: string;
  /** The 1-based line in `path`, for line-based files. */
  line?: number;
}

export class InputError extends Error {
  readonly code: InputErrorCode;
  readonly path: string | undefined;
  readonly field: string | undefined;
  readonly line: number | undefined;

  constructor(code: InputErrorCode, message: string, where: InputErrorWhere = {}) {
    super(message);
    // The name callers matched on before this class existed; subclasses may keep their own (DataError).
    this.name = 'UsageError';
    this.code = code;
    this.path = where.path;
    this.field = where.field;
    this.line = where.line;
  }
}

/** Whether an error is the user's to fix (exit 2) rather than a failure of saln (exit 1). */
export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}
