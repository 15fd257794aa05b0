import type { ChangeSet } from '@kv-session/core';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** End (exclusive) of the JSON string that starts at `start` (a `"`), or -1. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** End (exclusive) of the JSON value that starts at `start`, or -1. */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return stringEnd(text, start);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        const end = stringEnd(text, i);
        if (end === -1) return -1;
        i = end - 1;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c)) break;
    i++;
  }
  return i === start ? -1 : i;
}

/**
 * `changes` applied to `base`, the text of a stored session (a JSON object), as JSON text, without
 * parsing or re-serializing the values it keeps: the entries of keys neither set nor removed are
 * copied as they are, a key set again gets its new value in its place, and new keys go last. The
 * result parses to what `applyChangeSet(JSON.parse(base), changes)` is (key order aside: JSON.parse
 * puts integer-like keys first), so a write of one small key into a 100 KB session costs a scan of
 * the text (string values are skipped with `indexOf`) instead of a `JSON.parse` and a
 * `JSON.stringify` of the whole session.
 *
 * Only for text known to be a JSON object (one that loaded without error, or that this storage
 * wrote): the scan checks the structure, not every token. Returns undefined when the structure is
 * not an object's (the caller then parses the text instead). `changes.clear` is the caller's.
 */
export function mergeIntoText(base: string, changes: ChangeSet): string | undefined {
  let i = skipSpace(base, 0);
  if (base.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipSpace(base, i + 1);
  const parts: string[] = [];
  // Keys of `changes.set` already written in place (a duplicate key later in the text is dropped).
  const placed = new Set<string>();
  if (base.charCodeAt(i) === CLOSE_BRACE) i++;
  else {
    for (;;) {
      if (base.charCodeAt(i) !== QUOTE) return undefined;
      const entryStart = i;
      const keyEnd = stringEnd(base, i);
      if (keyEnd === -1) return undefined;
      const rawKey = base.slice(i, keyEnd);
      let key: string;
      if (rawKey.includes('\\')) {
        try {
          key = JSON.parse(rawKey) as string;
        } catch {
          return undefined;
        }
      } else key = rawKey.slice(1, -1);
      i = skipSpace(base, keyEnd);
      if (base.charCodeAt(i) !== COLON) return undefined;
      const end = valueEnd(base, skipSpace(base, i + 1));
      if (end === -1) return undefined;
      if (changes.set.has(key)) {
        if (!placed.has(key)) {
          parts.push(`${rawKey}:${JSON.stringify(changes.set.get(key))}`);
          placed.add(key);
        }
      } else if (!changes.remove.has(key)) parts.push(base.slice(entryStart, end));
      i = skipSpace(base, end);
      const c = base.charCodeAt(i);
      if (c === COMMA) {
        i = skipSpace(base, i + 1);
        continue;
      }
      if (c !== CLOSE_BRACE) return undefined;
      i++;
      break;
    }
  }
  if (skipSpace(base, i) !== base.length) return undefined;
  for (const [key, value] of changes.set) {
    if (!placed.has(key)) parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}
