import { SessionDataError, type Storage, StorageMemory } from '@kv-session/core';
import { session } from '@kv-session/express';
import express, { type ErrorRequestHandler } from 'express';
import { z } from 'zod';

/** One property per session key. Every key is optional in a session: a new session is empty. */
export const sessionSchema = z.object({
  userId: z.string().min(1),
  visits: z.number().int().nonnegative(),
  // Stored as an ISO string (JSON), read back as a Date on every request.
  lastSeen: z.coerce.date(),
  cart: z.object({ items: z.array(z.string()), total: z.number().nonnegative() }),
});

export function createApp(storage: Storage = new StorageMemory()) {
  const sessions = session({
    storage,
    schema: sessionSchema,
    // Stored data that no longer matches (an older deploy, a manual edit): drop those keys.
    invalidStoredData: 'drop',
    onError: (error, context) => console.warn(`[session] ${context.operation}: ${error.message}`),
  });

  const app = express();
  app.use(express.json());
  app.use(sessions);

  app.post('/login', async (req, res) => {
    const s = sessions.of(req); // Session<z.output<typeof sessionSchema>>
    await s.regenerate();
    await s.setMany({ userId: String(req.body.userId), visits: 0 });
    res.json({ ok: true });
  });

  app.get('/visit', async (req, res) => {
    const s = sessions.of(req);
    const visits = ((await s.get('visits')) ?? 0) + 1;
    const previous = await s.get('lastSeen'); // Date | undefined
    await s.setMany({ visits, lastSeen: new Date() });
    res.json({ visits, previous: previous?.toISOString() ?? null });
  });

  app.put('/cart', async (req, res) => {
    const s = sessions.of(req);
    await s.set('cart', req.body); // validated at run time: a bad body throws SessionDataError
    res.json(await s.get('cart'));
  });

  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    if (error instanceof SessionDataError && error.code === 'DATA_INVALID') {
      res.status(400).json({ issues: error.issues.map((i) => ({ path: i.path, message: i.message })) });
      return;
    }
    res.status(typeof error?.status === 'number' ? error.status : 500).json({ error: 'failed' });
  };
  app.use(onError);

  return { app, sessions };
}
