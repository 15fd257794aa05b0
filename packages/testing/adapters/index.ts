/**
 * `@kv-session/testing/adapters`: what the adapters' test files share (vitest only; the package's
 * main entry stays free of vitest so that bench/ can use it under plain node).
 *
 * - {@link adapterSuite}: one behaviour suite every framework adapter runs against its own server
 *   serving {@link routes}; {@link redisBackend} or a memory backend stores the sessions.
 * - {@link useRedisStorage}: a private redis-server with a StorageRedisKV for one test file.
 * - {@link headerRoundTrip}, {@link expectReaderCostsNothing}: checks of the reference scenario.
 */
export {
  adapterSuite,
  type Backend,
  Client,
  instrument,
  type Reply,
  type RouteHandler,
  type RouteResult,
  redisBackend,
  redisClient,
  routes,
  type StartApp,
  type TestApp,
  unavailableStorage,
} from './adapter-suite.js';
export { type RedisStorageFixture, useRedisStorage } from './redis-storage.js';
export { expectReaderCostsNothing, headerRoundTrip } from './scenario-checks.js';
