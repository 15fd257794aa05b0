import { adapterSuite, redisBackend } from './support/adapter-suite.js';
import { startExpress } from './support/app.js';

adapterSuite('express', startExpress, redisBackend);
