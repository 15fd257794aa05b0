// The stacks the bench runs, in order. `framework` picks bench/apps/<framework>.js; `kind` the
// session layer in it: bare (none), floor (one Redis GET of the cookie's key + JSON.parse, no
// library: the least a Redis-backed session can cost, see apps/floor.js), kv (kv-session +
// StorageRedisKV), kv-cache (the same with node-redis client-side caching), compat (kv-session's
// drop-in for the peer, on StorageRedisKV), peer (the established library of that framework).

/** @type {{ id: string, framework: 'express' | 'fastify' | 'koa', kind: 'bare' | 'floor' | 'kv' | 'kv-cache' | 'compat' | 'peer', label: string }[]} */
export const STACKS = [
  { id: 'express', framework: 'express', kind: 'bare', label: 'Express (bare)' },
  { id: 'express-floor', framework: 'express', kind: 'floor', label: 'Express + GET + JSON.parse (floor)' },
  { id: 'express-kv', framework: 'express', kind: 'kv', label: 'Express + kv-session' },
  { id: 'express-kv-cache', framework: 'express', kind: 'kv-cache', label: 'Express + kv-session, CSC' },
  {
    id: 'express-compat',
    framework: 'express',
    kind: 'compat',
    label: 'Express + kv-session express-session drop-in',
  },
  { id: 'express-session', framework: 'express', kind: 'peer', label: 'express-session + connect-redis' },
  { id: 'fastify', framework: 'fastify', kind: 'bare', label: 'Fastify (bare)' },
  { id: 'fastify-floor', framework: 'fastify', kind: 'floor', label: 'Fastify + GET + JSON.parse (floor)' },
  { id: 'fastify-kv', framework: 'fastify', kind: 'kv', label: 'Fastify + kv-session' },
  { id: 'fastify-kv-cache', framework: 'fastify', kind: 'kv-cache', label: 'Fastify + kv-session, CSC' },
  {
    id: 'fastify-compat',
    framework: 'fastify',
    kind: 'compat',
    label: 'Fastify + kv-session @fastify/session drop-in',
  },
  { id: 'fastify-session', framework: 'fastify', kind: 'peer', label: '@fastify/session + connect-redis' },
  { id: 'koa', framework: 'koa', kind: 'bare', label: 'Koa (bare)' },
  { id: 'koa-floor', framework: 'koa', kind: 'floor', label: 'Koa + GET + JSON.parse (floor)' },
  { id: 'koa-kv', framework: 'koa', kind: 'kv', label: 'Koa + kv-session' },
  { id: 'koa-kv-cache', framework: 'koa', kind: 'kv-cache', label: 'Koa + kv-session, CSC' },
  { id: 'koa-compat', framework: 'koa', kind: 'compat', label: 'Koa + kv-session koa-session drop-in' },
  { id: 'koa-session', framework: 'koa', kind: 'peer', label: 'koa-session + koa-redis' },
];

/**
 * The timed routes. `path` is requested; `cookie` says whether each connection sends the cookie of
 * its own freshly created session; `expect` is the exact body every answer must have.
 */
export const ROUTES = [
  { id: 'get', path: '/get', cookie: true, title: 'GET /get (read-only, existing session)' },
  { id: 'ping', path: '/ping', cookie: true, title: 'GET /ping (session untouched, cookie sent)' },
  { id: 'set', path: '/set', cookie: true, title: 'GET /set (write, existing session)' },
  { id: 'new', path: '/login', cookie: false, title: 'GET /login without cookie (new visitor)' },
];
