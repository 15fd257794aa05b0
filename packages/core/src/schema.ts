import { z } from 'zod';
import { formatIssues, SessionDataError } from './errors.js';
import type { JsonValue, SessionData } from './json.js';

/**
 * A zod object schema describing session data, one property per session key (`z.object`,
 * `z.strictObject`, `z.looseObject`, or one with `.catchall()`). Every key is optional in a session
 * whatever the schema says: a new session is empty, so `get` may always return `undefined`.
 */
export type SessionSchema<Data extends object = object> = z.ZodType<Data> & {
  readonly shape: z.core.$ZodShape;
};

/**
 * Register the data type of every session for declaration merging, once per app:
 * `declare module '@kv-session/core' { interface SessionTypes { data: { userId: string } } }`.
 * It becomes the default data type of `SessionManager` and of `req.session` / `request.session` /
 * `ctx.session` / `c.get('session')` in every adapter. Unlike the index-signature `AppSessionData`
 * interfaces of the adapters, unknown keys are type errors with it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by users through declaration merging
export interface SessionTypes {}

/** `SessionTypes['data']` when the app registered one, else `Fallback`. */
export type RegisteredSessionData<Fallback extends object = SessionData> = SessionTypes extends {
  data: infer D extends object;
}
  ? D
  : Fallback;

/** The session data type a schema describes: `z.output<S>` (transforms applied). */
export type InferSessionData<S extends SessionSchema> = z.output<S>;

/** What to do with stored data that does not match the schema. See {@link SessionOptions}. */
export type InvalidStoredData = 'drop' | 'reset' | 'fail';

/** A value ready for the session: its JSON form (stored) and what the schema makes of it (in memory). */
export interface EncodedValue {
  json: string;
  raw: JsonValue;
  value: unknown;
}

/** The part of a stored session that matches the schema, and the issues of the rest. */
export interface DecodedData {
  values: Map<string, unknown>;
  raw: Map<string, JsonValue>;
  issues: z.core.$ZodIssue[];
  invalidKeys: string[];
}

/** The schema for one session key: its property, else the catchall; undefined when the key is unknown. */
export function keySchema(schema: SessionSchema, key: string): z.core.$ZodType | undefined {
  // Own properties only: `shape.constructor` must not find Object.prototype.constructor.
  if (Object.hasOwn(schema.shape, key)) return schema.shape[key];
  const catchall = (schema as unknown as z.core.$ZodObject)._zod.def.catchall;
  return catchall === undefined || catchall._zod.def.type === 'never' ? undefined : catchall;
}

function unknownKey(key: string): z.core.$ZodIssue {
  return {
    code: 'unrecognized_keys',
    keys: [key],
    path: [],
    message: `Unrecognized key: ${JSON.stringify(key)} (not in the session schema)`,
  };
}

function under(key: string, issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.map((issue) => ({ ...issue, path: [key, ...issue.path] }));
}

function issueLines(issues: readonly z.core.$ZodIssue[]): string {
  return formatIssues(issues)
    .map((line) => `  - ${line}`)
    .join('\n');
}

/**
 * Validates a value given to `set`/`setMany` for `key` and applies the round-trip rule: the value
 * stored is `JSON.stringify` of the validated value, and the in-memory copy is the schema's parse of
 * that JSON, exactly what a later request reads. Throws {@link SessionDataError} (with `issues`) for
 * an unknown key, a value the key's schema rejects, or one that no longer matches after JSON.
 */
export function encodeValue(schema: SessionSchema, key: string, value: unknown): EncodedValue {
  const forKey = keySchema(schema, key);
  if (forKey === undefined) {
    const issues = [unknownKey(key)];
    throw new SessionDataError(`Session key ${JSON.stringify(key)} is not in the session schema`, {
      key,
      issues,
    });
  }
  const checked = z.safeParse(forKey, value);
  if (!checked.success) {
    const issues = under(key, checked.error.issues);
    throw new SessionDataError(
      `Session value for key ${JSON.stringify(key)} does not match the schema:\n${issueLines(issues)}`,
      { key, issues, cause: checked.error },
    );
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(checked.data);
  } catch (error) {
    throw new SessionDataError(
      `Session value for key ${JSON.stringify(key)} cannot be stored as JSON: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { key, cause: error },
    );
  }
  if (json === undefined) {
    throw new SessionDataError(
      `Session value for key ${JSON.stringify(key)} cannot be stored as JSON: it serializes to nothing`,
      { key, type: typeof checked.data },
    );
  }
  const raw = JSON.parse(json) as JsonValue;
  const back = z.safeParse(forKey, raw);
  if (!back.success) {
    const issues = under(key, back.error.issues);
    throw new SessionDataError(
      `Session value for key ${JSON.stringify(key)} does not survive the JSON round trip: ` +
        `JSON.parse(JSON.stringify(value)) no longer matches the schema (a Date needs z.coerce.date(), ` +
        `a Map or Set a schema that reads their JSON form):\n${issueLines(issues)}`,
      { key, issues, cause: back.error },
    );
  }
  return { json, raw, value: back.data };
}

/** Validates stored data key by key; the valid keys are parsed (transforms applied). */
export function decodeStored(schema: SessionSchema, data: SessionData): DecodedData {
  const out: DecodedData = { values: new Map(), raw: new Map(), issues: [], invalidKeys: [] };
  for (const [key, raw] of Object.entries(data)) {
    const forKey = keySchema(schema, key);
    if (forKey === undefined) {
      out.issues.push(unknownKey(key));
      out.invalidKeys.push(key);
      continue;
    }
    const parsed = z.safeParse(forKey, raw);
    if (parsed.success) {
      out.values.set(key, parsed.data);
      out.raw.set(key, raw);
    } else {
      out.issues.push(...under(key, parsed.error.issues));
      out.invalidKeys.push(key);
    }
  }
  return out;
}

/** Parses one stored value; `{ ok: false }` when the key is unknown or the value does not match. */
export function decodeKey(
  schema: SessionSchema,
  key: string,
  raw: JsonValue,
): { ok: true; value: unknown } | { ok: false } {
  const forKey = keySchema(schema, key);
  if (forKey === undefined) return { ok: false };
  const parsed = z.safeParse(forKey, raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false };
}

/** The error reported (or thrown, with `invalidStoredData: 'fail'`) for stored data off the schema. */
export function storedDataError(decoded: DecodedData, policy: InvalidStoredData): SessionDataError {
  const keys = decoded.invalidKeys.map((k) => JSON.stringify(k)).join(', ');
  const what =
    policy === 'drop'
      ? 'those keys were dropped from this request'
      : policy === 'reset'
        ? 'the session was read as empty'
        : 'the request fails (invalidStoredData: "fail")';
  const only = decoded.invalidKeys.length === 1 ? decoded.invalidKeys[0] : undefined;
  return new SessionDataError(
    `Stored session data does not match the session schema (keys ${keys}); ${what}:\n${issueLines(decoded.issues)}`,
    only === undefined
      ? { code: 'DATA_MISMATCH', issues: decoded.issues }
      : { code: 'DATA_MISMATCH', issues: decoded.issues, key: only },
  );
}
