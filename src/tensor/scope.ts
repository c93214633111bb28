/**
 * Deterministic release of native memory. `tidy(fn)` disposes every tensor created inside fn
 * except what fn returns (or `keep()`s); `noGrad(fn)` runs fn with autograd off. The finalizer
 * on each native handle is only the safety net.
 */
import { native } from '../binding/binding.js';

/** What a scope can track: anything with a dispose(). */
export interface Disposable {
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];

/** Called by every Tensor constructor. */
export function track(t: Disposable): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.add(t);
}

/** Removes t from every open scope, so no enclosing tidy() disposes it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(result: unknown, out: Set<unknown>): void {
  if (result === null || typeof result !== 'object') return;
  if (out.has(result)) return;
  out.add(result);
  if (Array.isArray(result)) for (const r of result) collect(r, out);
  else if (Object.getPrototypeOf(result) === Object.prototype) for (const r of Object.values(result)) collect(r, out);
}

/**
 * Runs fn and disposes the tensors it created, except those reachable from its result (through
 * arrays and plain objects). Results are moved to the enclosing scope. Not for async functions:
 * await inside fn would let other work's tensors land in this scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous (it returned a Promise)');
  const kept = new Set<unknown>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Runs fn with gradient recording off (torch.no_grad()), restoring the previous mode. */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
