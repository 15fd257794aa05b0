import { SessionDataError } from './errors.js';

/** A value JSON represents without change. */
export type JsonPrimitive = string | number | boolean | null;
/** A value JSON represents without change. */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
/** The data of one session: a plain JSON object. */
export type SessionData = { [key: string]: JsonValue };

/**
 * Deepest nesting of arrays and objects a session value may have: the value given to `set` is level 1
 * (`{ a: { b: 1 } }` is 2 levels deep). Deeper values are refused with {@link SessionDataError}, and
 * stored data nested deeper reads as corrupt. Why a bound at all: `JSON.stringify`, `structuredClone`
 * and zod recurse, and a value nested about 5,000 levels deep overflows the stack with a plain
 * `RangeError` (a 500 with no hint, and a stored session that fails every later merge). Real session
 * data is a few levels deep; 64 leaves ample room and keeps every recursion far from the stack limit.
 */
export const MAX_VALUE_DEPTH = 64;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return IDENTIFIER.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value !== 'object' || value === null) return typeof value;
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'object';
}

function reject(key: string, path: string, type: string): never {
  throw new SessionDataError(
    `Session value for key ${JSON.stringify(key)} cannot be stored as JSON: ${path} is ${type}`,
    { key, path, type },
  );
}

function walk(key: string, value: unknown, path: string, ancestors: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) reject(key, path, describe(value));
      return;
    case 'object':
      break;
    default:
      reject(key, path, describe(value));
  }
  if (value === null) return;
  if (ancestors.has(value)) reject(key, path, 'a circular reference');
  // Checked before descending, so that this walk itself never recurses deeper than the bound.
  if (depth > MAX_VALUE_DEPTH)
    reject(key, path, `nested deeper than ${MAX_VALUE_DEPTH} levels (MAX_VALUE_DEPTH)`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) reject(key, path, describe(value));
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) reject(key, childPath(path, i), 'a hole in a sparse array');
      walk(key, value[i], childPath(path, i), ancestors, depth + 1);
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) reject(key, path, describe(value));
    if (Object.getOwnPropertySymbols(value).length > 0) reject(key, path, 'an object with symbol keys');
    for (const k of Object.keys(value)) {
      walk(key, (value as Record<string, unknown>)[k], childPath(path, k), ancestors, depth + 1);
    }
  }
  ancestors.delete(value);
}

/**
 * Throws {@link SessionDataError} unless `value` survives `JSON.stringify`/`JSON.parse` unchanged:
 * no functions, symbols, bigints, `undefined`, NaN/Infinity, cycles, sparse arrays, or instances of
 * classes (Date, Map, Set...), and no deeper than {@link MAX_VALUE_DEPTH} levels of arrays and
 * objects. The error names the session key, the path inside the value and the type.
 */
export function assertJsonValue(key: string, value: unknown): asserts value is JsonValue {
  walk(key, value, key, new Set(), 1);
}

/**
 * Whether `value` nests arrays and objects deeper than `max` levels (`value` itself is level 1).
 * Never recurses deeper than `max + 1`, so it is safe on data of any depth (stored data, which
 * `JSON.parse` builds without a depth limit).
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max <= 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestedDeeperThan(item, max - 1)) return true;
    return false;
  }
  for (const k in value) {
    if (Object.hasOwn(value, k) && nestedDeeperThan((value as Record<string, unknown>)[k], max - 1))
      return true;
  }
  return false;
}

/**
 * Fewest UTF-8 bytes of JSON text that a stored session record (an object: level 1) nested deeper
 * than `MAX_VALUE_DEPTH + 1` levels can take, i.e. with a value under some key nested deeper than
 * {@link MAX_VALUE_DEPTH}: the record's own braces (2), the shortest key and its colon (`"":`, 3),
 * and `MAX_VALUE_DEPTH + 1` arrays or objects nested in one another, two brackets each
 * (`[[...]]`). Nothing else in JSON text is needed, and whitespace or more keys only add bytes.
 * Below it, the depth walk of a loaded record ({@link nestedDeeperThan}) cannot find anything and
 * is skipped: 135 bytes for MAX_VALUE_DEPTH 64.
 */
export const MIN_BYTES_TOO_DEEP = 2 + 3 + 2 * (MAX_VALUE_DEPTH + 1);

/**
 * Whether a stored record of `bytes` UTF-8 bytes of JSON text (`StoredSession.size`; undefined:
 * not known) may nest deeper than MAX_VALUE_DEPTH + 1 levels, so that it must be walked.
 */
export function mayNestTooDeep(bytes: number | undefined): boolean {
  return bytes === undefined || bytes >= MIN_BYTES_TOO_DEEP;
}

/** Assigns an own property, even for the key `__proto__` (which `obj[key] = v` would not). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** UTF-8 byte length of a string. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Bytes one key and its value (of `valueBytes` bytes of JSON) take in the session's JSON object,
 * `"key":value` without the separating comma: what `maxSize` counts, for storages that size
 * sessions key by key (`loadSizes`, `apply`).
 */
export function entrySize(key: string, valueBytes: number): number {
  return byteLength(JSON.stringify(key)) + 1 + valueBytes;
}

/**
 * Parses a stored session. Returns `undefined` unless the text is a JSON object (arrays and scalars
 * are not sessions).
 */
export function parseSessionData(text: string): SessionData | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as SessionData)
    : undefined;
}
