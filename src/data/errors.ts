/**
 * DataError: bad input data (a corrupt image under `strict`, a malformed annotation line, a
 * checksum mismatch…). The message names the file, and the line where there is one.
 */
export class DataError extends Error {
  /** The file at fault, when there is one. */
  readonly path: string | undefined;
  /** The 1-based line in `path`, for annotation files. */
  readonly line: number | undefined;

  constructor(message: string, where: { path?: string; line?: number } = {}) {
    super(message);
    this.name = 'DataError';
    this.path = where.path;
    this.line = where.line;
  }
}

/** Where warnings go unless a caller passes its own sink. */
export type WarnFn = (message: string) => void;

export const defaultWarn: WarnFn = (m) => void process.stderr.write(`saln: warning: ${m}\n`);
