/**
 * The validation helper: every public entry checks its arguments here, so messages read alike
 * ("Expected … for <name> but received …") and the addon can assume valid input.
 */
import { EngineError } from '../binding/errors.js';

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return String(v);
}

export function invalid(expected: string, name: string, received: unknown): EngineError {
  return new EngineError(`Expected ${expected} for ${name} but received ${show(received)}`);
}

export function checkInt(v: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = min === -Infinity && max === Infinity ? 'an integer' : max === Infinity ? `an integer >= ${min}` : `an integer between ${min} and ${max}`;
    throw invalid(range, name, v);
  }
  return v;
}

export function checkNumber(v: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max) {
    throw invalid(min === -Infinity && max === Infinity ? 'a number' : `a number between ${min} and ${max}`, name, v);
  }
  return v;
}

export function checkShape(v: unknown, name: string): number[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0)) {
    throw invalid('an array of non-negative integers', name, v);
  }
  return v as number[];
}

/** Normalizes a possibly negative dim against a rank, as PyTorch does. */
export function normDim(dim: number, rank: number, name = 'dim'): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) throw invalid(`an integer between ${-r} and ${r - 1}`, name, dim);
  return dim < 0 ? dim + r : dim;
}

export function pair(v: number | [number, number], name: string): [number, number] {
  if (typeof v === 'number') return [checkInt(v, name, 0), v];
  if (!Array.isArray(v) || v.length !== 2) throw invalid('an integer or a pair of integers', name, v);
  return [checkInt(v[0], name, 0), checkInt(v[1], name, 0)];
}
