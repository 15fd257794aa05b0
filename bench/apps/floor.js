// The floor: the least any Redis-backed session can cost. No session library, no signing, no
// change tracking: the session key is the cookie's value, a read is one `GET` + `JSON.parse`, a
// write one `GET` + `SET` of the whole value, and a route that does not read it does nothing.
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { MAX_AGE_MS } from './common.js';

const PREFIX = 'floor:';

/** The `sid` cookie's value from a Cookie header, or undefined. */
function sidOf(cookie) {
  if (typeof cookie !== 'string') return undefined;
  const at = cookie.indexOf('sid=');
  if (at === -1) return undefined;
  const end = cookie.indexOf(';', at);
  return cookie.slice(at + 4, end === -1 ? undefined : end);
}

/** A connected floor store on `redisUrl`. */
export async function floorStore(redisUrl, closers) {
  const client = createClient({ url: redisUrl });
  client.on('error', (err) => console.error('[bench redis]', err));
  await client.connect();
  closers.push(() => client.close());
  /** The session data of a request (`{}` without a cookie or a stored value). */
  async function read(cookie) {
    const id = sidOf(cookie);
    if (id === undefined) return {};
    const raw = await client.get(PREFIX + id);
    return raw === null ? {} : JSON.parse(raw);
  }
  return {
    read,
    /** Sets `key` in the request's session (GET + SET); answers a Set-Cookie when it is new. */
    async set(cookie, key, value) {
      let id = sidOf(cookie);
      const data = id === undefined ? {} : await read(cookie);
      const fresh = id === undefined;
      if (fresh) id = randomBytes(24).toString('base64url');
      data[key] = value;
      await client.set(PREFIX + id, JSON.stringify(data), { PX: MAX_AGE_MS });
      return fresh ? `sid=${id}; Path=/; HttpOnly; SameSite=Lax` : undefined;
    },
  };
}
