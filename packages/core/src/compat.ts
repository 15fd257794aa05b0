import { SessionDataError } from './errors.js';
import type { JsonValue } from './json.js';

/**
 * For compat layers: one top-level key's JSON text, as {@link jsonSnapshot} takes it; undefined
 * when JSON leaves the value out (`undefined`, functions). A value JSON cannot hold (a `BigInt`, a
 * cycle) throws {@link SessionDataError} naming the key.
 */
export function entryJson(key: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new SessionDataError(`session key "${key}" cannot be stored as JSON: ${(error as Error).message}`, {
      key,
      cause: error,
    });
  }
}

/**
 * For compat layers, whose session object is a plain object the app mutates (express-session,
 * @fastify/session, koa-session): each top-level key's JSON text ({@link entryJson}), so that what
 * a request changed is found by comparing two snapshots, nested changes included. Keys whose value
 * JSON leaves out are absent.
 */
export function jsonSnapshot(entries: Iterable<readonly [string, unknown]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of entries) {
    const json = entryJson(key, value);
    if (json !== undefined) out.set(key, json);
  }
  return out;
}

/**
 * The key-level change set from snapshot `before` to snapshot `after` (see {@link jsonSnapshot}):
 * the keys to set, with their values parsed from the JSON, and the keys to remove.
 */
export function snapshotChanges(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): { set: Record<string, JsonValue>; remove: string[] } {
  const set: Record<string, JsonValue> = {};
  for (const [key, json] of after) {
    if (before.get(key) !== json) set[key] = JSON.parse(json) as JsonValue;
  }
  const remove = [...before.keys()].filter((key) => !after.has(key));
  return { set, remove };
}

/**
 * The peers' "callback or promise" calling convention: with a Node-style `callback`, settles it from
 * `promise` and returns undefined; without one, returns `promise`.
 */
export function callbackOrPromise(
  promise: Promise<void>,
  callback: ((error?: unknown) => void) | undefined,
): Promise<void> | undefined {
  if (callback === undefined) return promise;
  promise.then(
    () => callback(),
    (error: unknown) => callback(error),
  );
  return undefined;
}

/**
 * The type of a request's session property (`req.session`, `request.session`, `ctx.session`) that a
 * native adapter and its compat drop-in both set, each with its own object. `Apis` is an interface
 * that the adapter's module extends with `native` and the drop-in's with `compat` when imported:
 * with one of them in the program, its type; with both, the native one, unless the app declares
 * `use: 'compat'` (or `'native'`) in it.
 */
export type RequestSessionApi<Apis> = Apis extends { use: infer U }
  ? U extends keyof Apis
    ? Apis[U]
    : never
  : Apis extends { native: infer N }
    ? N
    : Apis extends { compat: infer C }
      ? C
      : never;
