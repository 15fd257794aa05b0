// What the three reference examples share: configuration from the environment, the storage
// (Redis, or process memory when Redis cannot be reached), and a clean shutdown on SIGTERM/SIGINT.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageFile, StorageMemory } from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { createRedisClient, REDIS_CLIENTS } from './redis-client.js';

/** Values of SESSION_STORAGE. */
const STORAGES = ['redis-kv', 'redis-hash', 'file', 'memory'];

/** How long start-up waits for Redis before falling back to memory (or, with REDIS_URL set, warning). */
const CONNECT_TIMEOUT_MS = 2_000;
/** Longest pause between reconnection attempts. */
const MAX_RETRY_DELAY_MS = 2_000;

/**
 * Reads `PORT` (default 8199), `REDIS_URL` (default redis://127.0.0.1:6379), `SESSION_MAX_AGE`
 * in seconds (default 60), `SESSION_STORAGE` (redis-kv | redis-hash | file | memory, default
 * redis-kv), `SESSION_DIR` (for `file`, default <tmpdir>/kv-session-example) and `REDIS_CLIENT`
 * (node-redis | ioredis, default node-redis). Exits with a message when a value is not usable.
 */
export function readConfig(env = process.env) {
  const port = integer(env.PORT, 8199, 'PORT', 0, 65_535);
  const maxAgeSeconds = integer(env.SESSION_MAX_AGE, 60, 'SESSION_MAX_AGE', 1, 365 * 86_400);
  // Set explicitly, Redis is required: the example waits for it rather than serve memory sessions.
  const redisUrlExplicit = env.REDIS_URL !== undefined && env.REDIS_URL !== '';
  const redisUrl = redisUrlExplicit ? env.REDIS_URL : 'redis://127.0.0.1:6379';
  const storage =
    env.SESSION_STORAGE === undefined || env.SESSION_STORAGE === '' ? 'redis-kv' : env.SESSION_STORAGE;
  if (!STORAGES.includes(storage)) {
    console.error(`SESSION_STORAGE must be one of ${STORAGES.join(', ')}, got ${JSON.stringify(storage)}`);
    process.exit(2);
  }
  const sessionDir =
    env.SESSION_DIR === undefined || env.SESSION_DIR === ''
      ? join(tmpdir(), 'kv-session-example')
      : env.SESSION_DIR;
  const redisClient =
    env.REDIS_CLIENT === undefined || env.REDIS_CLIENT === '' ? 'node-redis' : env.REDIS_CLIENT;
  if (!REDIS_CLIENTS.includes(redisClient)) {
    console.error(
      `REDIS_CLIENT must be one of ${REDIS_CLIENTS.join(', ')}, got ${JSON.stringify(redisClient)}`,
    );
    process.exit(2);
  }
  return {
    port,
    redisUrl,
    redisUrlExplicit,
    maxAgeSeconds,
    maxAgeMs: maxAgeSeconds * 1000,
    storage,
    sessionDir,
    redisClient,
  };
}

