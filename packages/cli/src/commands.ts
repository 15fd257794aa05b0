import {
  type SessionData,
  type SessionInfo,
  SessionManager,
  type SessionMeta,
  type Storage,
} from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import type { Target } from './args.js';
import { bounded, type Client } from './connection.js';
import { NotFoundError, UsageError } from './errors.js';
import { type KeyContent, readKeys } from './records.js';

/** What `show` prints: the operator named the session by its full id, so the id is printed whole. */
export interface ShownSession {
  id: string;
  key: string;
  data: SessionData;
  created: string | null;
  owner: string | null;
  /** The session's own idle lifetime (`setMaxAge()`), ms; null when it uses the app's `maxAge`. */
  maxAge: number | null;
  /** When the record expires if nobody uses it (ISO time); null when it has no expiry. */
  expires: string | null;
  bytes: number;
}

/** A manager over the operator's storage: the owner commands and `revoke` go through core, as the app does. */
export function managerFor(client: Client, target: Target): SessionManager {
  const options = { client, prefix: target.prefix, commandTimeoutMs: target.timeoutMs };
  const storage: Storage =
    target.storage === 'hash' ? new StorageRedisHash(options) : new StorageRedisKV(options);
  return new SessionManager({ storage });
}

function describe(meta: SessionMeta) {
  return {
    created: meta.created === undefined ? null : new Date(meta.created).toISOString(),
    owner: meta.owner ?? null,
    maxAge: meta.maxAge ?? null,
  };
}

/** `show <id>`: reads the record without refreshing its expiry. */
export async function show(client: Client, target: Target, id: string): Promise<ShownSession> {
  const key = target.prefix + id;
  const [content] = await readKeys(client, target.storage, [key], target.timeoutMs);
  if (content?.kind !== 'session') throw notASession(key, content);
  const ttl = Number(await bounded(client.pTTL(key), target.timeoutMs, 'PTTL'));
  const { data, meta, bytes } = content.record;
  return {
    id,
    key,
    data,
    ...describe(meta),
    expires: ttl >= 0 ? new Date(Date.now() + ttl).toISOString() : null,
    bytes,
  };
}

/** `revoke <id>`: ends one session through core, which also takes it out of its owner's index. */
export async function revoke(client: Client, target: Target, id: string): Promise<void> {
  const key = target.prefix + id;
  // Read first for a precise message when there is nothing to revoke (a moved mark, another type).
  const [content] = await readKeys(client, target.storage, [key], target.timeoutMs);
  if (content?.kind !== 'session') throw notASession(key, content);
  if (!(await managerFor(client, target).destroySession(id))) throw notASession(key, undefined);
}

/** `list --owner`: the owner's live sessions, as the app's account page sees them. */
export function list(client: Client, target: Target, owner: string): Promise<SessionInfo[]> {
  return managerFor(client, target).listSessions(owner);
}

/** `revoke --owner`: signs the owner out everywhere; resolves how many sessions ended. */
export function revokeOwner(client: Client, target: Target, owner: string): Promise<number> {
  return managerFor(client, target).destroySessions(owner);
}

/**
 * `revoke --owner <owner> --session <short-id>`: the one live session of the owner whose id starts
 * with `shortId`, found through the storage's owner index and checked against its record (live,
 * still this owner's). Full ids are never printed: the operator did not name one.
 */
export async function revokeListed(
  client: Client,
  target: Target,
  owner: string,
  shortId: string,
): Promise<void> {
  const manager = managerFor(client, target);
  const storage = manager.options.storage;
  if (typeof storage.listOwned !== 'function') throw new NotFoundError('this storage keeps no owner index');
  const candidates = (await storage.listOwned(owner)).map((e) => e.id).filter((id) => id.startsWith(shortId));
  const live: string[] = [];
  for (const id of candidates) {
    const record = await manager.getSession(id);
    if (record !== undefined && record.meta.owner === owner) live.push(id);
  }
  if (live.length === 0) throw new NotFoundError(`owner ${owner} has no live session ${shortId}…`);
  if (live.length > 1)
    throw new UsageError(
      `${live.length} sessions of owner ${owner} start with ${shortId}: revoke them by full id`,
    );
  if (!(await manager.destroySession(live[0]!)))
    throw new NotFoundError(`owner ${owner} has no live session ${shortId}…`);
}

function notASession(key: string, content: KeyContent | undefined): NotFoundError {
  const why =
    content?.kind === 'moved'
      ? ' (regenerate() moved it to a new id; the mark left under the old id is not a session)'
      : content?.kind === 'other'
        ? ` (the key holds ${content.what}; is --storage right?)`
        : '';
  return new NotFoundError(`no session under key ${key}${why}`);
}
