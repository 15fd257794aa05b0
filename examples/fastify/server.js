// The reference scenario on Fastify: GET /set, GET /get, GET /del. Start with `pnpm start:fastify`.
import { session } from '@kv-session/fastify';
import Fastify from 'fastify';
import { announce, closeOnSignals, createStorage, readConfig } from '../shared/setup.js';

const config = readConfig();
const store = await createStorage(config);

const app = Fastify();
await app.register(session, { storage: store.storage, maxAge: config.maxAgeMs });

app.get('/set', async (request) => {
  await request.session.set('time', Math.floor(Date.now() / 1000));
  return 'ok';
});

app.get('/get', async (request) => request.session.data());

app.get('/del', async (request) => {
  await request.session.removeAll();
  return 'ok';
});

await app.listen({ port: config.port, host: '127.0.0.1' });
announce('Fastify', app.server.address().port, config, store);

closeOnSignals(async () => {
  // Fastify's close waits for requests in flight and closes idle keep-alive connections.
  await app.close();
  await store.close();
});
