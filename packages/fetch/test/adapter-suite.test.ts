// The behaviour suite Express, Fastify and Koa run, on a Fetch handler with a private Redis.
import { adapterSuite, redisBackend } from '@kv-session/testing/adapters';
import { startFetch } from './support/app.js';

adapterSuite('Fetch (handle)', startFetch, redisBackend);
