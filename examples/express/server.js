// The reference scenario on Express: GET /set, GET /get, GET /del. Start with `pnpm start`.
// Also sign-in pages with "keep me signed in" and "sign out everywhere" (account.js): GET /login.
import { STATUS_CODES } from 'node:http';
import { session } from '@kv-session/express';
import express from 'express';
import { announce, closeOnSignals, createStorage, readConfig } from '../shared/setup.js';
import { accountPages } from './account.js';

const config = readConfig();
// "Keep me signed in": that session's idle lifetime, in seconds (default 30 days).
const rememberSeconds = seconds('REMEMBER_MAX_AGE', 30 * 86_400);
// Optional absolute timeout in seconds: a session dies that long after sign-in, however active.
const absoluteSeconds = seconds('SESSION_ABSOLUTE_TIMEOUT', undefined);
const store = await createStorage(config);

const app = express();
const sessions = session({
  storage: store.storage,
  maxAge: config.maxAgeMs,
  // Max-Age on the cookie: a remembered session survives a browser restart.
  cookie: { persistent: true },
  ...(absoluteSeconds === undefined ? {} : { absoluteTimeout: absoluteSeconds * 1000 }),
});
app.use(sessions);
app.use(express.urlencoded({ extended: false }));
accountPages(app, sessions.manager, { rememberMs: rememberSeconds * 1000 });

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
  console.log('  sign in: /login (ada / lovelace or grace / hopper), then /account');
});

closeOnSignals(async () => {
  // Stop accepting connections, drop idle keep-alive ones, wait for requests in flight.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  await closed;
  await store.close();
});

/** A whole number of seconds from the environment variable `name`; exits with status 2 on a bad value. */
function seconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 400 * 86_400) {
    console.error(
      `${name} must be a whole number of seconds from 1 to ${400 * 86_400}, got ${JSON.stringify(raw)}`,
    );
    process.exit(2);
  }
  return value;
}
