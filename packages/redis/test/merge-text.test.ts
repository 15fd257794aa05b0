// mergeIntoText: the change set merged into a stored JSON object's text parses to what
// applyChangeSet makes of the parsed text, for any JSON object and any change set.
import { applyChangeSet, type ChangeSet, type JsonValue, type SessionData } from '@kv-session/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeIntoText } from '../src/merge-text.js';

function changeSet(set: Record<string, JsonValue>, remove: string[] = []): ChangeSet {
  return { clear: false, remove: new Set(remove), set: new Map(Object.entries(set)) };
}

/** Keys as sessions see them: plain, escaped, the prototype's names, digits. */
const key = fc.oneof(
  fc.string(),
  fc.constantFrom('__proto__', 'constructor', 'a"b', 'a\\b', '\u00e9', '\ud83d\ude00', '0', '10', ''),
);
const object = fc.dictionary(key, fc.jsonValue(), { maxKeys: 8 });

describe('mergeIntoText', () => {
  it('matches applyChangeSet on the parsed text, compact or indented', () => {
    fc.assert(
      fc.property(
        object,
        object,
        fc.array(key, { maxLength: 4 }),
        fc.boolean(),
        (base, set, remove, indent) => {
          const text = indent ? JSON.stringify(base, null, 2) : JSON.stringify(base);
          const changes = changeSet(set as Record<string, JsonValue>, remove);
          const merged = mergeIntoText(text, changes);
          expect(merged).toBeDefined();
          const expected = applyChangeSet(JSON.parse(text) as SessionData, changes);
          expect(JSON.parse(merged!)).toEqual(JSON.parse(JSON.stringify(expected)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps the entries it does not change byte for byte, and replaces a key in place', () => {
    const text = '{ "a" : [1, "]}\\"", {"x": null}] ,"b":"\\u00e9","c":1.50}';
    expect(mergeIntoText(text, changeSet({ b: 2, d: true }, ['zz']))).toBe(
      '{"a" : [1, "]}\\"", {"x": null}],"b":2,"c":1.50,"d":true}',
    );
    expect(mergeIntoText(text, changeSet({}, ['a', 'c']))).toBe('{"b":"\\u00e9"}');
  });

  it('drops every copy of a duplicated key it sets or removes (JSON.parse keeps the last)', () => {
    expect(mergeIntoText('{"a":1,"b":2,"a":3}', changeSet({ a: 4 }))).toBe('{"a":4,"b":2}');
    expect(mergeIntoText('{"a":1,"b":2,"a":3}', changeSet({}, ['a']))).toBe('{"b":2}');
    expect(JSON.parse(mergeIntoText('{"a":1,"b":2,"a":3}', changeSet({ b: 0 }))!)).toEqual({ a: 3, b: 0 });
  });

  it('matches an escaped key to the key it spells', () => {
    expect(mergeIntoText('{"\\u0061":1,"b":2}', changeSet({ a: 5 }))).toBe('{"\\u0061":5,"b":2}');
    expect(mergeIntoText('{"\\u0061":1,"b":2}', changeSet({}, ['a']))).toBe('{"b":2}');
  });

  it('answers undefined for text that is not a JSON object (the caller parses it)', () => {
    for (const text of [
      '',
      '[]',
      '"x"',
      '1',
      'null',
      '{',
      '{"a"}',
      '{"a":1',
      '{"a":1}x',
      '{"a":1,}',
      'kv-session:moved',
    ]) {
      expect(mergeIntoText(text, changeSet({ a: 1 }))).toBeUndefined();
    }
    expect(mergeIntoText(' {} ', changeSet({ a: 1 }))).toBe('{"a":1}');
  });

  it('merges into a session holding a 1 MB string', () => {
    const big = JSON.stringify({ bio: 'x'.repeat(1 << 20), n: 1 });
    expect(mergeIntoText(big, changeSet({ n: 2 }))).toBe(`{"bio":"${'x'.repeat(1 << 20)}","n":2}`);
  });
});
