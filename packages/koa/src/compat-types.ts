import type { KoaSessionCompatOptions } from './compat.js';
import type { MaxAge } from './compat-session.js';

/** Node-style callback of the session methods. */
export type SessionCallback = (error?: unknown) => void;

/**
 * Data an app keeps in its sessions. Augment it to type your properties (the role of koa-session's
 * `[key: string]: any`): `declare module '@kv-session/koa/compat' { interface CompatSessionData { views: number } }`.
 * Undeclared keys read as `unknown`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an augmentation point, empty by design
export interface CompatSessionData {}

/**
 * `ctx.session` of `@kv-session/koa/compat`, typed as koa-session's session: the app's data
 * (optional, since a new session is empty) and koa-session's members.
 */
export interface KoaSessionObject extends Partial<CompatSessionData> {
  [key: string]: unknown;
  /** True when the request brought no stored session. */
  isNew: boolean;
  /** How many keys the session holds. */
  readonly length: number;
  /** Whether the session holds anything. */
  readonly populated: boolean;
  /** This session's lifetime in milliseconds, or `'session'`; setting it saves the session with it. */
  maxAge: MaxAge;
  /** The key of the session in the cookie (`prefix + id`). */
  readonly externalKey: string | undefined;
  /** The data as stored. */
  toJSON(): Record<string, unknown>;
  /** Saves now, whether or not anything changed. */
  save(): Promise<void>;
  save(callback: SessionCallback): void;
  /** Moves the session, with its data, to a new key now and deletes the old record. */
  regenerate(): Promise<void>;
  regenerate(callback: SessionCallback): void;
  /** Commits now (with `autoCommit: false`). */
  manuallyCommit(): Promise<void>;
  /** koa-session's `commit(options?, callback?)`. */
  commit(options?: { save?: boolean; regenerate?: boolean }): Promise<void>;
  commit(callback: SessionCallback): void;
  commit(options: { save?: boolean; regenerate?: boolean }, callback: SessionCallback): void;
}

declare module 'koa' {
  interface KvSessionApis {
    /** `ctx.session` as `@kv-session/koa/compat` sets it. */
    compat: KoaSessionObject;
  }
  interface KvSessionAssignable {
    /** `ctx.session = null` destroys the session; `ctx.session = {...}` replaces its data. */
    compat: KoaSessionObject | Record<string, unknown> | null;
  }
  interface DefaultContext {
    /** The compat middleware's options; `maxAge` set here is this request's session lifetime. */
    readonly sessionOptions: Readonly<Omit<KoaSessionCompatOptions, 'maxAge'>> & { maxAge: MaxAge };
  }
}
