// The behaviour suite Express, Fastify and Koa run, on Hono with a private Redis.
import { adapterSuite, redisBackend } from '../../express/test/support/adapter-suite.js';
import { startHono } from './support/app.js';

adapterSuite('Hono', startHono, redisBackend);
