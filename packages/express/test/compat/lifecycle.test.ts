// Issue 18: the session metadata (`__kv`) stays out of the drop-in's req.session, and the drop-in's
// saves keep it (a session with an owner stays listed), over real HTTP.
import type { RequestListener } from 'node:http';
import { SessionDataError, StorageMemory } from '@kv-session/core';
import session from '@kv-session/express/compat';
import express, { type RequestHandler } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { Browser, idOf, listen, SECRET } from './support.js';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

describe('express-session drop-in: __kv hidden and kept', () => {
  it('req.session never shows __kv; its saves keep the owner; assigning __kv is refused', async () => {
    const storage = new StorageMemory();
    const mw = session({ secret: SECRET, storage, resave: false, saveUninitialized: false });
    const app = express();
    app.use(mw as unknown as RequestHandler);
    app.get('/login', (req, res) => {
      (req.session as unknown as Record<string, unknown>).user = 'ada';
      res.send('ok');
    });
    app.get('/show', (req, res) => {
      const s = req.session as unknown as Record<string, unknown>;
      s.visits = ((s.visits as number | undefined) ?? 0) + 1;
      res.json({ keys: Object.keys(s).sort(), json: JSON.parse(JSON.stringify(s)) });
    });
    app.get('/tamper', (req, res) => {
      (req.session as unknown as Record<string, unknown>).__kv = { owner: 'mallory' };
      res.send('ok');
    });
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(err.name);
    });
    const server = await listen(app as unknown as RequestListener);
    closers.push(server.close);

    const browser = new Browser(server.url);
    await browser.get('/login');
    const id = idOf(browser.cookie());
    // The app's login code ties the session to its user through the native API (jobs, admin tools).
    const core = mw.manager.sessionById(id);
    await core.setOwner('ada');
    await mw.manager.save(core);
    expect((await storage.load(id))!.data.__kv).toMatchObject({ owner: 'ada' });

    const shown = JSON.parse((await browser.get('/show')).body);
    expect(shown.keys).toEqual(['cookie', 'user', 'visits']);
    expect(shown.json.__kv).toBeUndefined();
    // The drop-in's save (visits changed) kept the metadata: still listed for its owner.
    expect((await storage.load(id))!.data.__kv).toMatchObject({ owner: 'ada' });
    expect(await mw.manager.listSessions('ada')).toHaveLength(1);

    const tampered = await browser.get('/tamper');
    expect(tampered.status).toBe(500);
    expect(tampered.body).toBe(new SessionDataError('x').name);
    expect((await storage.load(id))!.data.__kv).toMatchObject({ owner: 'ada' });
  });
});
