import { randomBytes } from 'node:crypto';
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

/** `n` random characters from `alphabet` (base64url by default). */
function random(
  n: number,
  alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/**
 * Session ids that match ID_PATTERN but look unusual, as `[label, id]`. Random apart from the
 * unusual part, so suites sharing one backend never collide.
 */
export function unusualIds(): [string, string][] {
  return [
    ['leading "-" (22 chars)', `-${random(21)}`],
    ['leading "_" (22 chars)', `_${random(21)}`],
    ['leading "--"', `--${random(41)}`],
    ['trailing "-"', `${random(42)}-`],
    ['mostly "-" and "_"', `-_-_-_-_-_-_-_-_${random(6)}`],
    ['exactly 22 chars', random(22)],
    ['exactly 256 chars', random(256)],
    ['digits only', random(22, '0123456789')],
    ['upper case only', random(30, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')],
    ['lower case only', random(30, 'abcdefghijklmnopqrstuvwxyz')],
  ];
}
