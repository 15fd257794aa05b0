// The reference scenario on Koa: GET /set, GET /get, GET /del. Start with `pnpm start:koa`.
import { session } from '@kv-session/koa';
import Koa from 'koa';
import { announce, closeOnSignals, createStorage, readConfig } from '../shared/setup.js';

const config = readConfig();
const store = await createStorage(config);

const app = new Koa();
app.use(session({ storage: store.storage, maxAge: config.maxAgeMs }));

app.use(async (ctx, next) => {
  if (ctx.method !== 'GET') return next();
  switch (ctx.path) {
    case '/set':
      await ctx.session.set('time', Math.floor(Date.now() / 1000));
      ctx.body = 'ok';
      return;
    case '/get':
      ctx.body = await ctx.session.data();
      return;
    case '/del':
      await ctx.session.removeAll();
      ctx.body = 'ok';
      return;
    default:
      return next();
  }
});

const server = app.listen(config.port, '127.0.0.1', () => {
  announce('Koa', server.address().port, config, store);
});

closeOnSignals(async () => {
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  await closed;
  await store.close();
});
