import { adapterSuite, redisBackend } from '../../express/test/support/adapter-suite.js';
import { startKoa } from './support/app.js';

adapterSuite('koa', startKoa, redisBackend);
