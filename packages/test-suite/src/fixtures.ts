import type { ChangeSet, JsonValue, SessionData } from '@kv-session/core';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A change set from plain values, as core builds them. */
export function changeSet(
  set: Record<string, JsonValue> = {},
  remove: readonly string[] = [],
  clear = false,
): ChangeSet {
  return { clear, remove: new Set(remove), set: new Map(Object.entries(set)) };
}

/** Builds an object from entries with own properties only (so `__proto__` stays a plain key). */
export function fromEntries(entries: readonly (readonly [string, JsonValue])[]): SessionData {
  const out: SessionData = {};
  for (const [key, value] of entries) {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Strings that break naive encoders: astral characters, separators, controls, lone surrogates. */
export const UNICODE_STRINGS: readonly string[] = [
  'plain ascii',
  'emoji 😀👍🏽👨‍👩‍👧‍👦',
  'astral 𝄞 𠜎 𝒳',
  'line separators \u2028 and \u2029',
  'controls \u0000 \u0001 \u001f \u007f',
  'quotes " \' ` and backslash \\ and slash /',
  'bidi \u202e reversed \u202c and bom \ufeff',
  'combining e\u0301 vs \u00e9',
  'cjk 会话 セッション 세션',
  'lone surrogates \ud800 \udfff',
  '</script><!--',
  '',
];

/** Keys that trip storages that build objects by assignment or treat dots as paths. */
export const AWKWARD_KEYS: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'a.b',
  'a[0]',
  '$where',
  '',
  ' ',
  '😀',
  'line\u2028sep',
  'x'.repeat(300),
];

/** Session ids that match ID_PATTERN but look unusual. */
export const UNUSUAL_IDS: readonly string[] = [
  '-leading-dash-0123456789',
  '_leading_underscore_0123',
  '-'.repeat(22),
  '_'.repeat(22),
  'A'.repeat(22),
  'a'.repeat(22),
  '0123456789012345678901',
  'Zz9_-'.repeat(51) + 'Z',
];
