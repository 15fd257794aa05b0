// Runs examples/express-auth/app.js: `pnpm -s build && node examples/express-auth/server.js`, then
// open /login (user tj, password foobar). PORT (default 8199), REDIS_URL (default
// redis://127.0.0.1:6379), SESSION_SECRET; sessions under connect-redis's `sess:` prefix.
import { StorageRedisKV } from '@kv-session/redis';
import { createClient } from 'redis';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 8199);
const client = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
client.on('error', (error) => console.error(`Redis error: ${error.message}`));
await client.connect();

const app = createApp({
  storage: new StorageRedisKV({ client, prefix: 'sess:' }),
  secret: process.env.SESSION_SECRET ?? 'change-me-to-a-long-random-secret',
});
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`kv-session express-auth example listening on http://127.0.0.1:${server.address().port}/login`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => server.close(() => client.close()));
}
