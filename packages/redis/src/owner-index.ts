import type { OwnedSession } from '@kv-session/core';
import { type RedisCommands, type RedisScript, redisScript, replyText, type ScriptClient } from './client.js';

/** Adds (or updates) one id: KEYS[1] the owner's sorted set; ARGV[1] the expiry hint (epoch ms), ARGV[2] the id. */
const ADD = redisScript(`return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])`);
/** Every member with its score: KEYS[1] the owner's sorted set. */
const LIST = redisScript(`return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')`);
/** Removes ids: KEYS[1] the owner's sorted set; ARGV the ids. */
const REMOVE = redisScript(`return redis.call('ZREM', KEYS[1], unpack(ARGV))`);

/** Ids per ZREM (Lua's unpack has a stack limit of a few thousand values). */
const REMOVE_BATCH = 500;

/**
 * The owner index of the Redis storages: one sorted set per owner, `<prefix>owner:<owner>`, member
 * the session id, score its expiry hint (epoch ms). A session key is `<prefix><id>` and ids never
 * hold `:`, so the two can never collide. Every command names one key: on Cluster the index lives in
 * its own slot, apart from the sessions, and is kept eventually consistent (core verifies each
 * listed id and removes the stale ones). The set has no TTL: it must outlive every session it
 * lists, whose expiry moves with use without the index being told.
 */
export class RedisOwnerIndex<C extends ScriptClient> {
  readonly #redis: RedisCommands<C>;
  readonly #prefix: string;

  constructor(redis: RedisCommands<C>, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /** The Redis key of an owner's index. */
  key(owner: string): string {
    return `${this.#prefix}owner:${owner}`;
  }

  #run(operation: string, script: RedisScript, owner: string, args: string[]): Promise<unknown> {
    return this.#redis.script(operation, script, { keys: [this.key(owner)], arguments: args });
  }

  async add(owner: string, id: string, expiresAt: number): Promise<void> {
    await this.#run('addOwned', ADD, owner, [String(Math.round(expiresAt)), id]);
  }

  async list(owner: string): Promise<OwnedSession[]> {
    const reply = await this.#run('listOwned', LIST, owner, []);
    const out: OwnedSession[] = [];
    if (!Array.isArray(reply)) return out;
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const id = replyText(reply[i], 'listOwned');
      const score = Number(replyText(reply[i + 1], 'listOwned'));
      if (id !== undefined) out.push({ id, expiresAt: score });
    }
    return out;
  }

  async remove(owner: string, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += REMOVE_BATCH) {
      await this.#run('removeOwned', REMOVE, owner, ids.slice(i, i + REMOVE_BATCH));
    }
  }
}
