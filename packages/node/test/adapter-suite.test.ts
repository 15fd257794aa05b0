// The behaviour suite Express, Fastify and Koa run, on plain node:http with a private Redis.
import { adapterSuite, redisBackend } from '@kv-session/testing/adapters';
import { startNode } from './support/app.js';

adapterSuite('node:http', startNode, redisBackend);
