// The behaviour suite Express, Fastify and Koa run, on Hono with a private Redis.
import { adapterSuite, redisBackend } from '@kv-session/testing/adapters';
import { startHono } from './support/app.js';

adapterSuite('Hono', startHono, redisBackend);
