import {
  ConfigError,
  type CookieOptions,
  SessionError,
  SessionManager,
  StorageMemory,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../src/options.js';
import { thrownConfigError } from './helpers.js';

function configError(options: unknown): ConfigError {
  return thrownConfigError(() => new SessionManager(options as never));
}

describe('options', () => {
  it('defaults', () => {
    const o = new SessionManager().options;
    expect(o.storage).toBeInstanceOf(StorageMemory);
    expect(o.maxAge).toBe(86_400_000);
    expect(o.refreshWindow).toBe(8_640_000);
    expect(o.cookie).toEqual({
      name: 'sid',
      path: '/',
      domain: undefined,
      httpOnly: true,
      secure: false,
      sameSite: 'lax',
      partitioned: false,
      persistent: false,
    });
    expect(o.absoluteTimeout).toBeUndefined();
    expect(o.header).toBeUndefined();
    expect(o.secrets).toEqual([]);
    expect(o.genid).toBeUndefined();
    expect(o.maxSize).toBe(1_048_576);
    expect(o.rolling).toBe(false);
    expect(typeof o.onError).toBe('function');
  });

  it('resolves a secret string to one secret, an array to several, and lower-cases the header', () => {
    expect(resolveOptions({ secret: 's'.repeat(16) }).secrets).toEqual(['s'.repeat(16)]);
    expect(resolveOptions({ secret: ['a'.repeat(16), 'b'.repeat(16)] }).secrets).toEqual([
      'a'.repeat(16),
      'b'.repeat(16),
    ]);
    expect(resolveOptions({ header: 'X-Session-Id' }).header).toBe('x-session-id');
    expect(resolveOptions({ maxAge: 1000, refreshWindow: 0 }).refreshWindow).toBe(0);
  });

  it('a bad option throws ConfigError listing EVERY problem', () => {
    const e = configError({
      maxAge: -1,
      cookie: { sameSite: 'bogus', name: 'bad name', path: 'no-slash', httpOnly: 'yes' },
      secret: 'short',
      genid: 'not a function',
      maxSize: 0,
      rolling: 'yes',
      header: 'bad header',
      storage: { load() {} },
      onError: 42,
      bogus: 1,
    });
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.name).toBe('ConfigError');
    expect(e).toBeInstanceOf(SessionError);
    const paths = e.issues.map((i) => i.split(':')[0]);
    for (const path of [
      'maxAge',
      'cookie.sameSite',
      'cookie.name',
      'cookie.path',
      'cookie.httpOnly',
      'secret',
      'genid',
      'maxSize',
      'rolling',
      'header',
      'storage',
      'onError',
    ]) {
      expect(paths).toContain(path);
      expect(e.message).toContain(`${path}:`);
    }
    expect(e.message).toContain('bogus');
    expect(e.issues.length).toBeGreaterThanOrEqual(13);
  });

  it('cross-field problems are listed along with the others', () => {
    const e = configError({
      maxAge: 1000,
      refreshWindow: 1000,
      secret: ['x'.repeat(16), 'short'],
      cookie: { sameSite: 'none' },
    });
    expect(e.issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^refreshWindow: must be smaller than maxAge/),
        expect.stringMatching(/^secret\.1: must be at least 16 characters/),
        expect.stringMatching(/^cookie\.secure: sameSite "none" requires secure/),
      ]),
    );
    expect(e.issues).toHaveLength(3);
  });

  it.each([
    ['maxAge not an integer', { maxAge: 1.5 }, 'maxAge'],
    ['maxAge as a string', { maxAge: '1h' }, 'maxAge'],
    ['empty secret array', { secret: [] }, 'secret'],
    ['negative refreshWindow', { refreshWindow: -1 }, 'refreshWindow'],
    ['empty domain', { cookie: { domain: '' } }, 'cookie.domain'],
    ['unknown cookie option', { cookie: { maxAge: 1 } }, 'cookie'],
    ['secure not boolean or auto', { cookie: { secure: 'always' } }, 'cookie.secure'],
  ])('%s is rejected', (_, options, path) => {
    const e = configError(options);
    expect(e.issues.some((i) => i.startsWith(`${path}:`))).toBe(true);
  });

  // Issue 14, item 8: these constructed fine, then every commit threw a TypeError after the storage
  // write (path, domain), or the browser silently dropped the cookie (the prefixes).
  it('cookie values browsers reject are a ConfigError at construction, listing every problem', () => {
    const e = configError({ cookie: { name: '__Host-sid', path: '/x;y', domain: 'exa mple.com' } });
    expect(e.issues).toEqual([
      expect.stringMatching(/^cookie\.path: .*;/),
      expect.stringMatching(/^cookie\.domain: /),
      expect.stringMatching(/^cookie\.secure: the __Host- prefix requires secure: true/),
      expect.stringMatching(/^cookie\.domain: the __Host- prefix forbids a domain/),
      expect.stringMatching(/^cookie\.path: the __Host- prefix requires path "\/"/),
    ]);
    const rejected: CookieOptions[] = [
      { path: '/a\u0000b' },
      { path: '/a\nb' },
      { path: '/caf\u00e9' },
      { domain: 'example.com;x=1' },
      { domain: '.' },
      { domain: 'a..b' },
      { name: '__Host-sid', secure: true, domain: 'example.com' },
      { name: '__Host-sid', secure: true, path: '/app' },
      { name: '__Host-sid', secure: 'auto' },
      { name: '__host-sid', secure: false },
      { name: '__Secure-sid' },
      { name: '__SECURE-sid', secure: 'auto' },
    ];
    for (const cookie of rejected) {
      expect(() => new SessionManager({ cookie }), JSON.stringify(cookie)).toThrow(ConfigError);
    }
    const accepted: CookieOptions[] = [
      { name: '__Host-sid', secure: true },
      { name: '__Secure-sid', secure: true, domain: 'example.com', path: '/app' },
      { domain: '.example.com', path: '/a-b/c.d~e' },
      { domain: 'localhost' },
      { domain: 'xn--bcher-kva.example' },
    ];
    for (const cookie of accepted) {
      expect(() => new SessionManager({ cookie }), JSON.stringify(cookie)).not.toThrow();
    }
  });

  it('sameSite none with secure true or auto is accepted; sameSite false omits the attribute', () => {
    expect(() => new SessionManager({ cookie: { sameSite: 'none', secure: true } })).not.toThrow();
    expect(() => new SessionManager({ cookie: { sameSite: 'none', secure: 'auto' } })).not.toThrow();
    expect(new SessionManager({ cookie: { sameSite: false } }).options.cookie.sameSite).toBe(false);
  });

  it('StorageMemory rejects a bad maxEntries with ConfigError', () => {
    for (const maxEntries of [0, -1, 1.5, Number.NaN]) {
      expect(() => new StorageMemory({ maxEntries })).toThrow(ConfigError);
    }
  });
});
