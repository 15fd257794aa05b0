/**
 * The one way options are validated (internal, not exported from index.ts): a zod schema, parsed
 * once at construction, every problem listed in one {@link ConfigError} (`path: message` lines).
 */
import { z } from 'zod';
import { ConfigError, formatIssues } from './errors.js';

/** A function-valued option; `what` says what it should be. */
export const fn = <T>(what: string) =>
  z.custom<T>((v) => typeof v === 'function', { message: `must be a function (${what})` });

/** `input` parsed by `schema`; throws {@link ConfigError} ("Invalid <what>: ...") listing every problem. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues), what);
  return parsed.data;
}
