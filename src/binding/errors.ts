/**
 * The one error class the engine throws. The addon receives it at load time and throws it for
 * every libtorch failure (as better-sqlite3 does with SqliteError); TypeScript validation throws
 * it too, so callers catch one type.
 */
export class EngineError extends Error {
  /** The op that failed, e.g. `conv2d`, when the failure came from the engine. */
  op?: string;
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}
