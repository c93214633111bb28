/**
 * The addon's op-code tables (declared once, in native/src/op_tables.h), read at load. Ops are
 * looked up by name, so TypeScript keeps no copy of the codes; a name the addon lacks (a stale
 * build) is an EngineError saying so.
 */
import { native, type OpCodes } from '../binding/binding.js';
import { EngineError } from '../binding/errors.js';

export type OpTable = keyof OpCodes;

/** The code of `name` in the addon's `table`. */
export function opCode(table: OpTable, name: string): number {
  const code = native.opCodes[table][name];
  if (code === undefined) {
    throw new EngineError(`the native addon has no ${table} entry ${JSON.stringify(name)}: rebuild it with \`npm run build:native\``);
  }
  return code;
}

/** Every name of a table, in code order. */
export function opNames(table: OpTable): string[] {
  const t = native.opCodes[table];
  return Object.keys(t).sort((a, b) => t[a]! - t[b]!);
}
