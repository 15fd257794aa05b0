// The reference scenario on Express: GET /set, GET /get, GET /del. Start with `pnpm start`.
import { STATUS_CODES } from 'node:http';
import { session } from '@kv-session/express';
import express from 'express';
import { announce, closeOnSignals, createStorage, readConfig } from '../shared/setup.js';

const config = readConfig();
const store = await createStorage(config);

const app = express();
app.use(session({ storage: store.storage, maxAge: config.maxAgeMs }));

app.get('/set', async (req, res) => {
  await req.session.set('time', Math.floor(Date.now() / 1000));
  res.type('text').send('ok');
});

app.get('/get', async (req, res) => {
  res.json(await req.session.data());
});

app.get('/del', async (req, res) => {
  await req.session.removeAll();
  res.type('text').send('ok');
});

// Never touches the session, so it costs no storage call and keeps answering while Redis is down.
app.get('/health', (_req, res) => {
  res.type('text').send('ok');
});

// Session errors carry an HTTP status (503 while Redis is unreachable): answer it without a stack trace.
app.use((error, _req, res, next) => {
  if (res.headersSent) return next(error);
  console.error(error);
  const status = Number.isInteger(error?.status) ? error.status : 500;
  res
    .status(status)
    .type('text')
    .send(STATUS_CODES[status] ?? 'Error');
});

const server = app.listen(config.port, '127.0.0.1', (error) => {
  if (error) throw error;
  announce('Express', server.address().port, config, store);
});

closeOnSignals(async () => {
  // Stop accepting connections, drop idle keep-alive ones, wait for requests in flight.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  await closed;
  await store.close();
});
