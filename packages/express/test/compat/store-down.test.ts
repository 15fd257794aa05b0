// Every path of the express-session drop-in with its Redis stopped: the load, the save before the
// response, and each session method with a callback (called exactly once, with the error) and as a
// promise (rejected with it). A stopped store answers 503 through next(err); nothing crashes.
import type { RequestListener } from 'node:http';
import session from '@kv-session/express/compat';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisStorageFixture, useRedisStorage } from '@kv-session/testing/adapters';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Browser, listen, SECRET } from './support.js';

type Method = 'regenerate' | 'destroy' | 'reload' | 'save';
interface Outcome {
  calls: number;
  error?: { name: string; status: number | undefined };
}

describe('the drop-in with its store down', () => {
  const fx: RedisStorageFixture = useRedisStorage();
  let close: () => Promise<void>;
  let base: string;
  const outcomes: Outcome[] = [];

  beforeAll(async () => {
    const app = express();
    app.use(
      session({
        secret: SECRET,
        storage: new StorageRedisKV({ client: fx.client, prefix: 'sess:', commandTimeoutMs: 500 }),
        resave: false,
        saveUninitialized: false,
      }) as unknown as RequestHandler,
    );
    app.get('/put', (req, res) => {
      (req.session as unknown as Record<string, unknown>).x = req.query.x ?? 1;
      res.send('ok');
    });
    app.get('/show', (req, res) => {
      res.json((req.session as unknown as { x?: unknown }).x ?? null);
    });
    app.get('/down-then-put', async (req, res) => {
      await stop();
      (req.session as unknown as Record<string, unknown>).x = 2;
      res.send('ok');
    });
    app.get('/op/:method', async (req, res) => {
      const method = req.params.method as Method;
      const s = req.session as unknown as Record<Method, (cb?: (err?: unknown) => void) => unknown>;
      (s as unknown as Record<string, unknown>).touched = true; // something for save to write
      await stop();
      const outcome: Outcome = { calls: 0 };
      const record = (err?: unknown) => {
        outcome.calls++;
        if (err !== undefined) {
          const e = err as { name: string; status?: number };
          outcome.error = { name: e.name, status: e.status };
        }
      };
      if (req.query.form === 'callback') {
        await new Promise<void>((resolve) => {
          s[method]((err) => {
            record(err);
            resolve();
          });
        });
      } else {
        await (s[method]() as Promise<void>).then(() => record(), record);
      }
      // Room for a second call of the callback, which must not come.
      await new Promise((r) => setTimeout(r, 50));
      outcomes.push(outcome);
      res.send('done');
    });
    app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.status ?? 500).send(err.name);
    });
    const server = await listen(app as unknown as RequestListener);
    close = server.close;
    base = server.url;
  });
  afterAll(() => close());
  let down = false;
  async function stop(): Promise<void> {
    down = true;
    await fx.redis.stop();
  }
  async function restart(): Promise<void> {
    if (!down) return;
    down = false;
    await fx.redis.start();
    for (let i = 0; i < 100 && !fx.client.isReady; i++) await new Promise((r) => setTimeout(r, 20));
  }
  afterEach(restart);

  async function loggedIn(): Promise<Browser> {
    const b = new Browser(base);
    await b.get('/put?x=1');
    expect(b.cookie()).toBeDefined();
    return b;
  }

  it('the load fails: 503 through next(err), the handler never runs', async () => {
    const b = await loggedIn();
    await stop();
    const reply = await b.get('/show');
    expect(reply.status).toBe(503);
    expect(reply.body).toBe('StorageUnavailableError');
  });

  it('the save before the response fails: 503 instead of the handler answer', async () => {
    const b = await loggedIn();
    const reply = await b.get('/down-then-put');
    expect(reply.status).toBe(503);
    expect(reply.setCookies).toEqual([]);
  });

  describe.each(['callback', 'promise'])('as %s', (form) => {
    it.each(['regenerate', 'destroy', 'reload', 'save'] as Method[])(
      '%s reports the storage error, exactly once',
      async (method) => {
        const b = await loggedIn();
        outcomes.length = 0;
        const reply = await b.get(`/op/${method}?form=${form}`);
        expect(outcomes).toEqual([{ calls: 1, error: { name: 'StorageUnavailableError', status: 503 } }]);
        // regenerate and save leave changes that the end of the request cannot save either: 503.
        // destroy unset req.session and reload failed before replacing it: the handler's answer stands
        // unless changes are pending (reload keeps the unsaved `touched`).
        expect(reply.status).toBe(method === 'destroy' ? 200 : 503);
        // The process is fine and serves the next request once Redis is back.
        await restart();
        expect((await new Browser(base).get('/put?x=3')).status).toBe(200);
      },
    );
  });
});
