import { redisScript } from './client.js';

/**
 * Compare-and-set of one session key. The stored string is compared, never decoded: user values are
 * merged in JavaScript, so Lua's cjson (which rounds big numbers and turns `[]` into `{}`) is not used.
 *
 * KEYS[1] the session key.
 * ARGV[1] how to compare: `n` expect no key, `v` expect the value ARGV[2], `h` expect SHA1 ARGV[2],
 * `t` expect a key of another Redis type (a list, hash... planted there: corrupt, to be replaced).
 * ARGV[3] the new value, ARGV[4] its time to live in milliseconds.
 *
 * Returns 1 when written, 0 when the key is missing (and was expected), -1 when the key holds another
 * type (and that was not expected), or `{current, sha1(current)}`.
 */
export const CAS_SCRIPT = `local current = redis.pcall('GET', KEYS[1])
local mode = ARGV[1]
local match
if type(current) == 'table' and current.err then
  if mode ~= 't' then
    return -1
  end
  match = true
elseif mode == 't' then
  match = false
elseif mode == 'n' then
  match = current == false
elseif current == false then
  match = false
elseif mode == 'v' then
  match = current == ARGV[2]
else
  match = redis.sha1hex(current) == ARGV[2]
end
if match then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
if current == false then
  return 0
end
return {current, redis.sha1hex(current)}
`;

/** {@link CAS_SCRIPT} with its SHA1, for EVALSHA. */
export const CAS = redisScript(CAS_SCRIPT);

/**
 * Reads a session key without refreshing it: KEYS[1] the key. Returns nil (missing), 0 (another
 * type than a string) or `{value, PTTL}`.
 */
export const PEEK = redisScript(`local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' and v.err then return 0 end
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
`);

/** How the script compares the stored value: `n` missing, `v` equal to a value, `h` SHA1 equal, `t` another type. */
export type CompareMode = 'n' | 'v' | 'h' | 't';

/** The `version` of a key that holds another Redis type than a string (reported as corrupt). */
export const WRONG_TYPE: unique symbol = Symbol('kv-session.redis.wrong-type');

/**
 * What `move()` leaves under a session's old key: not JSON, so no version of kv-session reads it as a
 * session; `load` reads it as missing and `apply` in update mode reports the session moved. An
 * operator reading the key sees what happened.
 */
export const MOVED_MARKER = 'kv-session:moved';
