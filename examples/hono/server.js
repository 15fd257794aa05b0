// The reference scenario on Hono (Node, via @hono/node-server): GET /set, GET /get, GET /del.
// Start with `pnpm start:hono`.
import { serve } from '@hono/node-server';
import { SessionError } from '@kv-session/core';
import { errorResponse, session } from '@kv-session/hono';
import { Hono } from 'hono';
import { announce, closeOnSignals, createStorage, readConfig } from '../shared/setup.js';

const config = readConfig();
const store = await createStorage(config);

const app = new Hono();
app.use(session({ storage: store.storage, maxAge: config.maxAgeMs }));

app.get('/set', async (c) => {
  await c.get('session').set('time', Math.floor(Date.now() / 1000));
  return c.text('ok');
});

app.get('/get', async (c) => c.json(await c.get('session').data()));

app.get('/del', async (c) => {
  await c.get('session').removeAll();
  return c.text('ok');
});

// Session errors carry their HTTP status: 503 while Redis is unreachable.
app.onError((error, c) => {
  if (error instanceof SessionError) {
    if (error.status >= 500) console.error(error);
    return errorResponse(error);
  }
  console.error(error);
  return c.text('Internal Server Error', 500);
});

const server = serve({ fetch: app.fetch, port: config.port, hostname: '127.0.0.1' }, (info) => {
  announce('Hono', info.port, config, store);
});

closeOnSignals(async () => {
  // Stop accepting connections, drop idle keep-alive ones, wait for requests in flight.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  await closed;
  await store.close();
});
