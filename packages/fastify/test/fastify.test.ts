import { adapterSuite, redisBackend } from '../../express/test/support/adapter-suite.js';
import { startFastify } from './support/app.js';

adapterSuite('fastify', startFastify, redisBackend);
