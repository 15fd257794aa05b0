// The cookie edge: reading one cookie from a Cookie header and building the session's Set-Cookie.
// Pins the behaviour of the `cookie` package version we depend on (1.x: it declares Node >= 18,
// where 2.x declares Node >= 22 while we support 20.19), so a change of that dependency shows here.

import { parseCookie } from 'cookie';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCookie, sessionCookie } from '../src/cookie.js';

type CookieSettings = Parameters<typeof sessionCookie>[0];
const defaults: CookieSettings = {
  name: 'sid',
  path: '/',
  domain: undefined,
  httpOnly: true,
  secure: false,
  sameSite: 'lax',
  partitioned: false,
  persistent: false,
};

describe('readCookie', () => {
  it('finds the named cookie among others, trimming spaces around names and values', () => {
    expect(readCookie('theme=dark; sid=abc; lang=en', 'sid')).toBe('abc');
    expect(readCookie(' sid = abc ;lang=en', 'sid')).toBe('abc');
    expect(readCookie('theme=dark', 'sid')).toBeUndefined();
  });

  it('does not take a cookie whose name only contains or extends the one asked for', () => {
    expect(readCookie('xsid=abc; sidx=def', 'sid')).toBeUndefined();
    expect(readCookie('app.sid=abc', 'sid')).toBeUndefined();
    expect(readCookie('app.sid=abc; sid=def', 'app.sid')).toBe('abc');
  });

  it('takes the first of duplicate cookies (the most specific path, as browsers send it first)', () => {
    expect(readCookie('sid=first; sid=second', 'sid')).toBe('first');
  });

  it('percent-decodes, and keeps a value that is not valid percent-encoding as it came', () => {
    expect(readCookie('sid=s%3Aabc.def', 'sid')).toBe('s:abc.def');
    expect(readCookie('sid=%E0%A4%A', 'sid')).toBe('%E0%A4%A');
  });

  it('keeps double quotes and an = inside the value', () => {
    expect(readCookie('sid="abc"', 'sid')).toBe('"abc"');
    expect(readCookie('sid=a=b', 'sid')).toBe('a=b');
  });

  it('reads an empty value as empty and a name without = as absent', () => {
    expect(readCookie('sid=', 'sid')).toBe('');
    expect(readCookie('sid', 'sid')).toBeUndefined();
    expect(readCookie('sid; other=1', 'sid')).toBeUndefined();
  });
});

describe('readCookie is parseCookie(header)[name] of the cookie package', () => {
  // Headers made of the pieces that decide a parse: names that contain, extend or repeat each
  // other, separators, blanks (trimmed: space, tab; not trimmed: newline), quotes, valid and
  // invalid percent-escapes, and __proto__.
  const piece = fc.constantFrom(
    'sid',
    'sid',
    'xsid',
    'sidx',
    'app.sid',
    '__proto__',
    '=',
    '=',
    ';',
    ';',
    '; ',
    ' ',
    '\t',
    '\n',
    '"',
    '%',
    '%3A',
    '%E0%A4%A',
    '%41',
    'a',
    'b c',
    's:v.x',
  );
  const header = fc.oneof(
    fc.array(piece, { maxLength: 24 }).map((pieces) => pieces.join('')),
    fc.string({ maxLength: 40 }),
  );
  const name = fc.oneof(
    fc.constantFrom('sid', 'xsid', 'app.sid', '__proto__', 'a', 'b c', 's', ' sid', 'sid ', 'a=b', 'a;b', ''),
    fc.string({ minLength: 1, maxLength: 4 }),
  );

  it('for every header and name (the first of duplicates, decoding, blanks, malformed pairs)', () => {
    fc.assert(
      fc.property(header, name, (h, n) => {
        expect(readCookie(h, n)).toBe(parseCookie(h)[n]);
      }),
      { numRuns: 20_000 },
    );
  });

  it('on hand-picked edges', () => {
    const cases: [string, string][] = [
      ['sid=1', 'sid'],
      ['a', 'a'],
      ['=', ''],
      ['=x', ''],
      [' sid =  a b  ; sid=2', 'sid'],
      ['x; y=1; sid', 'sid'],
      ['sid; sid=2', 'sid'],
      ['x=sid=1; sid=2', 'sid'],
      ['x= sid=1;sid=2', 'sid'],
      ['\tsid\t=\t"q"\t', 'sid'],
      ['\nsid=1', 'sid'],
      ['sid=%zz; sid=ok', 'sid'],
      ['sid=;', 'sid'],
      ['__proto__=1', '__proto__'],
      ['constructor=1', 'toString'],
    ];
    for (const [h, n] of cases) expect(readCookie(h, n), `${JSON.stringify(h)} ${n}`).toBe(parseCookie(h)[n]);
  });
});

describe('sessionCookie', () => {
  it('defaults: HttpOnly, SameSite=Lax, Path=/, no Max-Age', () => {
    expect(sessionCookie(defaults, 'abc-_.1', false)).toBe('sid=abc-_.1; Path=/; HttpOnly; SameSite=Lax');
  });

  it('every attribute, and expiring a cookie sets Max-Age=0 and the epoch as Expires', () => {
    const all: CookieSettings = {
      ...defaults,
      domain: 'example.com',
      sameSite: 'strict',
      partitioned: true,
    };
    expect(sessionCookie(all, undefined, true)).toBe(
      'sid=; Max-Age=0; Domain=example.com; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; Partitioned; SameSite=Strict',
    );
  });

  it('a persistent cookie gets Max-Age in seconds, rounded up so it is never 0', () => {
    expect(sessionCookie(defaults, 'abc', false, 3_600_000)).toContain('; Max-Age=3600;');
    expect(sessionCookie(defaults, 'abc', false, 1)).toContain('; Max-Age=1;');
  });

  it('sameSite false leaves the attribute out; httpOnly false too', () => {
    expect(sessionCookie({ ...defaults, sameSite: false, httpOnly: false }, 'abc', false)).toBe(
      'sid=abc; Path=/',
    );
  });

  it('percent-encodes what a cookie value cannot hold, so readCookie gets it back', () => {
    const header = sessionCookie(defaults, 's:a b;c', false);
    expect(header.startsWith('sid=s%3Aa%20b%3Bc;')).toBe(true);
    expect(readCookie(header.split(';')[0], 'sid')).toBe('s:a b;c');
  });

  it('refuses a path or domain that would inject attributes', () => {
    expect(() => sessionCookie({ ...defaults, path: '/; Secure' }, 'abc', false)).toThrow(TypeError);
    expect(() => sessionCookie({ ...defaults, domain: 'a.com; Path=/x' }, 'abc', false)).toThrow(TypeError);
  });
});
