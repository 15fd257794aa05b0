import express4 from 'express4';
import { adapterSuite, redisBackend } from './support/adapter-suite.js';
import { startExpress } from './support/app.js';

// The same behaviour suite on Express 4 (peer range ^4.21.0 || ^5.0.0).
adapterSuite('express 4', (options) => startExpress(options, express4), redisBackend);