function integer(raw, fallback, name, min, max) {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

/** The URL with any password replaced, for log lines. */
function redact(url) {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/**
 * Connects to Redis and returns `{ storage, description, close }`.
 *
 * With `REDIS_URL` set, Redis is what the operator asked for: when it does not answer at start-up,
 * the example says so, serves anyway (session requests answer 503) and keeps retrying until it
 * answers; it never falls back to memory, which would log everyone out at the next restart and
 * split sessions between processes without anyone noticing. Without `REDIS_URL`, the example tries
 * the local default once (CONNECT_TIMEOUT_MS) and, when nothing answers there, runs on
 * StorageMemory and says so: a demo on a machine without Redis. Once connected, the client
 * reconnects on its own if Redis goes away later, and session requests fail with 503 meanwhile
 * instead of hanging.
 */
export async function createStorage(config) {
  if (config.storage === 'memory') {
    const storage = new StorageMemory();
    return {
      storage,
      description: 'in process memory (SESSION_STORAGE=memory; they will NOT survive a restart)',
      close: () => storage.close(),
    };
  }
  if (config.storage === 'file') {
    const storage = new StorageFile({ dir: config.sessionDir });
    return {
      storage,
      description: `in files under ${config.sessionDir} (StorageFile)`,
      close: () => storage.close(),
    };
  }
  const retry = config.redisUrlExplicit === true;
  let connected = false;
  // Retries once connected, or from the start when REDIS_URL was set; otherwise a failed first
  // connection to the default URL gives up (and the example runs on memory).
  const redis = await createRedisClient(
    config.redisClient,
    config.redisUrl,
    CONNECT_TIMEOUT_MS,
    MAX_RETRY_DELAY_MS,
    () => connected || retry,
  );
  const client = redis.client;
  // Without a listener, a connection error event would crash the process.
  let lastError = '';
  client.on('error', (error) => {
    const message = error instanceof Error ? error.message || error.name : String(error);
    if (connected && message !== lastError) console.error(`Redis error: ${message}`);
    lastError = message;
  });

  const connecting = redis.connect().then(() => {
    connected = true;
  });
  if (retry) {
    // Serve from the start; the first failure (or silence) is reported once, then retried quietly.
    const firstFailure = new Promise((resolve) => {
      client.once('error', resolve);
      setTimeout(
        () => resolve(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS,
      ).unref();
    });
    const failure = await Promise.race([connecting.then(() => undefined), firstFailure]);
    connecting.catch(() => undefined); // rejects only when the client is closed while retrying
    if (failure !== undefined && !connected) {
      const reason = failure instanceof Error ? failure.message || failure.name : String(failure);
      console.warn(
        [
          `WARNING: Redis at ${redact(config.redisUrl)} is unreachable (${reason}).`,
          `WARNING: REDIS_URL is set, so no fall-back to memory: retrying every ${MAX_RETRY_DELAY_MS / 1000} s at most; requests that use the session answer 503 until Redis answers.`,
        ].join('\n'),
      );
      connecting.then(
        () => console.log(`Redis at ${redact(config.redisUrl)} answered: sessions are served from it now.`),
        () => undefined,
      );
    }
  } else {
    try {
      await connecting;
    } catch (error) {
      const reason = error instanceof Error ? error.message || error.name : String(error);
      console.warn(
        [
          `WARNING: Redis at ${redact(config.redisUrl)} is unreachable (${reason}).`,
          'WARNING: REDIS_URL is not set, so falling back to StorageMemory: sessions live in this process only and will NOT survive a restart.',
        ].join('\n'),
      );
      const storage = new StorageMemory();
      return {
        storage,
        description: 'in process memory (StorageMemory; they will NOT survive a restart)',
        close: () => storage.close(),
      };
    }
  }

  const hash = config.storage === 'redis-hash';
  const storage = hash ? new StorageRedisHash({ client }) : new StorageRedisKV({ client });
  return {
    storage,
    description: `in Redis at ${redact(config.redisUrl)}${hash ? ' (StorageRedisHash)' : ''}${
      config.redisClient === 'ioredis' ? ' through ioredis' : ''
    }`,
    async close() {
      // Flush pending expiry refreshes first, then let the client finish its queue and disconnect
      // (or stop retrying, when Redis never answered).
      await storage.close?.();
      await redis.close();
    },
  };
}

/**
 * Runs `close` once on SIGTERM or SIGINT, then lets the process exit by itself. Further signals are
 * ignored: under `pnpm start`, Ctrl-C reaches the process twice (from the terminal and forwarded by
 * pnpm). A close that takes longer than 5 s exits with status 1.
 */
export function closeOnSignals(close) {
  let closing = false;
  const onSignal = (signal) => {
    if (closing) return;
    closing = true;
    console.log(`${signal} received, closing`);
    setTimeout(() => {
      console.error('close took longer than 5 s, exiting');
      process.exit(1);
    }, 5_000).unref();
    close().then(
      () => console.log('closed'),
      (error) => {
        console.error('error while closing:', error);
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Prints where the example listens and where sessions live, in one write. */
export function announce(framework, port, config, storage) {
  console.log(
    [
      `kv-session ${framework} example listening on http://127.0.0.1:${port}`,
      `  sessions ${storage.description}, max age ${config.maxAgeSeconds} s`,
      '  try: /set  /get  /del',
    ].join('\n'),
  );
}
