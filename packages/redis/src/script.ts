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
 * {@link CAS_SCRIPT} for large values, which never enter Lua when they match: the caller has sent
 * the expected value and the new one with plain `SET`s to temporary keys in the session key's hash
 * slot (in the same pipeline, just before this script), and the script compares the stored value
 * with the expected one natively (`STRLEN`, then `BITOP XOR` into a scratch key and `BITPOS ... 1`:
 * -1 means no bit differs) and on a match gives the new key the time to live and `RENAME`s it onto
 * the session key. Every branch answers as {@link CAS_SCRIPT} does, and the temporary keys are
 * always deleted. Only a conflict reads the stored value into Lua (to return it, as CAS does).
 *
 * KEYS[1] the session key, KEYS[2] the expected value's temporary key (mode `v` only), KEYS[3] the
 * new value's temporary key, KEYS[4] the scratch key.
 * ARGV[1] the mode (as CAS), ARGV[2] the expected SHA1 (mode `h`), ARGV[3] the time to live in ms.
 *
 * Returns what CAS returns, and -2 when the new value's temporary key is gone (expired or evicted
 * before the script ran: nothing written), -3 when this connection's ACL user may not run one of
 * the script's commands on these keys (Redis 7+ checks first with `redis.acl_check_cmd`, so that
 * nothing is written; on Redis 6 a refused command fails the script instead).
 */
export const CAS_LARGE_SCRIPT = `local key, old, new, scratch = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, ttl = ARGV[1], ARGV[3]
if redis.acl_check_cmd then
  local ok, allowed = pcall(function()
    return redis.acl_check_cmd('TYPE', key) and redis.acl_check_cmd('STRLEN', old)
      and redis.acl_check_cmd('BITOP', 'XOR', scratch, key, old)
      and redis.acl_check_cmd('BITPOS', scratch, '1') and redis.acl_check_cmd('PEXPIRE', new, ttl)
      and redis.acl_check_cmd('RENAME', new, key) and redis.acl_check_cmd('DEL', old, new, scratch)
  end)
  if not (ok and allowed) then
    redis.pcall('DEL', old, new, scratch)
    return -3
  end
end
local t = redis.call('TYPE', key)['ok']
local match
if t ~= 'string' and t ~= 'none' then
  if mode ~= 't' then
    redis.call('DEL', old, new, scratch)
    return -1
  end
  match = true
elseif mode == 't' then
  match = false
elseif mode == 'n' then
  match = t == 'none'
elseif t == 'none' then
  match = false
elseif mode == 'v' then
  local n = redis.call('STRLEN', key)
  if n ~= redis.call('STRLEN', old) then
    match = false
  elseif n == 0 then
    match = redis.call('EXISTS', old) == 1
  else
    redis.call('BITOP', 'XOR', scratch, key, old)
    match = redis.call('BITPOS', scratch, 1) == -1
  end
else
  match = redis.sha1hex(redis.call('GET', key)) == ARGV[2]
end
if match then
  if redis.call('PEXPIRE', new, ttl) == 0 then
    redis.call('DEL', old, scratch)
    return -2
  end
  redis.call('RENAME', new, key)
  redis.call('DEL', old, scratch)
  return 1
end
redis.call('DEL', old, new, scratch)
if t == 'none' then
  return 0
end
local current = redis.call('GET', key)
return {current, redis.sha1hex(current)}
`;

/** {@link CAS_LARGE_SCRIPT} with its SHA1, for EVALSHA. */
export const CAS_LARGE = redisScript(CAS_LARGE_SCRIPT);

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
